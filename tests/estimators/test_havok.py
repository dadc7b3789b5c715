"""HAVOK: Brunton et al. 2017 on Lorenz-63 (reduced), and exact checks of its parts.

The Lorenz test uses the paper's sampling and embedding (dt = 0.001, a Hankel matrix
of 100 rows, rank 15, x0 = [-8, 8, 27]) on t in [0, 100) instead of [0, 200): the first
70 time units train, the last 30 are the test span. The full-length numbers are in
benchmarks/havok.py and docs/havok.md.
"""

import numpy as np
import pytest
import scipy.signal

from koop import systems
from koop.estimators import HAVOK
from koop.estimators._delay_embedding import central_difference
from koop.estimators._forcing import FORCING_THRESHOLD_RMS, precursor_test
from koop.exceptions import RankDeficiencyWarning

DT = 0.001
N_TRAIN = 70_000


@pytest.fixture(scope="module")
def lorenz_havok():
    x = systems.lorenz63(100_000, dt=DT, x0=[-8.0, 8.0, 27.0])[:, 0]
    model = HAVOK(n_delays=99, rank=15).fit(x[:N_TRAIN], dt=DT)
    return x, model


def test_lorenz_singular_values_and_model_structure(lorenz_havok):
    _, model = lorenz_havok
    s = model.singular_values_
    # REFERENCES §4: sigma_15 / sigma_1 ~ 3.5e-13 on the full series
    assert 1e-13 < s[14] / s[0] < 1e-12
    A, B = model.A_, model.B_
    # nearly skew-symmetric and tridiagonal, as the paper's integer skeleton
    tri = np.triu(np.tril(A, 1), -1)
    assert np.linalg.norm(A - tri) < 0.05 * np.linalg.norm(tri)
    assert np.linalg.norm(A + A.T) < 0.05 * np.linalg.norm(A)  # measured 0.02
    # skeleton: |A_12| = 5, |A_23| = 10; forcing enters the last equation, B_14 ~ -70
    assert abs(abs(A[0, 1]) - 5.0) < 0.5 and abs(abs(A[1, 2]) - 10.0) < 1.0
    assert abs(B[-1, 0]) > 0.95 * np.linalg.norm(B) and 60 < abs(B[-1, 0]) < 80


def test_lorenz_forcing_is_intermittent_with_heavy_tails(lorenz_havok):
    _, model = lorenz_havok
    st = model.forcing_statistics()
    assert st.threshold == pytest.approx(FORCING_THRESHOLD_RMS * st.rms)
    # paper (200 time units): active 15 % of the time, excess kurtosis ~ 21
    assert 0.10 < st.active_fraction < 0.20
    assert st.active_fraction < 0.5 * st.gaussian_active_fraction  # Gaussian: 37 %
    assert st.excess_kurtosis > 10
    assert st.tail_ratio > 50  # beyond 4 RMS: > 50 times a Gaussian's share
    np.testing.assert_array_equal(model.forcing_active(),
                                  np.abs(model.forcing_) > st.threshold)


def test_lorenz_forced_linear_model_tracks_v1_on_test_span(lorenz_havok):
    x, model = lorenz_havok
    v = model.coordinates(x[N_TRAIN - 99:])  # windows ending at samples 70 000 .. 99 999
    forced = model.simulate_coordinates(v[0], v[1:, -1])[:, 0]
    unforced = model.simulate_coordinates(v[0, :-1], np.zeros(len(v) - 1))[:, 0]
    truth = v[1:, 0]
    err = np.linalg.norm(forced - truth) / np.linalg.norm(truth)
    err_unforced = np.linalg.norm(unforced - truth) / np.linalg.norm(truth)
    # measured here: 0.27 (forced) vs 1.36 (unforced), correlation 0.97
    assert err < 0.4
    assert err_unforced > 1.0
    assert np.corrcoef(forced, truth)[0, 1] > 0.9
    # the lobe (sign of v1) is right most of the time
    assert np.mean(np.sign(forced) == np.sign(truth)) > 0.85
    # the state-space simulate is the same model, reconstructed to x
    xs = model.simulate(x[N_TRAIN - 99 : N_TRAIN + 1], 2000, forcing=v[1:2001, -1])
    direct = model.simulate_coordinates(v[0], v[1:2001, -1]) @ model.state_map_
    # (v_15 of a single window differs from the batched one by rounding amplified
    # by sigma_1 / sigma_15 ~ 3e12, hence the loose tolerance)
    np.testing.assert_allclose(xs[:, 0] - v[1:2001, -1] * model._forcing_state[0],
                               direct[:, 0], atol=1e-5 * np.abs(direct).max())


def test_lorenz_active_forcing_precedes_lobe_switches(lorenz_havok):
    x, model = lorenz_havok
    switches = np.flatnonzero(np.diff(np.sign(x[:N_TRAIN])) != 0) + 1
    test = model.forcing_precedes(switches, window=500, n_permutations=999, random_state=0)
    assert test.n_events >= 25
    # measured: 0.31 active before switches vs 0.14 at random alignments, p ~ 0.007
    assert test.active_before > 1.5 * test.active_chance
    assert test.p_value < 0.02


def test_quasi_periodic_signal_linear_part_exact():
    dt = 0.01
    t = dt * np.arange(6000)
    x = np.sin(t) + 0.5 * np.cos(np.sqrt(2.0) * t)
    # rank-4 signal: v5 is rounding noise (warned), A carries the two frequencies (FD
    # error ~ (omega dt)^4 / 30 ~ 1e-9)
    with pytest.warns(RankDeficiencyWarning, match="rounding noise"):
        model = HAVOK(n_delays=40, rank=5).fit(x, dt=dt)
    mu = np.sort_complex(model.continuous_eigenvalues_)
    np.testing.assert_allclose(np.sort(np.abs(mu.imag)), [1, 1, np.sqrt(2), np.sqrt(2)],
                               atol=1e-6)
    np.testing.assert_allclose(mu.real, 0.0, atol=1e-6)
    np.testing.assert_allclose(model.derivative_r2_, 1.0, atol=1e-10)
    sim = model.simulate(x[:41], 3000)  # unforced
    np.testing.assert_allclose(sim[:, 0], x[41:3041], atol=1e-5)


def test_vector_series_several_trajectories_and_xarray():
    dt = 0.01
    t = dt * np.arange(3000)
    X = np.column_stack([np.sin(t), np.cos(np.sqrt(3.0) * t)])
    parts = [X[:1700], X[1700:]]
    with pytest.warns(RankDeficiencyWarning):
        model = HAVOK(n_delays=10, rank=5).fit(parts, dt=dt)
    assert model.n_windows_ == (1690, 1290)
    assert model.delay_coordinates_.shape == (2980, 5)
    np.testing.assert_allclose(np.sort(np.abs(model.continuous_eigenvalues_.imag)),
                               [1, 1, np.sqrt(3), np.sqrt(3)], atol=1e-6)
    np.testing.assert_allclose(model.coordinates(parts[1]), model.delay_coordinates_[1690:],
                               atol=1e-12)
    assert model.score(X) > 0.999999
    pytest.importorskip("xarray")
    da = systems.as_xarray(X, dt)
    again = HAVOK(n_delays=10, rank=4).fit(da)
    assert again.dt_ == pytest.approx(dt)


def test_central_difference_is_fourth_order():
    errs = []
    for dt in (0.04, 0.02):
        t = dt * np.arange(200)
        d = central_difference(np.sin(t)[:, None], dt)[:, 0]
        errs.append(np.abs(d - np.cos(t[2:-2])).max())
    assert 3.8 < np.log2(errs[0] / errs[1]) < 4.2


def test_simulation_matches_scipy_lsim_first_order_hold():
    dt = 0.01
    t = dt * np.arange(4000)
    x = np.sin(t) + 0.3 * np.sin(2.2 * t) + 0.1 * np.sin(3.7 * t)
    model = HAVOK(n_delays=30, rank=6).fit(x, dt=dt)
    v = model.delay_coordinates_
    n = 500
    forcing = np.sin(5 * t[1 : n + 1]) * 1e-3  # any smooth input
    ours = model.simulate_coordinates(v[0], forcing)
    sys = (model.A_, model.B_, np.eye(5), np.zeros((5, 1)))
    _, ref, _ = scipy.signal.lsim(sys, np.concatenate([[v[0, -1]], forcing]),
                                  dt * np.arange(n + 1), X0=v[0, :-1])
    np.testing.assert_allclose(ours, ref[1:], atol=1e-10 * np.abs(ref).max())


def test_precursor_test_detects_alignment_and_is_calibrated():
    rng = np.random.default_rng(0)
    n = 20000
    events = np.sort(rng.choice(np.arange(300, n), size=40, replace=False))
    active = rng.random(n) < 0.1
    aligned = active.copy()
    for e in events:
        aligned[e - 50 : e] = True
    hit = precursor_test([aligned], [events], 100, 499, random_state=0)
    assert hit.p_value <= 0.01 and hit.active_before > 0.5
    pvals = [precursor_test([rng.random(n) < 0.1], [events], 100, 199, random_state=k).p_value
             for k in range(20)]
    assert np.mean(np.array(pvals) < 0.05) <= 0.2  # no alignment: rarely "significant"


def test_forcing_active_threshold_and_bad_input():
    dt = 0.01
    x = np.sin(dt * np.arange(500)) + 0.01 * np.random.default_rng(0).normal(size=500)
    model = HAVOK(n_delays=10, rank=3).fit(x, dt=dt)
    assert model.forcing_active(threshold=0.0).all()
    assert not model.forcing_active(threshold=1e9).any()
    with pytest.raises(ValueError, match="threshold"):
        model.forcing_active(threshold=-1.0)
    with pytest.raises(ValueError, match="dt"):
        HAVOK(n_delays=10, rank=3).fit(x)
    with pytest.raises(ValueError, match="samples"):
        HAVOK(n_delays=10, rank=3).fit(x[:12], dt=dt)
    with pytest.raises(ValueError, match="at least 2"):
        HAVOK(n_delays=10, rank=1).fit(x, dt=dt)
    with pytest.raises(ValueError, match="n_steps"):
        model.simulate(x[:11], 5, forcing=np.zeros(4))
    with pytest.raises(ValueError, match="window"):
        model.forcing_precedes([100, 200], window=0)


def test_save_load_round_trip_and_events_per_trajectory(tmp_path):
    from koop import io

    dt = 0.005
    x = systems.lorenz63(6000, dt=dt, x0=[-8.0, 8.0, 27.0])[:, 0]
    parts = [x[:3000], x[3000:]]
    model = HAVOK(n_delays=19, rank=8).fit(parts, dt=dt)
    loaded = io.load(io.save(model, tmp_path / "havok.npz"))
    np.testing.assert_array_equal(loaded.forcing_, model.forcing_)
    np.testing.assert_allclose(loaded.simulate(x[:20], 50, forcing=model.forcing_[1:51]),
                               model.simulate(x[:20], 50, forcing=model.forcing_[1:51]))
    events = [np.flatnonzero(np.diff(np.sign(p)) != 0) + 1 for p in parts]
    both = model.forcing_precedes(events, window=100, random_state=0)
    assert both.n_events == sum(int(np.sum(e - 19 >= 100)) for e in events)
    with pytest.raises(ValueError, match="per training trajectory"):
        model.forcing_precedes([events[0]], window=100)
