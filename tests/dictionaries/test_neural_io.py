"""koop.io round trips of EDMD-DL and the neural dictionary: weights as arrays, exact."""

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from koop import io, systems  # noqa: E402
from koop.dictionaries.neural import NeuralDictionary  # noqa: E402
from koop.estimators.neural import EDMDDL  # noqa: E402

TINY = dict(n_trainable=3, hidden_layers=(8, 4), n_iterations=2, n_epochs=2, batch_size=32,
            random_state=0)


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def X():
    return systems.slow_manifold(60, mu=0.9, lam=0.5, x0=[1.0, 0.8])


@pytest.fixture(scope="module")
def edmd_dl(X):
    return EDMDDL(activation="elu", **TINY).fit(X, dt=0.1)


@pytest.fixture(scope="module")
def dictionary(X):
    return NeuralDictionary(include_bias=False, **TINY).fit(X)


def assert_identical(back, value, where="model"):
    """Same type and state, bit for bit: arrays, weights, nested estimators, records."""
    assert type(back) is type(value), where
    if isinstance(value, torch.nn.Module):
        assert not back.training, where
        state, state_back = value.state_dict(), back.state_dict()
        assert list(state_back) == list(state), where
        for key, tensor in state.items():
            assert state_back[key].dtype == tensor.dtype, f"{where}[{key}]"
            assert torch.equal(state_back[key], tensor), f"{where}[{key}]"
    elif isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape, where
        assert back.tobytes() == value.tobytes(), where
    elif hasattr(value, "get_params"):
        assert back.get_params() == value.get_params(), where
        fitted = sorted(k for k in vars(value) if k.endswith("_"))
        assert sorted(k for k in vars(back) if k.endswith("_")) == fitted, where
        for name in fitted:
            assert_identical(getattr(back, name), getattr(value, name), f"{where}.{name}")
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            assert_identical(getattr(back, field.name), getattr(value, field.name),
                             f"{where}.{field.name}")
    elif isinstance(value, dict):
        assert list(back) == list(value), where
        for key in value:
            assert_identical(back[key], value[key], f"{where}[{key!r}]")
    else:
        assert back == value, where


def test_edmd_dl_round_trip_is_exact(edmd_dl, X, tmp_path):
    again = io.load(io.save(edmd_dl, tmp_path / "edmd_dl.npz"))
    assert_identical(again, edmd_dl)
    np.testing.assert_array_equal(again.predict(X), edmd_dl.predict(X))
    np.testing.assert_array_equal(again.simulate(X[0], 20), edmd_dl.simulate(X[0], 20))
    np.testing.assert_array_equal(again.eigenfunctions(X), edmd_dl.eigenfunctions(X))
    np.testing.assert_array_equal(again.dictionary_.transform(X),
                                  edmd_dl.dictionary_.transform(X))


def test_neural_dictionary_round_trip_is_exact(dictionary, X, tmp_path):
    path = io.save(dictionary, tmp_path / "psi.npz", compress=True)
    again = io.load(path)
    assert_identical(again, dictionary)
    np.testing.assert_array_equal(again.transform(X), dictionary.transform(X))
    assert list(again.get_feature_names_out()) == list(dictionary.get_feature_names_out())
    stored = io.read_metadata(path)["model"]["state"]["modules"]["items"]["network_"]["items"]
    assert list(stored) == list(dictionary.network_.state_dict())  # 0.weight, 0.bias, ...
    assert {spec["dtype"] for spec in stored.values()} == {"<f8"}


def test_unfitted_neural_models_round_trip(tmp_path):
    for model in (EDMDDL(hidden_layers=(16,), activation="relu"),
                  NeuralDictionary(n_trainable=2, include_state=False)):
        again = io.load(io.save(model, tmp_path / "unfitted.npz"))
        assert type(again) is type(model) and again.get_params() == model.get_params()


def _rewrite_network(path, edit):
    """Apply ``edit(weights, arrays)`` to the stored weights of the saved EDMD-DL model."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("__koop_metadata__").tobytes().decode())
    state = meta["model"]["fitted"]["dictionary_"]["state"]
    edit(state["modules"]["items"]["network_"]["items"], arrays)
    arrays["__koop_metadata__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def _reshape_first_layer(weights, arrays):
    spec = weights["0.weight"]
    arrays[spec["key"]] = arrays[spec["key"]].T.copy()
    spec["shape"] = list(arrays[spec["key"]].shape)


def _drop_output_bias(weights, arrays):
    del arrays[weights.pop("4.bias")["key"]]


@pytest.mark.parametrize("edit, message", [
    (_reshape_first_layer, r"tensor '0.weight' of NeuralDictionary.network_ has shape "
                           r"\(2, 8\).*needs shape \(8, 2\)"),
    (_drop_output_bias, r"NeuralDictionary.network_ do not match .*: missing tensors "
                        r"\['4.bias'\]"),
], ids=["tensor-reshaped", "tensor-deleted"])
def test_corrupt_network_weights_raise_a_clear_error(edmd_dl, tmp_path, edit, message):
    path = _rewrite_network(io.save(edmd_dl, tmp_path / "edmd_dl.npz"), edit)
    with pytest.raises(ValueError, match=r"not a readable koop model file: .*" + message):
        io.load(path)
