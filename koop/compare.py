r"""Koopman models vs RNN reconstructions, on a built-in system or on your own files.

One protocol for every model, the GTF paper's (Hess et al., ICML 2023; the authors'
``src/evaluation.jl``), computed by :func:`koop.metrics.reconstruction_scores`:

* every method is fitted on the training trajectory and generates a free run of
  :math:`\lfloor 1.25\,T\rfloor` samples from the first test state (a model with ``q``
  delays: from the first ``q + 1`` test samples); the first :math:`\lfloor 0.25\,T\rfloor`
  are dropped and the remaining :math:`T` compared with the test set by
  :math:`D_{stsp}` (30 bins per dimension below 6 dimensions, Gaussian mixtures above)
  and :math:`D_H` (Gaussian smoothing 20);
* short-term skill: :math:`PE(20)`, the 20-step error from every test state (every
  ``pe_stride``-th), and for built-in systems the valid prediction time (normalised
  error below 0.4, in Lyapunov times) averaged over ``n_vpt`` starts.

Every model runs through :func:`koop.metrics.forecast`: a Koopman model iterates its own
fitted dynamics, unmodified (a decaying linear model decays, a diverging one is reported
as NaN). :data:`PUBLISHED` holds the GTF paper's Table 1 rows for its ECG data set,
printed beside koop's rows when asked for (``published="ecg"``), marked as published.

Data: ``compare("lorenz63")`` simulates the GTF setup (standardized, 5 % observation
noise on the training trajectory, a clean test trajectory); ``compare(train=..., test=...)``
takes two files (``.npy``, ``.npz``, ``.csv``, netCDF; :func:`koop.io.read_series`) or
arrays, used as given (the paper's files are standardized already).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from koop import metrics, systems

__all__ = ["SYSTEMS", "METHODS", "PUBLISHED", "ComparisonData", "ComparisonResult",
           "compare", "make_data", "load_pair"]

#: name -> (generator, dt, largest Lyapunov exponent per unit time, AL-RNN P)
#: Lyapunov exponents: Lorenz-63 0.9056, Rössler (a=b=0.2, c=5.7) 0.0714 (Sprott,
#: "Chaos and Time-Series Analysis", 2003, table of exponents).
SYSTEMS = {
    "lorenz63": (systems.lorenz63, 0.01, 0.9056, 2),
    "rossler": (systems.rossler, 0.08, 0.0714, 1),
}
_ALIASES = {"lorenz": "lorenz63", "lorenz-63": "lorenz63", "rössler": "rossler"}

METHODS = ("DMD", "EDMD", "HankelDMD", "mpEDMD (delays)", "AnalogEDMD", "HAVOK", "EDMD-DL",
           "shPLRNN+GTF", "AL-RNN")

#: GTF paper, Table 1, ECG rows: median ± MAD over 20 runs (REFERENCES.md §1.5, read from
#: the authors' poster). (method, (D_stsp, ±), (D_H, ±), (PE(20), ±), dim, |theta|)
PUBLISHED = {
    "ecg": [
        ("shPLRNN+GTF", (4.3, 0.6), (0.34, 0.02), (2.4e-3, 0.1e-3), 5, 2785),
        ("shPLRNN+aGTF", (4.5, 0.4), (0.34, 0.02), (2.4e-3, 0.2e-3), 5, 2785),
        ("shPLRNN+STF", (7.1, 1.8), (0.38, 0.03), (5e-3, 2e-3), 5, 2785),
        ("dendPLRNN+id-TF", (5.8, 0.6), (0.37, 0.06), (4.0e-3, 0.4e-3), 35, 3245),
        ("reservoir computing", (5.3, 1.7), (0.39, 0.05), (4e-3, 1e-3), 1000, 5000),
        ("LSTM-TBPTT", (15.2, 0.5), (0.73, 0.02), (2.5e-2, 0.5e-2), 70, 5920),
        ("SINDy", None, None, None, 5, 3960),
        ("Neural ODE", (12.2, 0.7), (0.70, 0.03), (4.1e-1, 0.1e-1), 5, 4955),
        ("LEM", (16.3, 0.2), (0.56, 0.04), (7.4e-1, 0.1e-1), 62, 4872),
    ],
}


def _system(name: str):
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in SYSTEMS:
        raise ValueError(f"Unknown system {name!r}; choose one of {sorted(SYSTEMS)}.")
    return key, SYSTEMS[key]


@dataclass
class ComparisonData:
    """Training and test trajectories (and what is known about them)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    dt: float | None
    lyapunov_exponent: float | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    noise: float | None = None


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


def _as_series(value: Any, role: str) -> tuple[np.ndarray, float | None, str]:
    from koop.data import check_array
    from koop.io import read_series

    if isinstance(value, str | Path):
        X, dt, _ = read_series(value)
        return X, dt, Path(value).name
    try:
        return check_array(value, name=role, min_samples=2), None, role
    except ValueError as exc:
        raise ValueError(f"the {role} data: {exc}") from None


def load_pair(train: Any, test: Any, *, dt: float | None = None,
              min_samples: int = 2) -> ComparisonData:
    """Training and test trajectories from files (or arrays), checked against each other.

    Parameters
    ----------
    train, test : path or array-like (n_samples, n_features)
        ``.npy``, ``.npz``, ``.csv`` or netCDF files (:func:`koop.io.read_series`), or
        arrays. NaN or inf values are an error.
    dt : float, optional
        Sampling interval (default: the files' time axis, else unknown).
    min_samples : int
        Fewest samples each trajectory needs (the caller's longest delay window plus the
        forecast horizon).

    Returns
    -------
    ComparisonData

    Raises
    ------
    ValueError
        Different numbers of columns, too few samples, NaN/inf, or files whose time
        steps disagree.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(300) * 0.1
    >>> pair = load_pair(np.c_[np.sin(t), np.cos(t)], np.c_[np.sin(t + 1), np.cos(t + 1)])
    >>> pair.train.shape, pair.test.shape
    ((300, 2), (300, 2))
    """
    Xtr, dt_tr, name_tr = _as_series(train, "train")
    Xte, dt_te, name_te = _as_series(test, "test")
    if Xtr.shape[1] != Xte.shape[1]:
        raise ValueError(
            f"train has {Xtr.shape[1]} column(s) and test has {Xte.shape[1]}; both files must "
            "hold the same variables (n_samples, n_features)."
        )
    for X, name in ((Xtr, name_tr), (Xte, name_te)):
        if X.shape[0] < min_samples:
            raise ValueError(
                f"{name} has {X.shape[0]} samples; the chosen models need at least "
                f"{min_samples} (their longest delay window plus the 20-step forecast). "
                "Pass longer data or fewer delays."
            )
    file_dt = dt_tr if dt_tr is not None else dt_te
    if dt_tr is not None and dt_te is not None and not math.isclose(dt_tr, dt_te, rel_tol=1e-6):
        raise ValueError(f"the time steps of train ({dt_tr:g}) and test ({dt_te:g}) differ.")
    if dt is not None and file_dt is not None and not math.isclose(dt, file_dt, rel_tol=1e-6):
        raise ValueError(f"dt={dt} disagrees with the files' time step {file_dt:g}.")
    name = Path(name_tr).stem if name_tr != "train" else "data"
    return ComparisonData(name, Xtr, Xte, dt if dt is not None else file_dt)


# -- the methods ---------------------------------------------------------------------------

@dataclass
class MethodSpec:
    """How to build one method, and what its row says about it."""

    name: str
    build: Any
    notes: str = ""
    n_lags: int = 0


def _method_specs(n_features: int, quick: bool, random_state: int, device: str,
                  verbose: bool, epochs: int | None, n_pwl: int) -> dict:
    from koop.dictionaries import RBF, TimeDelay

    if quick:
        rnn = dict(n_epochs=epochs or 3, batches_per_epoch=5, sequence_length=50,
                   learning_rate=5e-3)
        dl = dict(n_trainable=4, hidden_layers=(16,), n_iterations=2, n_epochs=1,
                  batch_size=256)
        shp_hidden, al_latent = 20, max(6, n_features)
        n_rbf, hankel, mp, havok = 30, (10, 8), (10, 5, 20), (20, 6)
        analog = dict(n_centers=200, n_neighbors=4, rank=20)
    else:
        rnn = dict(n_epochs=epochs or 300)
        dl = dict(n_trainable=20, hidden_layers=(64, 64), n_iterations=20, n_epochs=2,
                  batch_size=256)
        shp_hidden, al_latent = 100, max(20, n_features)
        n_rbf, hankel, mp, havok = 200, (50, 40), (100, 10, 40), (99, 15)
        analog = dict(n_centers=2000, n_neighbors=8)
    common = dict(random_state=random_state, device=device, verbose=verbose)

    def dmd():
        from koop.estimators import DMD

        return DMD()

    def edmd():
        from koop.estimators import EDMD

        return EDMD(RBF(n_rbf, random_state=random_state))

    def hankel_dmd():
        from koop.estimators import HankelDMD

        return HankelDMD(n_delays=hankel[0], rank=hankel[1])

    def mpedmd():
        from koop.estimators import MPEDMD

        return MPEDMD(TimeDelay(mp[0], stride=mp[1]), rank=mp[2])

    def analog_edmd():
        from koop.estimators import AnalogEDMD

        return AnalogEDMD(**analog)

    def havok_model():
        from koop.estimators import HAVOK

        return HAVOK(n_delays=havok[0], rank=havok[1])

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
        "DMD": MethodSpec("DMD", dmd, "linear, full rank"),
        "EDMD": MethodSpec("EDMD", edmd, f"{n_rbf} Gaussian RBFs"),
        "HankelDMD": MethodSpec("HankelDMD", hankel_dmd,
                                f"{hankel[0]} delays, rank {hankel[1]}", hankel[0]),
        "mpEDMD (delays)": MethodSpec(
            "mpEDMD (delays)", mpedmd,
            f"{mp[0]} delays of stride {mp[1]}, rank {mp[2]}, unitary", mp[0] * mp[1]),
        "AnalogEDMD": MethodSpec(
            "AnalogEDMD", analog_edmd,
            f"{analog['n_centers']} landmarks, {analog['n_neighbors']} neighbours, re-lifted"),
        "HAVOK": MethodSpec("HAVOK", havok_model,
                            f"{havok[0]} delays, rank {havok[1]}, unforced", havok[0]),
        "EDMD-DL": MethodSpec("EDMD-DL", edmd_dl, f"{dl['n_trainable']} learned observables"),
        "shPLRNN+GTF": MethodSpec("shPLRNN+GTF", shplrnn,
                                  f"M={n_features}, H={shp_hidden}, {rnn['n_epochs']} epochs"),
        "AL-RNN": MethodSpec("AL-RNN", alrnn,
                             f"M={al_latent}, P={n_pwl}, {rnn['n_epochs']} epochs"),
    }


def _count_parameters(model) -> int:
    if hasattr(model, "n_parameters_"):
        return int(model.n_parameters_)
    total = 0
    for name in ("reduced_matrix_", "state_map_", "A_", "B_"):
        arr = getattr(model, name, None)
        if arr is not None:
            total += int(np.size(arr))
    return total


# -- the result ----------------------------------------------------------------------------

def _fmt(value: Any, fmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):  # a published (value, ±) pair
        v, pm = value
        return f"{fmt.format(v)} ± {fmt.format(pm)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan"
    return fmt.format(value)


@dataclass
class ComparisonResult:
    """The comparison table (one dict per row) and the generated trajectories.

    Rows of koop's models have ``source = "koop"``; published rows ``source =
    "published"`` with ``(value, ±)`` pairs.
    """

    name: str
    rows: list
    generated: dict = field(default_factory=dict)
    test: np.ndarray | None = None
    settings: dict = field(default_factory=dict)

    COLUMNS = (("method", "method", "{}"), ("D_stsp", "D_stsp", "{:.2f}"),
               ("D_H", "D_H", "{:.3f}"), ("PE(20)", "pe20", "{:.2g}"),
               ("valid time (Lyap.)", "valid_time", "{:.2f}"),
               ("fit time (s)", "fit_time", "{:.1f}"), ("parameters", "n_parameters", "{:d}"),
               ("notes", "notes", "{}"))

    @property
    def system(self) -> str:
        """The data set's name (kept for older callers)."""
        return self.name

    def to_markdown(self) -> str:
        """The table as GitHub markdown; published rows are marked and carry their ±."""
        cols = [c for c in self.COLUMNS
                if c[1] != "valid_time" or any(r.get("valid_time") is not None for r in self.rows)]
        lines = ["| " + " | ".join(c[0] for c in cols) + " |",
                 "|" + "|".join("---" for _ in cols) + "|"]
        for row in self.rows:
            cells = []
            for _, key, fmt in cols:
                value = row.get(key)
                if key == "method" and row.get("source") == "published":
                    value = f"{value} (published)"
                cells.append(_fmt(value, fmt))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_csv(self) -> str:
        """The table as CSV text (published ± in a ``*_mad`` column)."""
        keys = ["source"] + [c[1] for c in self.COLUMNS]
        lines = [",".join(keys)]
        for row in self.rows:
            cells = []
            for k in keys:
                v = row.get(k)
                if isinstance(v, tuple):
                    v = v[0]
                cells.append(f'"{v}"' if isinstance(v, str) else ("" if v is None else repr(v)))
            lines.append(",".join(cells))
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
        fig.suptitle(f"{self.name}: generated attractors (first vs last feature)")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
            plt.close(fig)
        return fig


def published_rows(name: str) -> list[dict]:
    """The published rows of :data:`PUBLISHED` as table rows (``source="published"``)."""
    key = str(name).lower()
    if key not in PUBLISHED:
        raise ValueError(f"No published rows for {name!r}; available: {sorted(PUBLISHED)}.")
    rows = []
    for method, dstsp, dh, pe, dim, n_par in PUBLISHED[key]:
        rows.append(dict(source="published", method=method, D_stsp=dstsp, D_H=dh, pe20=pe,
                         n_parameters=n_par,
                         notes=f"GTF paper Table 1, median ± MAD of 20 runs; dim {dim}"
                         + ("; diverging" if dstsp is None else "")))
    return rows


def score_model(model: Any, data: ComparisonData, *, pe_stride: int = 1,
                n_vpt: int = 20) -> dict:
    """The protocol's numbers for one fitted model (see the module docstring)."""
    with np.errstate(all="ignore"):
        scores = metrics.reconstruction_scores(model, data.test, pe_stride=pe_stride)
    row = dict(D_stsp=scores["D_stsp"], D_H=scores["D_H"], pe20=scores["PE"],
               generated=scores["generated"])
    if data.lyapunov_exponent is not None and data.dt is not None:
        row["valid_time"] = _valid_time(model, data, n_vpt)
    return row


def _valid_time(model, data: ComparisonData, n_vpt: int) -> float:
    test, lyap, dt = data.test, data.lyapunov_exponent, data.dt
    lags = int(getattr(model, "n_lags_", 0) or 0)
    horizon = min(test.shape[0] - lags - 2, math.ceil(15.0 / (lyap * dt)))
    starts = np.linspace(lags, test.shape[0] - horizon - 1, n_vpt).astype(int)
    with np.errstate(all="ignore"):
        preds = metrics.forecast(model, test, horizon, starts=starts)
    scale = test.std(axis=0)
    times = [metrics.valid_prediction_time(test[s + 1 : s + 1 + horizon], p, dt=dt,
                                           lyapunov_exponent=lyap, scale=scale)
             for s, p in zip(starts, preds, strict=True)]
    return float(np.mean(times))


def compare(system: str | None = None, *, train: Any = None, test: Any = None,
            dt: float | None = None, methods=None, quick: bool = False,
            published: str | None = None, n_train: int | None = None,
            n_test: int | None = None, noise: float = 0.05, epochs: int | None = None,
            pe_stride: int | None = None, n_vpt: int = 20, random_state: int = 0,
            device: str = "cpu", verbose: bool = False) -> ComparisonResult:
    """Fit every method and score it with the GTF protocol; one row per method.

    Parameters
    ----------
    system : {"lorenz63", "rossler"}, optional
        A built-in system in the GTF setup (:func:`make_data`); default "lorenz63" when no
        files are given.
    train, test : path or array-like, optional
        Your own training and test trajectories (:func:`load_pair`), used as given.
    dt : float, optional
        Sampling interval of the files.
    methods : list of str, optional
        Subset of :data:`METHODS` (default: all; by default those needing torch are
        skipped with a note when it is missing, while asking for one raises ImportError).
    quick : bool
        Small models (seconds; for tests and smoke runs). With a built-in system also
        short data (3 000 / 2 000 samples).
    published : str, optional
        Add the published rows of :data:`PUBLISHED` (``"ecg"``), marked as published.
    n_train, n_test : int, optional
        Lengths of the built-in system's trajectories (default 100 000 each).
    noise : float
        Observation noise on the built-in system's standardized training data.
    epochs : int, optional
        Training epochs of the RNNs (default 300, 3 when ``quick``; the GTF paper: 5000,
        see ``benchmarks/rnn_gtf_train.py`` for the paper's schedule).
    pe_stride : int, optional
        Use every ``pe_stride``-th test state for PE(20) (default: about 1000 starts).
    n_vpt : int
        Initial conditions for the valid prediction time (built-in systems only).
    random_state : int
        Seeds the data and every model.
    device : str
        Torch device of the neural models.
    verbose : bool
        Progress bars and a line per method.

    Returns
    -------
    ComparisonResult

    Raises
    ------
    ValueError
        Unknown system or method, or bad files (see :func:`load_pair`).
    """
    names = list(METHODS if methods is None else methods)
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from {list(METHODS)}.")
    if (train is None) != (test is None):
        raise ValueError("pass both train= and test= (files or arrays), or neither.")
    if train is not None and system is not None:
        raise ValueError("pass either a built-in system or train=/test= files, not both.")
    if published is not None:
        published_rows(published)  # fail fast on an unknown key
    n_pwl = 2
    if train is None:
        key, (_, _, _, n_pwl) = _system(system or "lorenz63")
        data = make_data(key, n_train or (3000 if quick else 100_000),
                         n_test or (2000 if quick else 100_000), noise=noise,
                         random_state=random_state)
    else:
        data = load_pair(train, test, dt=dt)
    specs = _method_specs(data.train.shape[1], quick, random_state, device, verbose, epochs,
                          n_pwl)
    longest = max(specs[m].n_lags for m in names) + 22
    for X, role in ((data.train, "train"), (data.test, "test")):
        if X.shape[0] < longest:
            raise ValueError(
                f"the {role} data have {X.shape[0]} samples; the chosen models need at least "
                f"{longest} (their longest delay window plus the 20-step forecast). Pass "
                "longer data or choose methods without long delays."
            )
    rows = [] if published is None else published_rows(published)
    generated = {}
    T = data.test.shape[0]
    stride = pe_stride or max(1, (T - 20) // 1000)
    for name in names:
        spec = specs[name]
        try:
            model = spec.build()
        except ImportError as exc:  # an optional extra (torch) is missing
            if methods is not None:
                raise
            rows.append(dict(source="koop", method=name,
                             notes=f"skipped: {str(exc).splitlines()[0]}"))
            continue
        start = time.perf_counter()
        # unknown dt: time is counted in samples (HAVOK needs a step for its derivatives)
        model.fit(data.train, dt=data.dt if data.dt is not None else 1.0)
        fit_time = time.perf_counter() - start
        scores = score_model(model, data, pe_stride=stride, n_vpt=n_vpt)
        notes = spec.notes
        if hasattr(model, "subregions_"):
            notes += f"; {len(model.subregions_)} linear subregions visited"
        row = dict(source="koop", method=name, D_stsp=scores["D_stsp"], D_H=scores["D_H"],
                   pe20=scores["pe20"], valid_time=scores.get("valid_time"),
                   fit_time=fit_time, n_parameters=_count_parameters(model), notes=notes)
        rows.append(row)
        generated[name] = scores["generated"]
        if verbose:
            print(f"{name}: D_stsp={row['D_stsp']:.3f} D_H={row['D_H']:.3f} "
                  f"PE(20)={row['pe20']:.3g} fit {fit_time:.1f}s")
    settings = dict(data=data.name, dt=data.dt, lyapunov_exponent=data.lyapunov_exponent,
                    n_train=int(data.train.shape[0]), n_test=int(T), noise=data.noise,
                    quick=quick, random_state=random_state, pe_stride=stride,
                    published=published)
    return ComparisonResult(data.name, rows, generated, data.test, settings)
