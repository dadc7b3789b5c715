"""Published dysts forecasting baselines, with their source, to set beside koop's numbers.

All sMAPE values are on the dysts 2021 scale ``200 mean(|x-y|/(|x|+|y|))`` (0-200), the
convention :func:`koop.bench.dysts_suite` uses. They are the *univariate* benchmark
(forecast the first coordinate from its own past) at 100 points per period, 12 periods,
test split: compare them with ``variant="univariate"`` runs.
"""

from __future__ import annotations

__all__ = ["PUBLISHED_SMAPE", "PUBLISHED_MEDIAN_SMAPE", "SOURCE", "published_table"]

SOURCE = (
    "Gilpin, 'Chaos as an interpretable benchmark for forecasting and data-driven "
    "modelling', NeurIPS 2021 Datasets and Benchmarks (arXiv 2110.05266); values from "
    "williamgilpin/dysts@cc777ed9 benchmarks/results/"
    "results_test_univariate__pts_per_period_100__periods_12.json.gz (sMAPE, 0-200 scale, "
    "199 forecast points), as transcribed in koop's shared REFERENCES.md section 5"
)

#: Per-system published test sMAPE (0-200), univariate, by model.
PUBLISHED_SMAPE: dict[str, dict[str, float]] = {
    "Lorenz": {
        "FFT": 95.66,
        "RNNModel": 100.96,
        "LinearRegression": 124.41,
        "NBEATS": 131.16,
        "ARIMA": 136.46,
        "NaiveMean": 138.80,
        "RandomForest": 139.32,
        "Transformer": 141.44,
        "NaiveDrift": 142.91,
        "NaiveSeasonal": 143.02,
        "Theta": 143.02,
        "TCN": 143.94,
        "AutoARIMA": 143.93,
        "ExpSmoothing": 148.96,
        "Prophet": 157.77,
    },
}

#: Median test sMAPE (0-200) over all 131 systems of the 2021 benchmark, by model.
PUBLISHED_MEDIAN_SMAPE: dict[str, float] = {
    "NBEATS": 67.70,
    "Transformer": 101.4,
    "RNNModel": 102.0,
    "RandomForest": 106.0,
    "TCN": 113.3,
    "Theta": 116.0,
    "LinearRegression": 118.0,
    "AutoARIMA": 118.1,
    "FFT": 118.6,
    "ARIMA": 119.3,
    "NaiveMean": 148.9,
}


def published_table(ds) -> list[tuple[str, str, float, str]]:
    """Rows ``(system, model, sMAPE, origin)`` with koop's and the published numbers.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`koop.bench.dysts_suite`.

    Returns
    -------
    list of tuple
        For every system of ``ds`` with published numbers: koop's methods (origin
        ``"koop"``) and the published models (origin ``"Gilpin 2021"``), sorted by sMAPE;
        then one row per model for the median over all systems, with system ``"median"``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"smape": (("system", "model"), [[90.0]])},
    ...                 coords={"system": ["Lorenz"], "model": ["EDMD"]})
    >>> published_table(ds)[:2]
    [('Lorenz', 'EDMD', 90.0, 'koop'), ('Lorenz', 'FFT', 95.66, 'Gilpin 2021')]
    """
    import numpy as np

    rows = []
    for system in [str(s) for s in ds["system"].values]:
        if system not in PUBLISHED_SMAPE:
            continue
        block = [(system, str(m), float(ds["smape"].sel(system=system, model=m)), "koop")
                 for m in ds["model"].values]
        block += [(system, m, v, "Gilpin 2021") for m, v in PUBLISHED_SMAPE[system].items()]
        rows += sorted(block, key=lambda r: (np.isnan(r[2]), r[2]))
    block = [("median", str(m), float(np.nanmedian(ds["smape"].sel(model=m).values))
              if np.isfinite(ds["smape"].sel(model=m).values).any() else float("nan"), "koop")
             for m in ds["model"].values]
    block += [("median", m, v, "Gilpin 2021") for m, v in PUBLISHED_MEDIAN_SMAPE.items()]
    rows += sorted(block, key=lambda r: (np.isnan(r[2]), r[2]))
    return rows
