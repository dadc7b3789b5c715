"""The benchmark's forecasting protocol and its tuning, on signals with known answers."""

import numpy as np
import pytest

from koop.bench import (
    ForecastMethod,
    TuningError,
    forecast,
    holdout,
    mode_forecast,
    tune,
    tuned_methods,
)
from koop.bench._dysts_data import DystsData
from koop.bench._dysts_suite import _best_of, _evaluate, _protocol
from koop.estimators import HankelDMD
from koop.metrics import valid_prediction_time


def _damped(n, growth=0.995):
    t = np.arange(n)
    return (growth ** t * np.cos(0.3 * t) + 0.5 * np.cos(0.71 * t))[:, None]


def test_mode_forecast_is_simulate_with_every_mode_and_caps_growth():
    x = _damped(200)
    model = HankelDMD(n_delays=6, rank=4).fit(x)
    window = x[-7:]
    np.testing.assert_allclose(mode_forecast(model, window, 50, stabilize=False),
                               model.simulate(window, 50), atol=1e-9)
    # a growing oscillation (|mu| = 1.01): held on the unit circle its amplitude stays
    grow = _damped(200, growth=1.01)
    model = HankelDMD(n_delays=6, rank=4).fit(grow)
    free = mode_forecast(model, grow[-7:], 400, stabilize=False)
    held = mode_forecast(model, grow[-7:], 400)
    assert np.abs(free[-50:]).max() > 20 * np.abs(grow[-50:]).max()
    assert np.abs(held).max() < 1.2 * np.abs(grow[-50:]).max() * 1.01 ** 0 + 1.0


def test_residual_gate_keeps_exact_modes_and_refuses_an_empty_set():
    # a noise-free sum of two sines: every retained eigenpair is exact (residual ~ 0),
    # so any gate keeps them all and the forecast is exact
    method = ForecastMethod("ResDMD-gated", tuned_methods("univariate", 20)[2].build)
    x = _damped(260, growth=1.0)
    hist, target = holdout(x, 60)
    # z-scoring adds a constant (eigenvalue 1) to the four oscillating modes: rank 5
    params = {"n_delays": 6, "rank": 5, "forecast": "modes", "residual_tol": 1e-8}
    out = forecast(method, hist, 60, params, pts_per_period=20)
    np.testing.assert_allclose(out.prediction, target, atol=1e-6)
    with pytest.raises(ValueError, match="no eigenpair"):
        forecast(method, hist + 0.01 * np.random.default_rng(0).normal(size=hist.shape), 60,
                 {**params, "residual_tol": 0.0}, pts_per_period=20)


def test_cumulative_smape_vpt_matches_a_plain_reference():
    # the benchmark's vpt_smape is koop.metrics' "cumulative_smape" criterion
    rng = np.random.default_rng(1)
    true = 1.0 + rng.random((80, 2))
    pred = true * (1.0 + np.linspace(0.0, 3.0, 80))[:, None]
    terms = 200 * np.abs(pred - true) / (np.abs(pred) + np.abs(true))
    running = np.cumsum(terms.mean(axis=1)) / np.arange(1, 81)
    k = int(np.argmax(running > 30))
    assert 10 < k < 70  # the running mean crosses inside the window

    def vpt(p):
        return valid_prediction_time(true, p, dt=0.1, lyapunov_exponent=2.0,
                                     error="cumulative_smape")

    assert vpt(pred) == k * 0.1 * 2.0
    assert vpt(true) == 80 * 0.1 * 2.0
    assert vpt(np.full_like(true, np.inf)) == 0.0
    # unlike the pointwise criterion, one bad step late in a good run is averaged away
    late = true.copy()
    late[60] = -true[60]  # sMAPE 200 at one step: the running mean there is 200/61
    assert vpt(late) == 80 * 0.1 * 2.0
    assert valid_prediction_time(true, late, dt=0.1, lyapunov_exponent=2.0,
                                 error="smape") == 60 * 0.1 * 2.0


def test_tuning_finds_the_exact_window_and_respects_the_budget():
    # Two incommensurate sines, z-scored: four oscillating modes and a constant. Every
    # candidate with rank >= 5 forecasts exactly (to rounding), every rank-4 one cannot.
    t = np.arange(240.0)
    x = (np.sin(2 * np.pi * t / 20) + 0.3 * np.sin(2 * np.pi * t / 7.3))[:, None]
    hankel = tuned_methods("univariate", 20)[0]
    space = hankel.candidates(20, 1)
    best = tune(hankel, x, pts_per_period=20, dt=0.1, horizon=40, budget=len(space))
    assert best.score < 1e-6 and best.params["rank"] >= 5
    for params, score in zip(space, best.scores, strict=True):
        assert (score < 1e-6) == (params["rank"] >= 5), (params, score)
    assert best.params == space[int(np.argmin(best.scores))]
    small = tune(hankel, x, pts_per_period=20, dt=0.1, horizon=40, budget=2)
    assert small.n_tried == 2 and small.params in space[:2]
    with pytest.raises(TuningError, match="budget of 0"):
        tune(hankel, x, pts_per_period=20, dt=0.1, horizon=40, budget=0)
    with pytest.raises(ValueError, match="budget"):
        tune(hankel, x, pts_per_period=20, dt=0.1, horizon=40, budget=-1)


def _too_many_delays(pts_per_period, n_features, n_delays=10):
    return HankelDMD(n_delays=n_delays, rank=2)


def test_a_budget_that_fits_nothing_is_recorded_and_the_sweep_goes_on():
    # every candidate within the budget asks for more delays than the data have
    method = ForecastMethod(
        "hopeless", _too_many_delays,
        space=lambda p, d: [{"n_delays": 5000}, {"n_delays": 6000}, {"n_delays": 3}])
    x = _damped(300)
    with pytest.raises(TuningError, match="none of the 2 candidate"):
        tune(method, x, pts_per_period=25, dt=0.1, horizon=50, budget=2)
    data = DystsData("sine", x, x, 0.1, 0.5, 2.5, "exact", 0.0)
    settings = {"tune": True, "budget": 2, "origins": (5 / 6,), "res_tol": 0.1,
                "best": False}
    rec = _evaluate(method, data, "univariate", _protocol(True, None, None, None), settings)
    assert rec["status"] == "failed" and rec["reason"].startswith("tuning: hopeless: none")
    # a budget that reaches the third (feasible) candidate fits
    rec = _evaluate(method, data, "univariate", _protocol(True, None, None, None),
                    {**settings, "budget": 3})
    assert rec["status"] == "ok" and '"n_delays": 3' in rec["params"]


def test_tuning_never_sees_the_test_trajectory():
    # same train trajectory, two unrelated test trajectories: the same choice and the
    # same validation score; only the final scores differ
    t = np.arange(300.0)
    train = (np.sin(2 * np.pi * t / 25) + 0.2 * np.cos(2 * np.pi * t / 9))[:, None]
    rng = np.random.default_rng(0)
    settings = {"tune": True, "budget": 5, "origins": (5 / 6,), "res_tol": 0.1,
                "best": False}
    recs = []
    for test in (np.cos(2 * np.pi * t / 25)[:, None], rng.normal(size=(300, 1))):
        data = DystsData("x", train, test, 0.1, 0.5, 2.5, "exact", 0.0)
        recs.append(_evaluate(tuned_methods("univariate", 25)[0], data, "univariate",
                              _protocol(True, None, None, None), settings))
    assert recs[0]["params"] == recs[1]["params"]
    assert recs[0]["val_smape"] == recs[1]["val_smape"]
    assert recs[0]["smape"] != recs[1]["smape"]


def test_best_of_picks_the_lowest_validation_score():
    recs = {"A": {"status": "ok", "val_smape": 40.0, "smape": 90.0, "params": "{}"},
            "B": {"status": "ok", "val_smape": 20.0, "smape": 70.0, "params": '{"r": 2}'},
            "C": {"status": "failed", "reason": "x"}}
    best = _best_of(recs, ["A", "B", "C"])
    assert best["smape"] == 70.0 and best["reason"] == "chose B"
    assert best["params"] == '{"method": "B", "r": 2}'
    assert _best_of({"C": recs["C"]}, ["C"])["status"] == "failed"


def test_long_horizon_protocol_fits_a_sixth_and_forecasts_the_rest():
    p = _protocol(False, None, None, None, "long")
    assert (p["n_periods"], p["origin"], p["horizon"]) == (60, 1000, 5000)
    p = _protocol(False, None, None, None)
    assert (p["n_periods"], p["origin"], p["horizon"]) == (12, 1000, 200)


def test_params_from_an_earlier_run_skip_tuning_and_keep_the_choice(tmp_path):
    pytest.importorskip("dysts")
    from koop.bench import chosen_params, dysts_suite

    methods = tuned_methods("univariate", 25)[:2]
    first = dysts_suite(["Lorenz"], quick=True, budget=3, methods=methods, cache_dir=tmp_path)
    chosen = chosen_params(first)
    assert set(chosen) == {("Lorenz", "HankelDMD"), ("Lorenz", "EDMD")}
    again = dysts_suite(["Lorenz"], quick=True, methods=methods, cache_dir=tmp_path,
                        params_from=first)
    assert (again["n_tried"].sel(model=["HankelDMD", "EDMD"]) == 0).all()
    for name in ("params", "smape", "val_smape"):
        assert (again[name].values == first[name].values).all(), name
    with pytest.raises(ValueError, match="no tuned hyperparameters"):
        chosen_params(dysts_suite(["Lorenz"], quick=True, tune=False, cache_dir=tmp_path)
                      .drop_vars("params"))


def test_a_zero_budget_fails_every_tuned_model_with_its_reason_and_the_sweep_goes_on():
    pytest.importorskip("dysts")
    from koop.bench import dysts_suite

    ds = dysts_suite(["Lorenz", "Rossler"], quick=True, budget=0,
                     methods=tuned_methods("univariate", 25)[:2])
    assert ds.sizes == {"system": 2, "model": 3}  # two methods and BestOfKoop
    assert (ds["status"] == "failed").all()
    reasons = ds["reason"].sel(model=["HankelDMD", "EDMD"]).values.ravel()
    assert all("budget of 0 candidate(s) tries nothing" in r for r in reasons), reasons
    assert (ds["reason"].sel(model="BestOfKoop") == "no tuned method has a validation score").all()
