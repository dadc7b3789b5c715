"""ValidationReport: eigenvalues with residual bounds, convergence, forecast errors."""

from __future__ import annotations

from typing import Any

import numpy as np

from koop._spectral.model import as_koopman_model

__all__ = ["ValidationReport", "report"]


class ValidationReport:
    """What a fitted Koopman model's spectrum is worth, in one labelled object.

    Wraps an :class:`xarray.Dataset` with

    * ``eigenvalue``, ``residual`` (training residual bound), optionally
      ``residual_test`` (on independent data) and ``continuous_eigenvalue``, over ``mode``;
    * optionally ``one_step_r2`` and ``multistep_rmse`` (over ``step``) on the data given
      to :func:`report`;
    * optionally the convergence study (``conv_eigenvalue``, ``conv_residual`` over
      ``n_samples, dictionary_size, conv_mode``).

    Parameters
    ----------
    dataset : xarray.Dataset

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.estimators import ResDMD
    >>> X = systems.linear([[0.9, 0.0], [0.0, 0.5]], 30, x0=[1.0, 1.0])
    >>> rep = report(ResDMD().fit(X))
    >>> print(rep.table())  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
      #          eigenvalue    |lambda|  residual
      0  +0.900000+0.000000j   0.900000   ...
      1  +0.500000+0.000000j   0.500000   ...
    """

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def to_xarray(self):
        """The underlying :class:`xarray.Dataset`."""
        return self.dataset

    def with_convergence(self, study, tol: float | None = None) -> ValidationReport:
        """This report with a :func:`~koop.validation.convergence_study` merged in.

        The study's variables become ``conv_eigenvalue``, ``conv_residual`` (over
        ``n_samples, dictionary_size, conv_mode``), ``conv_n_verified`` and
        ``conv_max_residual``; ``tol`` (default: the report's) is recorded as
        ``conv_tol``.

        Parameters
        ----------
        study : xarray.Dataset
            What :func:`~koop.validation.convergence_study` returns.
        tol : float, optional

        Returns
        -------
        ValidationReport
        """
        conv = study.rename({"eigenvalue": "conv_eigenvalue", "residual": "conv_residual",
                             "mode": "conv_mode", "n_verified": "conv_n_verified",
                             "max_residual": "conv_max_residual"})
        ds = self.dataset.merge(conv, combine_attrs="drop_conflicts")
        if tol is not None:
            ds.attrs["conv_tol"] = float(tol)
        return ValidationReport(ds)

    def table(self, n: int | None = None, tol: float | None = None) -> str:
        """A text table: eigenvalue, modulus, residual (and test residual), best first.

        Parameters
        ----------
        n : int, optional
            Number of rows (default all).
        tol : float, optional
            Mark rows whose residual is at most ``tol`` as verified.
        """
        ds = self.dataset
        lam = ds["eigenvalue"].values
        res = ds["residual"].values
        test = ds["residual_test"].values if "residual_test" in ds else None
        head = f"{'#':>3} {'eigenvalue':>19} {'|lambda|':>10} {'residual':>9}"
        if test is not None:
            head += f" {'res(test)':>9}"
        if tol is not None:
            head += "  verified"
        lines = [head]
        for j in range(lam.size if n is None else min(n, lam.size)):
            row = (f"{j:>3} {lam[j].real:+10.6f}{lam[j].imag:+.6f}j {abs(lam[j]):>10.6f} "
                   f"{res[j]:>9.2e}")
            if test is not None:
                row += f" {test[j]:>9.2e}"
            if tol is not None:
                ref = test[j] if test is not None else res[j]
                row += "  yes" if ref <= tol else "  no"
            lines.append(row)
        return "\n".join(lines)

    def convergence_table(self) -> str:
        """Text summary of the convergence study (empty if none was run)."""
        ds = self.dataset
        if "conv_residual" not in ds:
            return ""
        lines = [f"{'N':>8} {'size':>6} {'lambda_0':>21} {'max res':>9} {'n<=tol':>6}"]
        tol = float(ds.attrs.get("conv_tol", 1e-2))
        for n in ds["n_samples"].values:
            for m in ds["dictionary_size"].values:
                sel = ds.sel(n_samples=n, dictionary_size=m)
                lam0 = complex(sel["conv_eigenvalue"].values[0])
                r = sel["conv_residual"].values
                lines.append(f"{int(n):>8} {m!s:>6} {lam0.real:+10.6f}{lam0.imag:+.6f}j "
                             f"{np.nanmax(r):>9.2e} {int(np.sum(r <= tol)):>6}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        ds = self.dataset
        parts = [f"ValidationReport({ds.attrs.get('model', 'model')}, "
                 f"{ds.sizes.get('mode', 0)} eigenpairs, residuals from "
                 f"{ds.attrs.get('residual_source', '?')})", self.table(10)]
        if "one_step_r2" in ds:
            parts.append(f"one-step R^2 on X: {float(ds['one_step_r2']):.6f}")
        if "multistep_rmse" in ds:
            rm = ds["multistep_rmse"].values
            parts.append(f"multi-step RMSE after {rm.size} steps: {rm[-1]:.4g}")
        conv = self.convergence_table()
        if conv:
            parts.append("convergence in sample count and dictionary size:\n" + conv)
        return "\n".join(parts)

    def plot(self, ax=None):
        """Eigenvalues in the complex plane coloured by log10 residual, with the unit circle.

        Needs matplotlib (``pip install koop[plot]``). Returns the matplotlib Axes.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - optional extra
            raise ImportError("ValidationReport.plot needs matplotlib: pip install "
                              "koop[plot]") from exc
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 5))
        lam = self.dataset["eigenvalue"].values
        res = self.dataset["residual"].values
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), "k-", lw=0.5)
        sc = ax.scatter(lam.real, lam.imag, c=np.log10(np.maximum(res, 1e-16)), cmap="viridis",
                        s=20)
        ax.figure.colorbar(sc, ax=ax, label="log10 residual")
        ax.set_xlabel("Re lambda")
        ax.set_ylabel("Im lambda")
        ax.set_aspect("equal")
        return ax


def report(model: Any, X: Any = None, y: Any = None, *, n_steps: int = 100,
           convergence: bool | dict = False, tol: float = 1e-2) -> ValidationReport:
    """Validate a fitted EDMD-family model: residual bounds, forecast errors, convergence.

    Parameters
    ----------
    model : fitted EDMD-family estimator
    X, y : optional
        Independent data: residuals on it (``residual_test``), the one-step R^2 and (for
        trajectories) the multi-step RMSE of ``simulate`` from the first sample over up to
        ``n_steps`` steps.
    n_steps : int, default=100
    convergence : bool or dict, default=False
        Run :func:`~koop.validation.convergence_study` of a clone of the model on ``X``
        (``True``: default settings; a dict: its keyword arguments).
    tol : float
        Verification threshold used in the summaries.

    Returns
    -------
    ValidationReport

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.dictionaries import Polynomial
    >>> from koop.estimators import ResDMD
    >>> X = [systems.slow_manifold(10, x0=x0) for x0 in np.random.default_rng(0).uniform(
    ...     -1, 1, (20, 2))]
    >>> test = systems.slow_manifold(30, x0=[0.5, 0.2])
    >>> rep = report(ResDMD(Polynomial(2)).fit(X), test)
    >>> sorted(rep.to_xarray().data_vars)[:3]
    ['eigenvalue', 'multistep_rmse', 'one_step_r2']
    >>> int((rep.to_xarray().residual_test < 1e-10).sum())  # 1, mu, mu^2, lambda
    4
    """
    import xarray as xr

    km = as_koopman_model(model)
    lam = model.eigenvalues_
    train = getattr(model, "training_residuals_", None)
    if train is None:
        train = km.residuals()
    source = km.residual_source
    data = {"eigenvalue": ("mode", lam), "residual": ("mode", train)}
    if getattr(model, "dt_", None) is not None and hasattr(model, "continuous_eigenvalues_"):
        data["continuous_eigenvalue"] = ("mode", model.continuous_eigenvalues_)
    coords = {"mode": np.arange(lam.size)}
    if X is not None:
        data["residual_test"] = ("mode", km.residuals(X, y))
        data["one_step_r2"] = ((), model.score(X, y))
        if y is None and not isinstance(X, list):
            Xa = np.asarray(X.values if hasattr(X, "dims") else X, dtype=float)
            if Xa.ndim == 1:
                Xa = Xa[:, None]
            lags = model.n_lags_
            steps = min(int(n_steps), Xa.shape[0] - lags - 1)
            if steps > 0:
                from koop.metrics import forecast

                sim = forecast(model, Xa, steps, starts=[lags])[0]
                err = np.sqrt(np.mean((sim - Xa[lags + 1 : lags + 1 + steps]) ** 2, axis=1))
                data["multistep_rmse"] = ("step", err)
                coords["step"] = np.arange(1, steps + 1)
    attrs = {"model": type(model).__name__, "residual_source": source, "conv_tol": float(tol)}
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    rep = ValidationReport(ds)
    if convergence and X is not None:
        from sklearn.base import clone

        from koop.validation.convergence import convergence_study

        kwargs = dict(convergence) if isinstance(convergence, dict) else {}
        kwargs.setdefault("tol", tol)
        rep = rep.with_convergence(convergence_study(clone(model), X, y, **kwargs))
    return rep
