"""DMD on fields (n_features >> n_samples): TSQR path against a plain-numpy SVD reference,
complex snapshots, out-of-core sources, the noise-robust variants and bad input."""

import numpy as np
import pytest

from koop import io
from koop._spectral.tsqr import SnapshotSource, r_factor, right_products
from koop.dictionaries import POD
from koop.estimators import DMD
from koop.validation import residuals

OMEGAS = np.array([2.3, 2.8, 4.1])
GROWTH = np.array([0.0, -0.05, 0.02])


def synthetic_field(d=20_000, m=120, dt=0.05, noise=1e-6, seed=0):
    """Three oscillations on a 1-D grid (the field of benchmarks/fields.py)."""
    x = np.linspace(-10, 10, d)
    t = np.arange(m) * dt
    F = np.zeros((m, d))
    for k, (w, g) in enumerate(zip(OMEGAS, GROWTH, strict=True)):
        phi1 = np.exp(-((x - 3 * k + 3) ** 2) / 4)
        phi2 = np.tanh(x - k) / np.cosh(x)
        F += np.exp(g * t)[:, None] * (np.cos(w * t)[:, None] * phi1
                                       + np.sin(w * t)[:, None] * phi2)
    F += noise * np.random.default_rng(seed).standard_normal(F.shape)
    true = np.concatenate([GROWTH + 1j * OMEGAS, GROWTH - 1j * OMEGAS])
    return F, true


def reference_dmd(X, Y, r):
    """Textbook exact DMD (Tu et al. 2014) with numpy's SVD of the d x N matrix."""
    U, s, Vh = np.linalg.svd(X.T, full_matrices=False)
    U, s, V = U[:, :r], s[:r], Vh[:r].conj().T
    Atilde = U.conj().T @ Y.T @ V / s
    lam, W = np.linalg.eig(Atilde)
    modes = Y.T @ V / s @ W / lam
    return lam, modes


def match(found, expected):
    found, expected = np.asarray(found), np.asarray(expected)
    return max(np.abs(found - expected).min() for expected in expected)


def test_tsqr_factor_equals_gram_and_streams_any_block_size():
    rng = np.random.default_rng(0)
    S = rng.normal(size=(7, 500)) + 1j * rng.normal(size=(7, 500))
    for block in (8 * 16, 16 * 7 * 3, 10**9):  # one column, a few, everything at once
        R = r_factor(SnapshotSource([S[:3], S[3:]], block_bytes=block))
        np.testing.assert_allclose(R.conj().T @ R, S.conj() @ S.T, atol=1e-10)
        assert np.allclose(np.tril(R, -1), 0)
    C = rng.normal(size=(7, 2))
    np.testing.assert_allclose(right_products(SnapshotSource([S], 100), C), S.T @ C)


def test_tsqr_keeps_small_singular_values_that_the_gram_loses():
    # singular values 1 .. 1e-12: the Gram S S^T squares them below machine precision
    rng = np.random.default_rng(1)
    n, d = 6, 4000
    s = np.logspace(0, -12, n)
    U = np.linalg.qr(rng.normal(size=(n, n)))[0]
    V = np.linalg.qr(rng.normal(size=(d, n)))[0]
    S = (U * s) @ V.T
    R = r_factor(SnapshotSource([S], block_bytes=8 * n * 500))
    found = np.linalg.svd(R, compute_uv=False)
    np.testing.assert_allclose(found, s, rtol=1e-3)
    gram = np.sqrt(np.abs(np.linalg.eigvalsh(S @ S.T)))[::-1]
    assert abs(gram[-1] - s[-1]) / s[-1] > 1.0  # the squared route has no digit left


def test_field_dmd_equals_plain_svd_reference():
    F, true = synthetic_field()
    model = DMD(rank=6, block_bytes=2**20).fit(F, dt=0.05)  # ~40 feature blocks
    lam_ref, modes_ref = reference_dmd(F[:-1], F[1:], 6)
    assert match(model.eigenvalues_, lam_ref) < 1e-10
    assert match(model.continuous_eigenvalues_, true) < 1e-5
    for j, lam in enumerate(model.eigenvalues_):
        k = np.argmin(np.abs(lam_ref - lam))
        a, b = model.modes_[:, j], modes_ref[:, k]
        np.testing.assert_allclose(a, b * (np.vdot(b, a) / np.vdot(b, b)), atol=1e-8 *
                                   np.linalg.norm(b))
    assert model.gram_.G.shape == (6, 6) and model.gram_.C.shape == (6, 6)  # POD coordinates
    np.testing.assert_allclose(np.sort(np.abs(2 * np.pi * model.frequencies_)),
                               np.sort(np.abs(true.imag)), atol=1e-5)
    np.testing.assert_allclose(model.reconstruct(F.shape[0]), F, atol=1e-4)
    np.testing.assert_allclose(model.predict(F[:5]), F[1:6], atol=1e-4)
    # the Koopman matrix lives on the POD coordinates (r x r), never d x d
    K = model.koopman_matrix_
    assert K.shape == (6, 6)
    np.testing.assert_allclose(K, np.linalg.solve(model.gram_.G, model.gram_.A), atol=1e-9)


def test_one_block_and_many_blocks_agree_and_pairs_equal_trajectories():
    F, _ = synthetic_field(d=3000, m=60)
    one = DMD(rank=6).fit(F)
    many = DMD(rank=6, block_bytes=8 * 60 * 37).fit(F)
    pairs = DMD(rank=6).fit(F[:-1], F[1:])
    for other in (many, pairs):
        np.testing.assert_allclose(other.eigenvalues_, one.eigenvalues_, atol=1e-11)


def test_residuals_in_pod_coordinates():
    F, _ = synthetic_field(d=5000, m=80, noise=0.0)
    model = DMD(rank=6).fit(F)
    assert residuals(model).max() < 1e-5  # Gram form, r x r: half the digits
    X = np.random.default_rng(3).normal(size=(40, 5000))
    assert residuals(model, X[:-1], X[1:]).min() > 0.1  # noise is no eigenfunction


def test_complex_snapshots_end_to_end(tmp_path):
    rng = np.random.default_rng(4)
    d, m = 2000, 40
    lam = np.exp(np.array([0.3j, -0.05 + 1.1j, -0.1 - 0.7j]))
    modes = rng.normal(size=(3, d)) + 1j * rng.normal(size=(3, d))
    F = (lam[None, :] ** np.arange(m)[:, None]) @ modes
    model = DMD().fit(F, dt=1.0)
    assert model.rank_ == 3  # no conjugate partners: complex data stay complex
    assert match(model.eigenvalues_, lam) < 1e-12
    np.testing.assert_allclose(model.predict(F[:3]), F[1:4], atol=1e-9)
    assert model.modes_.dtype == np.complex128 and model.state_map_.dtype == np.complex128
    again = io.load(io.save(model, tmp_path / "c.npz"))
    assert np.array_equal(again.eigenvalues_, model.eigenvalues_)
    assert np.array_equal(again.predict(F[:3]), model.predict(F[:3]))


def test_dask_and_zarr_sources_equal_numpy(tmp_path):
    da = pytest.importorskip("dask.array")
    zarr = pytest.importorskip("zarr")
    F, _ = synthetic_field(d=6000, m=50)
    z = zarr.open_array(str(tmp_path / "f.zarr"), mode="w", shape=F.shape, chunks=(50, 1000),
                        dtype="f8")
    z[:] = F
    lazy = da.from_zarr(str(tmp_path / "f.zarr"))
    ref = DMD(rank=6).fit(F)
    got = DMD(rank=6, block_bytes=8 * 50 * 2000).fit(lazy)
    np.testing.assert_allclose(got.eigenvalues_, ref.eigenvalues_, atol=1e-12)
    np.testing.assert_allclose(np.abs(got.modes_), np.abs(ref.modes_), atol=1e-10)
    # slabs follow the zarr chunks: 2 chunks of 1000 features per block
    src = SnapshotSource([lazy], block_bytes=8 * 50 * 2000)
    assert [s.stop - s.start for s in src.slabs()] == [2000, 2000, 2000]
    out = zarr.open_array(str(tmp_path / "modes.zarr"), mode="w", shape=(6000, 6),
                          chunks=(1000, 6), dtype="c16")
    got.write_modes(lazy, out)
    np.testing.assert_allclose(out[:], got.modes_, atol=1e-12)


def test_noise_biases_exact_dmd_but_not_fb_or_tls():
    # two oscillators (growth 0 and -0.2) in 60 dimensions, noise 0.1 per value
    dt, t = 0.1, np.arange(300) * 0.1
    rng = np.random.default_rng(0)
    lift = np.linalg.qr(rng.normal(size=(60, 4)))[0]
    Z = np.column_stack([np.cos(2 * t), np.sin(2 * t), 3 * np.exp(-0.2 * t) * np.cos(5 * t),
                         3 * np.exp(-0.2 * t) * np.sin(5 * t)])
    X = Z @ lift.T + 0.1 * np.random.default_rng(1).normal(size=(300, 60))
    truth = np.array([0.0, -0.2])

    def growth(method):
        ce = DMD(rank=4, method=method).fit(X, dt=dt).continuous_eigenvalues_
        upper = ce[ce.imag > 0]
        return upper[np.argsort(upper.imag)].real

    exact = growth("exact")
    assert (exact - truth).max() < -0.15  # spurious damping of both modes
    for method in ("fb", "tls"):
        np.testing.assert_allclose(growth(method), truth, atol=0.03)


def test_pod_dictionary_matches_numpy_svd():
    F, _ = synthetic_field(d=4000, m=30)
    pod = POD(rank=4, block_bytes=8 * 30 * 300).fit(F)
    U = np.linalg.svd(F.T, full_matrices=False)[0][:, :4]
    np.testing.assert_allclose(np.abs(U.T @ pod.components_), np.eye(4), atol=1e-8)


@pytest.mark.parametrize("bad, exc, msg", [
    ({"rank": 0}, ValueError, "rank"),
    ({"rank": 1.5}, ValueError, "rank"),
    ({"rank": "best"}, ValueError, "rank"),
    ({"method": "robust"}, ValueError, "method"),
    ({"block_bytes": 0}, ValueError, "block_bytes"),
])
def test_every_declared_constraint_rejects(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        DMD(**bad).fit(np.random.default_rng(0).normal(size=(10, 3)))


def test_rank_beyond_the_snapshots_and_nan_are_clear_errors():
    F, _ = synthetic_field(d=500, m=10)
    with pytest.raises(ValueError, match="exceeds min"):
        DMD(rank=12).fit(F)
    F[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DMD(rank=2).fit(F)


def pydmd_input_sample():
    """PyDMD's tests/test_datasets/input_sample.npy (400 x 15, complex), regenerated: it
    equals the stored file to 4.5e-16 (checked once against PyDMD's repository)."""
    x = np.linspace(-10, 10, 400)
    t = np.linspace(0, 4 * np.pi, 15)
    X, T = np.meshgrid(x, t)
    return (1 / np.cosh(X + 3) * np.exp(2.3j * T)
            + 2 / np.cosh(X) * np.tanh(X) * np.exp(2.8j * T))  # snapshots in rows


def test_pydmd_test_data_gives_pydmd_eigenvalues():
    F = pydmd_input_sample()
    model = DMD(rank=2).fit(F)
    # PyDMD's tests/test_dmd.py::test_eigs_3 (quoted to 9 digits there)
    pydmd = np.array([-8.09016994e-01 + 5.87785252e-01j, -4.73868662e-01 + 8.80595532e-01j])
    assert match(model.eigenvalues_, pydmd) < 1e-8
    dt = 4 * np.pi / 14
    assert match(model.eigenvalues_, np.exp(1j * np.array([2.3, 2.8]) * dt)) < 1e-12
    assert DMD().fit(F).rank_ == 2  # complex data: no conjugate partners


def test_fb_and_tls_on_pydmd_fbdmd_system_are_exact_without_noise():
    A = np.array([[1.0, 1.0], [-1.0, 2.0]]) / np.sqrt(3)
    X = np.zeros((100, 2))
    X[0] = [0.5, 1.0]
    for k in range(1, 100):
        X[k] = A @ X[k - 1]
    for method in ("exact", "fb", "tls"):
        lam = DMD(method=method).fit(X).eigenvalues_
        assert match(lam, np.linalg.eigvals(A)) < 1e-10, method
