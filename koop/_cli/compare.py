"""``koop compare``: Koopman models vs RNN reconstructions, one table.

    koop compare --system lorenz63
    koop compare --train train.npy --test test.npy [--dt 0.01] [--published ecg]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from koop.cli import CLIError
from koop.compare import METHODS, PUBLISHED, SYSTEMS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Fit Koopman models and RNN reconstructions on one data set and score them with\n"
        "the GTF paper's protocol (free run of 1.25 T from the first test state, 0.25 T\n"
        "dropped; D_stsp, D_H, PE(20)).\n\n"
        "examples:\n"
        "  koop compare --system lorenz63\n"
        "  koop compare --train ECG_train.npy --test ECG_test.npy --published ecg"
    )
    parser.add_argument("--system", default=None,
                        help=f"built-in system: {', '.join(sorted(SYSTEMS))} "
                        "(default: lorenz63 when no files are given)")
    parser.add_argument("--train", default=None, metavar="FILE",
                        help="training trajectory (.npy, .npz, .csv or .nc)")
    parser.add_argument("--test", default=None, metavar="FILE",
                        help="test trajectory, same columns as --train")
    parser.add_argument("--dt", type=float, default=None,
                        help="sampling interval of the files (default: their time axis)")
    parser.add_argument("--published", default=None, choices=sorted(PUBLISHED),
                        help="print the paper's published rows beside koop's")
    parser.add_argument("--out", default="koop-compare",
                        help="folder for the table and figure (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="small models (seconds; short data for built-in systems)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--epochs", type=int, default=None,
                        help="RNN training epochs (default 300; 3 with --quick)")
    parser.add_argument("--n-train", type=int, default=None,
                        help="training samples of a built-in system")
    parser.add_argument("--n-test", type=int, default=None,
                        help="test samples of a built-in system")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, auto or cuda")
    parser.add_argument("--no-plot", action="store_true", help="skip the attractor figure")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from koop.compare import compare

    if (args.train is None) != (args.test is None):
        raise CLIError("pass both --train and --test (or neither, for a built-in system).")
    if args.train is not None and args.system is not None:
        raise CLIError("pass either --system or --train/--test, not both.")
    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        result = compare(
            args.system, train=args.train, test=args.test, dt=args.dt, methods=methods,
            quick=args.quick, published=args.published, n_train=args.n_train,
            n_test=args.n_test, epochs=args.epochs, random_state=args.seed,
            device=args.device, verbose=not args.quiet,
        )
    except ImportError as exc:  # an optional extra is missing: its message names it
        raise CLIError(str(exc).splitlines()[0]) from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"compare_{result.name}"
    table = result.to_markdown()
    (out / f"{stem}.md").write_text(table + "\n")
    (out / f"{stem}.csv").write_text(result.to_csv() + "\n")
    rows = [{k: v for k, v in row.items() if k != "generated"} for row in result.rows]
    (out / f"{stem}.json").write_text(
        json.dumps({"settings": result.settings, "rows": rows}, indent=1, default=str)
    )
    print(table)
    wrote = f"\nwrote {out / stem}.{{md,csv,json}}"
    if not args.no_plot and result.generated:
        try:
            result.plot(out / f"{stem}_attractors.png")
            wrote += " and the figure"
        except ImportError:
            wrote += " (no figure: pip install koop[plot])"
    print(wrote)
    return 0
