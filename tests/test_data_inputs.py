"""koop.data: control inputs enter through the same boundary as the states."""

import numpy as np
import pytest
import xarray as xr

from koop.data import as_controlled_trajectories, check_inputs


def test_per_transition_and_per_sample_inputs_give_the_same_pairs():
    X = np.arange(10.0).reshape(5, 2)
    u = np.array([[1.0], [2.0], [3.0], [4.0]])
    a = as_controlled_trajectories(X, u=u)
    b = as_controlled_trajectories(X, u=np.vstack([u, [[99.0]]]))
    np.testing.assert_array_equal(a.input_pairs(), u)
    np.testing.assert_array_equal(b.input_pairs(), u)
    assert a.per_transition and not b.per_transition
    # the augmented rows hold [x_k, u_k]
    np.testing.assert_array_equal(a.augmented().trajectories[0][:4], np.hstack([X[:4], u]))


def test_list_of_trajectories_with_one_input_block_each():
    X = [np.zeros((4, 2)), np.ones((3, 2))]
    u = [np.arange(3.0), np.arange(2.0) + 10]
    cd = as_controlled_trajectories(X, u=u)
    assert cd.n_inputs == 1 and cd.data.n_pairs() == 5
    assert cd.input_pairs().ravel().tolist() == [0.0, 1.0, 2.0, 10.0, 11.0]
    # with lags the first input of each trajectory drives no counted pair
    assert cd.input_pairs(n_lags=1).ravel().tolist() == [1.0, 2.0, 11.0]


def test_snapshot_pairs_need_one_input_per_pair():
    X, Y = np.zeros((4, 2)), np.ones((4, 2))
    cd = as_controlled_trajectories(X, Y, u=np.arange(8.0).reshape(4, 2))
    assert cd.n_inputs == 2 and cd.data.is_pairs
    np.testing.assert_array_equal(cd.augmented().successors[0][:, 2:], cd.inputs[0])
    with pytest.raises(ValueError, match="one input row per pair"):
        as_controlled_trajectories(X, Y, u=np.arange(3.0))


def test_xarray_dataset_variables_name_the_inputs():
    t = 0.1 * np.arange(6)
    ds = xr.Dataset({"x": ("time", np.sin(t)), "v": ("time", np.cos(t)),
                     "force": ("time", t)}, coords={"time": t})
    cd = as_controlled_trajectories(ds, u="force")
    assert cd.data.n_features == 2 and cd.data.feature_names == ("x", "v")
    assert cd.input_names == ("force",) and cd.data.dt == pytest.approx(0.1)
    np.testing.assert_array_equal(cd.inputs[0].ravel(), t)
    # the same inputs as a separate DataArray
    cd2 = as_controlled_trajectories(ds[["x", "v"]], u=ds["force"])
    np.testing.assert_array_equal(cd2.inputs[0], cd.inputs[0])


@pytest.mark.parametrize("u, exc, match", [
    (None, ValueError, "u is None"),
    (np.ones(3), ValueError, "pass 4 rows"),
    (np.ones(6), ValueError, "pass 4 rows"),
    (np.array([0.0, np.nan, 0.0, 0.0]), ValueError, "NaN"),
    (np.ones(4) + 1j, TypeError, "complex"),
    (np.array(["a"] * 4), TypeError, "numbers"),
    ([np.ones(4), np.ones(4)], ValueError, "2 block"),
])
def test_bad_inputs_are_refused_with_a_clear_message(u, exc, match):
    with pytest.raises(exc, match=match):
        as_controlled_trajectories(np.zeros((5, 2)), u=u)


def test_input_names_need_a_dataset_that_has_them():
    with pytest.raises(TypeError, match="Dataset"):
        as_controlled_trajectories(np.zeros((5, 2)), u="force")
    ds = xr.Dataset({"x": ("time", np.zeros(5))})
    with pytest.raises(ValueError, match="not data variables"):
        as_controlled_trajectories(ds, u="force")
    with pytest.raises(ValueError, match="no state variables"):
        as_controlled_trajectories(ds, u="x")


def test_inputs_of_several_trajectories_must_agree_in_width():
    with pytest.raises(ValueError, match="share their number of inputs"):
        as_controlled_trajectories([np.zeros((3, 1)), np.zeros((3, 1))],
                                   u=[np.zeros((2, 1)), np.zeros((2, 2))])


def test_check_inputs_for_predictions():
    assert check_inputs([1.0, 2.0], 2, 1).shape == (2, 1)
    assert check_inputs([1.0, 2.0], 1, 2).shape == (1, 2)
    with pytest.raises(ValueError, match="fitted with 1 input"):
        check_inputs(None, 3, 1)
    with pytest.raises(ValueError, match="one per row"):
        check_inputs(np.ones(2), 3, 1)
    with pytest.raises(ValueError, match="2 input column"):
        check_inputs(np.ones((3, 2)), 3, 1)
