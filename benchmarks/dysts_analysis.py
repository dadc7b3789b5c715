"""Which Koopman model for which chaotic system: tables from a dysts benchmark result.

Reads the ``results.nc`` of ``koop benchmark dysts`` (tuned or not) and prints:

1. median test sMAPE per model over terciles of three properties of the systems: the
   correlation dimension of the attractor (dysts' estimate), the largest Lyapunov
   exponent, and the Lyapunov times in one period (lambda_max * period: how chaotic
   one period of the forecast is; the horizon is two periods);
2. how often each model is the best on a system (by test sMAPE: descriptive, not a
   selection rule), and how often BestOfKoop's validation choice was the test winner;
3. Spearman rank correlations over systems: sMAPE against each property, and against
   the held-out median residual of the model's eigenpairs (residuals on the train
   trajectory, which the model never saw): do low residuals predict good forecasts?
4. the fit cost: median fit and tuning seconds per system.

Usage::

    .venv/bin/python benchmarks/dysts_analysis.py RESULTS_NC [--long LONG_RESULTS_NC]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

PROPERTIES = {
    "correlation dimension": "correlation_dimension",
    "lambda_max": "lyapunov_exponent",
    "Lyapunov times per period": None,  # lambda_max * period
}


def _property(ds, key):
    if key is None:
        return ds["lyapunov_exponent"].values * ds["period"].values
    return ds[key].values


def _spearman(x, y) -> tuple[float, int]:
    from scipy.stats import spearmanr

    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 5:
        return float("nan"), int(ok.sum())
    return float(spearmanr(x[ok], y[ok]).statistic), int(ok.sum())


def analyze(ds, skill: str = "smape") -> str:
    models = [str(m) for m in ds["model"].values]
    lines = [f"{ds.sizes['system']} systems; {ds.attrs.get('variant')} variant, "
             f"{ds.attrs.get('horizon', 'standard')} horizon; tuning: "
             f"{ds.attrs.get('tuning', '?')}"]
    s = ds[skill].values  # (system, model)
    failed = ds["status"].values == "failed"
    s = np.where(failed, np.nan, s)
    for label, key in PROPERTIES.items():
        prop = _property(ds, key)
        ok = np.isfinite(prop)
        edges = np.quantile(prop[ok], [1 / 3, 2 / 3])
        bins = np.digitize(prop, edges)
        lines.append(f"\nmedian {skill} by tercile of {label} "
                     f"(edges {edges[0]:.3g}, {edges[1]:.3g}):")
        lines.append(f"  {'model':<12}" + "".join(f"{n:>10}" for n in ("low", "mid", "high"))
                     + f"{'rho':>8}")
        for j, m in enumerate(models):
            cells = [np.nanmedian(s[ok & (bins == b), j]) for b in range(3)]
            rho, _ = _spearman(prop, s[:, j])
            lines.append(f"  {m:<12}" + "".join(f"{c:>10.1f}" for c in cells)
                         + f"{rho:>8.2f}")
    base = [j for j, m in enumerate(models) if m != "BestOfKoop"]
    best = np.full(s.shape[0], -1)
    have = np.isfinite(s[:, base]).any(axis=1)
    best[have] = np.array(base)[np.nanargmin(s[have][:, base], axis=1)]
    lines.append(f"\nbest model per system by test {skill} (of {int(have.sum())}):")
    lines.append("  " + ", ".join(f"{models[j]} {int((best == j).sum())}" for j in base))
    if "BestOfKoop" in models and "params" in ds:
        import json

        picks = [json.loads(p).get("method") if p else None
                 for p in ds["params"].sel(model="BestOfKoop").values]
        hit = sum(p is not None and b >= 0 and models[b] == p
                  for p, b in zip(picks, best, strict=True))
        lines.append(f"  BestOfKoop's validation choice was the test winner on {hit} systems")
    if "residual_median" in ds:
        lines.append("\nheld-out median residual vs test sMAPE, Spearman over systems:")
        for j, m in enumerate(models):
            rho, n = _spearman(ds["residual_median"].values[:, j], s[:, j])
            if n:
                lines.append(f"  {m:<12} rho = {rho:5.2f}  ({n} systems)")
        r = ds["residual_median"].values[:, base].ravel()
        rho, n = _spearman(r, s[:, base].ravel())
        lines.append(f"  {'pooled':<12} rho = {rho:5.2f}  ({n} system-model pairs)")
    lines.append("\ncost per system (median seconds): fit / tuning")
    for j, m in enumerate(models):
        fit = np.nanmedian(ds["fit_time"].values[:, j])
        tune = np.nanmedian(ds["tune_time"].values[:, j]) if "tune_time" in ds else np.nan
        lines.append(f"  {m:<12} {fit:8.3f} / {tune:8.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.nc of koop benchmark dysts")
    parser.add_argument("--skill", default="smape",
                        help="variable to tabulate (smape, vpt, vpt_smape)")
    args = parser.parse_args(argv)
    import xarray as xr

    print(analyze(xr.load_dataset(args.results), args.skill))
    return 0


if __name__ == "__main__":
    sys.exit(main())
