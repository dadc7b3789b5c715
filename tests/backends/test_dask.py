"""backend="dask": per-chunk partial sums on the workers, tree-reduced, equal to numba.

Truth: the numba backend on the same data (itself tested against the numpy reference),
to 1e-12 relative (max-abs error over max-abs entry), whatever the chunking.
"""

import sys
import threading

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
xr = pytest.importorskip("xarray")

from koop import systems  # noqa: E402
from koop.dictionaries import RBF, Custom, Identity, Polynomial, TimeDelay  # noqa: E402
from koop.estimators import EDMD  # noqa: E402
from koop.gram import build_gram  # noqa: E402

RTOL = 1e-12


def rel_err(got, ref) -> float:
    return max(
        float(np.abs(getattr(got, k) - getattr(ref, k)).max() / np.abs(getattr(ref, k)).max())
        for k in "GALC"
    )


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def lorenz():
    return systems.lorenz63(900, random_state=0)


DICTIONARIES = {
    "polynomial": lambda: Polynomial(degree=3),
    "delay": lambda: TimeDelay(n_delays=3, stride=2),
    "rbf-thinplate": lambda: RBF(n_centers=15, kernel="thinplate", random_state=0),
    "poly+delay": lambda: Polynomial(degree=2) + TimeDelay(n_delays=2),
    "custom": lambda: Custom(lambda X: np.hstack([np.sin(X), X[:, :1] * X[:, 1:2]])),
}
# regular, tiny chunks (smaller than the lag overlap) and ragged ones
CHUNKINGS = {"regular": 100, "tiny-first": (1, 2, 3, 894), "ragged": (7, 250, 1, 1, 641)}


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("make", DICTIONARIES.values(), ids=DICTIONARIES.keys())
def test_dask_equals_numba_for_any_chunking(client, lorenz, make, chunks):
    dictionary = make().fit(lorenz)
    ref = build_gram(dictionary, lorenz)
    got = build_gram(dictionary, da.from_array(lorenz, chunks=(chunks, 3)), backend="dask")
    assert got.backend == "dask"
    assert got.n_samples == ref.n_samples
    assert got.weights_sum == 1.0
    assert rel_err(got, ref) < RTOL
    np.testing.assert_array_equal(got.G, got.G.T)


def test_random_chunkings_with_strided_delays(client, lorenz):
    # lags = 6: many chunks are shorter than the 7-row overlap a task needs
    dictionary = (Polynomial(degree=2) + TimeDelay(n_delays=2, stride=3)).fit(lorenz)
    ref = build_gram(dictionary, lorenz)
    rng = np.random.default_rng(7)
    for _ in range(4):
        cuts = np.sort(rng.choice(np.arange(1, lorenz.shape[0]), size=40, replace=False))
        chunks = tuple(np.diff(np.concatenate([[0], cuts, [lorenz.shape[0]]])).tolist())
        got = build_gram(dictionary, da.from_array(lorenz, chunks=(chunks, 3)),
                         backend="dask")
        assert got.n_samples == ref.n_samples
        assert rel_err(got, ref) < RTOL


def test_several_trajectories_never_pair_across(client, lorenz):
    # lengths 300, 2 (no pair for the delay dictionary), 4, 594, split into chunks of 50
    parts = [lorenz[:300], lorenz[300:302], lorenz[302:306], lorenz[306:]]
    for dictionary in (Polynomial(degree=2).fit(lorenz), TimeDelay(n_delays=2).fit(lorenz)):
        ref = build_gram(dictionary, parts)
        got = build_gram(dictionary, [da.from_array(p, chunks=(50, 3)) for p in parts],
                         backend="dask")
        assert got.n_samples == ref.n_samples
        assert rel_err(got, ref) < RTOL


def test_zarr_backed_xarray_with_trajectory_dimension(client, tmp_path):
    xs = np.stack([systems.lorenz63(400, random_state=i) for i in range(3)])
    arr = xr.DataArray(xs, dims=("trajectory", "time", "feature"),
                       coords={"time": 0.01 * np.arange(400)})
    store = str(tmp_path / "lorenz.zarr")
    arr.to_dataset(name="x").chunk({"time": 64}).to_zarr(store, consolidated=False)
    lazy = xr.open_zarr(store, consolidated=False)["x"]
    assert isinstance(lazy.data, da.Array)
    dictionary = Polynomial(degree=2).fit(xs.reshape(-1, 3))
    ref = build_gram(dictionary, list(xs))
    got = build_gram(dictionary, lazy, backend="dask")
    assert got.n_samples == 3 * 399
    assert rel_err(got, ref) < RTOL


def test_weights_numpy_or_dask(client, lorenz):
    dictionary = Polynomial(degree=2).fit(lorenz)
    w = np.random.default_rng(0).uniform(size=lorenz.shape[0] - 1)
    ref = build_gram(dictionary, lorenz, weights=w)
    X = da.from_array(lorenz, chunks=(128, 3))
    for weights in (w, da.from_array(w, chunks=77)):
        got = build_gram(dictionary, X, weights=weights, backend="dask")
        assert rel_err(got, ref) < RTOL
        assert got.weights_sum == pytest.approx(w.sum(), rel=1e-13)


def test_bad_lazy_weights_are_rejected(client, lorenz):
    dictionary = Identity().fit(lorenz)
    X = da.from_array(lorenz, chunks=(128, 3))
    w = np.ones(lorenz.shape[0] - 1)
    w[500] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        build_gram(dictionary, X, weights=da.from_array(w, chunks=100), backend="dask")
    w[500] = np.nan
    with pytest.raises(ValueError, match="finite"):
        build_gram(dictionary, X, weights=da.from_array(w, chunks=100), backend="dask")
    with pytest.raises(ValueError, match="snapshot pairs"):
        build_gram(dictionary, X, weights=da.ones(10, chunks=5), backend="dask")


def test_explicit_pairs_with_different_chunks(client, lorenz):
    dictionary = RBF(n_centers=10, random_state=0).fit(lorenz)
    X, Y = lorenz[:-1], lorenz[1:]
    ref = build_gram(dictionary, X, y=Y)
    got = build_gram(dictionary, da.from_array(X, chunks=(100, 3)),
                     y=da.from_array(Y, chunks=(333, 3)), backend="dask")
    assert rel_err(got, ref) < RTOL


def test_complex_dictionary(client, lorenz):
    dictionary = Custom(lambda X: np.exp(1j * X)).fit(lorenz)
    ref = build_gram(dictionary, lorenz)
    got = build_gram(dictionary, da.from_array(lorenz, chunks=(100, 3)), backend="dask")
    assert np.iscomplexobj(got.G)
    assert rel_err(got, ref) < RTOL


_SEEN: list = []


def _psi_recording_worker(X):
    try:
        _SEEN.append(distributed.get_worker().address)
    except ValueError:  # not inside a worker task (fit runs on the client)
        _SEEN.append(None)
    return X**2


def test_work_runs_on_the_active_clients_workers(client, lorenz):
    dictionary = Custom(_psi_recording_worker).fit(lorenz)
    _SEEN.clear()
    build_gram(dictionary, da.from_array(lorenz, chunks=(100, 3)), backend="dask")
    workers = set(client.scheduler_info()["workers"])
    assert _SEEN and set(_SEEN) <= workers


def test_reduction_order_is_fixed(client, lorenz):
    dictionary = RBF(n_centers=20, random_state=1).fit(lorenz)
    X = da.from_array(lorenz, chunks=(37, 3))
    first = build_gram(dictionary, X, backend="dask")
    second = build_gram(dictionary, X, backend="dask")
    for k in "GALC":
        np.testing.assert_array_equal(getattr(first, k), getattr(second, k))


def test_numpy_input_is_split_and_threaded_scheduler_works(lorenz):
    # no Client here: dask's local scheduler; numpy input cut into chunk_size blocks
    assert threading.current_thread() is threading.main_thread()
    dictionary = TimeDelay(n_delays=4).fit(lorenz)
    ref = build_gram(dictionary, lorenz)
    got = build_gram(dictionary, lorenz, chunk_size=3, backend="dask")
    assert rel_err(got, ref) < RTOL


def test_verbose_shows_progress_and_changes_nothing(client, lorenz, capsys):
    dictionary = Polynomial(degree=2).fit(lorenz)
    X = da.from_array(lorenz, chunks=(200, 3))
    quiet = build_gram(dictionary, X, backend="dask")
    loud = build_gram(dictionary, X, backend="dask", verbose=True)
    out = capsys.readouterr()
    assert "100%" in out.out + out.err
    for k in "GALC":
        np.testing.assert_array_equal(getattr(quiet, k), getattr(loud, k))


def test_edmd_dask_backend_on_lazy_xarray(client):
    x = systems.lorenz63(1500, random_state=3)
    lazy = systems.as_xarray(x, dt=0.01).chunk({"time": 200})
    assert isinstance(lazy.data, da.Array)
    model = EDMD(Polynomial(degree=2), backend="dask").fit(lazy)
    ref = EDMD(Polynomial(degree=2)).fit(x, dt=0.01)
    assert model.gram_.backend == "dask"
    assert rel_err(model.gram_, ref.gram_) < RTOL
    np.testing.assert_allclose(model.koopman_matrix_, ref.koopman_matrix_, rtol=0, atol=1e-8)


def test_unknown_chunk_sizes_are_rejected(lorenz):
    X = da.from_array(lorenz, chunks=(100, 3))
    X = X[X[:, 0] > -1e9]  # boolean mask: chunk sizes become unknown (nan)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        build_gram(Identity().fit(lorenz), X, backend="dask")


def test_missing_dask_names_the_extra(monkeypatch, lorenz):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"koop\[dask\]"):
        build_gram(Identity().fit(lorenz), lorenz, backend="dask")
