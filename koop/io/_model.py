"""save / load: a fitted koop model as one ``.npz`` file (arrays + JSON metadata)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import secrets
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from koop.io._codec import Decoder, Encoder

__all__ = ["save", "load", "read_metadata", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "koop-model"
FORMAT_VERSION = 1
_META_KEY = "__koop_metadata__"
_DIGEST_KEY = "sha256"


def _digest(meta: dict, arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the metadata (canonical JSON, without the digest) and every array
    (name, dtype, shape, bytes): what a load must find again, bit for bit."""
    h = hashlib.sha256()
    body = {k: v for k, v in meta.items() if k != _DIGEST_KEY}
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
             .encode("utf-8"))
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"\x00{key}\x00{a.dtype.str}\x00{a.shape}\x00".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(model: Any, path: str | os.PathLike, *, compress: bool = False) -> Path:
    """Save a koop estimator (fitted or not) or dictionary to one ``.npz`` file.

    The file is a zip of ``.npy`` arrays (written with :func:`numpy.savez`) plus one JSON
    entry, ``__koop_metadata__``, that holds the format name and version, the koop
    version, the class, its ``get_params()`` (nested dictionaries as
    ``{"class": ..., "params": ..., "fitted": ...}``) and every fitted attribute
    (arrays are referenced by key), and a SHA-256 digest of the metadata and the arrays,
    which :func:`load` checks. Arrays are stored bit for bit; nothing is pickled. Inspect
    a file with :func:`read_metadata` or any zip tool.

    Parameters
    ----------
    model : KoopmanEstimator or Dictionary
        What to save. A :class:`~koop.dictionaries.Custom` dictionary's function is
        stored by name (``"module:function"``) and must be handed back to :func:`load`.
    path : str or path-like
        Destination; written atomically (a temporary file, then a rename), with the
        permissions a new file gets from the user's umask.
    compress : bool, default=False
        Deflate the arrays (:func:`numpy.savez_compressed`); still bit-exact.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        When part of the model cannot be saved without pickle (a lambda, a foreign
        object); the message names the attribute.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from koop import io, systems
    >>> from koop.estimators import EDMD
    >>> from koop.dictionaries import Polynomial
    >>> X = systems.slow_manifold(50, x0=[1.0, 1.0])
    >>> model = EDMD(Polynomial(degree=2)).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> _ = io.save(model, path)
    >>> again = io.load(path)
    >>> bool(np.array_equal(again.eigenvalues_, model.eigenvalues_))
    True
    """
    from koop._version import __version__

    path = Path(os.fspath(path))
    encoder = Encoder()
    tree = encoder.encode_object(model)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "koop_version": __version__,
        "numpy_version": np.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "class": tree["class"],
        "fitted": sorted(tree["fitted"]),
        "skipped": encoder.skipped,
        "model": tree,
    }
    meta[_DIGEST_KEY] = _digest(meta, encoder.arrays)
    text = json.dumps(meta, indent=1, allow_nan=False)
    arrays = dict(encoder.arrays)
    arrays[_META_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = _new_file(directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            (np.savez_compressed if compress else np.savez)(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _new_file(directory: Path) -> tuple[int, str]:
    """A new temporary file beside the destination, with mode 0666 less the umask
    (``tempfile.mkstemp`` would make it 0600, and the rename keeps that)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".koop-{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {directory}.")


def _not_koop(path: Path, why: str) -> ValueError:
    return ValueError(f"{path} is not a readable koop model file: {why}")


def _open(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and check the metadata; return it and all arrays (loaded eagerly)."""
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    if path.is_dir():
        raise _not_koop(path, "it is a directory.")
    if not zipfile.is_zipfile(path):
        head = path.read_bytes()[:2]
        hint = " (it looks like a pickle, which koop never loads)" if head[:1] == b"\x80" else ""
        raise _not_koop(path, f"not an .npz (zip) archive{hint}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if _META_KEY not in npz.files:
                shown = ", ".join(npz.files[:5]) or "none"
                raise _not_koop(path, f"no '{_META_KEY}' entry (arrays: {shown}); it was "
                                      "not written by koop.io.save.")
            raw = npz[_META_KEY]
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise _not_koop(path, "the metadata entry is malformed.")
            meta = json.loads(raw.tobytes().decode("utf-8"))
            arrays = {k: npz[k] for k in npz.files if k != _META_KEY}
    except ValueError as exc:
        if "is not a readable koop model file" in str(exc):
            raise
        raise _not_koop(path, f"{exc}") from None
    except Exception as exc:  # zip/CRC/EOF/decode errors of a damaged file
        raise _not_koop(path, f"the archive is damaged or truncated ({type(exc).__name__}: "
                              f"{exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise _not_koop(path, f"format is {found!r}, expected {FORMAT_NAME!r}.")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise _not_koop(path, f"format_version {version!r} "
                              f"{'is newer than' if newer else 'differs from'} the version "
                              f"this koop reads ({FORMAT_VERSION})"
                              f"{'; upgrade koop' if newer else ''}.")
    return meta, arrays


def _check_digest(meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Refuse a file whose metadata or arrays changed after it was written.

    Checked last, after the decoding and the consistency checks have named any problem
    they see; files written before the digest existed have none and are not checked.
    """
    if _DIGEST_KEY not in meta:
        return
    want = meta[_DIGEST_KEY]
    if not isinstance(want, str) or want != _digest(meta, arrays):
        raise ValueError("its contents do not match the SHA-256 digest written with them "
                         "(the file was changed or damaged after koop.io.save wrote it).")


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata of a file written by :func:`save` (no object is built).

    Returns
    -------
    dict
        ``format``, ``format_version``, ``koop_version``, ``class``, ``fitted`` (names of
        the fitted attributes) and ``model`` (the full tree of parameters and state).

    Examples
    --------
    >>> import os, tempfile
    >>> from koop import io
    >>> from koop.dictionaries import Polynomial
    >>> from koop.estimators import EDMD
    >>> path = io.save(EDMD(Polynomial(degree=3)), os.path.join(tempfile.mkdtemp(), "m.npz"))
    >>> meta = io.read_metadata(path)
    >>> meta["format"], meta["class"], meta["model"]["params"]["dictionary"]["params"]
    ('koop-model', 'koop.estimators:EDMD', {'degree': 3, 'include_bias': True})
    """
    meta, _ = _open(Path(os.fspath(path)))
    return meta


def load(path: str | os.PathLike, *, functions: dict[str, Callable] | None = None) -> Any:
    """Load a model written by :func:`save`; arrays come back bit for bit.

    Loading never unpickles and never imports code named in the file: classes are
    looked up in koop's allowlist (:func:`koop.io.register_class` extends it), and the
    functions of :class:`~koop.dictionaries.Custom` dictionaries are taken from
    ``functions``.

    Parameters
    ----------
    path : str or path-like
    functions : dict, optional
        ``{"module:function": callable}`` for the functions the model refers to by name.

    Returns
    -------
    The estimator or dictionary, with its fitted attributes.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a koop model (corrupt, truncated, foreign, a pickle, another
        format version) or names a class or function koop may not load, or if a torch
        model's weights do not fit the network rebuilt from its parameters.
    ImportError
        If the model needs an optional dependency that is not installed (torch for
        :mod:`koop.rnn` and the neural dictionaries); other models load without it.

    Notes
    -----
    Torch models (:mod:`koop.rnn`, :class:`~koop.estimators.neural.EDMDDL`,
    :class:`~koop.dictionaries.neural.NeuralDictionary`) are saved as their constructor
    parameters plus each network's ``state_dict`` as arrays; loading builds the network
    from the parameters and copies the arrays into it, so outputs match exactly.
    """
    path = Path(os.fspath(path))
    meta, arrays = _open(path)
    try:
        model = Decoder(arrays, functions).decode_object(meta["model"])
        check = getattr(model, "_io_check", None)
        if callable(check):
            check()
        _check_digest(meta, arrays)
        return model
    except ValueError as exc:
        raise _not_koop(path, str(exc)) from None
    except (KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise _not_koop(path, f"its metadata are inconsistent ({type(exc).__name__}: "
                              f"{exc}).") from None
