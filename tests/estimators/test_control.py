"""DMDc and EDMDc: known linear and lifted truths, Proctor's algorithm, Korda-Mezic's
least squares, inputs at predict time, parameters and save/load."""

import os

import numpy as np
import pytest
from sklearn.base import clone

from koop import io, systems
from koop.dictionaries import Custom, Polynomial, TimeDelay
from koop.estimators import DMDc, EDMDc

pytestmark = pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")

LAM, MU, C = 0.9, 0.5, 0.7


def invariant_lift(X):
    """[x1, x2, x1^2]: invariant for the slow-manifold map driven on x2."""
    X = np.asarray(X)
    return np.column_stack([X[:, 0], X[:, 1], X[:, 0] ** 2])


def driven_slow_manifold(n, x0, u):
    """x1' = lam x1, x2' = mu x2 + c x1^2 + u: linear in [x1, x2, x1^2] and in u."""
    X = np.empty((n, 2))
    X[0] = x0
    for k in range(n - 1):
        x1, x2 = X[k]
        X[k + 1] = [LAM * x1, MU * x2 + C * x1**2 + u[k, 0]]
    return X


def linear_data(A, B, n=300, n_traj=1, seed=0):
    rng = np.random.default_rng(seed)
    Xs, Us = [], []
    for _ in range(n_traj):
        U = rng.uniform(-1, 1, (n - 1, B.shape[1]))
        X = np.zeros((n, A.shape[0]))
        X[0] = rng.normal(size=A.shape[0])
        for k in range(n - 1):
            X[k + 1] = A @ X[k] + B @ U[k]
        Xs.append(X)
        Us.append(U)
    return Xs, Us


A3 = np.array([[0.9, 0.2, 0.0], [0.0, 0.7, 0.1], [0.0, 0.0, -0.5]])
B3 = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])


@pytest.mark.parametrize("est", [DMDc(), EDMDc()], ids=["DMDc", "EDMDc"])
def test_linear_plant_recovered_exactly(est):
    Xs, Us = linear_data(A3, B3, n_traj=3)
    model = est.fit(Xs, u=Us)
    np.testing.assert_allclose(model.A_, A3, atol=1e-12)
    np.testing.assert_allclose(model.B_, B3, atol=1e-12)
    np.testing.assert_allclose(np.sort(model.eigenvalues_.real), [-0.5, 0.7, 0.9],
                               atol=1e-12)
    # residuals with the input term removed vanish for exact eigenpairs (DMDc from the
    # R factor to full precision, EDMDc from the Gram quadratic form to ~sqrt(eps))
    assert model.residuals_.max() < (1e-12 if isinstance(est, DMDc) else 1e-6)
    X, U = Xs[0], Us[0]
    np.testing.assert_allclose(model.predict(X[:-1], U), X[1:], atol=1e-12)
    np.testing.assert_allclose(model.simulate(X[0], 50, U[:50]), X[1:51], atol=1e-10)
    assert model.score(X, u=U) == pytest.approx(1.0, abs=1e-12)


def proctor_dmdc(X, Y, U, r, p):
    """Proctor, Brunton & Kutz (2016), Algorithm 2, with snapshots in columns."""
    Omega = np.vstack([X, U])
    Ut, st, Vth = np.linalg.svd(Omega, full_matrices=False)
    Ut, st, Vt = Ut[:, :p], st[:p], Vth[:p].T
    Uh = np.linalg.svd(Y, full_matrices=False)[0][:, :r]
    n = X.shape[0]
    G = Y @ Vt / st
    Atilde = Uh.T @ G @ Ut[:n].T @ Uh
    Btilde = Uh.T @ G @ Ut[n:].T
    return Uh @ Atilde @ Uh.T, Uh @ Btilde, np.linalg.eigvals(Atilde)


def test_two_truncations_match_proctors_algorithm():
    rng = np.random.default_rng(3)
    # 8 observed states of a 3-state latent system with 2 inputs, plus noise
    Az = np.array([[0.95, 0.1, 0.0], [-0.1, 0.95, 0.0], [0.0, 0.0, 0.6]])
    Bz = rng.normal(size=(3, 2))
    P = rng.normal(size=(8, 3))
    Z = np.zeros((400, 3))
    U = rng.uniform(-1, 1, (399, 2))
    for k in range(399):
        Z[k + 1] = Az @ Z[k] + Bz @ U[k]
    X = Z @ P.T + 1e-3 * rng.normal(size=(400, 8))
    for r, p in [(3, 5), (2, 4), (5, 7)]:
        model = DMDc(rank=r, input_rank=p).fit(X, u=U)
        A, B, lam = proctor_dmdc(X[:-1].T, X[1:].T, U.T, r, p)
        assert model.rank_ == r and model.input_rank_ == p
        np.testing.assert_allclose(model.A_, A, atol=1e-10)
        np.testing.assert_allclose(model.B_, B, atol=1e-10)
        np.testing.assert_allclose(np.sort_complex(model.eigenvalues_), np.sort_complex(lam),
                                   atol=1e-10)
    # with the exact latent rank the latent eigenvalues come back (to the noise level)
    model = DMDc(rank=3, input_rank=5).fit(X, u=U)
    np.testing.assert_allclose(np.sort(np.abs(model.eigenvalues_)),
                               np.sort(np.abs(np.linalg.eigvals(Az))), atol=1e-2)


def test_edmdc_is_korda_mezic_least_squares():
    Xs, Us = [], []
    for seed in range(20):
        X, U = systems.van_der_pol_control(60, random_state=seed)
        Xs.append(X)
        Us.append(U)
    d = Polynomial(degree=3)
    model = EDMDc(d).fit(Xs, u=Us)
    dd = d.fit(np.concatenate(Xs))
    PX = np.concatenate([dd.transform(X[:-1]) for X in Xs])
    PY = np.concatenate([dd.transform(X[1:]) for X in Xs])
    Uc = np.concatenate(Us)
    KK = np.linalg.lstsq(np.hstack([PX, Uc]), PY, rcond=None)[0]
    M = PX.shape[1]
    np.testing.assert_allclose(model.A_, KK[:M].T, atol=1e-8)
    np.testing.assert_allclose(model.B_, KK[M:].T, atol=1e-8)
    Cref = np.linalg.lstsq(PX, np.concatenate([X[:-1] for X in Xs]), rcond=None)[0].T
    np.testing.assert_allclose(model.C_, Cref, atol=1e-8)
    # the lifted predictor in dictionary coordinates is the model's simulation
    x0, u = Xs[0][0], Us[0][:20]
    z = model.lift(x0[None])[0]
    out = []
    for k in range(20):
        z = model.A_ @ z + model.B_ @ u[k]
        out.append(model.C_ @ z)
    np.testing.assert_allclose(np.array(out), model.simulate(x0, 20, u), atol=1e-9)


def test_identity_lift_makes_edmdc_untruncated_dmdc():
    Xs, Us = [], []
    for seed in range(5):
        X, U = systems.van_der_pol_control(100, random_state=seed)
        Xs.append(X)
        Us.append(U)
    a, b = EDMDc().fit(Xs, u=Us), DMDc().fit(Xs, u=Us)
    np.testing.assert_allclose(a.A_, b.A_, atol=1e-10)
    np.testing.assert_allclose(a.B_, b.B_, atol=1e-10)


def test_invariant_lift_with_inputs_is_exact_and_verified():
    rng = np.random.default_rng(0)
    Xs, Us = [], []
    for _ in range(10):
        U = rng.uniform(-1, 1, (30, 1))
        Xs.append(driven_slow_manifold(31, rng.uniform(-1, 1, 2), U))
        Us.append(U)
    exact = EDMDc(Custom(invariant_lift)).fit(Xs, u=Us)
    np.testing.assert_allclose(np.sort(exact.eigenvalues_.real), [MU, LAM**2, LAM],
                               atol=1e-10)
    np.testing.assert_allclose(exact.B_.ravel(), [0.0, 1.0, 0.0], atol=1e-10)
    assert exact.residuals_.max() < 1e-6
    # a larger dictionary holds the same exact eigenpairs (small residual) and others
    # whose residual exposes them (x1 x2, x2^2 are driven nonlinearly by u)
    model = EDMDc(Polynomial(degree=2)).fit(Xs, u=Us)
    good = model.eigenvalues_[model.residuals_ < 1e-6]
    for lam in (1.0, LAM, MU, LAM**2):
        assert np.min(np.abs(good - lam)) < 1e-8
    assert model.residuals_.max() > 1e-2


def test_predict_with_a_lagged_lift_uses_the_newest_input():
    Xs, Us = linear_data(A3, B3, n=200, n_traj=2)
    model = EDMDc(TimeDelay(1)).fit(Xs, u=Us)
    X, U = Xs[0], np.vstack([Us[0], Us[0][-1:]])
    pred = model.predict(X[:-1], U[:-1])
    np.testing.assert_allclose(pred, X[2:], atol=1e-9)
    np.testing.assert_allclose(model.simulate(X[:2], 10, U[1:11]), X[2:12], atol=1e-8)


@pytest.mark.parametrize("est", [DMDc(), EDMDc(Polynomial(2))], ids=["DMDc", "EDMDc"])
def test_inputs_are_required_and_checked(est):
    X, U = systems.van_der_pol_control(50, random_state=0)
    with pytest.raises(ValueError, match="u is None"):
        clone(est).fit(X)
    with pytest.raises(ValueError, match="rows"):
        clone(est).fit(X, u=U[:-3])
    bad = U.copy()
    bad[4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(est).fit(X, u=bad)
    model = clone(est).fit(X, u=U)
    with pytest.raises(ValueError, match="fitted with 1 input"):
        model.predict(X)
    with pytest.raises(ValueError, match="fitted with 1 input"):
        model.simulate(X[0], 5)
    with pytest.raises(ValueError, match="one per step"):
        model.simulate(X[0], 5, U[:4])
    with pytest.raises(ValueError, match="input column"):
        model.predict(X, np.ones((50, 2)))
    with pytest.raises(ValueError, match="feature"):
        model.predict(np.ones((5, 3)), np.ones((5, 1)))


def test_models_without_inputs_refuse_u():
    from koop.estimators import EDMD

    X, U = systems.van_der_pol_control(50, random_state=0)
    model = EDMD().fit(X)
    with pytest.raises(ValueError, match="fitted without inputs"):
        model.predict(X, U)
    with pytest.raises(ValueError, match="fitted without inputs"):
        model.simulate(X[0], 5, u=U[:5])
    with pytest.raises(ValueError, match="models no inputs"):
        EDMD().partial_fit(X, u=U)


@pytest.mark.parametrize("est, bad", [
    (DMDc(), {"rank": 0}), (DMDc(), {"rank": 1.5}), (DMDc(), {"rank": "best"}),
    (DMDc(), {"input_rank": -1}), (DMDc(), {"forgetting_factor": 0.0}),
    (DMDc(), {"forgetting_factor": 1.5}),
    (EDMDc(), {"dictionary": "poly"}), (EDMDc(), {"rank": 0}),
    (EDMDc(), {"regularization": -1.0}), (EDMDc(), {"regularization": np.inf}),
    (EDMDc(), {"backend": "gpu"}), (EDMDc(), {"chunk_size": 0}),
    (EDMDc(), {"rcond": 1.0}), (EDMDc(), {"forgetting_factor": -0.5}),
])
def test_every_declared_constraint_rejects_a_bad_value(est, bad):
    X, U = systems.van_der_pol_control(30, random_state=0)
    with pytest.raises((ValueError, TypeError), match=next(iter(bad))):
        clone(est).set_params(**bad).fit(X, u=U)


@pytest.mark.parametrize("est", [DMDc(rank=2), EDMDc(Polynomial(3), rank=8)],
                         ids=["DMDc", "EDMDc"])
def test_save_load_roundtrip_exact(est, tmp_path):
    X, U = systems.van_der_pol_control(200, random_state=1)
    model = clone(est).fit(X, u=U, dt=0.01)
    path = io.save(model, os.path.join(tmp_path, "m.npz"))
    again = io.load(path)
    for name in ("eigenvalues_", "A_", "B_", "C_", "residuals_", "input_matrix_"):
        np.testing.assert_array_equal(getattr(again, name), getattr(model, name))
    np.testing.assert_array_equal(again.simulate(X[0], 30, U[:30]),
                                  model.simulate(X[0], 30, U[:30]))
    assert again.get_params() == model.get_params() or isinstance(est, EDMDc)


def test_xarray_dataset_with_input_variable():
    import xarray as xr

    X, U = systems.van_der_pol_control(120, random_state=2)
    t = 0.01 * np.arange(120)
    ds = xr.Dataset({"x1": ("time", X[:, 0]), "x2": ("time", X[:, 1]),
                     "u": ("time", np.append(U[:, 0], 0.0))}, coords={"time": t})
    model = EDMDc(Polynomial(2)).fit(ds, u="u")
    ref = EDMDc(Polynomial(2)).fit(X, u=U)
    np.testing.assert_allclose(model.A_, ref.A_, atol=1e-10)
    assert model.dt_ == pytest.approx(0.01)
    assert list(model.feature_names_in_) == ["x1", "x2"]


GOOD = systems.van_der_pol_control(40, random_state=0)[0]
HOSTILE = {
    "nan": (lambda: np.where(np.arange(80).reshape(40, 2) == 7, np.nan, GOOD), ValueError,
            "NaN"),
    "inf": (lambda: np.where(np.arange(80).reshape(40, 2) == 7, np.inf, GOOD), ValueError,
            "NaN or infinite"),
    "3-D": (lambda: np.zeros((40, 2, 2)), ValueError, "2-D"),
    "zero features": (lambda: np.zeros((40, 0)), ValueError, "0 feature"),
    "strings": (lambda: np.array([["a", "b"]] * 40), TypeError, "numbers"),
    "complex": (lambda: GOOD + 1j, TypeError, "complex"),
    "None": (lambda: None, TypeError, "None"),
    "one sample": (lambda: GOOD[:1], ValueError, "pair|rows"),
}


@pytest.mark.parametrize("est", [DMDc(), EDMDc(Polynomial(2))], ids=["DMDc", "EDMDc"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_states_are_refused_with_inputs_given(est, case):
    factory, exc, match = HOSTILE[case]
    with pytest.raises(exc, match=match):
        clone(est).fit(factory(), u=np.zeros(39))
