"""The sweep's per-system records as one labelled :class:`xarray.Dataset`."""

from __future__ import annotations

import numpy as np

from koop.bench._dysts_data import FACTS
from koop.bench._protocol import SMAPE_SCALE

__all__ = ["to_dataset", "METHOD_VARS"]

#: Numbers recorded per (system, model).
METHOD_VARS = ("smape", "vpt", "vpt_smape", "rmse", "fit_time", "predict_time",
               "val_smape", "tune_time", "n_tried", "residual_median", "residual_max",
               "verified_fraction", "n_modes")


def to_dataset(results, method_names, attrs):
    """``system`` x ``model`` arrays of :data:`METHOD_VARS`, ``status``, ``reason`` and
    ``params``, plus the per-system data facts; a method missing from a system's record
    is a failure with the system's data reason (or "not run")."""
    import xarray as xr

    systems = [r["system"] for r in results]
    shape = (len(systems), len(method_names))
    data_vars = {v: (("system", "model"), np.full(shape, np.nan)) for v in METHOD_VARS}
    text = {v: np.full(shape, "failed" if v == "status" else "", dtype=object)
            for v in ("status", "reason", "params")}
    for i, r in enumerate(results):
        for j, m in enumerate(method_names):
            rec = r["methods"].get(m, {"status": "failed",
                                        "reason": r.get("data_reason") or "not run"})
            for v in text:
                text[v][i, j] = rec.get(v, text[v][i, j])
            for v in METHOD_VARS:
                if v in rec:
                    data_vars[v][1][i, j] = rec[v]
    for v, arr in text.items():
        data_vars[v] = (("system", "model"), arr.astype(str))
    for v in ("lyapunov_exponent", "dt", "period", "n_features", "generation_time",
              "rhs_evaluations", *FACTS):
        data_vars[v] = (("system",), np.array([r.get(v, np.nan) for r in results], float))
    for v in ("integrator", "data_reason"):
        data_vars[v] = (("system",), np.array([str(r.get(v, "")) for r in results]))
    ds = xr.Dataset(data_vars, coords={"system": systems, "model": list(method_names)},
                    attrs=attrs)
    units = {"smape": f"percent, 0-{SMAPE_SCALE:g} scale (dysts 2021: 200 mean(|x-y|/(|x|+|y|)))",
             "val_smape": f"percent, 0-{SMAPE_SCALE:g}, train trajectory (tuning)",
             "vpt": "Lyapunov times", "vpt_smape": "Lyapunov times", "fit_time": "s",
             "predict_time": "s", "tune_time": "s", "generation_time": "s",
             "rmse": "data units"}
    for v, u in units.items():
        ds[v].attrs["units"] = u
    return ds
