"""koop.metrics against known truths: closed-form KLs, analytic spectra, hand counts."""

import numpy as np
import pytest
from scipy.stats import norm

from koop import metrics
from koop.metrics import (
    power_spectrum_distance,
    prediction_error,
    rmse,
    smape,
    state_space_divergence,
    valid_prediction_time,
)


# ---------------------------------------------------------------- D_stsp, binning
def test_identical_data_have_zero_divergence_both_methods():
    rng = np.random.default_rng(0)
    x3 = rng.normal(size=(3000, 3))
    x6 = rng.normal(size=(800, 6))
    assert state_space_divergence(x3, x3) == 0.0
    assert state_space_divergence(x6, x6) == 0.0  # auto -> gmm: same centres, same draws
    assert power_spectrum_distance(x3, x3) == 0.0


def test_bins_hand_computed_two_bins():
    # true {0, 1}: sigma 0.5, box [-0.05, 1.05], two bins split at 0.5 -> counts (1, 1);
    # generated {0, 0.1} -> counts (2, 0).
    a = 1e-5
    p = np.array([1 + a, 1 + a]) / (2 + 2 * a)
    q = np.array([2 + a, a]) / (2 + 2 * a)
    expected = float(np.sum(p * np.log(p / q)))
    got = state_space_divergence([0.0, 1.0], [0.0, 0.1], n_bins=2, method="bins")
    assert got == pytest.approx(expected, rel=1e-12)


def test_bins_match_histogramdd_reference_including_empty_bins():
    rng = np.random.default_rng(1)
    true = rng.normal(size=(5000, 2))
    gen = 1.3 * rng.normal(size=(4000, 2)) + [0.4, -0.2]
    n_bins, a = 12, 1e-5
    sigma = true.std(axis=0)
    lo, hi = true.min(0) - 0.1 * sigma, true.max(0) + 0.1 * sigma
    edges = [np.linspace(lo[j], hi[j], n_bins + 1) for j in range(2)]
    ht, _ = np.histogramdd(true, bins=edges)
    hg, _ = np.histogramdd(gen, bins=edges)
    p = (ht + a) / (ht.sum() + a * ht.size)
    q = (hg + a) / (hg.sum() + a * hg.size)
    expected = float(np.sum(p * np.log(p / q)))
    got = state_space_divergence(true, gen, n_bins=n_bins, method="bins")
    assert got == pytest.approx(expected, rel=1e-9)


def test_bins_kl_of_two_gaussians_matches_cdf_reference_and_closed_form():
    rng = np.random.default_rng(2)
    n = 400_000
    true = rng.normal(size=n)
    gen = rng.normal(loc=0.5, size=n)
    got = state_space_divergence(true, gen, method="bins")
    # Independent reference: the binned probabilities from the normal CDF on the same box.
    sigma = true.std()
    edges = np.linspace(true.min() - 0.1 * sigma, true.max() + 0.1 * sigma, 31)
    p = np.diff(norm.cdf(edges))
    q = np.diff(norm.cdf(edges, loc=0.5))
    p, q = p / p.sum(), q / q.sum()
    reference = float(np.sum(p * np.log(p / q)))
    assert got == pytest.approx(reference, abs=3e-3)  # sampling noise at n = 4e5
    assert got == pytest.approx(0.5**2 / 2, abs=0.01)  # continuous KL, 30 bins


def test_bins_nan_when_generated_diverges_or_leaves_the_box():
    rng = np.random.default_rng(3)
    true = rng.normal(size=(500, 2))
    gen = true.copy()
    gen[10, 0] = np.nan
    assert np.isnan(state_space_divergence(true, gen))
    assert np.isnan(state_space_divergence(true, true + 100.0))


# ---------------------------------------------------------------- D_stsp, mixtures
def test_gmm_kl_of_shifted_gaussians_within_monte_carlo_tolerance():
    # Mixtures of unit-variance kernels on N(m, I) samples approximate N(m, 2I); the KL of
    # two such Gaussians shifted by delta is delta^2 / (2 * 2).
    rng = np.random.default_rng(4)
    d, delta = 6, 1.0
    true = rng.normal(size=(6000, d))
    gen = rng.normal(size=(6000, d))
    gen[:, 0] += delta
    got = state_space_divergence(true, gen, n_samples=3000, random_state=0)
    # MC standard error ~ delta / sqrt(2) / sqrt(3000) = 0.013; kernel-density bias is smaller.
    assert got == pytest.approx(delta**2 / 4, abs=0.05)
    assert got == state_space_divergence(true, gen, method="gmm", n_samples=3000, random_state=0)


def test_auto_switches_method_at_six_features():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(400, 5)), rng.normal(size=(400, 5)) + 0.3
    assert state_space_divergence(a, b) == state_space_divergence(a, b, method="bins")
    assert state_space_divergence(a, b) != state_space_divergence(a, b, method="gmm")


# ---------------------------------------------------------------- D_H
def _sine(freq_bin, n=4096, phase=0.0):
    t = np.arange(n)
    return np.sin(2 * np.pi * freq_bin * t / n + phase)


def test_power_spectrum_distance_disjoint_sines_is_one():
    # All power in bin 100 vs bin 400; smoothing spreads each over +-80 bins: no overlap.
    assert power_spectrum_distance(_sine(100), _sine(400)) == pytest.approx(1.0, abs=1e-12)


def test_power_spectrum_distance_close_sines_matches_gaussian_overlap():
    # Two Gaussians of width 20 bins, 20 bins apart: Bhattacharyya coefficient
    # exp(-delta^2 / (8 sigma^2)); truncation at 4 sigma moves it by < 1e-3.
    expected = np.sqrt(1 - np.exp(-(20.0**2) / (8 * 20.0**2)))
    got = power_spectrum_distance(_sine(100), _sine(120, phase=0.3))
    assert got == pytest.approx(expected, abs=2e-3)


def _reference_hellinger(x, y, sigma):
    """Independent numpy path: explicit DFT sum, hand-built kernel, symmetric padding."""

    def spectrum(s):
        s = (s - s.mean()) / s.std()
        n = s.size
        k = np.arange(n // 2 + 1)[:, None]
        dft = np.exp(-2j * np.pi * k * np.arange(n)[None, :] / n) @ s
        ps = np.abs(dft) ** 2
        radius = int(4 * sigma + 0.5)
        w = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        w /= w.sum()
        padded = np.pad(ps, radius, mode="symmetric")
        sm = np.convolve(padded, w, mode="valid")
        return sm / sm.sum()

    p, q = spectrum(x), spectrum(y)
    return np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * q))))


def test_power_spectrum_distance_matches_independent_reference():
    rng = np.random.default_rng(6)
    n = 600
    x = np.cumsum(rng.normal(size=(n, 2)), axis=0) + _sine(13, n)[:, None]
    y = _sine(40, n)[:, None] * [1.0, 2.0] + 0.3 * rng.normal(size=(n, 2))
    expected = np.mean([_reference_hellinger(x[:, j], y[:, j], 20.0) for j in range(2)])
    assert power_spectrum_distance(x, y) == pytest.approx(expected, abs=1e-9)
    assert power_spectrum_distance(x, y, smoothing=5) == pytest.approx(
        np.mean([_reference_hellinger(x[:, j], y[:, j], 5.0) for j in range(2)]), abs=1e-9
    )


def test_power_spectrum_distance_edge_cases():
    x = _sine(50, 1000)
    assert power_spectrum_distance(x, np.full(1000, 3.0)) == 1.0  # collapsed model
    assert np.isnan(power_spectrum_distance(x, np.where(np.arange(1000) == 7, np.inf, x)))
    with pytest.raises(ValueError, match="equal length"):
        power_spectrum_distance(x, x[:-1])
    with pytest.raises(ValueError, match="constant"):
        power_spectrum_distance(np.ones(100), x[:100])


# ---------------------------------------------------------------- PE(n)
class _LinearModel:
    def __init__(self, A):
        self.A = np.asarray(A)

    def simulate(self, x0, n_steps):
        out, x = [], np.asarray(x0, dtype=float)
        for _ in range(n_steps):
            x = self.A @ x
            out.append(x)
        return np.array(out)


def test_prediction_error_exact_model_zero_and_wrong_model_hand_formula():
    theta = 0.1
    A = 0.99 * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    X = [np.array([1.0, 0.0])]
    for _ in range(199):
        X.append(A @ X[-1])
    X = np.array(X)
    assert prediction_error(_LinearModel(A), X, n_steps=20) == pytest.approx(0.0, abs=1e-24)
    B = A * 1.01
    n = 20
    err = (np.linalg.matrix_power(B, n) - np.linalg.matrix_power(A, n)) @ X[: len(X) - n].T
    expected = np.mean(err**2)
    assert prediction_error(_LinearModel(B), X, n_steps=n) == pytest.approx(expected, rel=1e-10)
    # A batch step function gives the same number.
    assert prediction_error(lambda S: S @ B.T, X, n_steps=n) == pytest.approx(expected, rel=1e-10)
    stride_expected = np.mean(err[:, ::7] ** 2)
    assert prediction_error(_LinearModel(B), X, n_steps=n, stride=7) == pytest.approx(
        stride_expected, rel=1e-10
    )


def test_prediction_error_lagged_edmd_on_a_sine_is_exact():
    # x_{t+1} = 2 cos(w) x_t - x_{t-1}: EDMD on one delay represents it exactly, and PE
    # must hand the model its two-sample window.
    from koop.dictionaries import TimeDelay
    from koop.estimators import EDMD

    x = np.sin(0.3 * np.arange(300))
    model = EDMD(TimeDelay(n_delays=1)).fit(x)
    assert model.n_lags_ == 1
    assert prediction_error(model, x, n_steps=20) == pytest.approx(0.0, abs=1e-18)
    assert prediction_error(model, np.sin(0.5 * np.arange(300)), n_steps=20) > 1e-3  # other w


def test_prediction_error_input_checks():
    with pytest.raises(ValueError, match="samples"):
        prediction_error(lambda s: s, np.zeros((5, 1)), n_steps=5)
    with pytest.raises(TypeError, match="simulate"):
        prediction_error(3, np.zeros((50, 1)))
    assert prediction_error(lambda s: s * 1e300, np.ones((30, 1)), n_steps=3) == np.inf


# ---------------------------------------------------------------- valid prediction time
@pytest.mark.parametrize("lam", [0.9, 2.5])
def test_valid_time_exponential_error_growth_equals_analytic_crossing(lam):
    dt, e0, eps, n = 0.01, 1e-6, 0.4, 3000
    t = (np.arange(n) + 1) * dt
    true = np.random.default_rng(7).normal(size=(n, 1))
    pred = true + e0 * np.exp(lam * t)[:, None]
    vpt = valid_prediction_time(true, pred, dt=dt, lyapunov_exponent=lam, scale=1.0)
    crossing = np.log(eps / e0) / lam  # e0 exp(lam t*) = eps
    # Valid steps are those with (k + 1) dt <= t*: floor(t* / dt) of them.
    assert vpt == pytest.approx(np.floor(crossing / dt) * dt * lam, abs=1e-12)
    assert lam * crossing - lam * dt < vpt <= lam * crossing  # ln(eps / e0) = 12.9 Lyapunov times


def test_valid_time_full_horizon_nan_and_smape_criterion():
    true = np.ones((100, 2))
    assert valid_prediction_time(true, true, dt=0.1, lyapunov_exponent=2.0, scale=1.0) == (
        pytest.approx(100 * 0.1 * 2.0)
    )
    pred = true.copy()
    pred[5:] = np.nan  # diverged after 5 good steps
    assert valid_prediction_time(true, pred, dt=0.1, lyapunov_exponent=2.0, scale=1.0) == (
        pytest.approx(5 * 0.1 * 2.0)
    )
    pred = true.copy()
    pred[3:, 0] = 1.5  # sMAPE of the step: 200 * mean(0.5/2.5, 0) = 20 <= 30
    pred[8:, 1] = 3.0  # then 20 + 200 * 0.5 * 2/4 = 70 > 30
    assert valid_prediction_time(
        true, pred, dt=0.5, lyapunov_exponent=1.0, error="smape"
    ) == pytest.approx(8 * 0.5)
    with pytest.raises(ValueError, match="lyapunov"):
        valid_prediction_time(true, true, dt=0.1, lyapunov_exponent=-1.0)
    with pytest.raises(ValueError, match="scale"):
        valid_prediction_time(true, true, dt=0.1, lyapunov_exponent=1.0)  # std 0


# ---------------------------------------------------------------- sMAPE, RMSE
def test_smape_hand_computed_and_factor_convention():
    true = [1.0, 2.0, 3.0, 0.0]
    pred = [1.0, 1.0, 6.0, 0.0]
    # terms: 0, 1/3, 3/9, and 0/0 counted as 0 -> mean 1/6
    assert smape(true, pred) == pytest.approx(200 / 6, rel=1e-14)
    assert smape(true, pred, scale=100) == pytest.approx(100 / 6, rel=1e-14)
    assert smape([1.0, -1.0], [-1.0, 1.0]) == pytest.approx(200.0)  # the maximum
    assert np.isnan(smape([1.0, 2.0], [np.nan, 2.0]))
    assert smape([1.0, 2.0], [np.inf, 2.0]) == pytest.approx(100.0)


def test_rmse_hand_computed():
    assert rmse([[0.0, 0.0], [1.0, 1.0]], [[3.0, 4.0], [1.0, 1.0]]) == pytest.approx(
        np.sqrt(25 / 4)
    )


def test_true_series_is_validated():
    x = np.ones((10, 2))
    bad = x.copy()
    bad[0, 0] = np.nan
    for fn in (state_space_divergence, power_spectrum_distance, smape, rmse):
        with pytest.raises(ValueError, match="NaN"):
            fn(bad, x)
        with pytest.raises(ValueError, match="feature"):
            fn(x, np.ones((10, 3)))
    with pytest.raises(ValueError, match="method"):
        state_space_divergence(x, x, method="kde")
    assert set(metrics.__all__) >= {"state_space_divergence", "power_spectrum_distance", "rmse"}


# -- the forecasting protocol: forecast, free_run, reconstruction_scores --------------------

class _SimulateOnly:
    """A model with only ``simulate``: the rotation x -> R x."""

    def __init__(self, R):
        self.R = R

    def simulate(self, x0, n_steps):
        out, x = [], np.asarray(x0, dtype=float)
        for _ in range(n_steps):
            x = self.R @ x
            out.append(x)
        return np.array(out)


def _rotation(theta=0.07):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


@pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")
def test_forecast_is_the_same_for_batch_simulate_and_callable_models():
    from koop.dictionaries import TimeDelay
    from koop.estimators import EDMD

    R = _rotation()
    X = np.empty((300, 2))
    X[0] = [1.0, 0.0]
    for t in range(299):
        X[t + 1] = R @ X[t]
    starts = [0, 17, 250]
    by_callable = metrics.forecast(lambda x: x @ R.T, X, 12, starts=starts)
    by_simulate = metrics.forecast(_SimulateOnly(R), X, 12, starts=starts)
    for i, t in enumerate(starts):
        np.testing.assert_allclose(by_callable[i], X[t + 1 : t + 13], atol=1e-12)
    np.testing.assert_allclose(by_simulate, by_callable, atol=1e-12)
    # a lagged model starts from windows and its default starts begin at n_lags_
    model = EDMD(TimeDelay(2)).fit(X)
    out = metrics.forecast(model, X, 5)
    assert out.shape == (300 - 2 - 5, 5, 2)
    np.testing.assert_allclose(out[0], X[3:8], atol=1e-8)
    np.testing.assert_allclose(out[10], model.simulate(X[10:13], 5), atol=1e-12)
    with pytest.raises(ValueError, match="start samples must lie in"):
        metrics.forecast(model, X, 5, starts=[1])
    with pytest.raises(TypeError, match="simulate"):
        metrics.forecast(object(), X, 5)


def test_free_run_starts_at_the_first_state():
    R = _rotation()
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    run = metrics.free_run(lambda x: x @ R.T, X, 50)
    np.testing.assert_array_equal(run[0], X[0])
    np.testing.assert_allclose(run[10], np.linalg.matrix_power(R, 10) @ X[0], atol=1e-12)
    assert run.shape == (50, 2)


def test_reconstruction_scores_follow_the_gtf_protocol():
    """A model that knows the future: its run from test[0] is the true continuation, so the
    compared segment must be truth[0.25 T : 1.25 T], scored against the test set."""
    t = np.arange(2600) * 0.1
    truth = np.column_stack([np.sin(t) + 0.3 * np.sin(2.7 * t), np.cos(1.3 * t)])
    T = 2000
    test = truth[:T]

    class Oracle:
        def simulate_batch(self, X0, n_steps):
            out = []
            for x in X0:
                i = int(np.flatnonzero((truth == x).all(axis=1))[0])
                out.append(truth[i + 1 : i + 1 + n_steps])
            return np.array(out)

        def simulate(self, x0, n_steps):
            return self.simulate_batch(np.atleast_2d(x0), n_steps)[0]

    scores = metrics.reconstruction_scores(Oracle(), test, pe_stride=7)
    expected = truth[500:2500]
    np.testing.assert_array_equal(scores["generated"], expected)
    assert scores["D_stsp"] == metrics.state_space_divergence(test, expected, n_bins=30)
    assert scores["D_H"] == metrics.power_spectrum_distance(test, expected, smoothing=20.0)
    assert scores["PE"] == 0.0
    # a model that diverges is scored NaN, not an error
    blown = metrics.reconstruction_scores(lambda x: 2.0 * x, test, pe_stride=50)
    assert np.isnan(blown["D_stsp"]) and np.isnan(blown["D_H"])
