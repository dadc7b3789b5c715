"""``koop compare --system lorenz63``: Koopman models vs RNN reconstructions, one table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from koop.compare import METHODS, SYSTEMS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--system", default="lorenz63",
                        help=f"one of {', '.join(sorted(SYSTEMS))} (default: %(default)s)")
    parser.add_argument("--out", default="koop-compare",
                        help="folder for the table and figure (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="small data and tiny models (seconds; for tests)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--epochs", type=int, default=None,
                        help="RNN training epochs (default 300; 3 with --quick)")
    parser.add_argument("--n-train", type=int, default=None, help="training samples")
    parser.add_argument("--n-test", type=int, default=None, help="test samples")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, auto or cuda")
    parser.add_argument("--no-plot", action="store_true", help="skip the attractor figure")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from koop.compare import compare

    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    result = compare(
        args.system, methods=methods, quick=args.quick, n_train=args.n_train,
        n_test=args.n_test, epochs=args.epochs, random_state=args.seed,
        device=args.device, verbose=not args.quiet,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"compare_{result.system}"
    table = result.to_markdown()
    (out / f"{stem}.md").write_text(table + "\n")
    (out / f"{stem}.csv").write_text(result.to_csv() + "\n")
    (out / f"{stem}.json").write_text(
        json.dumps({"settings": result.settings, "rows": result.rows}, indent=1, default=str)
    )
    print(table)
    if not args.no_plot:
        result.plot(out / f"{stem}_attractors.png")
    print(f"\nwrote {out / stem}.{{md,csv,json}}" + ("" if args.no_plot else " and the figure"))
    return 0
