"""koop.data: the one validation boundary."""

import numpy as np
import pytest
import xarray as xr

from koop.data import as_trajectories, check_array, check_weights


def test_single_trajectory_pairs_are_consecutive_rows():
    X = np.arange(12.0).reshape(6, 2)
    data = as_trajectories(X, dt=0.5)
    Xp, Yp = data.pairs()
    np.testing.assert_array_equal(Xp, X[:-1])
    np.testing.assert_array_equal(Yp, X[1:])
    assert data.dt == 0.5 and data.n_pairs() == 5


def test_pairs_never_cross_trajectory_boundaries():
    a, b = np.arange(4.0)[:, None], 100 + np.arange(3.0)[:, None]
    Xp, Yp = as_trajectories([a, b]).pairs()
    assert Xp.ravel().tolist() == [0, 1, 2, 100, 101]
    assert Yp.ravel().tolist() == [1, 2, 3, 101, 102]
    # with lags the first samples of each trajectory give no pair
    Xp, Yp = as_trajectories([a, b]).pairs(n_lags=1)
    assert Xp.ravel().tolist() == [1, 2, 101]


def test_snapshot_pairs_kept_as_given():
    X, Y = np.ones((4, 2)), 2 * np.ones((4, 2))
    data = as_trajectories(X, Y)
    assert data.is_pairs and data.n_pairs() == 4
    np.testing.assert_array_equal(data.pairs()[1], Y)


def test_xarray_time_coordinate_gives_dt_and_names():
    da = xr.DataArray(np.random.rand(10, 2), dims=("time", "var"),
                      coords={"time": 0.1 * np.arange(10), "var": ["u", "v"]})
    data = as_trajectories(da)
    assert data.dt == pytest.approx(0.1)
    assert data.feature_names == ("u", "v")


def test_xarray_trajectory_dimension_and_dataset():
    da = xr.DataArray(np.random.rand(3, 10, 2), dims=("run", "time", "feature"),
                      coords={"time": np.arange(10) * 0.2})
    data = as_trajectories(da)
    assert data.n_trajectories == 3 and data.n_pairs() == 27 and data.dt == pytest.approx(0.2)
    ds = xr.Dataset({"x": ("time", np.arange(5.0)), "y": ("time", np.arange(5.0) ** 2)},
                    coords={"time": np.arange(5) * 0.5})
    data = as_trajectories(ds)
    assert data.n_features == 2 and data.feature_names == ("x", "y")
    np.testing.assert_array_equal(data.trajectories[0][:, 1], np.arange(5.0) ** 2)


def test_xarray_nonuniform_time_rejected():
    da = xr.DataArray(np.random.rand(4, 1), dims=("time", "f"),
                      coords={"time": [0, 1, 3, 4]})
    with pytest.raises(ValueError, match="uniformly spaced"):
        as_trajectories(da)


def test_dt_disagreement_rejected():
    da = xr.DataArray(np.random.rand(4, 1), dims=("time", "f"), coords={"time": [0, 1, 2, 3]})
    with pytest.raises(ValueError, match="disagrees"):
        as_trajectories(da, dt=0.5)


def test_check_array_keeps_float32_and_converts_ints():
    assert check_array(np.ones((2, 2), np.float32)).dtype == np.float32
    assert check_array(np.ones((2, 2), int)).dtype == np.float64


def test_weights_validation():
    assert check_weights(None, 3) is None
    np.testing.assert_array_equal(check_weights([1, 2, 3], 3), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="3 snapshot pairs"):
        check_weights([1, 2], 3)
    with pytest.raises(ValueError, match="non-negative"):
        check_weights([1, -2, 3], 3)


def test_nested_lists_are_one_array_list_of_arrays_several_trajectories():
    X = np.arange(12.0).reshape(6, 2)
    data = as_trajectories(X.tolist())
    assert data.n_trajectories == 1 and data.n_features == 2
    data = as_trajectories([np.arange(5.0), np.arange(4.0)])
    assert data.n_trajectories == 2 and data.n_features == 1
