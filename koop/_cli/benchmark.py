"""``koop benchmark dysts``: Koopman forecasters on the dysts chaotic systems."""

from __future__ import annotations

import argparse
import os
import sys
import time

from koop.bench import DEFAULT_BUDGET


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", choices=["dysts"], help="benchmark suite to run")
    parser.add_argument("--systems", nargs="+", metavar="NAME",
                        help="dysts flow names to run (default: all, or a handful with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a handful of systems and shorter series (seconds; for CI)")
    parser.add_argument("--variant", choices=["univariate", "multivariate"],
                        default="univariate",
                        help="forecast the first coordinate (as the published baselines) or "
                             "the full state (default: %(default)s)")
    parser.add_argument("--horizon", choices=["standard", "long"], default="standard",
                        help="standard: fit on 10 periods, forecast 2 (Gilpin 2021); long: "
                             "fit on 10 of 60 periods, forecast 50 (default: %(default)s)")
    parser.add_argument("--no-tune", action="store_true",
                        help="fixed default hyperparameters instead of choosing them per "
                             "system on the train trajectory")
    parser.add_argument("--params-from", metavar="RESULTS_NC",
                        help="reuse the hyperparameters a tuned run chose (its results.nc), "
                             "e.g. the standard horizon's for --horizon long")
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET,
                        help="candidates tried per method and system when tuning "
                             "(default: %(default)s)")
    parser.add_argument("--out", default="koop-dysts",
                        help="folder for results.nc/.csv, summary.txt, summary.png "
                             "(default: %(default)s)")
    parser.add_argument("--cache", default=os.path.join("~", ".cache", "koop", "dysts"),
                        help="folder caching generated trajectories (default: %(default)s)")
    parser.add_argument("--no-cache", action="store_true", help="always integrate afresh")
    parser.add_argument("--integrator", default="auto",
                        choices=["auto", "DOP853", "Radau", "LSODA"],
                        help="auto: DOP853, Radau for a system that needs more right-hand-"
                             "side evaluations than a fixed cap (stiff); or one solve_ivp "
                             "method for all, rtol=atol=1e-12; Radau is dysts' own and is "
                             "much slower (default: %(default)s)")
    parser.add_argument("--time-limit", type=float, default=600.0,
                        help="seconds allowed for integrating one system; over it the system "
                             "fails (never switches integrator) (default: %(default)s)")
    parser.add_argument("--n-jobs", type=int, default=1, help="systems run at once")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="hard wall-clock limit per system in seconds (data, tuning, "
                             "fits), 0 for none; a guard against hangs, far above what any "
                             "system needs, since a system over it fails and that depends on "
                             "the machine (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="initial-condition seed")
    parser.add_argument("--quiet", action="store_true", help="no per-system lines")
    parser.add_argument("--list", action="store_true", help="print the system names and exit")


def run(args: argparse.Namespace) -> int:
    from koop.bench import dysts_suite, import_dysts, list_systems, summarize, write_results

    try:
        import_dysts()
    except ImportError as exc:  # the optional extra: one line, never a traceback
        print(f"koop benchmark: error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join(list_systems()))
        return 0
    if args.n_jobs < 1:
        raise ValueError(f"--n-jobs must be >= 1, got {args.n_jobs}")
    start = time.monotonic()
    ds = dysts_suite(
        args.systems,
        quick=args.quick,
        variant=args.variant,
        horizon=args.horizon,
        tune=not args.no_tune,
        budget=args.budget,
        params_from=args.params_from,
        integrator=args.integrator,
        time_limit=args.time_limit,
        timeout=args.timeout if args.timeout > 0 else None,
        n_jobs=args.n_jobs,
        cache_dir=None if args.no_cache else args.cache,
        random_state=args.seed,
        verbose=not args.quiet,
    )
    paths = write_results(ds, args.out)
    print(summarize(ds))
    print(f"total wall time {time.monotonic() - start:.1f} s; wrote "
          + ", ".join(paths.values()), file=sys.stderr)
    return 0
