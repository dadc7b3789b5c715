"""Every EDMD-family estimator on a field through the POD reduction (``reduce=POD(r)``):
against the same estimator fitted on the POD coordinates, the known frequencies, plain
numpy references of Colbrook & Townsend's two-split residuals and of residuals on new
data, complex snapshots, save/load and bad input."""

import warnings

import numpy as np
import pytest
import xarray as xr

from koop import io
from koop.dictionaries import POD, Polynomial, TimeDelay
from koop.estimators import DMD, EDMD, HAVOK, MPEDMD, RRR, HankelDMD, KernelEDMD, ResDMD
from koop.validation import residuals

DT = 0.05
OMEGAS = np.array([2.3, 2.8, 4.1])
GROWTH = np.array([0.0, -0.05, 0.02])


def field(n=120, noise=0.0, growth=GROWTH, seed=0):
    """Three oscillations on a 24 x 36 grid with a masked corner (NaN at every time)."""
    ny, nx = 24, 36
    y, x = np.linspace(0, 1, ny), np.linspace(0, 2, nx)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    t = np.arange(n) * DT
    F = np.zeros((n, ny, nx))
    for k, (w, g) in enumerate(zip(OMEGAS, growth, strict=True)):
        a = np.sin((k + 1) * np.pi * xx / 2) * np.cos((k + 1) * np.pi * yy)
        b = np.cos((k + 2) * np.pi * xx / 2) * yy ** (k + 1)
        F += np.exp(g * t)[:, None, None] * (np.cos(w * t)[:, None, None] * a
                                             + np.sin(w * t)[:, None, None] * b)
    F += noise * np.random.default_rng(seed).standard_normal(F.shape)
    F[:, :3, :4] = np.nan
    da = xr.DataArray(F, dims=("time", "y", "x"), coords={"time": t, "y": y, "x": x})
    true = np.concatenate([growth + 1j * OMEGAS, growth - 1j * OMEGAS])
    return da, true


def rows(da):
    """The snapshot matrix of the valid points (time x points)."""
    S = da.values.reshape(da.sizes["time"], -1)
    return S[:, ~np.isnan(S).any(axis=0)]


def match(found, expected):
    return max(np.abs(np.asarray(found) - e).min() for e in np.asarray(expected))


MAKERS = {
    "EDMD": lambda red: EDMD(reduce=red),
    "ResDMD": lambda red: ResDMD(reduce=red),
    "MPEDMD": lambda red: MPEDMD(reduce=red),
    "KernelEDMD": lambda red: KernelEDMD(kernel="polynomial", degree=1, reduce=red),
    "HankelDMD": lambda red: HankelDMD(n_delays=2, rank=6, reduce=red),
    "HAVOK": lambda red: HAVOK(n_delays=6, rank=5, reduce=red),
    "RRR": lambda red: RRR(rank=6, reduce=red),
}


def _fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rank warnings of the small inner problems
        return est.fit(X, dt=None if hasattr(X, "dims") else DT)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_reduced_fit_is_the_estimator_on_pod_coordinates_lifted_to_the_grid(name):
    da, _ = field()
    est = _fit(MAKERS[name](POD(rank=6)), da)
    S = rows(da)
    U = est.reduction_.components_
    assert U.shape == (S.shape[1], 6) and est.n_features_in_ == S.shape[1]
    # the basis spans the leading left singular vectors (numpy's SVD of the field)
    U_ref = np.linalg.svd(S.T, full_matrices=False)[0][:, :6]
    np.testing.assert_allclose(np.linalg.svd(U.T @ U_ref, compute_uv=False), 1, atol=1e-10)
    # the estimator itself on the coordinates z = U^* x, lifted by U
    inner = _fit(MAKERS[name](None), S @ U.conj())
    np.testing.assert_allclose(est.eigenvalues_, inner.eigenvalues_, atol=1e-10)
    np.testing.assert_allclose(est.modes_, U @ inner.modes_, atol=1e-10 * np.abs(
        inner.modes_).max())
    # modes on the grid, masked corner NaN; predictions of a field come back as a field
    modes = est.to_xarray()["modes"]
    assert modes.dims == ("mode", "y", "x") and modes.sizes["mode"] == est.modes_.shape[1]
    assert np.isnan(modes.values[:, :3, :4]).all() and np.isfinite(modes.values[:, 3:]).all()
    window = da.isel(time=slice(0, 30))
    pred = est.predict(window)
    lags = est.n_lags_
    assert pred.dims == ("time", "y", "x")
    np.testing.assert_allclose(pred["time"].values, window["time"].values[lags:] + DT)
    flat = rows(pred)
    np.testing.assert_allclose(flat, inner.predict(S[:30] @ U.conj()) @ U.T,
                               atol=1e-10 * np.abs(S).max())


@pytest.mark.parametrize("name", ["EDMD", "ResDMD", "HankelDMD", "RRR", "KernelEDMD"])
def test_the_frequencies_of_the_field_are_found(name):
    da, true = field()
    est = _fit(MAKERS[name](POD(rank=6)), da)
    assert match(est.continuous_eigenvalues_, true) < 1e-8
    # the simulated field from its first snapshot follows the data
    sim = est.simulate(da.isel(time=slice(0, est.n_lags_ + 1)), 20)
    assert sim.dims == ("time", "y", "x")
    np.testing.assert_allclose(rows(sim), rows(da.isel(time=slice(est.n_lags_ + 1,
                                                                   est.n_lags_ + 21))),
                               atol=1e-8)


def test_two_split_resdmd_matches_plain_numpy_and_flags_the_noise_modes():
    """Colbrook & Townsend's scheme for high-dimensional ResDMD: the first half of the
    snapshots gives the POD dictionary, the second half G, A, L and the residuals."""
    da, true = field(n=200, noise=0.05, seed=3)
    S = rows(da)
    model = ResDMD(reduce=POD(rank=10), reduce_split=0.5).fit(da)
    # plain numpy: POD of the first 100 snapshots, EDMD and residuals on the other 100
    U = np.linalg.svd(S[:100].T, full_matrices=False)[0][:, :10]
    Z = S[100:] @ U
    Zx, Zy = Z[:-1], Z[1:]
    lam, V = np.linalg.eig(np.linalg.lstsq(Zx, Zy, rcond=None)[0])
    ref = np.linalg.norm(Zy @ V - (Zx @ V) * lam, axis=0) / np.linalg.norm(Zx @ V, axis=0)
    order = [int(np.argmin(np.abs(lam - v))) for v in model.eigenvalues_]
    np.testing.assert_allclose(model.eigenvalues_, lam[order], atol=1e-10)
    np.testing.assert_allclose(model.residuals_, ref[order], atol=1e-10)
    # the six modes of the field are verified, the four noise directions are not
    res = np.sort(model.residuals_)
    assert res[:6].max() < 0.2 and res[6:].min() > 0.5
    real = model.verified(0.2)
    assert len(real) == 6 and match(np.log(real.eigenvalues) / DT, true) < 0.05
    assert model.modes_.shape == (S.shape[1], 10)


@pytest.mark.parametrize("make", [lambda: DMD(rank=6),
                                  lambda: ResDMD(reduce=POD(rank=6))], ids=["DMD", "ResDMD"])
def test_residuals_on_new_field_data_go_through_the_pod_coordinates(make):
    da, _ = field(n=160, noise=0.01, seed=1)
    model = make().fit(da.isel(time=slice(0, 80)))
    later = da.isel(time=slice(80, None))
    factor = model.model_.factor_on(later)
    M = model.dictionary_.n_output_features_
    assert factor.R.shape == (2 * M + 6, 2 * M + 6)  # [Psi_X, Psi_Y, z]: never d columns
    found = residuals(model, later)
    Z = rows(later) @ model.reduction_.components_.conj()
    G = model.eigenvectors_
    Px, Py = Z[:-1] @ G, Z[1:] @ G  # the dictionary is the identity on z
    ref = np.linalg.norm(Py - Px * model.eigenvalues_, axis=0) / np.linalg.norm(Px, axis=0)
    np.testing.assert_allclose(found, ref, rtol=1e-9)
    assert found.max() < 0.1  # the modes are real dynamics of the field


def test_reduced_models_roundtrip_through_save_load(tmp_path):
    da, _ = field(n=100, noise=0.01)
    model = ResDMD(reduce=POD(rank=6), reduce_split=0.4).fit(da)
    back = io.load(io.save(model, tmp_path / "m.npz"))
    for name in ("eigenvalues_", "modes_", "residuals_", "state_map_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(model, name))
    np.testing.assert_array_equal(back.reduction_.components_,
                                  model.reduction_.components_)
    window = da.isel(time=slice(0, 10))
    xr.testing.assert_identical(back.predict(window), model.predict(window))
    xr.testing.assert_identical(back.to_xarray()["modes"], model.to_xarray()["modes"])
    np.testing.assert_array_equal(residuals(back, da), residuals(model, da))


def complex_field(n=60):
    """Two travelling waves exp(i(kx - wt)): complex, no conjugate partners."""
    x = np.linspace(0, 2 * np.pi, 900, endpoint=False)
    t = np.arange(n) * DT
    F = (np.exp(1j * (3 * x[None] - 2.3 * t[:, None]))
         + 0.5 * np.exp(1j * (5 * x[None] + 4.1 * t[:, None])) * np.cos(x)[None])
    return F, np.exp(1j * np.array([-2.3, 4.1]) * DT)


@pytest.mark.parametrize("make", [lambda: EDMD(reduce=POD(rank=2)),
                                  lambda: ResDMD(reduce=POD(rank=2)),
                                  lambda: MPEDMD(reduce=POD(rank=2)),
                                  lambda: HankelDMD(n_delays=1, rank=2, reduce=POD(rank=2))],
                         ids=["EDMD", "ResDMD", "MPEDMD", "HankelDMD"])
def test_complex_fields_in_the_edmd_family(make, tmp_path):
    F, lam = complex_field()
    model = make().fit(F)
    assert model.eigenvalues_.shape == (2,)  # one eigenvalue per wave
    # mpEDMD's unitary fit is exact only for orthogonal eigenfunctions: these are not
    # quite orthogonal on 60 samples
    exact = not isinstance(model, MPEDMD)
    assert match(model.eigenvalues_, lam) < (1e-10 if exact else 1e-6)
    assert np.abs(residuals(model, F)).max() < (1e-10 if exact else 1e-3)
    np.testing.assert_allclose(model.predict(F[:10]), F[1 + model.n_lags_:11],
                               atol=1e-10 if exact else 1e-2)
    back = io.load(io.save(model, tmp_path / "c.npz"))
    np.testing.assert_array_equal(back.modes_, model.modes_)
    ds = model.to_xarray()
    assert np.iscomplexobj(ds["modes"].values)


def pydmd_input_sample():
    """PyDMD's tests/test_datasets/input_sample.npy (see test_dmd_fields.py)."""
    x = np.linspace(-10, 10, 400)
    t = np.linspace(0, 4 * np.pi, 15)
    X, T = np.meshgrid(x, t)
    return (1 / np.cosh(X + 3) * np.exp(2.3j * T)
            + 2 / np.cosh(X) * np.tanh(X) * np.exp(2.8j * T))


@pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")  # delays
@pytest.mark.parametrize("make", [lambda: EDMD(), lambda: EDMD(backend="numpy"),
                                  lambda: EDMD(backend="dask"), lambda: ResDMD(),
                                  lambda: EDMD(TimeDelay(n_delays=1)),
                                  lambda: HankelDMD(n_delays=1)],
                         ids=["EDMD", "EDMD-numpy", "EDMD-dask", "ResDMD", "EDMD-delay",
                              "HankelDMD"])
def test_complex_snapshots_give_pydmds_eigenvalues(make, tmp_path):
    # PyDMD's test_eigs_3 (quoted to 9 digits there); 2 modes in 400 points: reduce first
    F = pydmd_input_sample()
    pydmd = np.array([-8.09016994e-01 + 5.87785252e-01j, -4.73868662e-01 + 8.80595532e-01j])
    model = make().set_params(reduce=POD(rank=2)).fit(F)
    assert match(model.eigenvalues_, pydmd) < 1e-8
    assert match(model.eigenvalues_, np.exp(1j * np.array([2.3, 2.8]) * 4 * np.pi / 14)) \
        < 1e-12
    back = io.load(io.save(model, tmp_path / "p.npz"))
    np.testing.assert_array_equal(back.eigenvalues_, model.eigenvalues_)


def test_complex_states_without_reduction_and_dictionaries_that_refuse_them():
    rng = np.random.default_rng(0)
    lam = np.array([0.9 * np.exp(0.3j), 0.8 * np.exp(-1.1j), 0.7])
    V = np.linalg.qr(rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)))[0]
    A = V @ np.diag(lam) @ np.linalg.inv(V)
    X = np.empty((40, 3), dtype=complex)
    X[0] = rng.normal(size=3) + 1j * rng.normal(size=3)
    for k in range(1, 40):
        X[k] = A @ X[k - 1]
    for model in (EDMD().fit(X), ResDMD().fit(X)):
        assert match(model.eigenvalues_, lam) < 1e-12
        assert residuals(model, X).max() < 1e-12
        np.testing.assert_allclose(model.koopman_matrix_, A.T, atol=1e-12)
    with pytest.raises(TypeError, match=r"Polynomial takes real states.*Identity, TimeDelay"):
        EDMD(Polynomial(degree=2)).fit(X)
    with pytest.raises(TypeError, match="complex"):
        HAVOK(n_delays=3, rank=3).fit(X, dt=0.1)
    with pytest.raises(TypeError, match="torch backend takes real states"):
        EDMD(backend="torch").fit(X)


def test_reduction_bad_input_is_refused_clearly():
    da, _ = field(n=20)
    with pytest.raises(ValueError, match=r"reduce_split=0\.02 cuts a block of 20"):
        ResDMD(reduce=POD(rank=2), reduce_split=0.02).fit(da)
    with pytest.raises(ValueError, match="reduce_split"):
        HankelDMD(n_delays=8, reduce=POD(rank=2), reduce_split=0.7).fit(da)
    wide = np.random.default_rng(0).normal(size=(30, 10_001))
    with pytest.raises(ValueError, match=r"reduce=POD\(rank=20\)"):
        EDMD().fit(wide)
    with pytest.raises(ValueError, match="'reduce' parameter of EDMD"):
        EDMD(reduce=Polynomial(degree=2)).fit(wide)
    model = EDMD(reduce=POD(rank=4)).fit(da)
    with pytest.raises(ValueError, match="spatial dims"):  # a field on another grid
        model.predict(da.isel(x=slice(0, 30)))


def test_vamp_score_of_a_field_model_is_that_of_its_pod_coordinates():
    from koop.validation import vamp_score

    da, _ = field(n=100, noise=0.01)
    train, test = da.isel(time=slice(0, 60)), da.isel(time=slice(60, None))
    model = EDMD(reduce=POD(rank=6)).fit(train)
    U = model.reduction_.components_
    inner = EDMD().fit(rows(train) @ U)
    assert vamp_score(model, test) == pytest.approx(vamp_score(inner, rows(test) @ U),
                                                    rel=1e-12)


@pytest.mark.parametrize("make", [lambda: EDMD(reduce=POD(rank=4)),
                                  lambda: ResDMD(reduce=POD(rank=4)),
                                  lambda: HankelDMD(n_delays=2, reduce=POD(rank=4))],
                         ids=["EDMD", "ResDMD", "HankelDMD"])
def test_online_learning_with_a_reduction_is_refused_naming_the_alternatives(make):
    da, _ = field(n=60)
    with pytest.raises(ValueError, match=r"stream its coordinates pod.transform\(X\)"):
        make().partial_fit(da)
    model = _fit(make(), da.isel(time=slice(0, 40)))
    with pytest.raises(ValueError, match=r"DMD\.partial_fit"):
        model.partial_fit(da.isel(time=slice(40, None)))
    with pytest.raises(ValueError, match="merge does not work with reduce"):
        model.merge(_fit(make(), da.isel(time=slice(40, None))))
