"""Summaries of a dysts benchmark result: a text table, per-method statistics, a figure."""

from __future__ import annotations

import numpy as np

from koop.bench.baselines import published_table

__all__ = ["summary_statistics", "summarize", "plot_summary", "write_results",
           "residual_rank_correlation"]


def summary_statistics(ds) -> dict[str, dict[str, float]]:
    """Per method: systems ok / diverged / failed, and medians over the systems it ran on.

    A diverged forecast keeps its (worst-case) sMAPE in the medians; a failed one has no
    numbers and is only counted.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"smape": (("system", "model"), [[10.0], [30.0], [float("nan")]]),
    ...                  "vpt": (("system", "model"), [[1.0], [2.0], [float("nan")]]),
    ...                  "fit_time": (("system", "model"), [[0.1], [0.1], [float("nan")]]),
    ...                  "residual_median": (("system", "model"), [[0.0], [0.0], [0.0]]),
    ...                  "status": (("system", "model"), [["ok"], ["ok"], ["failed"]])},
    ...                 coords={"system": ["a", "b", "c"], "model": ["EDMD"]})
    >>> summary_statistics(ds)["EDMD"]["median_smape"], summary_statistics(ds)["EDMD"]["failed"]
    (20.0, 1)
    """
    out = {}
    for m in ds["model"].values:
        sub = ds.sel(model=m)
        status = sub["status"].values.astype(str)
        ran = status != "failed"

        def med(name, ran=ran, sub=sub):
            if name not in sub:
                return float("nan")
            v = sub[name].values[ran]
            v = v[np.isfinite(v)]
            return float(np.median(v)) if v.size else float("nan")

        out[str(m)] = {
            "ok": int(np.sum(status == "ok")),
            "diverged": int(np.sum(status == "diverged")),
            "failed": int(np.sum(status == "failed")),
            "median_smape": med("smape"),
            "median_vpt": med("vpt"),
            "median_vpt_smape": med("vpt_smape"),
            "median_fit_time": med("fit_time"),
            "median_tune_time": med("tune_time"),
            "median_val_smape": med("val_smape"),
            "median_residual": med("residual_median"),
            "residual_smape_spearman": residual_rank_correlation(sub),
        }
    return out


def residual_rank_correlation(sub) -> float:
    """Spearman correlation, over systems, of a method's held-out median residual and
    its test sMAPE (NaN with fewer than 5 systems having both)."""
    if "residual_median" not in sub or "smape" not in sub:
        return float("nan")
    from scipy.stats import spearmanr

    r, s = sub["residual_median"].values, sub["smape"].values
    ok = np.isfinite(r) & np.isfinite(s)
    if ok.sum() < 5:
        return float("nan")
    return float(spearmanr(r[ok], s[ok]).statistic)


def summarize(ds) -> str:
    """A plain-text report: per-method statistics, failures, and the published baselines.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({v: (("system", "model"), [[1.0]]) for v in
    ...                  ("smape", "vpt", "fit_time", "residual_median")},
    ...                 coords={"system": ["Lorenz"], "model": ["EDMD"]})
    >>> ds["status"] = (("system", "model"), [["ok"]])
    >>> ds["reason"] = (("system", "model"), [[""]])
    >>> "Lorenz   FFT" in summarize(ds)
    True
    """
    stats = summary_statistics(ds)
    n_sys = ds.sizes["system"]
    lines = [
        f"dysts benchmark ({ds.attrs.get('variant', '?')}, "
        f"{ds.attrs.get('horizon', 'standard')} horizon, {n_sys} systems, "
        f"wall time {ds.attrs.get('wall_time_s', float('nan')):.0f} s)",
        f"tuning: {ds.attrs.get('tuning', 'none')}",
        f"sMAPE on the 0-{ds.attrs.get('smape_scale', 200):g} scale; valid times in Lyapunov "
        "times (VPT: NRMSE > 0.4; VPTs: running sMAPE > 30); rho: Spearman of the held-out "
        "median residual and sMAPE over systems",
        f"{'model':<12}{'ok':>5}{'div':>5}{'fail':>6}{'med sMAPE':>11}{'val sMAPE':>11}"
        f"{'med VPT':>9}{'med VPTs':>9}{'fit s':>8}{'tune s':>8}{'med resid':>11}"
        f"{'rho':>7}",
    ]
    for m, s in stats.items():
        lines.append(
            f"{m:<12}{s['ok']:>5}{s['diverged']:>5}{s['failed']:>6}{s['median_smape']:>11.1f}"
            f"{s['median_val_smape']:>11.1f}{s['median_vpt']:>9.2f}"
            f"{s['median_vpt_smape']:>9.2f}{s['median_fit_time']:>8.3f}"
            f"{s['median_tune_time']:>8.2f}{s['median_residual']:>11.3f}"
            f"{s['residual_smape_spearman']:>7.2f}"
        )
    if "params" in ds and "BestOfKoop" in ds["model"].values:
        import json

        chosen = [json.loads(p).get("method", "?") for p in
                  ds["params"].sel(model="BestOfKoop").values if p]
        counts = {m: chosen.count(m) for m in dict.fromkeys(chosen)}
        lines.append("BestOfKoop chose: " + ", ".join(f"{m} {c}" for m, c in
                                                     sorted(counts.items(),
                                                            key=lambda kv: -kv[1])))
    if "data_reason" in ds:
        pairs = zip(ds["system"].values, ds["data_reason"].values, strict=True)
        bad = [(str(s), str(r)) for s, r in pairs if r]
        lines.append(f"systems without data: {len(bad)}")
        lines += [f"  {s}: {r}" for s, r in bad]
    failed = ds["status"].values.astype(str) == "failed"
    reasons: dict[str, int] = {}
    for r in ds["reason"].values[failed]:
        key = str(r).split(":")[0][:60]
        reasons[key] = reasons.get(key, 0) + 1
    lines.append(f"failed (system, model) pairs: {int(failed.sum())}"
                 + "".join(f"\n  {k}: {v}" for k, v in sorted(reasons.items())))
    if "residual_median" in ds:
        for m in ds["model"].values:
            sub = ds.sel(model=m)
            ran = sub["status"].values.astype(str) != "failed"
            missing = ran & ~np.isfinite(sub["residual_median"].values)
            if missing.any():
                parts = str(sub["reason"].values[missing][0]).split("; ")
                why = next((p for p in parts if p.startswith("residuals")), parts[-1])[:100]
                lines.append(f"residuals missing for {m} on {int(missing.sum())} system(s): "
                             f"{why}")
    rows = published_table(ds)
    if rows:
        lines.append("beside the published univariate baselines (Gilpin 2021, 0-200 sMAPE):")
        if ds.attrs.get("variant", "univariate") != "univariate":
            lines.append("  (this run is multivariate: koop's models saw and forecast the full "
                         "state, a different task from the baselines')")
        lines += [f"  {s:<8} {m:<18} {v:>8.2f}  {o}" for s, m, v, o in rows]
    return "\n".join(lines)


def plot_summary(ds, path=None):
    """Two panels: sMAPE per method over systems, and forecast skill against lambda_max.

    Needs matplotlib (``pip install koop[plot]``). Returns the figure; saves it when
    ``path`` is given.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"smape": (("system", "model"), [[50.0], [80.0]]),
    ...                  "vpt": (("system", "model"), [[1.0], [0.5]]),
    ...                  "lyapunov_exponent": (("system",), [0.9, 0.1])},
    ...                 coords={"system": ["a", "b"], "model": ["EDMD"]})
    >>> fig = plot_summary(ds)
    >>> len(fig.axes)
    2
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - environment
        raise ImportError("plot_summary needs matplotlib: pip install koop[plot]") from exc
    from koop.bench.baselines import PUBLISHED_MEDIAN_SMAPE

    methods = [str(m) for m in ds["model"].values]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    data = []
    for m in methods:
        v = ds["smape"].sel(model=m).values
        data.append(v[np.isfinite(v)])
    ax1.boxplot([d if d.size else [np.nan] for d in data], showfliers=True)
    ax1.set_xticks(range(1, len(methods) + 1), methods, rotation=30, ha="right",
                   fontsize=8)
    # the published medians belong to the standard univariate task only
    published = (ds.attrs.get("horizon", "standard") == "standard"
                 and ds.attrs.get("variant", "univariate") == "univariate")
    for name in ("NBEATS", "FFT", "NaiveMean") if published else ():
        ax1.axhline(PUBLISHED_MEDIAN_SMAPE[name], ls="--", lw=0.8, color="grey")
        ax1.text(0.55, PUBLISHED_MEDIAN_SMAPE[name] + 2, f"{name} (Gilpin 2021)", fontsize=7,
                 va="bottom", color="grey")
    ax1.set_ylabel(f"sMAPE (0-{ds.attrs.get('smape_scale', 200):g})")
    ax1.set_title("forecast error over systems"
                  + (" (dashed: published medians)" if published else ""), fontsize=9)
    lyap = ds["lyapunov_exponent"].values
    skill = "vpt_smape" if "vpt_smape" in ds else "vpt"
    for m in methods:
        v = ds[skill].sel(model=m).values
        ok = np.isfinite(v) & np.isfinite(lyap) & (lyap > 0)
        ax2.scatter(lyap[ok], v[ok], s=12, alpha=0.7, label=m)
    ax2.set_xscale("log")
    ax2.set_yscale("symlog", linthresh=1.0)  # most are below 1, a few span the horizon
    ax2.set_ylim(bottom=0.0)
    ax2.set_xlabel(r"largest Lyapunov exponent $\lambda_{max}$")
    ax2.set_ylabel("valid prediction time (Lyapunov times)")
    ax2.set_title("forecast skill against chaos ("
                  + ("running sMAPE < 30" if skill == "vpt_smape" else "NRMSE < 0.4")
                  + f"; {ds.attrs.get('horizon', 'standard')} horizon)", fontsize=9)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def write_results(ds, out_dir) -> dict[str, str]:
    """Write ``results.nc``, ``results.csv``, ``summary.txt`` (and ``summary.png`` when
    matplotlib is installed) into ``out_dir``; return the paths written.

    Examples
    --------
    >>> import tempfile, xarray as xr
    >>> ds = xr.Dataset({v: (("system", "model"), [[1.0]]) for v in
    ...                  ("smape", "vpt", "fit_time", "residual_median")},
    ...                 coords={"system": ["a"], "model": ["EDMD"]})
    >>> ds["status"] = (("system", "model"), [["ok"]])
    >>> ds["reason"] = (("system", "model"), [[""]])
    >>> ds["lyapunov_exponent"] = (("system",), [0.5])
    >>> sorted(write_results(ds, tempfile.mkdtemp()))[:2]
    ['csv', 'figure']
    """
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    try:
        ds.to_netcdf(out / "results.nc")
        paths["netcdf"] = str(out / "results.nc")
    except Exception:  # no netCDF backend installed: the CSV still carries everything
        pass
    ds.to_dataframe().reset_index().to_csv(out / "results.csv", index=False)
    paths["csv"] = str(out / "results.csv")
    (out / "summary.txt").write_text(summarize(ds) + "\n")
    paths["summary"] = str(out / "summary.txt")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return paths
    import matplotlib.pyplot as plt

    fig = plot_summary(ds, out / "summary.png")
    plt.close(fig)
    paths["figure"] = str(out / "summary.png")
    return paths
