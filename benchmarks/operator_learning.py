"""Operator learning for stochastic systems: eigenvalue errors and fit times vs peers.

Two systems with known spectra, one trajectory per seed (5 seeds), its first N samples
for N in {1e3, 1e4, 1e5}:

* ``ou``: Ornstein–Uhlenbeck (koop.systems.ornstein_uhlenbeck, theta=1, sigma=sqrt 2,
  dt=0.25, sampled exactly): exact eigenvalues exp(-k dt).
* ``prinz``: the Prinz four-well particle as in kooplearn's Prinz example (friction 1,
  kT=2, i.e. kooplearn's gamma=1, sigma=2), lag 0.01, Euler–Maruyama step 1e-5 (its bias
  on these eigenvalues is below 1.1e-4); reference: koop.systems.prinz_potential_spectrum
  (fine-grid generator, discretisation error < 1e-7).

Every method estimates rank r = 5 with a Gaussian kernel of the same width (OU 0.5,
Prinz 0.2 as in kooplearn's example), n = 250 centres drawn uniformly from the training
states (seeded), Tikhonov 1e-6:

* koop PCR     EDMD(RBF(n), rank=r): principal-component truncation of the RBF features;
* koop RRR     RRR(RBF(n), rank=r, regularization=1e-6) on the same features;
* koop KRRR    KernelRRR(n_components=n, rank=r): Nyström kernel RRR (RKHS metric);
* koop KRRR km60  the same with 60 k-means centres instead of 250 random ones (koop's
  cheaper configuration; not the equal-settings comparison);
* kooplearn    NystroemKernel(reduced_rank=True / False) (kooplearn's RRR and PCR);
* deeptime     VAMP(dim=r-1) on the same Gaussian features (mean-free, so the constant
  function adds the eigenvalue 1); eigenvalues of diag(s) V^T C_tt U.

Error: mean over the r leading eigenvalues (sorted by real part) of |lambda - lambda_ref|,
then mean +- std over the seeds. Time: the fit (and eigenvalue extraction) only, data
generation excluded, best placed after one warm-up fit (numba compiles there). Each
library runs in its own process (koop in koop's venv, peers in .venv-peers), one BLAS
thread each unless --threads is given.

Usage::

    .venv/bin/python benchmarks/operator_learning.py
    .venv/bin/python benchmarks/operator_learning.py --sizes 1e3 1e4 --seeds 2 --no-peers
    .venv/bin/python benchmarks/operator_learning.py | tee run.log
    .venv/bin/python benchmarks/operator_learning.py --figure-from-log run.log \
        --figure docs/img/stochastic_rrr_vs_pcr.png
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RANK = 5
N_CENTERS = 250
REG = 1e-6
SYSTEMS = {
    "ou": {"dt": 0.25, "width": 0.5},
    "prinz": {"dt": 0.01, "width": 0.2, "kT": 2.0, "step": 1e-5},
}
KOOP_METHODS = ("koop PCR", "koop RRR", "koop KRRR", "koop KRRR km60")
N_KMEANS = 60
PEER_METHODS = {"kooplearn": ("kooplearn RRR", "kooplearn PCR"), "deeptime": ("deeptime VAMP",)}


# -- data (koop's process) ------------------------------------------------------------
def make_data(system: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    from koop import systems

    p = SYSTEMS[system]
    if system == "ou":
        X = systems.ornstein_uhlenbeck(n, dt=p["dt"], random_state=seed)
        ref = systems.ornstein_uhlenbeck_spectrum(RANK, dt=p["dt"])
    else:
        X = systems.prinz_potential(n, dt=p["dt"], kT=p["kT"], step=p["step"],
                                    random_state=seed)
        ref = systems.prinz_potential_spectrum(RANK, dt=p["dt"], kT=p["kT"]).eigenvalues
    return X, ref


def error(eigs: np.ndarray, ref: np.ndarray) -> float:
    lam = np.asarray(eigs, dtype=complex)
    lam = lam[np.argsort(-lam.real)][: len(ref)]
    if lam.size < len(ref):
        return float("nan")
    return float(np.mean(np.abs(lam - ref)))


def centers_of(X: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return X[np.sort(rng.choice(X.shape[0], N_CENTERS, replace=False))]


# -- workers ----------------------------------------------------------------------------
def fit_koop(method: str, X: np.ndarray, width: float, seed: int) -> np.ndarray:
    from koop.dictionaries import RBF
    from koop.estimators import EDMD, RRR, KernelRRR

    rbf = RBF(N_CENTERS, width=width, center_method="random", random_state=seed)
    if method == "koop PCR":
        return EDMD(rbf, rank=RANK).fit(X).eigenvalues_
    if method == "koop RRR":
        return RRR(rbf, rank=RANK, regularization=REG).fit(X).eigenvalues_
    if method == "koop KRRR km60":
        return KernelRRR(n_components=N_KMEANS, center_method="kmeans", width=width,
                         rank=RANK, regularization=REG, random_state=seed).fit(X).eigenvalues_
    return KernelRRR(n_components=N_CENTERS, width=width, rank=RANK, regularization=REG,
                     random_state=seed).fit(X).eigenvalues_


def fit_kooplearn(method: str, X: np.ndarray, width: float, seed: int) -> np.ndarray:
    from kooplearn.data import traj_to_contexts
    from kooplearn.models import NystroemKernel
    from sklearn.gaussian_process.kernels import RBF

    ctx = traj_to_contexts(X)
    model = NystroemKernel(RBF(length_scale=width), reduced_rank=method.endswith("RRR"),
                           rank=RANK, tikhonov_reg=REG, num_centers=N_CENTERS,
                           rng_seed=seed)
    return model.fit(ctx).eig()


def fit_deeptime(method: str, X: np.ndarray, width: float, seed: int) -> np.ndarray:
    from deeptime.decomposition import VAMP

    C = centers_of(X, seed)
    d2 = (X[:, None, 0] - C[None, :, 0]) ** 2
    F = np.exp(-0.5 * d2 / width**2)
    model = VAMP(lagtime=1, dim=RANK - 1).fit(F).fetch_model()
    U, V = model.singular_vectors_left, model.singular_vectors_right
    s = model.singular_values[: RANK - 1]
    U, V = U[:, : RANK - 1], V[:, : RANK - 1]
    K = np.diag(s) @ V.T @ model.cov.cov_tt @ U
    return np.concatenate([[1.0], np.linalg.eigvals(K)])


FITTERS = {"koop": fit_koop, "kooplearn": fit_kooplearn, "deeptime": fit_deeptime}


def worker(lib: str, data_dir: str, sizes: list[int], seeds: int, repeats: int) -> None:
    fit = FITTERS[lib]
    methods = KOOP_METHODS if lib == "koop" else PEER_METHODS[lib]
    out = []
    warm = False
    for system in SYSTEMS:
        width = SYSTEMS[system]["width"]
        ref = np.load(Path(data_dir) / f"{system}_ref.npy")
        for seed in range(seeds):
            X_all = np.load(Path(data_dir) / f"{system}_{seed}.npy")
            for n in sizes:
                X = np.ascontiguousarray(X_all[:n])
                for method in methods:
                    if not warm:
                        fit(method, X_all[:2000], width, seed)
                    try:
                        best = np.inf
                        for _ in range(repeats):
                            t0 = time.perf_counter()
                            eigs = fit(method, X, width, seed)
                            best = min(best, time.perf_counter() - t0)
                        out.append({"system": system, "n": n, "seed": seed, "method": method,
                                    "error": error(eigs, ref), "time": best})
                    except Exception as exc:  # a peer that fails is reported, not fatal
                        out.append({"system": system, "n": n, "seed": seed, "method": method,
                                    "error": float("nan"), "time": float("nan"),
                                    "failed": f"{type(exc).__name__}: {exc}"[:200]})
                warm = True
    print("RESULTS " + json.dumps(out))


# -- driver -----------------------------------------------------------------------------
def run_worker(python: str, lib: str, data_dir: str, args) -> list[dict]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        env[var] = str(args.threads)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [python, str(Path(__file__).resolve()), "--worker", lib, "--data", data_dir,
           "--sizes", *[str(n) for n in args.sizes], "--seeds", str(args.seeds),
           "--repeats", str(args.repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULTS "):
            return json.loads(line[8:])
    print(f"[{lib} failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}]")
    return []


def summarise(rows: list[dict], sizes: list[int]) -> dict:
    import collections

    table = collections.defaultdict(list)
    for r in rows:
        table[(r["system"], r["n"], r["method"])].append(r)
    methods = [m for m in (*KOOP_METHODS, *sum(PEER_METHODS.values(), ()))
               if any(k[2] == m for k in table)]
    print(f"\nmean |lambda - lambda_ref| over the {RANK} leading eigenvalues; mean +- std "
          "over seeds; fit time (s, best placed)\n")
    print(f"{'system':6} {'N':>7}  {'method':15} {'error':>20} {'time (s)':>9}")
    stats, errs = {}, {}
    for system in SYSTEMS:
        for n in sizes:
            for m in methods:
                rs = table.get((system, n, m), [])
                if not rs:
                    continue
                e = np.array([r["error"] for r in rs])
                t = np.array([r["time"] for r in rs])
                stats[(system, n, m)] = (np.nanmean(e), np.nanmean(t))
                errs[(system, n, m)] = (np.nanmean(e), np.nanstd(e))
                fail = next((r["failed"] for r in rs if "failed" in r), "")
                print(f"{system:6} {n:>7}  {m:15} {np.nanmean(e):11.2e} +- {np.nanstd(e):7.1e}"
                      f" {np.nanmean(t):9.3f}  {fail}")
            print()
    print("targets: koop KRRR vs kooplearn RRR (same estimator: Nyström kernel RRR, same "
          "centres count); [km60: koop with 60 k-means centres]; RRR vs PCR at equal rank")
    for system in SYSTEMS:
        for n in sizes:
            k = stats.get((system, n, "koop KRRR"))
            km = stats.get((system, n, "koop KRRR km60"))
            kl = stats.get((system, n, "kooplearn RRR"))
            pcr, rrr = stats.get((system, n, "koop PCR")), stats.get((system, n, "koop RRR"))
            parts = [f"{system:6} {n:>7}"]
            if k and kl:
                parts.append(f"error koop/kooplearn {k[0] / kl[0]:5.2f} "
                             f"({'ok' if k[0] <= kl[0] else 'MISSED'})")
                parts.append(f"speed-up {kl[1] / k[1]:6.1f}x")
            if km and kl:
                parts.append(f"[km60: error {km[0] / kl[0]:5.2f} "
                             f"({'ok' if km[0] <= kl[0] else 'MISSED'}), "
                             f"speed-up {kl[1] / km[1]:5.1f}x]")
            if pcr and rrr:
                parts.append(f"RRR/PCR error {rrr[0] / pcr[0]:5.2f}")
            print("  ".join(parts))
    return errs


def parse_log(path: str) -> dict:
    """``{(system, n, method): (mean, std)}`` from the table a run printed."""
    stats = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 7 and parts[0] in SYSTEMS and parts[1].isdigit() and "+-" in parts:
            i = parts.index("+-")
            method = " ".join(parts[2:i - 1])
            stats[(parts[0], int(parts[1]), method)] = (float(parts[i - 1]),
                                                        float(parts[i + 1]))
    return stats


def draw(stats: dict, path: str) -> None:
    """Eigenvalue error vs N, one panel per system, error bars = std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    style = {"koop PCR": ("tab:blue", "o", "--"), "koop RRR": ("tab:red", "s", "-"),
             "koop KRRR": ("tab:orange", "D", "-"),
             "koop KRRR km60": ("tab:brown", "P", "-"),
             "kooplearn PCR": ("tab:cyan", "v", "--"),
             "kooplearn RRR": ("tab:purple", "^", "-"),
             "deeptime VAMP": ("tab:gray", "x", ":")}
    fig, axes = plt.subplots(1, len(SYSTEMS), figsize=(9, 3.4), sharey=False)
    titles = {"ou": "Ornstein–Uhlenbeck (exact)", "prinz": "Prinz potential (reference)"}
    for ax, system in zip(axes, SYSTEMS, strict=True):
        for method, (color, marker, ls) in style.items():
            pts = sorted((n, *v) for (s_, n, m), v in stats.items()
                         if s_ == system and m == method)
            if not pts:
                continue
            n, mean, std = (np.array(c) for c in zip(*pts, strict=True))
            ax.errorbar(n, mean, yerr=std, color=color, marker=marker, ls=ls, capsize=3,
                        label=method, ms=5, lw=1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N (samples)")
        ax.set_title(titles[system], fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(f"mean |λ − λ_ref|, {RANK} leading")
    axes[-1].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"rank {RANK}: RRR vs PCR (mean ± std over seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e3, 1e4, 1e5])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--peers-python", default=str(ROOT / ".venv-peers" / "bin" / "python"))
    ap.add_argument("--figure", help="save the RRR-vs-PCR figure (PNG) here")
    ap.add_argument("--figure-from-log", help="draw --figure from a saved run's output")
    ap.add_argument("--worker", choices=tuple(FITTERS))
    ap.add_argument("--data")
    args = ap.parse_args()
    args.sizes = [int(n) for n in args.sizes]
    if args.worker:
        worker(args.worker, args.data, args.sizes, args.seeds, args.repeats)
        return
    if args.figure_from_log:
        draw(parse_log(args.figure_from_log), args.figure or "rrr_vs_pcr.png")
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for system in SYSTEMS:
            for seed in range(args.seeds):
                X, ref = make_data(system, seed, max(args.sizes))
                np.save(Path(tmp) / f"{system}_{seed}.npy", X)
            np.save(Path(tmp) / f"{system}_ref.npy", ref)
        print(f"data: {time.perf_counter() - t0:.1f} s; threads per process: {args.threads}")
        rows = run_worker(sys.executable, "koop", tmp, args)
        if not args.no_peers:
            if not Path(args.peers_python).exists():
                print(f"[peers skipped: no {args.peers_python}; `make bench` creates it]")
            else:
                for lib in PEER_METHODS:
                    rows += run_worker(args.peers_python, lib, tmp, args)
    stats = summarise(rows, args.sizes)
    if args.figure:
        draw(stats, args.figure)


if __name__ == "__main__":
    main()
