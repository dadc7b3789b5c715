"""How far the dysts benchmark moves between two OpenBLAS settings.

Runs ``koop benchmark dysts`` twice, each in its own process and with its own empty data
cache: once with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed from the
environment (OpenBLAS picks the kernels for this CPU) and once with them set the way
older machines here set them (``OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=262144``).
Then it compares the two result sets: the OpenBLAS kernel each used, how many systems'
trajectories differ, the median sMAPE per model and how far single systems move.

The cause, measured: ``solve_ivp``'s Runge-Kutta steps combine their stages with BLAS
(``dgemv``) and measure errors with ``np.linalg.norm`` (``ddot``); different kernels round
the last bit differently, the step sizes follow, and the 33 periods of the reference
trajectory the initial conditions are drawn from amplify that to a different point on
the attractor. So the two settings benchmark the same models on different initial
conditions: the medians move by the sampling spread of 135 chaotic systems, not by any
instability of the models. Everything else (seeds, the integrator rule, the tuning
budget) is the same in both runs, so each setting reproduces itself exactly.

Usage::

    .venv/bin/python benchmarks/dysts_blas.py --out /tmp/dysts-blas           # full sweep
    .venv/bin/python benchmarks/dysts_blas.py --out /tmp/dysts-blas --parallel
    .venv/bin/python benchmarks/dysts_blas.py --out /tmp/b -- --quick         # CI-sized
    .venv/bin/python benchmarks/dysts_blas.py --compare A/results.nc B/results.nc

Arguments after ``--`` go to ``koop benchmark dysts`` (e.g. ``--no-tune``,
``--variant multivariate``). Each sweep's log is kept beside its results.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SETTINGS = {
    "unset": {},
    "set": {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "262144"},
}


def start_sweep(name: str, out: Path, extra: list[str]):
    """Start one sweep in a fresh process with the BLAS setting ``name``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(SETTINGS[name])
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "koop.cli", "benchmark", "dysts", "--quiet",
           "--cache", str(folder / "cache"), "--out", str(folder / "results"), *extra]
    log = open(folder / "sweep.log", "w")  # closed by _finish when the run ends
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log, folder / "results" / "results.nc", " ".join(cmd[3:])


def run_sweeps(out: Path, extra: list[str], parallel: bool) -> list[Path]:
    """Both sweeps, one after the other or side by side; returns their results.nc."""
    paths, running = [], []
    for name in SETTINGS:
        start = time.monotonic()
        running.append((name, start, *start_sweep(name, out, extra)))
        if not parallel:
            paths.append(_finish(*running.pop()))
    paths += [_finish(*r) for r in running]
    return paths


def _finish(name, start, proc, log, path, cmd) -> Path:
    code = proc.wait()
    log.close()
    print(f"{name}: {time.monotonic() - start:.0f} s, exit {code} ({cmd})", flush=True)
    if code != 0:
        raise RuntimeError(f"the {name} sweep failed; see {path.parent.parent / 'sweep.log'}")
    return path


def compare(path_a: Path, path_b: Path, labels=("unset", "set")) -> str:
    """A text table: BLAS kernels, data differences, medians and per-system moves."""
    import xarray as xr

    a, b = xr.load_dataset(path_a), xr.load_dataset(path_b)
    common = [s for s in a["system"].values if s in set(b["system"].values)]
    a, b = a.sel(system=common), b.sel(system=common)
    lines = [f"{len(common)} systems in both runs; OpenBLAS kernel: "
             f"{labels[0]} {a.attrs.get('blas', '?')}, {labels[1]} {b.attrs.get('blas', '?')}"]
    both = (a["data_reason"].values == "") & (b["data_reason"].values == "")
    lines.append(f"systems with data in both: {int(both.sum())} (without: "
                 f"{labels[0]} {int((a['data_reason'].values != '').sum())}, "
                 f"{labels[1]} {int((b['data_reason'].values != '').sum())})")
    lines.append(f"{'model':<12}{'median ' + labels[0]:>15}{'median ' + labels[1]:>13}"
                 f"{'shift':>8}{'systems moved':>15}{'mean |d|':>10}{'max |d|':>9}")
    for m in a["model"].values:
        x = a["smape"].sel(model=m).values[both]
        y = b["smape"].sel(model=m).values[both]
        ok = np.isfinite(x) & np.isfinite(y)
        d = np.abs(x[ok] - y[ok])
        mx, my = np.median(x[ok]), np.median(y[ok])
        lines.append(f"{m!s:<12}{mx:>15.2f}{my:>13.2f}{my - mx:>8.2f}"
                     f"{int((d > 1e-9).sum()):>8d} / {ok.sum():<4d}{d.mean():>10.2f}"
                     f"{d.max():>9.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("dysts-blas"))
    parser.add_argument("--compare", nargs=2, type=Path, metavar="RESULTS_NC")
    parser.add_argument("--parallel", action="store_true",
                        help="run the two sweeps side by side (two processes)")
    parser.add_argument("extra", nargs="*", help="arguments for koop benchmark dysts")
    args = parser.parse_args(argv)
    if args.compare:
        print(compare(*args.compare))
        return 0
    paths = run_sweeps(args.out, args.extra, args.parallel)
    text = compare(*paths)
    (args.out / "comparison.txt").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
