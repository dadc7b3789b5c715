"""The dysts benchmark in quick mode, its failure capture, and its protocol on known data."""

import subprocess
import sys

import numpy as np
import pytest

from koop.bench import (
    ForecastMethod,
    default_methods,
    dysts_suite,
    published_table,
    summarize,
)
from koop.bench._dysts_data import DystsData
from koop.bench._dysts_suite import _evaluate, _protocol

UNTUNED = {"tune": False, "budget": 0, "origins": (5 / 6,), "res_tol": 0.1, "best": False}


class _Exploding:
    """A 'model' whose forecast overflows: x_{k+1} = 1e200 x_k (built as ``build(p, d)``)."""

    def __init__(self, *build_args):
        pass

    def fit(self, X, dt=None):
        self.n_features_in_ = X.shape[1]
        return self

    def simulate(self, x0, n_steps):
        with np.errstate(over="ignore"):
            return np.asarray(x0, float) * 1e200 ** np.arange(1, n_steps + 1)[:, None]


class _DieOnTen(_Exploding):
    """Hard-crashes the worker on 10-feature data (MackeyGlass), like a segfault: no
    exception reaches Python; overflows (status "diverged") on anything else."""

    def fit(self, X, dt=None):
        import os

        if X.shape[1] == 10:
            os._exit(3)
        return super().fit(X, dt)


class _HangOnThree(_Exploding):
    """Never returns on 3-feature data (Lorenz); overflows on anything else."""

    def fit(self, X, dt=None):
        import time

        if X.shape[1] == 3:
            time.sleep(3600)
        return super().fit(X, dt)


def _broken_build(pts_per_period, n_features):
    raise RuntimeError("cannot build")


def test_sine_protocol_forecasts_and_residuals_are_exact():
    # A sine obeys x_{t+1} = 2 cos(w) x_t - x_{t-1}, and products of its delay coordinates
    # are again Koopman eigenfunctions: EDMD (monomials of delay vectors) and HankelDMD
    # represent it exactly, so the 1/6 forecast is exact and every eigenpair has a zero
    # residual on the held-out (phase-shifted) train trajectory.
    n, ppp = 300, 25
    t = np.arange(n)
    test = (3.0 + np.sin(2 * np.pi * t / ppp))[:, None]
    train = (3.0 + np.sin(2 * np.pi * t / ppp + 1.0))[:, None]
    data = DystsData("sine", train, test, dt=0.1, lyapunov_exponent=0.5, period=2.5,
                     integrator="exact", generation_time=0.0)
    protocol = _protocol(True, None, None, None)
    recs = {m.name: _evaluate(m, data, "univariate", protocol, UNTUNED)
            for m in default_methods("univariate", ppp)}
    for name in ("EDMD", "HankelDMD"):
        rec = recs[name]
        assert rec["status"] == "ok", rec
        assert rec["smape"] < 1e-6
        assert rec["vpt"] == pytest.approx((n // 6) * 0.1 * 0.5)  # valid to the horizon
        assert rec["residual_max"] < 1e-10 and rec["verified_fraction"] == 1.0
    # HAVOK fits a continuous-time model through finite differences: close, not exact.
    assert recs["HAVOK"]["status"] == "ok" and recs["HAVOK"]["smape"] < 0.5


def test_quick_suite_runs_and_records_failures(tmp_path):
    pytest.importorskip("dysts")
    methods = [
        *default_methods("univariate", 25),
        ForecastMethod("broken", _broken_build),
        ForecastMethod("exploding", _Exploding),
    ]
    ds = dysts_suite(quick=True, methods=methods, cache_dir=tmp_path, tune=False)
    assert ds.sizes == {"system": 4, "model": 5}
    status = ds["status"].to_pandas()
    assert (status["broken"] == "failed").all()
    assert ds["reason"].sel(model="broken").str.contains("cannot build").all()
    assert (status["exploding"] == "diverged").all()
    # every forecast entry is inf, the worst sMAPE term: exactly 200
    np.testing.assert_allclose(ds["smape"].sel(model="exploding"), 200.0)
    np.testing.assert_allclose(ds["vpt"].sel(model="exploding"), 0.0)
    for name in ("EDMD", "HankelDMD", "HAVOK"):
        assert (status[name] != "failed").all(), ds["reason"].sel(model=name).values
    for name in ("EDMD", "HankelDMD"):
        res = ds.sel(model=name)
        assert (res["residual_median"] <= res["residual_max"]).all()
        assert ((res["verified_fraction"] >= 0) & (res["verified_fraction"] <= 1)).all()
    ok = ds["status"] != "failed"
    sm = ds["smape"].where(ok)
    assert float(sm.min()) >= 0 and float(sm.max()) <= 200
    assert (ds["reason"].where(~ok, "x") != "").all()  # every failure says why
    assert ds.attrs["smape_scale"] == 200.0
    # the system's invariants from dysts' metadata and the BLAS kernels travel along
    assert float(ds["correlation_dimension"].sel(system="Lorenz")) == pytest.approx(1.99, abs=0.01)
    assert ds.attrs["blas"]  # e.g. "openblas 0.3.30 SkylakeX; ..."
    assert (ds["rhs_evaluations"].sel(system="Lorenz") > 0).all()
    assert len(list(tmp_path.glob("*.npz"))) == 4  # data cached
    text = summarize(ds)
    assert "broken" in text and "failed (system, model) pairs" in text
    rows = published_table(ds)
    assert ("Lorenz", "FFT", 95.66, "Gilpin 2021") in rows
    assert any(r[0] == "Lorenz" and r[1] == "EDMD" and r[3] == "koop" for r in rows)


def test_integration_failure_and_timeout_never_crash_the_sweep(tmp_path):
    pytest.importorskip("dysts")
    from koop.bench import make_dataset

    ds = dysts_suite(["Lorenz"], quick=True, time_limit=1e-9, tune=False)
    assert (ds["status"].values == "failed").all()
    assert "IntegrationError" in str(ds["data_reason"].values[0])
    # Data cached first: the worker's clock then runs over the method only (the worker's
    # imports and warm-up come before its clock starts). No race between two clocks:
    quick = _protocol(True, None, None, None)
    for name in ("Lorenz", "MackeyGlass"):
        make_dataset(name, n_periods=quick["n_periods"], pts_per_period=quick["pts_per_period"],
                     n_reference=quick["n_reference"], tol=quick["tol"], cache_dir=tmp_path)
    kw = dict(quick=True, variant="multivariate", tune=False, cache_dir=tmp_path)
    # a worker that dies (no time limit at all): recorded with its exit code, the other
    # system still runs in its own worker
    ds = dysts_suite(["MackeyGlass", "Lorenz"], timeout=None, n_jobs=2,
                     methods=[ForecastMethod("x", _DieOnTen)], **kw)
    assert list(ds["system"].values) == ["MackeyGlass", "Lorenz"]
    assert [str(r) for r in ds["status"].values[:, 0]] == ["failed", "diverged"]
    assert str(ds["reason"].values[0, 0]) == "worker died (exit code 3)"
    # a task that never returns: killed at the limit, and a fresh worker runs the next
    # system (one worker, so the second system can only run after the first is killed)
    ds = dysts_suite(["Lorenz", "MackeyGlass"], timeout=3.0, n_jobs=1,
                     methods=[ForecastMethod("x", _HangOnThree)], **kw)
    assert list(ds["system"].values) == ["Lorenz", "MackeyGlass"]
    assert [str(r) for r in ds["status"].values[:, 0]] == ["failed", "diverged"]
    assert str(ds["reason"].values[0, 0]) == "timeout after 3 s"


def test_multivariate_variant_and_bad_arguments():
    pytest.importorskip("dysts")
    ds = dysts_suite(["Lorenz"], quick=True, variant="multivariate",
                     methods=[ForecastMethod("exploding", _Exploding)], tune=False)
    assert float(ds["n_features"].sel(system="Lorenz")) == 3
    with pytest.raises(ValueError, match="unknown dysts system"):
        dysts_suite(["NotASystem"], quick=True)
    with pytest.raises(ValueError, match="variant"):
        dysts_suite(quick=True, variant="bivariate")


def test_cli_quick_writes_table(tmp_path):
    pytest.importorskip("dysts")
    from koop.cli import main

    out = tmp_path / "res"
    assert main(["benchmark", "dysts", "--quick", "--systems", "Lorenz", "--out", str(out),
                 "--no-cache", "--quiet", "--timeout", "0", "--no-tune"]) == 0
    text = (out / "results.csv").read_text()
    assert text.startswith("system,model,smape")
    assert text.count("\nLorenz,") == 3
    assert (out / "summary.txt").read_text().startswith("dysts benchmark")


def test_importing_koop_bench_does_not_import_dysts():
    code = "import sys, koop.bench; assert 'dysts' not in sys.modules, 'dysts imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_dysts_names_the_extra(monkeypatch):
    from koop.bench._dysts_data import import_dysts

    monkeypatch.setitem(sys.modules, "dysts", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "dysts.flows", None)
    with pytest.raises(ImportError, match=r"pip install koop\[bench\]"):
        import_dysts()
