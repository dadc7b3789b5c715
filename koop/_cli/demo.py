"""``koop demo``: fit models on built-in data and print their spectra (first version)."""

from __future__ import annotations

import argparse

import numpy as np


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="koop-report", help="report folder (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="smaller data, for tests")


def _table(title: str, lam: np.ndarray, dt: float | None, n: int = 8) -> str:
    lines = [title, f"{'#':>3} {'lambda (discrete)':>28} {'|lambda|':>9} {'log(lambda)/dt':>28}"]
    for j, v in enumerate(lam[:n]):
        c = np.log(v) / dt if dt else np.nan
        lines.append(
            f"{j:>3} {v.real:>13.8f}{v.imag:+13.8f}j {abs(v):>9.6f} {c.real:>13.6f}{c.imag:+13.6f}j"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from koop import systems
    from koop.dictionaries import RBF, Polynomial
    from koop.estimators import EDMD

    rng = np.random.default_rng(0)
    mu, lam = 0.9, 0.5
    trajs = [systems.slow_manifold(10, mu=mu, lam=lam, x0=x0) for x0 in rng.uniform(-1, 1, (50, 2))]
    model = EDMD(Polynomial(degree=2)).fit(trajs)
    print(_table("Slow manifold (mu=0.9, lambda=0.5), EDMD with monomials of degree <= 2",
                 model.eigenvalues_, None))
    print("exact: 1, mu=0.9, mu^2=0.81, lambda=0.5 (the others are not in the span)\n")
    n = 2000 if args.quick else 20000
    X = systems.lorenz63(n, dt=0.01)
    model = EDMD(RBF(n_centers=100 if not args.quick else 30, random_state=0)).fit(X, dt=0.01)
    print(_table(f"Lorenz-63, dt=0.01, N={n}, EDMD with Gaussian RBFs",
                 model.eigenvalues_, 0.01))
    return 0
