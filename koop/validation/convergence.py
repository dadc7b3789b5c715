"""How eigenvalues and residuals settle as the data and the dictionary grow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from koop.data import Trajectories, as_trajectories

__all__ = ["convergence_study"]

def _size_param(estimator: Any, dictionary_param: str | None) -> str:
    if dictionary_param is not None:
        return dictionary_param
    param = getattr(estimator, "dictionary_size_param", None)
    if param is None:
        d = getattr(estimator, "dictionary", None)
        raise ValueError(
            f"Cannot tell which parameter sets the dictionary size of {type(d).__name__}; "
            "pass dictionary_param (e.g. 'dictionary__n_centers')."
        )
    return param


def _first_samples(data: Trajectories, n: int) -> Trajectories:
    """The first ``n`` samples (trajectories in order; pairs row by row)."""
    xs, ys, left = [], [], n
    for i, t in enumerate(data.trajectories):
        if left <= 0:
            break
        xs.append(t[:left])
        if data.is_pairs:
            ys.append(data.successors[i][:left])
        left -= t.shape[0]
    return Trajectories(tuple(xs), tuple(ys) if data.is_pairs else None, data.dt,
                        data.feature_names)


def convergence_study(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    n_samples: Sequence[int] | None = None,
    dictionary_sizes: Sequence[int] | None = None,
    dictionary_param: str | None = None,
    X_test: Any = None,
    y_test: Any = None,
    n_eigenvalues: int = 10,
    tol: float = 1e-2,
    verbose: bool = False,
):
    r"""Refit ``estimator`` on growing data and dictionaries; record eigenvalues, residuals.

    For every sample count :math:`N` (the first :math:`N` samples of ``X``) and dictionary
    size :math:`M`, the estimator is cloned, given that size and fitted; its leading
    ``n_eigenvalues`` eigenvalues (in the model's order) and their residuals (on
    ``X_test`` when given, else as :func:`koop.validation.residuals` computes them) are
    kept. True eigenvalues settle and keep small residuals as :math:`N` and :math:`M`
    grow; spurious ones wander and keep large residuals.

    Parameters
    ----------
    estimator : EDMD-family estimator (unfitted is fine)
    X, y : training data (trajectories, or snapshot pairs)
    n_samples : sequence of int, optional
        Default: a quarter, half and all of the samples.
    dictionary_sizes : sequence of int, optional
        Values of the size parameter; default: the estimator's own (one size).
    dictionary_param : str, optional
        The parameter to set (default: the estimator's ``dictionary_size_param``, from
        its dictionary's ``size_param``: ``n_centers`` for RBF, ``degree`` for Polynomial,
        ``n_features`` for RandomFourier, ``n_delays`` for TimeDelay; ``n_components``
        for KernelEDMD).
    X_test, y_test : optional
        Independent data for the residuals.
    n_eigenvalues : int, default=10
    tol : float, default=1e-2
        Threshold for the ``n_verified`` count.
    verbose : bool
        Progress bar.

    Returns
    -------
    xarray.Dataset
        ``eigenvalue`` and ``residual`` over ``(n_samples, dictionary_size, mode)``,
        ``n_verified`` and ``max_residual`` over ``(n_samples, dictionary_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> from koop import systems
    >>> from koop.dictionaries import Polynomial
    >>> from koop.estimators import ResDMD
    >>> X = [systems.slow_manifold(10, x0=x0) for x0 in np.random.default_rng(0).uniform(
    ...     -1, 1, (20, 2))]
    >>> ds = convergence_study(ResDMD(Polynomial(2)), X, n_samples=[100, 200],
    ...                        dictionary_sizes=[2, 3], n_eigenvalues=3)
    >>> ds.residual.sizes["mode"], bool(ds.residual.max() < 1e-10)
    (3, True)
    """
    from koop.validation.residuals import residuals

    data = as_trajectories(X, y, name="X", min_pairs=2)
    total = int(sum(data.lengths))
    if n_samples is None:
        n_samples = sorted({max(total // 4, 3), max(total // 2, 3), total})
    n_samples = [int(n) for n in n_samples]
    if any(n < 3 for n in n_samples):
        raise ValueError(f"every entry of n_samples must be >= 3, got {n_samples}.")
    param = None
    if dictionary_sizes is None:
        sizes = [np.nan]
    else:
        param = _size_param(estimator, dictionary_param)
        sizes = list(dictionary_sizes)
    k = int(n_eigenvalues)
    lam = np.full((len(n_samples), len(sizes), k), np.nan + 0j)
    res = np.full((len(n_samples), len(sizes), k), np.nan)
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(n_samples) * len(sizes), desc="convergence", unit="fit")
    try:
        for i, n in enumerate(n_samples):
            sub = _first_samples(data, n)
            for j, size in enumerate(sizes):
                est = clone(estimator)
                if param is not None:
                    est.set_params(**{param: size})
                if sub.is_pairs:
                    Xs = list(sub.trajectories) if len(sub.trajectories) > 1 else \
                        sub.trajectories[0]
                    Ys = list(sub.successors) if len(sub.successors) > 1 else sub.successors[0]
                    model = est.fit(Xs, Ys)
                else:
                    model = est.fit(list(sub.trajectories))
                r = residuals(model, X_test, y_test) if X_test is not None else (
                    model.residuals_ if hasattr(model, "residuals_") else residuals(model))
                m = min(k, model.eigenvalues_.size)
                lam[i, j, :m] = model.eigenvalues_[:m]
                res[i, j, :m] = r[:m]
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    import xarray as xr

    coords = {"n_samples": n_samples, "dictionary_size": sizes, "mode": np.arange(k)}
    dims = ("n_samples", "dictionary_size", "mode")
    ds = xr.Dataset(
        {"eigenvalue": (dims, lam), "residual": (dims, res),
         "n_verified": (dims[:2], np.sum(res <= tol, axis=2)),
         "max_residual": (dims[:2], np.nanmax(np.where(np.isnan(res), -np.inf, res), axis=2))},
        coords=coords,
        attrs={"estimator": type(estimator).__name__, "dictionary_param": str(param),
               "tol": float(tol), "residuals_on": "X_test" if X_test is not None else "train"},
    )
    return ds
