"""koop.io round trips of the RNN reconstructions: weights as arrays, the network rebuilt."""

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from koop import io  # noqa: E402
from koop.estimators import EDMD  # noqa: E402
from koop.rnn import ALRNN, ShallowPLRNN  # noqa: E402

TINY = dict(n_epochs=2, batches_per_epoch=2, sequence_length=20, random_state=0)
MODELS = {
    "shplrnn": lambda: ShallowPLRNN(n_hidden=6, **TINY),
    # M > N: the initial-state map L is a parameter too; the plain (unclipped) cell
    "shplrnn-latent-plain": lambda: ShallowPLRNN(n_latent=3, n_hidden=5, clipped=False, **TINY),
    "alrnn": lambda: ALRNN(n_latent=4, n_pwl=1, n_subregion_steps=50, **TINY),
}


@pytest.fixture(scope="module")
def X():
    t = np.arange(200) * 0.1
    return np.column_stack([np.sin(t), np.cos(t)])


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request, X):
    return MODELS[request.param]().fit(X, dt=0.1)


def assert_same_torch_model(again, model):
    """Same class, parameters, fitted attributes and weights, all bit for bit."""
    assert type(again) is type(model)
    assert again.get_params() == model.get_params()
    fitted = sorted(k for k in vars(model) if k.endswith("_") and not k.startswith("_"))
    assert sorted(k for k in vars(again) if k.endswith("_") and not k.startswith("_")) == fitted
    for name in fitted:
        value, back = getattr(model, name), getattr(again, name)
        if isinstance(value, torch.nn.Module):
            assert type(back) is type(value) and not back.training
            state, state_back = value.state_dict(), back.state_dict()
            assert list(state_back) == list(state)
            for key, tensor in state.items():
                assert state_back[key].dtype == tensor.dtype, key
                assert torch.equal(state_back[key], tensor), key
        elif isinstance(value, np.ndarray):
            assert back.dtype == value.dtype and back.tobytes() == value.tobytes(), name
        else:
            assert type(back) is type(value) and back == value, name


def test_rnn_round_trip_is_exact(fitted, X, tmp_path):
    again = io.load(io.save(fitted, tmp_path / "rnn.npz"))
    assert_same_torch_model(again, fitted)
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    np.testing.assert_array_equal(again.simulate(X[0], 30), fitted.simulate(X[0], 30))
    np.testing.assert_array_equal(again.latent_trajectory(X[0], 30),
                                  fitted.latent_trajectory(X[0], 30))
    if isinstance(fitted, ALRNN):
        np.testing.assert_array_equal(again.symbolic_code(X), fitted.symbolic_code(X))
        assert again.subregion_counts_ == fitted.subregion_counts_


def test_weights_are_stored_as_arrays_with_their_dtype(fitted, tmp_path):
    path = io.save(fitted, tmp_path / "rnn.npz")
    entry = io.read_metadata(path)["model"]["state"]["modules"]["items"]["model_"]
    stored = entry["items"]
    assert list(stored) == list(fitted.model_.state_dict())
    assert {spec["dtype"] for spec in stored.values()} == {"<f8"}
    with np.load(path, allow_pickle=False) as npz:
        w = npz[stored["cell.A"]["key"]]
    np.testing.assert_array_equal(w, fitted.model_.cell.A.detach().numpy())


def test_unfitted_rnn_round_trip(tmp_path):
    model = ALRNN(n_latent=5, n_pwl=2, n_epochs=3, teacher_forcing="sparse")
    again = io.load(io.save(model, tmp_path / "unfitted.npz"))
    assert type(again) is ALRNN and again.get_params() == model.get_params()
    assert not hasattr(again, "model_")


def _rewrite(path, edit):
    """Apply ``edit(metadata, arrays)`` to a saved file, in place."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("__koop_metadata__").tobytes().decode())
    edit(meta, arrays)
    arrays["__koop_metadata__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def _weights(meta):
    return meta["model"]["state"]["modules"]["items"]["model_"]["items"]


def _drop_array(meta, arrays):
    del arrays[_weights(meta)["cell.A"]["key"]]


def _drop_tensor(meta, arrays):
    del arrays[_weights(meta).pop("cell.A")["key"]]


def _reshape_tensor(meta, arrays):
    spec = _weights(meta)["cell.W1"]
    arrays[spec["key"]] = arrays[spec["key"]].reshape(-1)
    spec["shape"] = list(arrays[spec["key"]].shape)  # consistent metadata, wrong network


def _retype_tensor(meta, arrays):
    spec = _weights(meta)["cell.W1"]
    arrays[spec["key"]] = arrays[spec["key"]].astype(np.float32)
    spec["dtype"] = "<f4"


def _extra_tensor(meta, arrays):
    arrays["extra"] = np.zeros(3)
    _weights(meta)["cell.W3"] = {"__type__": "ndarray", "key": "extra", "dtype": "<f8",
                                 "shape": [3]}


@pytest.mark.parametrize("edit, message", [
    (_drop_array, r"array 'a\d+' named in the metadata is missing"),
    (_drop_tensor, r"ShallowPLRNN.model_ do not match .*: missing tensors \['cell.A'\]\.$"),
    (_reshape_tensor, r"tensor 'cell.W1' of ShallowPLRNN.model_ has shape \(12,\).*needs "
                      r"shape \(2, 6\)"),
    (_retype_tensor, r"tensor 'cell.W1' .* dtype float32.* dtype float64"),
    (_extra_tensor, r": unexpected tensors \['cell.W3'\]\.$"),
], ids=["array-deleted", "tensor-deleted", "tensor-reshaped", "tensor-retyped",
        "tensor-added"])
def test_corrupt_weights_raise_a_clear_error(X, tmp_path, edit, message):
    model = MODELS["shplrnn"]().fit(X)
    path = _rewrite(io.save(model, tmp_path / "rnn.npz"), edit)
    with pytest.raises(ValueError, match=r"not a readable koop model file: .*" + message):
        io.load(path)


def test_loading_needs_torch_only_for_torch_models(X, tmp_path):
    rnn = io.save(MODELS["alrnn"]().fit(X), tmp_path / "rnn.npz")
    edmd = io.save(EDMD().fit(X), tmp_path / "edmd.npz")
    code = f"""
import importlib.abc, sys

class NoTorch(importlib.abc.MetaPathFinder):  # torch is not installed, for this process
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, NoTorch())
from koop import io
assert type(io.load({str(edmd)!r})).__name__ == "EDMD"
assert io.read_metadata({str(rnn)!r})["class"] == "koop.rnn:ALRNN"
try:
    io.load({str(rnn)!r})
except ImportError as exc:
    print(exc)
assert "torch" not in sys.modules
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert "koop.rnn:ALRNN" in out.stdout and "pip install koop[torch]" in out.stdout
