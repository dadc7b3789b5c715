"""A fitted estimator's spectrum as a labelled :class:`xarray.Dataset`.

``estimator.to_xarray()`` and :func:`koop.io.to_xarray` build it here: dims ``mode``
and ``feature``, provenance in ``attrs``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from koop._version import __version__

__all__ = ["spectrum_dataset"]


def _feature_names(model: Any) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == model.n_features_in_:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(model.n_features_in_)]


def _params_summary(model: Any) -> str:
    parts = []
    for k, v in model.get_params(deep=False).items():
        text = repr(v)
        parts.append(f"{k}={text if len(text) < 60 else text[:57] + '...'}")
    return f"{type(model).__name__}({', '.join(parts)})"


def spectrum_dataset(model: Any):
    """The spectrum of a fitted estimator: eigenvalues, moduli, modes, residuals.

    ``eigenvalue`` (complex), ``modulus`` and ``modes`` (feature x mode), with
    ``continuous_eigenvalue`` and ``frequency`` when ``dt`` is known and ``residual`` for
    models that carry ``residuals_``; ``attrs`` record the estimator, its parameters,
    ``dt``, the dictionary and the koop version.
    """
    import xarray as xr
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "eigenvalues_")
    if getattr(model, "field_", None) is not None:  # fitted on a labelled field
        from koop._fields import field_dataset

        return field_dataset(model)
    lam = np.asarray(model.eigenvalues_, dtype=np.complex128)
    n_modes = lam.shape[0]
    coords = {"mode": np.arange(n_modes), "feature": _feature_names(model)}
    data = {
        "eigenvalue": (("mode",), lam, {"long_name": "discrete-time Koopman eigenvalue"}),
        "modulus": (("mode",), np.abs(lam), {"long_name": "|lambda|"}),
        "modes": (("feature", "mode"), np.asarray(model.modes_, dtype=np.complex128),
                  {"long_name": "Koopman mode xi_j (x ~ sum_j phi_j(x) xi_j)"}),
    }
    dt = getattr(model, "dt_", None)
    cont = getattr(model, "continuous_eigenvalues_", None)
    if cont is not None and dt is not None:
        data["continuous_eigenvalue"] = (("mode",), np.asarray(cont, dtype=np.complex128),
                                         {"long_name": "log(lambda)/dt", "units": "1/time"})
        data["frequency"] = (("mode",), np.asarray(cont).imag / (2 * np.pi),
                             {"long_name": "Im(log lambda)/(2 pi dt)", "units": "1/time"})
    residuals = getattr(model, "residuals_", None)
    if residuals is not None and np.shape(residuals) == (n_modes,):
        data["residual"] = (("mode",), np.asarray(residuals, dtype=np.float64),
                            {"long_name": "ResDMD residual bound of the eigenpair"})
    attrs = {
        "estimator": type(model).__name__,
        "parameters": _params_summary(model),
        "koop_version": __version__,
        "n_features_in": int(model.n_features_in_),
    }
    if dt is not None:
        attrs["dt"] = float(dt)
    dictionary = getattr(model, "dictionary_", None)
    if dictionary is not None:
        attrs["dictionary"] = type(dictionary).__name__
        attrs["n_dictionary"] = int(getattr(dictionary, "n_output_features_", 0))
    return xr.Dataset(data, coords=coords, attrs=attrs)
