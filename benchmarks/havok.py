"""HAVOK on Lorenz-63: the Brunton et al. (2017) reproduction, and fit time vs pykoopman.

Part 1, reproduction (the paper's protocol, REFERENCES.md §4): x(t) of Lorenz-63 from
x0 = [-8, 8, 27], dt = 0.001, 200 000 samples; a Hankel matrix of q = 100 rows
(``n_delays=99``), rank r = 15. Printed: sigma_15 / sigma_1 and the Gavish-Donoho rank;
the forcing statistics (active fraction at the default threshold 0.9 RMS = the paper's
v15^2 > 4e-6, excess kurtosis, tail weight); the linear model driven by the measured v_15
against v_1 (the paper's span L = 1..50 000 of the training data, and a held-out span:
fit on t < 140, test on t >= 140); and whether active forcing precedes lobe switches
(sign changes of x), by a circular-shift permutation test, in two time conventions: the
window *ending* at a sample (causal: only past data; koop's convention) and the window
*starting* there (the paper's column index of H; it sees 99 samples into the future).

Part 2, timing: ``HAVOK(n_delays=99, rank=15).fit`` on N = 1e6 samples against
pykoopman 1.2.1 (``Koopman(TimeDelay(delay=1, n_delays=99), HAVOK(svd_rank=15))``) on
the same data, each in its own process (pykoopman from ``.venv-peers``); wall time of
the fit and peak resident memory above the process's baseline, plus a cross-check of the
two forcings (excess kurtosis, active fraction).

Usage::

    .venv/bin/python benchmarks/havok.py                      # both parts
    .venv/bin/python benchmarks/havok.py --no-timing          # reproduction only
    .venv/bin/python benchmarks/havok.py --no-reproduction --n-samples 1e6 --threads 1

Timings on a shared machine are noisy: compare the ratio within one run. On an
oversubscribed machine multi-threaded OpenBLAS spins (a 100 x 100 SVD took 0.8 s instead
of 2 ms here); ``--threads 1`` gives both libraries the same single BLAS thread.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KOOP_PY = ROOT / ".venv" / "bin" / "python"
PEERS_PY = ROOT / ".venv-peers" / "bin" / "python"
DT = 0.001
X0 = [-8.0, 8.0, 27.0]
N_DELAYS, RANK = 99, 15


def lorenz_x(n: int) -> np.ndarray:
    from koop import systems

    return systems.lorenz63(n, dt=DT, x0=X0)[:, 0]


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def reproduction(n: int = 200_000) -> None:
    from koop.estimators import HAVOK
    from koop.estimators._solvers import select_rank

    x = lorenz_x(n)
    t0 = time.perf_counter()
    model = HAVOK(n_delays=N_DELAYS, rank=RANK).fit(x, dt=DT)
    fit_s = time.perf_counter() - t0
    s = model.singular_values_
    st = model.forcing_statistics()
    print(f"## Reproduction: Lorenz-63, dt={DT}, {n} samples, q={N_DELAYS + 1}, r={RANK}")
    print(f"fit time                  {fit_s:.2f} s")
    print(f"sigma_15 / sigma_1        {s[RANK - 1] / s[0]:.3e}   (reference 3.5e-13)")
    print(f"Gavish-Donoho rank        {select_rank(s, 'optimal', (n - N_DELAYS, 100))}"
          "   (reference 45, so r = min(15, 45) = 15)")
    print(f"std(v_15)                 {np.std(model.forcing_):.3e}   (reference 2.24e-3)")
    print(f"active fraction           {st.active_fraction:.3f}   (reference 0.150; "
          f"Gaussian {st.gaussian_active_fraction:.3f})")
    print(f"excess kurtosis           {st.excess_kurtosis:.1f}   (reference 20.8)")
    print(f"P(|v15|>4 rms) / Gaussian {st.tail_ratio:.0f}")
    print("A (top-left 4x4):")
    print(np.array2string(model.A_[:4, :4], precision=2, suppress_small=True))
    print(f"B_14 = {model.B_[-1, 0]:.1f}  (integer skeleton: -70, up to the sign of v_15)")

    v = model.delay_coordinates_
    n_span = 50_000
    forced = model.simulate_coordinates(v[0], v[1:n_span, -1])[:, 0]
    free = model.simulate_coordinates(v[0, :-1], np.zeros(n_span - 1))[:, 0]
    truth = v[1:n_span, 0]
    print("\n### v_1 from the linear model driven by the measured v_15")
    print("| span | rel. L2 error | correlation | sign agreement | unforced error |")
    print("|---|---|---|---|---|")
    print(f"| training, t in [0, 50) (paper) | {rel_err(forced, truth):.3f} | "
          f"{np.corrcoef(forced, truth)[0, 1]:.3f} | "
          f"{np.mean(np.sign(forced) == np.sign(truth)):.3f} | {rel_err(free, truth):.3f} |")
    n_train = int(0.7 * n)
    held = HAVOK(n_delays=N_DELAYS, rank=RANK).fit(x[:n_train], dt=DT)
    vt = held.coordinates(x[n_train - N_DELAYS:])
    forced = held.simulate_coordinates(vt[0], vt[1:, -1])[:, 0]
    free = held.simulate_coordinates(vt[0, :-1], np.zeros(len(vt) - 1))[:, 0]
    truth = vt[1:, 0]
    print(f"| held out, fit t < {n_train * DT:g}, test t >= {n_train * DT:g} | "
          f"{rel_err(forced, truth):.3f} | {np.corrcoef(forced, truth)[0, 1]:.3f} | "
          f"{np.mean(np.sign(forced) == np.sign(truth)):.3f} | {rel_err(free, truth):.3f} |")

    switches = np.flatnonzero(np.diff(np.sign(x)) != 0) + 1
    print(f"\n### Active forcing before lobe switches ({len(switches)} sign changes of x; "
          "999 circular shifts)")
    print("| convention | window | active before | chance | hit rate | chance | p |")
    print("|---|---|---|---|---|---|---|")
    for name, shift in (("causal (window ends)", 0), ("paper index (window starts)",
                                                       N_DELAYS)):
        for w in (200, 500, 1000):
            r = model.forcing_precedes(switches + shift, w, random_state=0)
            print(f"| {name} | {w} | {r.active_before:.3f} | {r.active_chance:.3f} | "
                  f"{r.hit_rate:.3f} | {r.hit_rate_chance:.3f} | {r.p_value:.3f} |")


# -- timing workers (each in its own process) ------------------------------------------
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(lib: str, path: str) -> None:
    import scipy.stats

    if lib == "koop":
        from koop.estimators import HAVOK
    else:
        import pykoopman as pk
    x = np.load(path)[:, None]
    base = _peak_mb()  # after the imports: the memory the fit itself needs
    if lib == "koop":
        t0 = time.perf_counter()
        model = HAVOK(n_delays=N_DELAYS, rank=RANK).fit(x, dt=DT)
        fit_s = time.perf_counter() - t0
        forcing, A = model.forcing_, model.A_
    else:
        t0 = time.perf_counter()
        model = pk.Koopman(observables=pk.observables.TimeDelay(delay=1, n_delays=N_DELAYS),
                           regressor=pk.regression.HAVOK(svd_rank=RANK))
        model.fit(x, dt=DT)
        fit_s = time.perf_counter() - t0
        reg = model._pipeline.steps[1][1]
        forcing, A = reg.forcing_signal, reg.state_matrix_
    rms = np.sqrt(np.mean(forcing**2))
    lam = np.linalg.eigvals(A)
    print(json.dumps({
        "lib": lib, "fit_s": fit_s, "peak_extra_mb": _peak_mb() - base,
        "kurtosis": float(scipy.stats.kurtosis(forcing)),
        "active": float(np.mean(np.abs(forcing) > 0.9 * rms)),
        "slowest_freq": float(np.abs(lam.imag).min()),
    }))


def timing(n: int, threads: int | None) -> None:
    env = dict(os.environ)
    if threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "lorenz_x.npy")
        t0 = time.perf_counter()
        np.save(path, lorenz_x(n))
        print(f"\n## Fit time, N = {n} samples, q = {N_DELAYS + 1}, r = {RANK} "
              f"(data generated in {time.perf_counter() - t0:.0f} s; BLAS threads: "
              f"{threads or 'default'})")
        rows = []
        for lib, py in (("koop", KOOP_PY), ("pykoopman", PEERS_PY)):
            if not py.exists():
                print(f"{lib}: {py} missing, skipped")
                continue
            out = subprocess.run([str(py), __file__, "--worker", lib, path],
                                 capture_output=True, text=True, cwd=ROOT, env=env)
            if out.returncode != 0:
                print(f"{lib} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| library | fit (s) | peak extra memory (MB) | kurtosis v_15 | active fraction |"
          " slowest |Im lambda(A)| |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['lib']} | {r['fit_s']:.1f} | {r['peak_extra_mb']:.0f} | "
              f"{r['kurtosis']:.1f} | {r['active']:.3f} | {r['slowest_freq']:.3f} |")
    if len(rows) == 2:
        print(f"ratio pykoopman / koop: {rows[1]['fit_s'] / rows[0]['fit_s']:.1f}x time, "
              f"{rows[1]['peak_extra_mb'] / max(rows[0]['peak_extra_mb'], 1):.1f}x memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=float, default=1e6)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads in the timed processes (default: as set)")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--no-reproduction", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("LIB", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    if not args.no_reproduction:
        reproduction()
    if not args.no_timing:
        timing(int(args.n_samples), args.threads)


if __name__ == "__main__":
    sys.exit(main())
