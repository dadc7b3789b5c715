"""A bounded, derandomized fuzz run of ``koop.io.load`` (hypothesis).

Three mutators start from valid files written by ``koop.io.save``: raw bytes (flips,
truncation, insertion, deletion, splices), the JSON metadata tree (any node replaced by an
arbitrary JSON value built from koop's own vocabulary: ``__type__``, ``class``, ``key``,
dtypes, class names on and off the allowlist) and the stored arrays (other dtypes, shapes,
object arrays). Whatever the file, ``load`` either raises ``ValueError`` or returns a
model that is the saved one: the same class, parameters and fitted state, every array
bit for bit (a silently corrupted model fails). It never raises anything else, never
unpickles, and never imports a module named in the file.
"""

import copy
import json
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from koop import io, systems
from koop.dictionaries import RBF, Polynomial, RandomFourier, TimeDelay
from koop.estimators import DMD, EDMD, HAVOK, MPEDMD, HankelDMD, KernelEDMD, ResDMD
from koop.io._codec import Encoder

from ._support import RELIABLE

pytestmark = pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")

X = systems.slow_manifold(30, x0=[0.7, -0.4])
_MODELS = {
    "edmd-poly": lambda: EDMD(Polynomial(2)).fit(X),
    "edmd-rbf": lambda: EDMD(RBF(4, random_state=0)).fit(X),
    "edmd-fourier-delay": lambda: EDMD(RandomFourier(3, random_state=1) + TimeDelay(1)).fit(X),
    "dmd": lambda: DMD(rank=2).fit(X),
    "resdmd": lambda: ResDMD(Polynomial(2)).fit(X),
    "mpedmd": lambda: MPEDMD(Polynomial(2)).fit(X),
    "kernel": lambda: KernelEDMD(n_components=8, random_state=0).fit(X),
    "hankel": lambda: HankelDMD(n_delays=3).fit(X),
    "havok": lambda: HAVOK(n_delays=5, rank=3).fit(X, dt=0.1),
    "unfitted": lambda: EDMD(Polynomial(3)),
}


def _files(tmp_dir):
    out = {}
    for name, make in _MODELS.items():
        path = tmp_dir / f"{name}.npz"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            io.save(make(), path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop("__koop_metadata__").tobytes())
        out[name] = (path.read_bytes(), meta, arrays)
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return _files(tmp_path_factory.mktemp("fuzz"))


_seen_tmp = {}


def _scratch(tmp_path_factory):
    if "dir" not in _seen_tmp:
        _seen_tmp["dir"] = tmp_path_factory.mktemp("fuzz-scratch")
    return _seen_tmp["dir"] / "case.npz"


def _encoded(model):
    """The metadata tree and the arrays koop.io writes for ``model``."""
    enc = Encoder()
    tree = enc.encode_object(model)
    return tree, {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in enc.arrays.items()}


def _load_contract(path, saved=None):
    """load() raises ValueError or returns the saved model, every array bit for bit;
    no foreign module gets imported. ``saved``: the (raw, meta, arrays) of the original."""
    before = set(sys.modules)
    try:
        model = io.load(path)
    except ValueError as exc:
        assert str(exc)
    else:
        if saved is not None:
            _, meta, arrays = saved
            tree, got = _encoded(model)
            assert tree == meta["model"], "load returned other parameters or fitted state"
            want = {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in arrays.items()}
            assert got == want, "load returned arrays that differ from the saved ones"
    new = {m for m in set(sys.modules) - before if not m.startswith("koop")}
    assert not new & {"this", "antigravity", "os.evil", "subprocess", "pickle_payload"}, new


def _write(path, meta, arrays, raw_meta=None):
    text = json.dumps(meta) if raw_meta is None else raw_meta
    entries = dict(arrays)
    entries["__koop_metadata__"] = np.frombuffer(text.encode("utf-8", "surrogatepass"),
                                                 np.uint8)
    np.savez(path, **entries)


# -- 1. raw bytes -------------------------------------------------------------------------
@st.composite
def byte_mutations(draw, raw: bytes):
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "splice"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[i] = draw(st.integers(0, 255))
        elif kind == "truncate":
            data = data[:i]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 64))]
        else:  # copy a block over another place (zip headers pointing at the wrong entry)
            j = draw(st.integers(0, len(data) - 1))
            block = data[j:j + draw(st.integers(1, 128))]
            data[i:i + len(block)] = block
    return bytes(data)


@RELIABLE
@given(name=st.sampled_from(sorted(_MODELS)), data=st.data())
def test_fuzz_bytes(files, tmp_path_factory, name, data):
    raw = files[name][0]
    path = _scratch(tmp_path_factory)
    path.write_bytes(data.draw(byte_mutations(raw)))
    _load_contract(path, files[name])


# -- 2. the metadata tree -----------------------------------------------------------------
_VOCAB = ["__type__", "class", "params", "fitted", "key", "dtype", "shape", "items",
          "value", "name", "state", "fields", "codec", "real", "imag", "format",
          "format_version", "model", "ndarray", "object", "dataclass", "function", "gram",
          "scalar", "tuple", "dict", "random_state", "str_object", "complex", "float",
          "koop.estimators:EDMD", "koop.dictionaries:Polynomial", "koop.gram:GramMatrices",
          "this:Zen", "os:system", "builtins:eval", "<f8", "|O", "O", "<c16", "a0", "a1",
          "koop.io._model:load", "koop.dictionaries:Custom", "numpy:ndarray"]

json_leaves = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
               | st.floats(allow_nan=False) | st.sampled_from(_VOCAB) | st.text(max_size=8))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(_VOCAB) | st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


def _nodes(tree, path=()):
    """Every (path, node) of a JSON tree."""
    yield path, tree
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _nodes(v, (*path, i))


def _replace(tree, path, value):
    if not path:
        return value
    tree = copy.deepcopy(tree)
    node = tree
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return tree


@RELIABLE
@given(name=st.sampled_from(sorted(_MODELS)), data=st.data())
def test_fuzz_metadata_tree(files, tmp_path_factory, name, data):
    _, meta, arrays = files[name]
    paths = [p for p, _ in _nodes(meta)]
    meta = copy.deepcopy(meta)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p, _ in _nodes(meta)]
        where = data.draw(st.sampled_from(paths))
        meta = _replace(meta, where, data.draw(json_values))
    path = _scratch(tmp_path_factory)
    _write(path, meta, arrays)
    _load_contract(path, files[name])


# -- 3. the arrays ------------------------------------------------------------------------
_ARRAYS = st.sampled_from([
    np.zeros(0), np.zeros((2, 3)), np.array([np.nan, np.inf]), np.arange(6, dtype=np.int8),
    np.array(["a", "bc"]), np.array(1.5), np.zeros((1, 1, 1), dtype=np.complex64),
    np.array([True, False]), np.zeros(3, dtype=">f8"), np.array([b"\x00"]),
])


@RELIABLE
@given(name=st.sampled_from(sorted(_MODELS)), data=st.data())
def test_fuzz_arrays(files, tmp_path_factory, name, data):
    _, meta, arrays = files[name]
    if not arrays:
        return
    arrays = dict(arrays)
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(sorted(arrays)))
        if data.draw(st.booleans()):
            arrays[key] = data.draw(_ARRAYS)
        else:
            del arrays[key]
            if not arrays:
                break
    path = _scratch(tmp_path_factory)
    _write(path, meta, arrays)
    _load_contract(path, files[name])


def test_unmutated_files_load_bit_for_bit(files, tmp_path):
    """The fuzz starts from files that do load, and load exactly."""
    for name, (raw, _, _) in files.items():
        path = tmp_path / f"{name}.npz"
        path.write_bytes(raw)
        model = io.load(path)
        _load_contract(path, files[name])
        ref = _MODELS[name]()
        if hasattr(ref, "eigenvalues_"):
            assert model.eigenvalues_.tobytes() == ref.eigenvalues_.tobytes()
        assert type(model) is type(ref)


def test_a_silent_corruption_is_refused(files, tmp_path):
    """Mutations that decode into a consistent model (two arrays of one shape swapped, a
    value changed inside an array, a parameter edited) are refused, not loaded."""
    import copy

    _, meta, arrays = files["edmd-poly"]
    fitted = meta["model"]["fitted"]
    same = [k for k, v in fitted.items() if isinstance(v, dict)
            and v.get("__type__") == "ndarray" and v["shape"] == fitted["basis_"]["shape"]
            and v["dtype"] == fitted["basis_"]["dtype"]]
    cases = []
    if len(same) > 1:  # swap two arrays of the same dtype and shape
        m = copy.deepcopy(meta)
        a, b = same[:2]
        m["model"]["fitted"][a]["key"], m["model"]["fitted"][b]["key"] = (
            fitted[b]["key"], fitted[a]["key"])
        cases.append((m, arrays))
    key = fitted["eigenvalues_"]["key"]
    changed = dict(arrays, **{key: arrays[key] * (1 + 1e-15)})
    cases.append((meta, changed))
    m = copy.deepcopy(meta)
    m["model"]["params"]["regularization"] = 1e-3
    cases.append((m, arrays))
    for i, (m, arr) in enumerate(cases):
        path = tmp_path / f"c{i}.npz"
        _write(path, m, arr)
        with pytest.raises(ValueError, match="digest"):
            io.load(path)
