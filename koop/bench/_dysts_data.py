"""Train and test trajectories of the dysts chaotic systems, with the 2021 protocol.

Protocol (Gilpin, NeurIPS 2021 Datasets & Benchmarks; ``benchmarks/`` of dysts at
cc777ed9): draw initial conditions from a reference trajectory on the attractor (1000
points at 30 points per period, as ``dysts.analysis.sample_initial_conditions``), then
integrate separate train and test trajectories of ``n_periods * pts_per_period`` points
(12 x 100 = 1200) resampled to the dominant Fourier period.

Integrator: dysts integrates with Radau at rtol = atol = 1e-12. Here the default is DOP853
(explicit, 8th order) at the same tolerances, about 50 times faster on the non-stiff
systems for the same accuracy; a system on which DOP853 exceeds its share of the time
limit (a stiff system) is integrated again with Radau. ``method="Radau"`` reproduces the
dysts integration exactly. Delay systems (``MackeyGlass``, ...) use dysts' own delay
integrator; their train and test trajectories are consecutive segments of one run, since
their initial condition is a history, not a point.
"""

from __future__ import annotations

import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DystsData", "IntegrationError", "import_dysts", "list_systems", "make_dataset"]

INSTALL_HINT = "the dysts benchmark needs the optional dysts package: pip install koop[bench]"


class IntegrationError(RuntimeError):
    """A system could not be integrated (stiff, unbounded, or over its time limit)."""


def import_dysts():
    """Import ``dysts.flows`` lazily, with an error that names the extra to install."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import dysts
            import dysts.flows
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return dysts


def list_systems() -> list[str]:
    """Names of the continuous chaotic systems in the installed dysts (135 in 0.96).

    Examples
    --------
    >>> "Lorenz" in list_systems()
    True
    """
    import_dysts()
    from dysts.systems import get_attractor_list

    return sorted(get_attractor_list())


@dataclass(frozen=True)
class DystsData:
    """One system's benchmark data (train and test each ``(n_samples, n_features)``)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    dt: float
    lyapunov_exponent: float
    period: float
    integrator: str
    generation_time: float


class _DeadlinePassed(Exception):
    pass


def _set_deadline(model, deadline: float) -> None:
    """Make the model's right-hand side raise once the wall-clock deadline has passed.

    (A solve_ivp event cannot do this: its root finder re-evaluates the event at the
    start of the step, where a wall-clock test no longer gives the old sign.)
    """
    rhs = type(model).rhs.__get__(model)

    def timed_rhs(X, t):
        if time.monotonic() > deadline:
            raise _DeadlinePassed
        return rhs(X, t)

    model.rhs = timed_rhs


def _integrate(model, n, pts_per_period, method, tol, deadline, **kw):
    """One dysts trajectory; None when it stopped early (deadline, blow-up)."""
    opts = dict(resample=True, pts_per_period=pts_per_period, return_times=True)
    if not _is_delay(model):
        opts.update(method=method, rtol=tol, atol=tol)
        _set_deadline(model, deadline)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            t, sol = model.make_trajectory(n, **opts, **kw)
    except _DeadlinePassed:
        return None, None
    if sol is None:
        return None, None
    sol = np.asarray(sol, dtype=float)
    if sol.ndim == 1:
        sol = sol[:, None]
    if sol.shape[0] != n or not np.isfinite(sol).all():
        return None, None
    return np.asarray(t, dtype=float), sol


def _is_delay(model) -> bool:
    from dysts.base import DynSysDelay

    return isinstance(model, DynSysDelay)


def _generate(name, n_periods, pts_per_period, n_reference, method, tol, rng, deadline):
    dysts = import_dysts()
    model = getattr(dysts.flows, name)()
    n = n_periods * pts_per_period
    if _is_delay(model):
        t, sol = _integrate(model, 2 * n, pts_per_period, method, tol, deadline)
        if sol is None:
            raise IntegrationError(f"{name}: the delay integration did not complete")
        return sol[:n], sol[n:], float(np.median(np.diff(t))), model, "dysts-delay"
    # As dysts.analysis.sample_initial_conditions, with a seeded generator.
    _, ref = _integrate(model, n_reference, 30, method, tol, deadline, postprocess=False)
    if ref is None:
        raise IntegrationError(f"{name}: the reference trajectory did not complete")
    train_ic, test_ic = ref[rng.choice(ref.shape[0], size=2, replace=False)]
    out = []
    for ic in (train_ic, test_ic):
        model.ic = ic
        t, sol = _integrate(model, n, pts_per_period, method, tol, deadline)
        if sol is None:
            raise IntegrationError(f"{name}: a {method} trajectory did not complete")
        out.append(sol)
    return out[0], out[1], float(np.median(np.diff(t))), model, method


def _cache_file(cache_dir, name, n_periods, pts_per_period, n_reference, method, tol, seed):
    from importlib.metadata import PackageNotFoundError, version

    try:
        dysts_version = version("dysts")
    except PackageNotFoundError:  # pragma: no cover - a source checkout of dysts
        dysts_version = "unknown"
    key = (
        f"{name}__periods{n_periods}__ppp{pts_per_period}__ref{n_reference}__{method}"
        f"{tol:g}__seed{seed}__dysts{dysts_version}.npz"
    )
    return Path(cache_dir).expanduser() / key


def make_dataset(
    name: str,
    *,
    n_periods: int = 12,
    pts_per_period: int = 100,
    n_reference: int = 1000,
    method: str = "DOP853",
    tol: float = 1e-12,
    time_limit: float = 120.0,
    random_state: int = 0,
    cache_dir: str | Path | None = None,
) -> DystsData:
    """Generate (or load from ``cache_dir``) one system's train and test trajectories.

    Parameters
    ----------
    name : str
        A dysts flow, e.g. ``"Lorenz"``.
    n_periods, pts_per_period : int
        Length of each trajectory in dominant periods, and its sampling density.
    n_reference : int
        Points of the reference trajectory (30 per period) the initial conditions are
        drawn from.
    method : {"DOP853", "Radau", ...}
        :func:`scipy.integrate.solve_ivp` method; ``"Radau"`` is dysts' own choice.
    tol : float
        ``rtol = atol``.
    time_limit : float
        Wall-clock seconds for the whole system; half goes to ``method``, and a system
        that runs out of it with a non-Radau method is retried with Radau.
    random_state : int
        Seed of the initial-condition draw (combined with the system name).
    cache_dir : path, optional
        Folder for ``.npz`` copies of generated data, keyed by every argument above and
        the dysts version.

    Returns
    -------
    DystsData

    Raises
    ------
    IntegrationError
        When no integrator completes within ``time_limit``.

    Examples
    --------
    >>> data = make_dataset("Lorenz", n_periods=3, pts_per_period=20, n_reference=100)
    >>> data.train.shape, data.test.shape, round(data.lyapunov_exponent, 3)
    ((60, 3), (60, 3), 0.892)
    """
    path = None
    if cache_dir is not None:
        path = _cache_file(cache_dir, name, n_periods, pts_per_period, n_reference, method,
                           tol, random_state)
        if path.exists():
            with np.load(path, allow_pickle=False) as z:
                return DystsData(name, z["train"], z["test"], float(z["dt"]),
                                 float(z["lyap"]), float(z["period"]), str(z["integrator"]),
                                 float(z["generation_time"]))
    start = time.monotonic()
    seed = [int(random_state), zlib.crc32(name.encode())]
    args = (name, n_periods, pts_per_period, n_reference)
    try:
        first_deadline = start + (time_limit / 2 if method != "Radau" else time_limit)
        train, test, dt, model, used = _generate(*args, method, tol,
                                                 np.random.default_rng(seed), first_deadline)
    except IntegrationError:
        if method == "Radau" or time.monotonic() - start >= time_limit:
            raise
        train, test, dt, model, used = _generate(*args, "Radau", tol,
                                                 np.random.default_rng(seed),
                                                 start + time_limit)
    elapsed = time.monotonic() - start
    lyap = getattr(model, "maximum_lyapunov_estimated", None)
    period = getattr(model, "period", None)
    data = DystsData(name, train, test, dt, float(lyap) if lyap is not None else np.nan,
                     float(period) if period is not None else np.nan, used, elapsed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, train=train, test=test, dt=dt, lyap=data.lyapunov_exponent,
                 period=data.period, integrator=used, generation_time=elapsed)
        tmp.replace(path)
    return data
