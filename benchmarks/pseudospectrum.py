"""Pseudospectrum on a grid: koop's fast path against the direct way, in one run.

The direct way is a generalized Hermitian eigensolve per grid point,
``scipy.linalg.eigh(H(z), G, subset_by_index=[0, 0])`` with
``H(z) = L - z A^* - conj(z) A + |z|^2 G`` (the smallest eigenpair: tau(z)^2 and the
pseudoeigenfunction). koop's path (``koop.validation.pseudospectrum``) factors once and
then does a Cholesky factorisation, a few warm-started Lanczos steps and a
cancellation-free Rayleigh quotient per point, on half the plane (tau(conj z) = tau(z)).

Setting (issue 4): Lorenz-63, N = 1e5 samples (standardised), a 50 x 50 grid on
[-1.5, 1.5]^2, dictionaries RBF-500 (Gaussian, width 0.15 in standardised units, so that
G is numerically positive definite, cond ~ 1e4-1e5: the direct way needs that) and
degree-5 monomials. The direct way takes ~0.1 s a point at M = 500, so by default it runs
on ``--direct-points`` grid points spread over the grid and its time is extrapolated per
point to the full grid (said so in the output). Both sides use the same Gram matrices
(build time reported separately) and single-threaded BLAS; koop also with ``--jobs``
threads over the points.

    python benchmarks/pseudospectrum.py                 # the issue's size
    python benchmarks/pseudospectrum.py --quick         # N = 2e4, RBF-200, 20 x 20
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from koop import systems
from koop._spectral.factor import build_factor, pencil_from_factor, pencil_from_gram
from koop._spectral.pseudospectrum import smallest_residuals
from koop.data import as_trajectories
from koop.dictionaries import RBF, Polynomial
from koop.gram import build_gram


def direct_tau(G, A, L, zs):
    out = np.empty(zs.size)
    Ah = A.conj().T
    for i, z in enumerate(zs):
        H = L - z * Ah - np.conj(z) * A + abs(z) ** 2 * G
        w, _ = scipy.linalg.eigh(H, G, subset_by_index=[0, 0])
        out[i] = np.sqrt(max(w[0], 0.0))
    return out


def run_case(name, dictionary, X, grid_n, direct_points, jobs):
    data = as_trajectories(X)
    dictionary = dictionary.fit(X)
    M = dictionary.n_output_features_
    t = time.perf_counter()
    gm = build_gram(dictionary, data)
    t_gram = time.perf_counter() - t
    t = time.perf_counter()
    factor = build_factor(dictionary, data)
    t_factor = time.perf_counter() - t
    x = np.linspace(-1.5, 1.5, grid_n)
    Z = (x[None, :] + 1j * x[:, None]).ravel()

    t = time.perf_counter()
    pencil = pencil_from_gram(gm.G, gm.A, gm.L)
    tau, _ = smallest_residuals(pencil, Z, n_jobs=1)
    t_koop1 = time.perf_counter() - t
    t = time.perf_counter()
    tau_j, _ = smallest_residuals(pencil_from_gram(gm.G, gm.A, gm.L), Z, n_jobs=jobs)
    t_koopj = time.perf_counter() - t
    t = time.perf_counter()
    tau_qr, _ = smallest_residuals(pencil_from_factor(factor), Z, n_jobs=jobs)
    t_koop_qr = time.perf_counter() - t

    n = Z.size if direct_points <= 0 else min(direct_points, Z.size)
    idx = np.unique(np.linspace(0, Z.size - 1, n).round().astype(int))
    with threadpool_limits(1):
        t = time.perf_counter()
        ref = direct_tau(gm.G, gm.A, gm.L, Z[idx])
        t_dir_sub = time.perf_counter() - t
    per_point = t_dir_sub / idx.size
    t_direct = per_point * Z.size
    diff = float(np.max(np.abs(tau[idx] - ref)))
    diff_qr = float(np.max(np.abs(tau_qr[idx] - ref)))
    exact, _ = smallest_residuals(pencil_from_factor(factor), Z[idx], method="svd")
    print(f"\n== {name}: M = {M}, N = {gm.n_samples}, grid {grid_n} x {grid_n} ==")
    print(f"Gram build {t_gram:.2f} s; QR factor build {t_factor:.2f} s; "
          f"rank kept {pencil.rank} of {M}")
    extrap = "" if idx.size == Z.size else (
        f" (measured on {idx.size} points, {1e3 * per_point:.1f} ms a point, extrapolated)")
    print(f"direct eigh(H, G) per point : {t_direct:8.2f} s{extrap}")
    print(f"koop, 1 thread              : {t_koop1:8.2f} s   ratio {t_direct / t_koop1:6.1f}x")
    print(f"koop, {jobs} threads            : {t_koopj:8.2f} s   ratio {t_direct / t_koopj:6.1f}x"
          f"   (same values: {np.max(np.abs(tau_j - tau)):.1e})")
    print(f"koop from QR factor, {jobs} thr : {t_koop_qr:8.2f} s")
    print(f"max |tau_koop - tau_direct| = {diff:.2e} (Gram pencil), {diff_qr:.2e} (QR pencil); "
          f"tau range [{ref.min():.2e}, {ref.max():.2e}]")
    err_koop = np.max(np.abs(tau_qr[idx] - exact))
    print(f"against the SVD of the QR pencil (most accurate): koop {err_koop:.1e}, "
          f"direct {np.max(np.abs(ref - exact)):.1e}")
    print(f"end to end (build + grid): direct {t_gram + t_direct:.2f} s, "
          f"koop {t_gram + t_koopj:.2f} s (Gram) / {t_factor + t_koop_qr:.2f} s (QR)")
    return t_direct / t_koop1, diff


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-samples", type=int, default=100_000)
    p.add_argument("--n-centers", type=int, default=500)
    p.add_argument("--grid", type=int, default=50)
    p.add_argument("--direct-points", type=int, default=100,
                   help="grid points for the direct way (0: all), time extrapolated")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.n_samples, a.n_centers, a.grid = 20_000, 200, 20
    X = systems.lorenz63(a.n_samples, dt=0.01, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    print(f"pseudospectrum benchmark: Lorenz-63 N={a.n_samples}, {os.cpu_count()} CPU(s); "
          "timings on a shared machine are noisy")
    run_case(f"RBF-{a.n_centers}", RBF(a.n_centers, width=0.15, random_state=0), X, a.grid,
             a.direct_points, a.jobs)
    run_case("monomials, degree 5", Polynomial(5), X, a.grid, a.direct_points, a.jobs)


if __name__ == "__main__":
    main()
