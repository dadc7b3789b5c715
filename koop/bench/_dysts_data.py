"""Train and test trajectories of the dysts chaotic systems, with the 2021 protocol.

Protocol (Gilpin, NeurIPS 2021 Datasets & Benchmarks; ``benchmarks/`` of dysts at
cc777ed9): draw initial conditions from a reference trajectory on the attractor (1000
points at 30 points per period, as ``dysts.analysis.sample_initial_conditions``), then
integrate separate train and test trajectories of ``n_periods * pts_per_period`` points
(12 x 100 = 1200) resampled to the dominant Fourier period.

Integrator (``method="auto"``, a fixed rule, never a clock): dysts integrates with Radau
at rtol = atol = 1e-12. Here each trajectory is integrated with DOP853 (explicit, 8th
order) at the same tolerances, about 50 times faster on the non-stiff systems for the
same accuracy; a system whose DOP853 integration needs more than
:data:`MAX_EXPLICIT_RHS_EVALS` right-hand-side evaluations for one trajectory (a stiff
system) is integrated again, all of it, with Radau. The choice depends only on the
system and the protocol, so every machine makes the same one. The wall-clock
``time_limit`` only fails a system (recorded by the sweep); it never changes the
integrator. ``method="Radau"`` reproduces the dysts integration exactly. Delay systems
(``MackeyGlass``, ...) use dysts' own delay integrator; their train and test
trajectories are consecutive segments of one run, since their initial condition is a
history, not a point.
"""

from __future__ import annotations

import os
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DystsData", "IntegrationError", "MAX_EXPLICIT_RHS_EVALS", "FACTS", "import_dysts",
           "list_systems", "check_systems", "make_dataset", "system_facts"]

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


def check_systems(systems) -> list[str]:
    """Validate dysts flow names; a single name may be given as a string.

    Raises
    ------
    ValueError
        Naming every unknown system and pointing at :func:`list_systems`.

    Examples
    --------
    >>> check_systems("Lorenz")
    ['Lorenz']
    """
    names = [systems] if isinstance(systems, str) else list(systems)
    available = list_systems()
    unknown = [s for s in names if s not in available]
    if unknown:
        raise ValueError(f"unknown dysts system(s) {unknown}; choose from "
                         f"{', '.join(available[:5])}, ... ({len(available)} in all: "
                         "koop.bench.list_systems() or `koop benchmark dysts --list`).")
    return names


#: Invariants from dysts' metadata recorded beside each system's scores.
FACTS = ("correlation_dimension", "kaplan_yorke_dimension", "pesin_entropy",
         "multiscale_entropy")


def system_facts(name: str) -> dict[str, float]:
    """dysts' published invariants of a system (:data:`FACTS`; NaN where missing).

    Examples
    --------
    >>> round(system_facts("Lorenz")["correlation_dimension"], 2)
    1.99
    """
    model = getattr(import_dysts().flows, check_systems([name])[0])()
    out = {}
    for key in FACTS:
        value = getattr(model, key, None)
        out[key] = float(value) if isinstance(value, int | float) else float("nan")
    return out


#: DOP853 is abandoned for Radau on a system once one of its trajectories needs more
#: right-hand-side evaluations than this (about 25 times the most any non-stiff system
#: of dysts 0.96 needs at the full protocol; see docs/dysts_benchmark.md).
MAX_EXPLICIT_RHS_EVALS = 4_000_000


@dataclass(frozen=True)
class DystsData:
    """One system's benchmark data (train and test each ``(n_samples, n_features)``).

    ``rhs_evaluations`` counts the right-hand-side calls of all of its integrations (0
    for delay systems); ``generation_time`` is wall-clock seconds, for information only:
    nothing depends on it.
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    dt: float
    lyapunov_exponent: float
    period: float
    integrator: str
    generation_time: float
    rhs_evaluations: int = 0


class _Stop(Exception):
    """Raised from inside the right-hand side: deadline passed, or evaluation cap hit."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class _CountingRHS:
    """The model's right-hand side, counting calls; stops at the cap or the deadline.

    (A solve_ivp event cannot do this: its root finder re-evaluates the event at the
    start of the step, where a wall-clock test no longer gives the old sign.)
    """

    def __init__(self, deadline: float, auto: bool):
        self.deadline = deadline
        self.auto = auto
        self.rhs = None
        self.cap = None
        self.calls = 0
        self.total = 0

    def bind(self, model) -> None:
        self.rhs = type(model).rhs.__get__(model)
        model.rhs = self

    def __call__(self, X, t):
        self.calls += 1
        if self.cap is not None and self.calls > self.cap:
            raise _Stop("cap")
        if time.monotonic() > self.deadline:
            raise _Stop("deadline")
        return self.rhs(X, t)


def _integrate(model, counter, n, pts_per_period, method, tol, **kw):
    """One dysts trajectory; None when it blew up or stopped short."""
    opts = dict(resample=True, pts_per_period=pts_per_period, return_times=True)
    if not _is_delay(model):
        opts.update(method=method, rtol=tol, atol=tol)
        counter.calls = 0
        counter.cap = MAX_EXPLICIT_RHS_EVALS if method == "DOP853" and counter.auto else None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            t, sol = model.make_trajectory(n, **opts, **kw)
    finally:
        counter.total += counter.calls
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


def _generate(name, n_periods, pts_per_period, n_reference, method, tol, rng, counter):
    dysts = import_dysts()
    model = getattr(dysts.flows, name)()
    n = n_periods * pts_per_period
    if not _is_delay(model):
        counter.bind(model)
    if _is_delay(model):
        t, sol = _integrate(model, counter, 2 * n, pts_per_period, method, tol)
        if sol is None:
            raise IntegrationError(f"{name}: the delay integration did not complete")
        return sol[:n], sol[n:], float(np.median(np.diff(t))), model, "dysts-delay"
    # As dysts.analysis.sample_initial_conditions, with a seeded generator.
    _, ref = _integrate(model, counter, n_reference, 30, method, tol, postprocess=False)
    if ref is None:
        raise IntegrationError(f"{name}: the {method} reference trajectory did not complete")
    train_ic, test_ic = ref[rng.choice(ref.shape[0], size=2, replace=False)]
    out = []
    for ic in (train_ic, test_ic):
        model.ic = ic
        t, sol = _integrate(model, counter, n, pts_per_period, method, tol)
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
    if method == "auto":
        method = f"auto{MAX_EXPLICIT_RHS_EVALS}"
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
    method: str = "auto",
    tol: float = 1e-12,
    time_limit: float = 600.0,
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
    method : {"auto", "DOP853", "Radau", "LSODA", ...}
        ``"auto"``: DOP853, or Radau for a system on which DOP853 needs more than
        :data:`MAX_EXPLICIT_RHS_EVALS` evaluations for one trajectory (a deterministic
        rule). Any other name is a :func:`scipy.integrate.solve_ivp` method used as is;
        ``"Radau"`` is dysts' own choice.
    tol : float
        ``rtol = atol``.
    time_limit : float
        Wall-clock seconds for the whole system. A system that runs out of it raises
        :class:`IntegrationError`; the limit never changes the integrator, so the data
        of the systems that complete are the same on a fast and a slow machine.
    random_state : int
        Seed of the initial-condition draw (combined with the system name).
    cache_dir : path, optional
        Folder for ``.npz`` copies of generated data, keyed by every argument above (the
        rule's cap included) and the dysts version.

    Returns
    -------
    DystsData

    Raises
    ------
    ValueError
        For a name that is not a dysts flow.
    IntegrationError
        When the integration blows up or does not complete within ``time_limit``.

    Examples
    --------
    >>> data = make_dataset("Lorenz", n_periods=3, pts_per_period=20, n_reference=100)
    >>> data.train.shape, data.test.shape, round(data.lyapunov_exponent, 3), data.integrator
    ((60, 3), (60, 3), 0.892, 'DOP853')
    """
    check_systems([name])
    path = None
    if cache_dir is not None:
        path = _cache_file(cache_dir, name, n_periods, pts_per_period, n_reference, method,
                           tol, random_state)
        if path.exists():
            with np.load(path, allow_pickle=False) as z:
                return DystsData(name, z["train"], z["test"], float(z["dt"]),
                                 float(z["lyap"]), float(z["period"]), str(z["integrator"]),
                                 float(z["generation_time"]),
                                 int(z["rhs_evaluations"]) if "rhs_evaluations" in z else 0)
    start = time.monotonic()
    seed = [int(random_state), zlib.crc32(name.encode())]
    args = (name, n_periods, pts_per_period, n_reference)
    auto = method == "auto"
    first = "DOP853" if auto else method
    counter = _CountingRHS(start + time_limit, auto)
    try:
        try:
            train, test, dt, model, used = _generate(*args, first, tol,
                                                     np.random.default_rng(seed), counter)
        except _Stop as stop:
            if stop.why != "cap":
                raise
            # the rule: too many evaluations for an explicit method means stiff
            train, test, dt, model, used = _generate(*args, "Radau", tol,
                                                     np.random.default_rng(seed), counter)
    except _Stop:
        raise IntegrationError(
            f"{name}: integration did not complete within time_limit={time_limit:g} s "
            f"({counter.total} right-hand-side evaluations)") from None
    elapsed = time.monotonic() - start
    lyap = getattr(model, "maximum_lyapunov_estimated", None)
    period = getattr(model, "period", None)
    data = DystsData(name, train, test, dt, float(lyap) if lyap is not None else np.nan,
                     float(period) if period is not None else np.nan, used, elapsed,
                     int(counter.total))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # runs may share a cache
        np.savez(tmp, train=train, test=test, dt=dt, lyap=data.lyapunov_exponent,
                 period=data.period, integrator=used, generation_time=elapsed,
                 rhs_evaluations=data.rhs_evaluations)
        tmp.replace(path)
    return data
