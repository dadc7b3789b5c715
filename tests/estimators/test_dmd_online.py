"""DMD.partial_fit and merge: equal to one fit on all the data (trajectory boundaries
included), for few features and for fields (d >> N), complex data, save/load, and the
clear error after fit on a field."""

import itertools

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koop import io
from koop.estimators import DMD

PROPERTY = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
DT = 0.1


def small_system(n=150, noise=0.02, seed=0):
    """A noisy 4-D linear system (two damped rotations): few features."""
    rng = np.random.default_rng(seed)
    blocks = [0.97 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
              for a in (0.3, 0.8)]
    A = np.zeros((4, 4))
    A[:2, :2], A[2:, 2:] = blocks
    V = rng.normal(size=(4, 4))
    A = V @ A @ np.linalg.inv(V)
    X = np.empty((n, 4))
    X[0] = rng.normal(size=4)
    for k in range(1, n):
        X[k] = A @ X[k - 1]
    return X + noise * rng.normal(size=X.shape)


def field(n=120, nx=40, ny=50):
    """Three oscillations (2.3, 2.8, 4.1 rad per unit time) on a 40 x 50 grid: d = 2000."""
    t = DT * np.arange(n)
    y, x = np.linspace(0, 1, ny), np.linspace(0, 2, nx)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    F = np.zeros((n, ny, nx))
    for k, (w, g) in enumerate([(2.3, 0.0), (2.8, -0.05), (4.1, 0.02)]):
        a = np.sin((k + 1) * np.pi * xx / 2) * np.cos((k + 1) * np.pi * yy)
        b = np.cos((k + 2) * np.pi * xx / 2) * yy ** (k + 1)
        F += np.exp(g * t)[:, None, None] * (np.cos(w * t)[:, None, None] * a
                                             + np.sin(w * t)[:, None, None] * b)
    F[:, :4, :5] = np.nan  # a masked corner
    return xr.DataArray(F, dims=("time", "y", "x"), coords={"time": t, "y": y, "x": x})


def _match(online, full):
    """Index of online's eigenvalue nearest to each of full's."""
    return np.array([np.argmin(np.abs(online.eigenvalues_ - z)) for z in full.eigenvalues_])


def agree(online, full, tol):
    """Same pairs count, eigenvalues, modes up to a phase each, reconstruction, predictions
    (relative to the largest value, ``tol``)."""
    assert online.n_samples_seen_ == full.n_samples_seen_
    assert online.rank_ == full.rank_
    np.testing.assert_allclose(online.singular_values_[:full.rank_],
                               full.singular_values_[:full.rank_], rtol=tol)
    j = _match(online, full)
    assert sorted(j) == list(range(full.rank_))
    np.testing.assert_allclose(online.eigenvalues_[j], full.eigenvalues_, rtol=0, atol=tol)
    a, b = online.modes_[:, j], full.modes_
    cos = np.abs(np.sum(a.conj() * b, axis=0)) / (np.linalg.norm(a, axis=0)
                                                   * np.linalg.norm(b, axis=0))
    np.testing.assert_allclose(cos, 1, atol=tol)  # the same vector up to a phase
    scale = np.abs(full.reconstruct(20)).max()
    assert np.abs(online.reconstruct(20) - full.reconstruct(20)).max() < tol * scale


@PROPERTY
@given(cuts=st.lists(st.integers(8, 149), min_size=1, max_size=6, unique=True),
       method=st.sampled_from(["exact", "fb", "tls"]))
def test_partial_fits_equal_one_fit_few_features(cuts, method):
    X = small_system()
    edges = [0, *sorted(cuts), X.shape[0]]
    online = DMD(rank=4, method=method)
    for a, b in itertools.pairwise(edges):  # batches of any length, 1 sample included
        online.partial_fit(X[a:b], dt=DT)
    full = DMD(rank=4, method=method).fit(X, dt=DT)
    agree(online, full, 1e-10)
    # the statistic: R*R of the pair rows [x_k, x_{k+1}], equal to the fit's
    Ra, Rb = online.statistics_.R, full.statistics_.R
    np.testing.assert_allclose(Ra.T @ Ra, Rb.T @ Rb, rtol=0, atol=1e-10 * np.abs(Rb).max()**2)
    np.testing.assert_allclose(online.predict(X[:30]), full.predict(X[:30]), rtol=0,
                               atol=1e-10 * np.abs(X).max())


def test_one_sample_batches_pair_with_the_previous_batch():
    X = small_system(60)
    online = DMD(rank=4).partial_fit(X[:10])
    for k in range(10, 60):  # sample by sample: every pair crosses a boundary
        online.partial_fit(X[k : k + 1])
    agree(online, DMD(rank=4).fit(X), 1e-10)
    assert online.n_samples_seen_ == 59


def test_lists_pairs_fit_then_partial_fit_and_merge_are_separate_trajectories():
    X = small_system(150)
    ref = DMD(rank=4).fit([X[:70], X[70:]])  # 148 pairs: none across the cut
    agree(DMD(rank=4).partial_fit([X[:70]]).partial_fit([X[70:]]), ref, 1e-10)
    agree(DMD(rank=4).fit(X[:70]).partial_fit(X[70:]), ref, 1e-10)
    agree(DMD(rank=4).fit(X[:70]).merge(DMD(rank=4).fit(X[70:])), ref, 1e-10)
    pairs = DMD(rank=4).partial_fit(X[:70][:-1], X[:70][1:]).partial_fit(X[70:])
    agree(pairs, ref, 1e-10)


def test_field_partial_fits_equal_one_fit_and_keep_the_grid():
    da = field()
    full = DMD(rank=6).fit(da)
    online = DMD(rank=6)
    for a, b in [(0, 40), (40, 41), (41, 90), (90, 120)]:
        online.partial_fit(da.isel(time=slice(a, b)))
    agree(online, full, 1e-9)
    truth = np.exp(DT * np.array([2.3j, -0.05 + 2.8j, 0.02 + 4.1j]))
    for z in truth:
        assert np.abs(online.eigenvalues_ - z).min() < 1e-9
    # memory O(N d): the factor has at most N rows of 2d values
    R = online.statistics_.R
    assert R.shape == (119, 2 * da.isel(time=0).notnull().sum().item())
    # modes on the grid, mask restored; a batch on another mask is refused
    assert online.field_.dims == ("y", "x")
    from koop._fields import modes_dataarray

    modes = modes_dataarray(online)
    assert modes.shape == (6, 50, 40) and np.isnan(modes.isel(y=0, x=0)).all()
    other = da.isel(time=slice(0, 5)).copy()
    other[:, 10, 10] = np.nan
    with pytest.raises(ValueError, match=r"feature|mask"):
        online.partial_fit(other)


def test_fit_on_a_field_then_partial_fit_names_the_alternative():
    da = field(n=60)
    model = DMD(rank=6).fit(da.isel(time=slice(0, 40)))
    with pytest.raises(ValueError, match=r"Start the stream with partial_fit"):
        model.partial_fit(da.isel(time=slice(40, 60)))
    with pytest.raises(ValueError, match="write_modes needs"):
        DMD(rank=6).partial_fit(da).write_modes(da, np.zeros((1, 6), complex))


def test_complex_snapshots_and_a_saved_model_keeps_learning(tmp_path):
    x = np.linspace(0, 2 * np.pi, 300, endpoint=False)
    t = DT * np.arange(80)
    F = (np.exp(1j * (3 * x[None] - 2.3 * t[:, None]))
         + 0.5 * np.exp(1j * (5 * x[None] + 4.1 * t[:, None])) * np.cos(x)[None])
    online = DMD(rank=2).partial_fit(F[:30], dt=DT)
    back = io.load(io.save(online, tmp_path / "m.npz"))
    back.partial_fit(F[30:])
    full = DMD(rank=2).fit(F, dt=DT)
    agree(back, full, 1e-10)
    np.testing.assert_allclose(np.sort(back.frequencies_ * 2 * np.pi), [-2.3, 4.1],
                               atol=1e-9)


def test_forgetting_weights_old_pairs_exponentially():
    X = small_system(100)
    rho = 0.98
    forget = DMD(rank=4, forgetting_factor=rho).partial_fit(X[:50]).partial_fit(X[50:])
    # the same pairs weighted rho^(N-1-m) by hand: rows scaled by sqrt(w)
    w = rho ** np.arange(98, -1, -1.0)
    Xw, Yw = X[:-1] * np.sqrt(w)[:, None], X[1:] * np.sqrt(w)[:, None]
    ref = DMD(rank=4).fit(Xw, Yw)
    np.testing.assert_allclose(np.sort_complex(forget.eigenvalues_),
                               np.sort_complex(ref.eigenvalues_), atol=1e-10)


@pytest.mark.parametrize("k, n, b, dtype", [(3, 8, 2, float), (3, 8, 9, float), (1, 10, 1, float),
                                            (7, 40, 1, complex), (4, 6, 5, complex),
                                            (5, 5, 3, float), (0, 6, 2, float)])
def test_stacking_a_wide_triangular_factor_equals_refactoring_the_stack(k, n, b, dtype):
    from koop._spectral.factor import householder_r
    from koop.estimators._rsums import stack_r

    rng = np.random.default_rng(k + n + b)

    def draw(m):
        Z = rng.normal(size=(m, n))
        return Z + 1j * rng.normal(size=(m, n)) if dtype is complex else Z

    R0, B = draw(k), draw(b)
    R = householder_r(R0.copy(), square=False)
    R_in, B_in = R.copy(), B.copy()
    S = stack_r(R, B)
    # the sums it stands for (plain numpy), upper trapezoidal, economy size, inputs intact
    np.testing.assert_allclose(S.conj().T @ S, R0.conj().T @ R0 + B.conj().T @ B,
                               rtol=0, atol=1e-13 * n)
    assert np.array_equal(S, np.triu(S)) and S.shape == (min(k + b, n), n)
    assert np.array_equal(R, R_in) and np.array_equal(B, B_in)


def test_a_field_beyond_10000_points_streams_its_snapshots_factored(tmp_path):
    from koop.estimators._dmd import SnapshotStream

    da = field(n=100, nx=120, ny=100)  # 11 980 valid points: the SnapshotStream path
    full = DMD(rank=6).fit(da)
    online = DMD(rank=6)
    for a, b in [(0, 30), (30, 31), (31, 70)]:
        online.partial_fit(da.isel(time=slice(a, b)))
    online = io.load(io.save(online, tmp_path / "f.npz"))  # keeps learning after load
    online.partial_fit(da.isel(time=slice(70, 100)))
    agree(online, full, 1e-9)
    stats = online.statistics_
    assert isinstance(stats, SnapshotStream)
    # memory O(N d): Q (d x k) with k <= the snapshots given (each continuing batch
    # repeats the previous batch's last snapshot once), orthonormal to rounding
    assert stats.Q.shape[0] == full.n_features_in_ and stats.Q.shape[1] <= 100 + 3
    np.testing.assert_allclose(stats.Q.T @ stats.Q, np.eye(stats.Q.shape[1]), atol=1e-12)
    # shards merge into one fit of both (separate trajectories); forgetting = weights
    S = da.values.reshape(100, -1)
    S = S[:, ~np.isnan(S).any(axis=0)]
    shards = DMD(rank=6).partial_fit([S[:50]]).merge(DMD(rank=6).partial_fit([S[50:]]))
    agree(shards, DMD(rank=6).fit([S[:50], S[50:]]), 1e-9)
    rho = 0.97
    forget = DMD(rank=6, forgetting_factor=rho).partial_fit(da.isel(time=slice(0, 60)))
    forget.partial_fit(da.isel(time=slice(60, 100)))
    w = np.sqrt(rho ** np.arange(98, -1, -1.0))[:, None]
    ref = DMD(rank=6).fit(S[:-1] * w, S[1:] * w)
    np.testing.assert_allclose(np.sort_complex(forget.eigenvalues_),
                               np.sort_complex(ref.eigenvalues_), atol=1e-10)
