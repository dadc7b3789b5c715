"""Hostile files for ``koop.io.load``: truncated, corrupt, foreign, other versions, payloads.

The contract (``koop.io.load``'s docstring): a file that is not a koop model raises
``ValueError`` ("not a readable koop model file: ..."), a missing one
``FileNotFoundError``; loading never unpickles and never imports a module named in the
file. Payloads here would leave a trace if they ran: unpickling ``Payload`` creates a
directory, importing ``this`` adds it to ``sys.modules``.
"""

import numpy as np
import pytest

from koop import systems
from koop.dictionaries import Polynomial
from koop.estimators import EDMD

from ._support import Payload

pytestmark = pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")

GOOD = systems.slow_manifold(40, x0=[0.8, -0.6])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A valid saved model: (path, bytes, metadata, arrays)."""
    import json

    from koop import io

    path = tmp_path_factory.mktemp("io") / "model.npz"
    io.save(EDMD(Polynomial(2)).fit(GOOD), path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("__koop_metadata__").tobytes())
    return path, path.read_bytes(), meta, arrays


def _rewrite(tmp_path, meta, arrays, name="hostile.npz", raw_meta=None):
    import json

    text = raw_meta if raw_meta is not None else json.dumps(meta)
    entries = dict(arrays)
    entries["__koop_metadata__"] = np.frombuffer(text.encode(), np.uint8)
    path = tmp_path / name
    np.savez(path, **entries)
    return path


def _load_refused(path, match=r"not a readable koop model file"):
    from koop import io

    with pytest.raises(ValueError, match=match):
        io.load(path)


def test_io_load_refuses_truncated_files(saved, tmp_path):
    _, raw, _, _ = saved
    for cut in (0, 1, 4, 22, 100, len(raw) // 3, len(raw) // 2, len(raw) - 22, len(raw) - 1):
        path = tmp_path / f"cut{cut}.npz"
        path.write_bytes(raw[:cut])
        _load_refused(path)


def test_io_load_refuses_foreign_files(tmp_path):
    import zipfile

    import xarray as xr

    cases = {
        "empty.npz": b"",
        "text.npz": b"time,x\n0,1\n1,2\n",
        "json.npz": b'{"format": "koop-model", "format_version": 1}',
        "npy.npz": None,
        "zip.npz": None,
        "netcdf.nc": None,
        "plain.npz": None,
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        elif name == "npy.npz":
            np.save(path.with_suffix(".npy"), GOOD)
            path.write_bytes(path.with_suffix(".npy").read_bytes())
        elif name == "zip.npz":
            with zipfile.ZipFile(path, "w") as zf:
                zf.writestr("readme.txt", "not a model")
        elif name == "netcdf.nc":
            xr.Dataset({"x": ("time", np.arange(5.0))}).to_netcdf(path)
        else:
            np.savez(path, weights=np.ones(3))
        _load_refused(path)
    _load_refused(tmp_path)  # a directory


@pytest.mark.parametrize("version", [0, 2, 99, "1", None, -1, [1], {"v": 1}])
def test_io_load_refuses_other_format_versions(saved, tmp_path, version):
    _, _, meta, arrays = saved
    meta = dict(meta, format_version=version)
    _load_refused(_rewrite(tmp_path, meta, arrays), "format_version")


@pytest.mark.parametrize("fmt", ["koop-report", "", None, 1, "KOOP-MODEL"])
def test_io_load_refuses_other_formats(saved, tmp_path, fmt):
    _, _, meta, arrays = saved
    _load_refused(_rewrite(tmp_path, dict(meta, format=fmt), arrays), "format")


def test_io_load_refuses_malformed_metadata(saved, tmp_path):
    _, _, meta, arrays = saved
    for i, raw in enumerate(["", "not json", "[1, 2, 3]", "null", '"koop-model"', "{",
                             '{"format": "koop-model", "format_version": 1}',
                             '{"format": "koop-model", "format_version": 1, "model": 3}',
                             "\udcff".encode("utf-8", "surrogatepass").decode("latin-1")]):
        _load_refused(_rewrite(tmp_path, meta, arrays, f"m{i}.npz", raw_meta=raw))
    # the metadata entry itself has the wrong dtype
    path = tmp_path / "dtype.npz"
    np.savez(path, __koop_metadata__=np.arange(5.0), **arrays)
    _load_refused(path)


def test_io_load_refuses_inconsistent_arrays(saved, tmp_path):
    _, _, meta, arrays = saved
    key = meta["model"]["fitted"]["basis_"]["key"]
    for i, bad in enumerate([arrays[key][:1], arrays[key].astype(np.float32),
                             arrays[key].astype(np.complex128), np.array("text")]):
        _load_refused(_rewrite(tmp_path, meta, dict(arrays, **{key: bad}), f"a{i}.npz"))
    missing = {k: v for k, v in arrays.items() if k != key}
    _load_refused(_rewrite(tmp_path, meta, missing, "missing.npz"), "missing")


def test_io_load_never_unpickles(saved, tmp_path):
    import pickle

    _, _, meta, arrays = saved
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(Payload(marker))
    # a raw pickle, a pickled .npy, an object array as an entry and as the metadata
    (tmp_path / "raw.npz").write_bytes(payload)
    np.save(tmp_path / "obj.npy", np.array([Payload(marker)], dtype=object),
            allow_pickle=True)
    (tmp_path / "npy.npz").write_bytes((tmp_path / "obj.npy").read_bytes())
    key = meta["model"]["fitted"]["basis_"]["key"]
    entry = dict(arrays, **{key: np.array([Payload(marker)], dtype=object)})
    np.savez(tmp_path / "entry.npz", __koop_metadata__=np.frombuffer(
        __import__("json").dumps(meta).encode(), np.uint8), **entry)
    np.savez(tmp_path / "meta.npz", __koop_metadata__=np.array([Payload(marker)],
                                                                dtype=object), **arrays)
    for name in ("raw.npz", "npy.npz", "entry.npz", "meta.npz"):
        _load_refused(tmp_path / name)
        assert not marker.exists(), f"loading {name} ran code"


@pytest.mark.parametrize("where", ["class", "dictionary", "function", "dataclass", "codec"])
def test_io_load_never_imports_modules_named_in_the_file(saved, tmp_path, where):
    import copy
    import sys

    _, _, meta, arrays = saved
    # importing `this` prints the Zen of Python: a harmless module with a side effect
    assert "this" not in sys.modules
    meta = copy.deepcopy(meta)
    model = meta["model"]
    if where == "class":
        model["class"] = "this:Zen"
    elif where == "dictionary":
        model["params"]["dictionary"]["class"] = "this:Zen"
    elif where == "function":
        model["params"]["dictionary"] = {
            "__type__": "object", "class": "koop.dictionaries:Custom",
            "params": {"func": {"__type__": "function", "name": "this:main"},
                       "feature_names": None, "n_lags": 0}, "fitted": {}}
    elif where == "dataclass":
        model["fitted"]["extra_"] = {"__type__": "dataclass", "class": "this:Zen",
                                     "fields": {}}
    else:
        model["fitted"]["extra_"] = {"__type__": "codec", "codec": "this", "state": {}}
    _load_refused(_rewrite(tmp_path, meta, arrays))
    assert "this" not in sys.modules, "load imported a module named in the file"


@pytest.mark.parametrize("key", ["os:system", "builtins:eval", "subprocess:Popen",
                                 "koop.estimators:np", "koop.estimators:__builtins__",
                                 "koop.io._model:load", "koop.estimators:EDMD.fit",
                                 "koop.estimators:", ":EDMD", "koop.estimators:DMD:x"])
def test_io_load_refuses_classes_off_the_allowlist(saved, tmp_path, key):
    _, _, meta, arrays = saved
    meta = __import__("copy").deepcopy(meta)
    meta["model"]["class"] = key
    _load_refused(_rewrite(tmp_path, meta, arrays))


def test_io_load_bounded_recursion(saved, tmp_path):
    """Deeply nested metadata must give a ValueError, not a RecursionError."""
    import json

    _, _, meta, arrays = saved
    from koop import io

    for depth in (100, 400, 600, 900, 2000, 100_000):
        text = json.dumps(meta).replace('"rank": null', '"rank": ' + "[" * depth + "]" * depth)
        path = _rewrite(tmp_path, meta, arrays, f"deep{depth}.npz", raw_meta=text)
        try:
            io.load(path)  # a shallow nesting may load (rank is not checked until fit)
        except ValueError:
            pass


def test_io_save_refuses_what_it_cannot_write_and_leaves_no_debris(tmp_path):
    from koop import io
    from koop.dictionaries import Custom

    model = EDMD(Polynomial(2)).fit(GOOD)
    for obj in (object(), "model", np.eye(2)):
        with pytest.raises(TypeError, match="not a koop class"):
            io.save(obj, tmp_path / "x.npz")
    lam = EDMD(Custom(lambda Z: Z)).fit(GOOD)
    with pytest.raises(TypeError, match="func"):
        io.save(lam, tmp_path / "lambda.npz")
    target = tmp_path / "a-folder"
    target.mkdir()
    with pytest.raises(OSError):
        io.save(model, target)
    with pytest.raises(OSError):
        io.save(model, tmp_path / "missing" / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder"]  # no temp files
