r"""Koopman models vs RNN reconstructions on one chaotic system: one table, one figure.

The protocol follows the generalized-teacher-forcing paper (Hess et al., ICML 2023):

* data: a long training trajectory of the system (Lorenz-63 at ``dt = 0.01``; Rössler at
  ``dt = 0.08``, the AL-RNN paper's sampling), standardized, with 5 % Gaussian observation
  noise; a separate noise-free test trajectory standardized with the training statistics;
* every method is fitted on the same training data and generates a trajectory of
  ``floor(1.25 T)`` steps from test state 100 (so that delay models have a full window
  of past samples); the first ``floor(0.25 T)`` steps are discarded and the remaining
  ``T`` compared with the test set by
  :math:`D_{stsp}` (30 bins per dimension) and :math:`D_H` (Gaussian smoothing 20);
* short-term skill: the 20-step prediction error :math:`PE(20)` from test states (every
  ``pe_stride``-th) and the valid prediction time (normalised error below 0.4, in Lyapunov
  times) averaged over ``n_vpt`` initial conditions along the test set.

Linear (Koopman) models are simulated in their eigenbasis; eigenvalues outside the unit
circle are projected onto it (``|lambda| -> 1``) so that long runs stay bounded, and the
table says how many were projected. A linear model has no chaotic attractor, which is
exactly what the comparison shows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from koop import metrics, systems

__all__ = ["SYSTEMS", "ComparisonResult", "compare", "make_data", "METHODS"]

#: name -> (generator, dt, largest Lyapunov exponent per unit time, AL-RNN P)
#: Lyapunov exponents: Lorenz-63 0.9056, Rössler (a=b=0.2, c=5.7) 0.0714 (Sprott,
#: "Chaos and Time-Series Analysis", 2003, table of exponents).
SYSTEMS = {
    "lorenz63": (systems.lorenz63, 0.01, 0.9056, 2),
    "rossler": (systems.rossler, 0.08, 0.0714, 1),
}
_ALIASES = {"lorenz": "lorenz63", "lorenz-63": "lorenz63", "rössler": "rossler"}

METHODS = ("EDMD", "ResDMD (verified)", "HAVOK", "EDMD-DL", "shPLRNN+GTF", "AL-RNN")


def _system(name: str):
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in SYSTEMS:
        raise ValueError(f"Unknown system {name!r}; choose one of {sorted(SYSTEMS)}.")
    return key, SYSTEMS[key]


@dataclass
class ComparisonData:
    """Standardized training (noisy) and test (clean) trajectories."""

    system: str
    train: np.ndarray
    test: np.ndarray
    dt: float
    lyapunov_exponent: float
    mean: np.ndarray
    std: np.ndarray
    noise: float


def make_data(system: str = "lorenz63", n_train: int = 100_000, n_test: int = 100_000,
              *, noise: float = 0.05, random_state: Any = 0) -> ComparisonData:
    """Training and test data in the GTF setup.

    Two trajectories from different initial conditions on the attractor; both are
    standardized with the mean and standard deviation of the clean training trajectory,
    then the training one gets i.i.d. Gaussian noise of standard deviation ``noise``
    (5 % of the unit variance by default).

    Examples
    --------
    >>> data = make_data("lorenz63", 500, 300)
    >>> data.train.shape, data.test.shape, data.dt
    ((500, 3), (300, 3), 0.01)
    """
    key, (generate, dt, lyap, _) = _system(system)
    rng = np.random.default_rng(random_state)
    seeds = rng.integers(0, 2**31 - 1, size=2)
    clean = generate(int(n_train), dt=dt, random_state=int(seeds[0]))
    test = generate(int(n_test), dt=dt, random_state=int(seeds[1]))
    mean, std = clean.mean(axis=0), clean.std(axis=0)
    train = (clean - mean) / std + noise * rng.standard_normal(clean.shape)
    return ComparisonData(key, train, (test - mean) / std, dt, lyap, mean, std, noise)


# -- forecasters: (initial states (n0, d), n_steps) -> trajectories (n0, n_steps, d) -------

class _ModalForecaster:
    """Iterate a fitted Koopman model in its eigenbasis, with unstable modes projected."""

    def __init__(self, model, subset=None) -> None:
        lam = np.asarray(model.eigenvalues_, dtype=np.complex128)
        keep = np.arange(lam.size) if subset is None else np.asarray(subset)
        self.model, self.keep = model, keep
        lam = lam[keep]
        radius = np.abs(lam)
        # a rounding-level excess over 1 (the constant function's eigenvalue) is not unstable
        unstable = radius > 1.0 + 1e-9
        self.n_projected = int(np.count_nonzero(unstable))
        self.lam = np.where(unstable, lam / np.where(radius > 0, radius, 1.0), lam)
        self.modes = np.asarray(model.modes_)[:, keep]

    def __call__(self, series: np.ndarray, starts, n_steps: int) -> np.ndarray:
        phi = np.asarray(self.model.eigenfunctions(series[starts]))[:, self.keep]
        out = np.empty((len(starts), n_steps, self.modes.shape[0]))
        for k in range(n_steps):
            phi = phi * self.lam
            out[:, k] = (phi @ self.modes.T).real
        return out


class _RNNForecaster:
    def __init__(self, model) -> None:
        self.model = model
        self.n_projected = 0

    def __call__(self, series: np.ndarray, starts, n_steps: int) -> np.ndarray:
        from koop.rnn._torch import import_torch

        torch = import_torch()
        z0 = self.model._latent_start(series[starts])
        z = self.model.model_.generate(z0, n_steps)
        with torch.no_grad():
            return self.model.model_.observe(z).numpy().copy()


class _WindowForecaster:
    """The model's own ``simulate(window, n_steps)`` from the last ``n_lags_ + 1`` samples.

    For HAVOK this is the unforced linear part: the forcing :math:`v_r` of future times is
    an unknown input, so a generative run cannot use it.
    """

    def __init__(self, model) -> None:
        self.model = model
        self.lags = int(getattr(model, "n_lags_", 0))
        self.n_projected = 0

    def __call__(self, series: np.ndarray, starts, n_steps: int) -> np.ndarray:
        return np.stack([
            np.asarray(self.model.simulate(series[s - self.lags : s + 1], n_steps)).real
            for s in starts
        ])


@dataclass
class MethodSpec:
    """How to build, fit and run one method of the comparison."""

    name: str
    build: Any
    forecaster: Any
    notes: str = ""


def _resdmd_forecaster(model, tol):
    res = np.asarray(model.residuals_)
    subset = np.flatnonzero(res <= tol)
    if subset.size == 0:
        subset = np.argsort(res)[:1]
    fc = _ModalForecaster(model, subset)
    fc.note = f"{subset.size}/{res.size} eigenpairs with residual <= {tol:g}"
    return fc


def _method_specs(system: str, quick: bool, random_state: int, device: str,
                  verbose: bool, epochs: int | None, resdmd_tol: float) -> dict:
    from koop.dictionaries import Polynomial

    n_pwl = SYSTEMS[system][3]
    if quick:
        rnn = dict(n_epochs=epochs or 3, batches_per_epoch=5, sequence_length=50,
                   learning_rate=5e-3)
        dl = dict(n_trainable=4, hidden_layers=(16,), n_iterations=2, n_epochs=1,
                  batch_size=256)
        shp_hidden, al_latent = 20, 6
        havok = dict(n_delays=20, rank=6)
    else:
        rnn = dict(n_epochs=epochs or 300)
        dl = dict(n_trainable=20, hidden_layers=(64, 64), n_iterations=20, n_epochs=2,
                  batch_size=256)
        shp_hidden, al_latent = 100, 20
        havok = dict(n_delays=100, rank=15)
    common = dict(random_state=random_state, device=device, verbose=verbose)

    def edmd():
        from koop.estimators import EDMD

        return EDMD(Polynomial(degree=3))

    def resdmd():
        from koop.estimators import ResDMD

        return ResDMD(Polynomial(degree=3))

    def havok_model():
        from koop.estimators import HAVOK

        return HAVOK(**havok)

    def edmd_dl():
        from koop.estimators.neural import EDMDDL

        return EDMDDL(**dl, **common)

    def shplrnn():
        from koop.rnn import ShallowPLRNN

        return ShallowPLRNN(n_hidden=shp_hidden, **rnn, **common)

    def alrnn():
        from koop.rnn import ALRNN

        return ALRNN(n_latent=al_latent, n_pwl=n_pwl, **rnn, **common)

    return {
        "EDMD": MethodSpec("EDMD", edmd, _ModalForecaster, "cubic polynomials"),
        "ResDMD (verified)": MethodSpec(
            "ResDMD (verified)", resdmd, lambda m: _resdmd_forecaster(m, resdmd_tol),
            "cubic polynomials",
        ),
        "HAVOK": MethodSpec("HAVOK", havok_model, _WindowForecaster,
                            f"{havok['n_delays']} delays, rank {havok['rank']}, unforced"),
        "EDMD-DL": MethodSpec("EDMD-DL", edmd_dl, _ModalForecaster,
                              f"{dl['n_trainable']} learned observables"),
        "shPLRNN+GTF": MethodSpec("shPLRNN+GTF", shplrnn, _RNNForecaster,
                                  f"M=3, H={shp_hidden}, {rnn['n_epochs']} epochs"),
        "AL-RNN": MethodSpec("AL-RNN", alrnn, _RNNForecaster,
                             f"M={al_latent}, P={n_pwl}, {rnn['n_epochs']} epochs"),
    }


@dataclass
class ComparisonResult:
    """The comparison table (one dict per method) and the generated trajectories."""

    system: str
    rows: list
    generated: dict = field(default_factory=dict)
    test: np.ndarray | None = None
    settings: dict = field(default_factory=dict)

    COLUMNS = (("method", "method", "{}"), ("D_stsp", "D_stsp", "{:.3f}"),
               ("D_H", "D_H", "{:.3f}"), ("PE(20)", "pe20", "{:.3g}"),
               ("valid time (Lyap.)", "valid_time", "{:.2f}"),
               ("fit time (s)", "fit_time", "{:.1f}"), ("parameters", "n_parameters", "{:d}"),
               ("notes", "notes", "{}"))

    def to_markdown(self) -> str:
        """The table as GitHub markdown."""
        head = "| " + " | ".join(c[0] for c in self.COLUMNS) + " |"
        sep = "|" + "|".join("---" for _ in self.COLUMNS) + "|"
        lines = [head, sep]
        for row in self.rows:
            cells = []
            for _, key, fmt in self.COLUMNS:
                value = row.get(key)
                if isinstance(value, float) and not math.isfinite(value):
                    cells.append("nan")
                else:
                    cells.append(fmt.format(value))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_csv(self) -> str:
        """The table as CSV text."""
        keys = [c[1] for c in self.COLUMNS]
        lines = [",".join(keys)]
        for row in self.rows:
            lines.append(",".join(f'"{row[k]}"' if isinstance(row[k], str) else repr(row[k])
                                  for k in keys))
        return "\n".join(lines)

    def plot(self, path=None, n_points: int = 20_000):
        """Attractor figure: the test data and every method's run (first vs last feature).

        Parameters
        ----------
        path : str or Path, optional
            Where to save the PNG.
        n_points : int
            Samples drawn per panel.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        panels = [("test data", self.test), *list(self.generated.items())]
        ncols = min(4, len(panels))
        nrows = math.ceil(len(panels) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows),
                                 squeeze=False, sharex=True, sharey=True)
        lo = self.test.min(axis=0) - 0.5
        hi = self.test.max(axis=0) + 0.5
        for ax, (name, traj) in zip(axes.ravel(), panels, strict=False):
            traj = np.asarray(traj)[:n_points]
            finite = np.isfinite(traj).all(axis=1)
            ax.plot(traj[finite, 0], traj[finite, -1], lw=0.3,
                    color="k" if name == "test data" else "C0")
            ax.set_title(name, fontsize=9)
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[-1], hi[-1])
        for ax in axes.ravel()[len(panels):]:
            ax.set_visible(False)
        fig.suptitle(f"{self.system}: generated attractors (x vs last coordinate)")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
            plt.close(fig)
        return fig


def _count_parameters(model) -> int:
    if hasattr(model, "n_parameters_"):
        return int(model.n_parameters_)
    total = 0
    for name in ("reduced_matrix_", "state_map_", "A_", "B_"):
        arr = getattr(model, name, None)
        if arr is not None:
            total += int(np.size(arr))
    return total


def _valid_time(forecast, test, first, dt, lyap, n_vpt, horizon):
    starts = np.linspace(first, test.shape[0] - horizon - 1, n_vpt).astype(int)
    preds = forecast(test, starts, horizon)
    scale = test.std(axis=0)
    times = [metrics.valid_prediction_time(test[s + 1 : s + 1 + horizon], p, dt=dt,
                                           lyapunov_exponent=lyap, scale=scale)
             for s, p in zip(starts, preds, strict=True)]
    return float(np.mean(times))


def compare(system: str = "lorenz63", *, methods=None, quick: bool = False,
            n_train: int | None = None, n_test: int | None = None, noise: float = 0.05,
            epochs: int | None = None, resdmd_tol: float = 0.1, pe_stride: int | None = None,
            n_vpt: int = 20, random_state: int = 0, device: str = "cpu",
            verbose: bool = False) -> ComparisonResult:
    """Fit every method on one system and score its long-term and short-term behaviour.

    Parameters
    ----------
    system : {"lorenz63", "rossler"}
    methods : list of str, optional
        Subset of :data:`METHODS` (default all).
    quick : bool
        Small data and tiny models (seconds; for tests and smoke runs).
    n_train, n_test : int, optional
        Trajectory lengths (default 100 000 each, 3 000 / 2 000 when ``quick``).
    noise : float
        Observation noise on the standardized training data.
    epochs : int, optional
        Training epochs of the RNNs (default 300, 3 when ``quick``; the GTF paper: 5000).
    resdmd_tol : float
        Residual tolerance of the verified ResDMD subset.
    pe_stride : int, optional
        Use every ``pe_stride``-th test state as a PE(20) start (default: 1000 starts).
    n_vpt : int
        Initial conditions for the valid prediction time.
    random_state : int
        Seeds the data and every model.
    device : str
        Torch device of the neural models.
    verbose : bool
        Progress bars and a line per method.

    Returns
    -------
    ComparisonResult
    """
    key, (_, dt, lyap, _) = _system(system)
    names = list(METHODS if methods is None else methods)
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from {list(METHODS)}.")
    n_train = n_train or (3000 if quick else 100_000)
    n_test = n_test or (2000 if quick else 100_000)
    data = make_data(key, n_train, n_test, noise=noise, random_state=random_state)
    specs = _method_specs(key, quick, random_state, device, verbose, epochs, resdmd_tol)
    T = data.test.shape[0]
    n_gen, skip = int(1.25 * T), int(0.25 * T)
    # every forecast starts at or after sample `first`, so that delay-embedding models
    # (HAVOK) have a full window of past samples; all methods share the same starts
    first = 100
    stride = pe_stride or max(1, (T - 20 - first) // 1000)
    starts = np.arange(first, T - 20, stride)
    horizon = min(T - first - 2, math.ceil(15.0 / (lyap * dt)))
    rows, generated = [], {}
    for name in names:
        spec = specs[name]
        model = spec.build()
        start = time.perf_counter()
        model.fit(data.train, dt=dt)
        fit_time = time.perf_counter() - start
        forecast = spec.forecaster(model)
        with np.errstate(all="ignore"):
            gen = forecast(data.test, [first], n_gen)[0][skip:]
            pe = forecast(data.test, starts, 20)[:, -1]
            pe20 = float(np.mean((pe - data.test[starts + 20]) ** 2))
            vpt = _valid_time(forecast, data.test, first, dt, lyap, n_vpt, horizon)
        notes = spec.notes
        if getattr(forecast, "note", ""):
            notes += "; " + forecast.note
        if forecast.n_projected:
            notes += f"; {forecast.n_projected} unstable mode(s) projected to |lambda|=1"
        if hasattr(model, "subregions_"):
            notes += f"; {len(model.subregions_)} linear subregions visited"
        row = dict(
            method=name,
            D_stsp=metrics.state_space_divergence(data.test, gen, n_bins=30),
            D_H=metrics.power_spectrum_distance(data.test, gen, smoothing=20.0),
            pe20=pe20, valid_time=vpt, fit_time=fit_time,
            n_parameters=_count_parameters(model), notes=notes,
        )
        rows.append(row)
        generated[name] = gen
        if verbose:
            print(f"{name}: D_stsp={row['D_stsp']:.3f} D_H={row['D_H']:.3f} "
                  f"PE(20)={pe20:.3g} VPT={vpt:.2f} fit {fit_time:.1f}s")
    settings = dict(system=key, dt=dt, lyapunov_exponent=lyap, n_train=n_train, n_test=n_test,
                    noise=noise, quick=quick, random_state=random_state, pe_starts=len(starts),
                    vpt_horizon=horizon)
    return ComparisonResult(key, rows, generated, data.test, settings)
