"""Hankel DMD against signals with known spectra, and the Hankel SVD against numpy."""

import numpy as np
import pytest

from koop import systems
from koop.dictionaries import TimeDelay
from koop.estimators import HankelDMD
from koop.estimators._delay_embedding import hankel_blocks, hankel_svd, hankel_view
from koop.gram import build_gram

OMEGA = (1.0, np.sqrt(2.0))


def quasi_periodic(n, dt=0.1):
    t = dt * np.arange(n)
    return np.sin(OMEGA[0] * t + 0.3) + 0.5 * np.sin(OMEGA[1] * t)


def test_quasi_periodic_frequencies_to_1e_6():
    dt = 0.1
    model = HankelDMD(n_delays=10, rank=4).fit(quasi_periodic(2000, dt), dt=dt)
    mu = model.continuous_eigenvalues_
    np.testing.assert_allclose(mu.real, 0.0, atol=1e-6)
    np.testing.assert_allclose(np.sort(mu.imag), [-OMEGA[1], -OMEGA[0], OMEGA[0], OMEGA[1]],
                               atol=1e-6)
    # the signal satisfies a linear recurrence of order 4: the model reproduces it
    x = quasi_periodic(2000, dt)
    np.testing.assert_allclose(model.simulate(x[:11], 500)[:, 0], x[11:511], atol=1e-8)


def test_rank_optimal_finds_the_four_modes_of_noisy_quasi_periodic_signal():
    rng = np.random.default_rng(0)
    x = quasi_periodic(3000) + 1e-3 * rng.normal(size=3000)
    model = HankelDMD(n_delays=30, rank="optimal").fit(x, dt=0.1)
    assert model.rank_ == 4
    np.testing.assert_allclose(np.sort(np.abs(model.continuous_eigenvalues_.imag)),
                               [OMEGA[0], OMEGA[0], OMEGA[1], OMEGA[1]], atol=1e-3)


def test_vector_quasi_periodic_series():
    t = 0.1 * np.arange(1500)
    X = np.column_stack([np.sin(t), np.cos(OMEGA[1] * t) + 0.2 * np.sin(t)])
    model = HankelDMD(n_delays=4, rank=4).fit(X, dt=0.1)
    assert model.dictionary_.n_output_features_ == 10
    np.testing.assert_allclose(np.sort(model.continuous_eigenvalues_.imag),
                               [-OMEGA[1], -OMEGA[0], OMEGA[0], OMEGA[1]], atol=1e-8)
    assert model.modes_.shape == (2, 4)
    np.testing.assert_allclose(model.predict(X[:100]), X[5:101], atol=1e-9)


def test_scalar_observable_of_linear_system_several_trajectories(stable_linear_map):
    A, lam = stable_linear_map
    rng = np.random.default_rng(3)
    trajs = [systems.linear(A, 25, x0=rng.normal(size=3))[:, :1] for _ in range(6)]
    model = HankelDMD(n_delays=4, rank=3).fit(trajs)
    np.testing.assert_allclose(np.sort_complex(model.eigenvalues_), np.sort_complex(lam),
                               atol=1e-9)
    # exact eigenfunctions: phi(x_{n+1}) = lambda phi(x_n) along every trajectory
    for traj in trajs:
        phi = model.eigenfunctions(traj)
        np.testing.assert_allclose(phi[1:], phi[:-1] * model.eigenvalues_,
                                   atol=1e-9 * np.abs(phi).max())


def test_trajectories_are_never_joined(stable_linear_map):
    A, lam = stable_linear_map
    a = systems.linear(A, 30, x0=[1.0, 0.0, 0.5])[:, :1]
    b = systems.linear(A, 30, x0=[-0.3, 1.0, 2.0])[:, :1]
    separate = HankelDMD(n_delays=4, rank=3).fit([a, b])
    joined = HankelDMD(n_delays=4, rank=3).fit(np.concatenate([a, b]))
    err_sep = np.abs(np.sort_complex(separate.eigenvalues_) - np.sort_complex(lam)).max()
    err_join = np.abs(np.sort_complex(joined.eigenvalues_) - np.sort_complex(lam)).max()
    assert err_sep < 1e-9
    assert err_join > 1e-3  # windows across the seam are not orbits of A


def test_eigenvectors_in_time_delay_coordinates_and_residuals(stable_linear_map):
    A, _ = stable_linear_map
    x = systems.linear(A, 80, random_state=2)[:, :1]
    model = HankelDMD(n_delays=5, rank=3).fit(x)
    psi = TimeDelay(n_delays=5).fit(x).transform(x)
    np.testing.assert_allclose(psi @ model.eigenvectors_, model.eigenfunctions(x),
                               atol=1e-10 * np.abs(psi @ model.eigenvectors_).max())
    # gram_ is the TimeDelay dictionary's G, A, L: the numpy reference agrees
    ref = build_gram(TimeDelay(n_delays=5).fit(x), x, backend="numpy")
    for name in ("G", "A", "L"):
        np.testing.assert_allclose(getattr(model.gram_, name), getattr(ref, name),
                                   rtol=1e-10, atol=1e-14)
    # ResDMD residual ||Psi_Y g - lambda Psi_X g|| / ||Psi_X g|| from G, A, L
    g, lam = model.eigenvectors_, model.eigenvalues_
    G, Am, L = model.gram_.G, model.gram_.A, model.gram_.L
    num = np.einsum("ij,ik,kj->j", g.conj(), L, g) - 2 * np.real(
        lam.conj() * np.einsum("ij,ik,kj->j", g.conj(), Am, g)) + np.abs(lam) ** 2 * \
        np.einsum("ij,ik,kj->j", g.conj(), G, g)
    den = np.einsum("ij,ik,kj->j", g.conj(), G, g).real
    res = np.sqrt(np.maximum(num.real, 0) / den)
    assert res.max() < 1e-6
    direct = np.linalg.norm(psi[1:] @ g - lam * (psi[:-1] @ g), axis=0) / np.linalg.norm(
        psi[:-1] @ g, axis=0)
    assert direct.max() < 1e-10


def test_residuals_flag_spurious_modes_on_lorenz():
    # a chaotic series has no exact finite Koopman spectrum: residuals are not all ~ 0,
    # and they are consistent with the direct evaluation on the data
    x = systems.lorenz63(3000, dt=0.01)[:, 0]
    model = HankelDMD(n_delays=8, rank=6).fit(x, dt=0.01)
    psi = model.dictionary_.transform(x)
    g, lam = model.eigenvectors_, model.eigenvalues_
    direct = np.linalg.norm(psi[1:] @ g - lam * (psi[:-1] @ g), axis=0) / np.linalg.norm(
        psi[:-1] @ g, axis=0)
    G, Am, L = model.gram_.G, model.gram_.A, model.gram_.L
    quad = lambda M: np.einsum("ij,ik,kj->j", g.conj(), M, g)  # noqa: E731
    gram_res = np.sqrt(np.maximum(
        (quad(L) - 2 * np.real(lam.conj() * quad(Am)) + np.abs(lam) ** 2 * quad(G)).real, 0)
        / quad(G).real)
    np.testing.assert_allclose(gram_res, direct, rtol=1e-4, atol=1e-6)
    assert direct.max() > 1e-3


def test_hankel_view_is_a_view_and_matches_time_delay():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    view = hankel_view(x, 6)
    assert np.shares_memory(view, x)
    H = TimeDelay(n_delays=6).fit(x).transform(x)
    np.testing.assert_array_equal(view.reshape(view.shape[0], -1), H)
    blocks = np.concatenate([b for _, _, b in hankel_blocks([x], 6, block_rows=5)])
    np.testing.assert_array_equal(blocks, H)


@pytest.mark.parametrize("block_rows", [7, None])
def test_tsqr_svd_matches_lapack_svd(block_rows):
    rng = np.random.default_rng(1)
    trajs = [rng.normal(size=(60, 2)).cumsum(axis=0), rng.normal(size=(45, 2))]
    s, U = hankel_svd(trajs, 5, block_rows=block_rows)
    H = np.vstack([TimeDelay(n_delays=5).fit(t).transform(t) for t in trajs])
    _, s_ref, Vt = np.linalg.svd(H, full_matrices=False)
    np.testing.assert_allclose(s, s_ref, rtol=1e-12, atol=1e-12 * s_ref[0])
    np.testing.assert_allclose(np.abs(np.sum(U * Vt.T, axis=0)), 1.0, atol=1e-10)


def test_tsqr_keeps_tiny_singular_values_that_the_gram_route_loses():
    # a rank-10 smooth signal: sigma_10 / sigma_1 ~ 1e-12, below sqrt(eps) ~ 1.5e-8
    t = 0.01 * np.arange(5000)
    x = sum(np.exp(-0.1 * k * t) * np.cos((1 + k) * t) for k in range(5))
    s, _ = hankel_svd([x], 19)
    H = TimeDelay(n_delays=19).fit(x).transform(x)
    s_ref = np.linalg.svd(H, compute_uv=False)
    gram = np.sqrt(np.abs(np.linalg.eigvalsh(H.T @ H)))[::-1]
    assert s_ref[9] / s_ref[0] < 1e-8
    np.testing.assert_allclose(s[:10], s_ref[:10], rtol=1e-6)
    assert abs(gram[9] - s_ref[9]) / s_ref[9] > 1e-2


def test_bad_input():
    x = quasi_periodic(50)
    with pytest.raises(ValueError, match="n_delays"):
        HankelDMD(n_delays=0).fit(x)
    with pytest.raises(TypeError):
        HankelDMD(n_delays=2.5).fit(x)
    with pytest.raises(ValueError, match="samples"):
        HankelDMD(n_delays=60).fit(x)
    with pytest.raises(ValueError, match="trajectories"):
        HankelDMD(n_delays=3).fit(x[:-1], x[1:])
    with pytest.raises(ValueError):
        HankelDMD(n_delays=3, rank=-1).fit(x)
    with pytest.raises(ValueError, match="backend"):
        HankelDMD(n_delays=3, backend="fortran").fit(x)


def test_koop_validation_residuals_work_on_hankel_dmd(stable_linear_map):
    from koop.validation import residuals

    A, _ = stable_linear_map
    x = systems.linear(A, 80, random_state=2)[:, :1]
    exact = HankelDMD(n_delays=5, rank=3).fit(x)
    assert residuals(exact).max() < 1e-6  # Gram form: rounding floor ~ sqrt(eps)
    assert residuals(exact, x).max() < 1e-10  # QR on the data: full precision
    # chaotic data: independent evaluation on fresh data agrees with the training value
    z = systems.lorenz63(4000, dt=0.01)[:, 0]
    model = HankelDMD(n_delays=8, rank=6).fit(z[:3000], dt=0.01)
    res_train, res_test = residuals(model), residuals(model, z[3000:])
    assert res_train.shape == res_test.shape == model.eigenvalues_.shape
    assert res_train.max() > 1e-3
    np.testing.assert_allclose(res_test, res_train, rtol=0.5, atol=1e-3)


def test_save_load_round_trip(tmp_path):
    from koop import io

    x = quasi_periodic(500)
    model = HankelDMD(n_delays=6, rank=4).fit(x, dt=0.1)
    loaded = io.load(io.save(model, tmp_path / "hankel.npz"))
    np.testing.assert_allclose(loaded.eigenvalues_, model.eigenvalues_)
    np.testing.assert_allclose(loaded.simulate(x[:7], 30), model.simulate(x[:7], 30))
