"""Encode koop objects as JSON metadata plus named arrays, and decode them back.

The encoding never uses pickle and loading never imports or calls anything that is not
on the allowlist: a class named in a file must be registered (:func:`register_class`)
or be a scikit-learn-style estimator class (or, for plain records, a dataclass) defined
in one of koop's own modules — no other module is ever imported — and functions are
never resolved by name: the caller hands them back (``load(..., functions={...})``).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import numbers
import types
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Encoder", "Decoder", "register_class", "register_codec", "class_key"]

# Public koop modules whose classes may be rebuilt on load; a name is looked up with
# getattr in these modules only, never imported from a string found in a file.
_ALLOWED_MODULES = (
    "koop.estimators",
    "koop.dictionaries",
    "koop.estimators.neural",
    "koop.dictionaries.neural",
    "koop.rnn",
    "koop.interop",
)
_REGISTERED: dict[str, type] = {}
# Deeper trees are refused (no koop model nests beyond a dozen levels) so that hostile
# metadata give a ValueError, never a RecursionError.
_MAX_DEPTH = 100
# name -> (predicate, encode, decode) for values that are not arrays / estimators
_CODECS: dict[str, tuple[Callable, Callable, Callable]] = {}


def register_class(cls: type, key: str | None = None) -> type:
    """Allow a class (an estimator, a dictionary, a model) to be saved and loaded.

    koop's own estimators and dictionaries are allowed already; an extension (a
    torch model, say) registers itself at import. Loading a file that names an
    unregistered class raises :class:`ValueError` instead of importing anything.

    By default the fitted state is every attribute in ``vars(obj)`` that is not a
    parameter. A class whose state needs translating (torch modules: their
    ``state_dict`` as arrays) defines ``_io_state(self) -> dict`` (encodable values) and
    ``_io_restore(self, state)`` (called on a freshly constructed ``cls(**params)``);
    koop's torch models get both from ``koop._torch_state.TorchStateMixin``.

    Parameters
    ----------
    cls : type
        A class whose ``__init__`` takes its ``get_params()``.
    key : str, optional
        The name written to files; default ``"module:QualName"``.

    Returns
    -------
    cls (so that it can be used as a decorator)

    Examples
    --------
    >>> from koop.dictionaries import Polynomial
    >>> @register_class
    ... class Cubic(Polynomial):
    ...     def __init__(self, include_bias=True):
    ...         super().__init__(degree=3, include_bias=include_bias)
    >>> class_key(Cubic).endswith(":Cubic")
    True
    """
    _REGISTERED[key or f"{cls.__module__}:{cls.__qualname__}"] = cls
    return cls


def register_codec(name: str, predicate: Callable[[Any], bool],
                   encode: Callable[[Any], dict], decode: Callable[[dict], Any]) -> None:
    """Teach :func:`koop.io.save` a new kind of attribute value (e.g. torch tensors).

    ``encode(value)`` returns a dict of encodable values (arrays, numbers, strings, ...);
    ``decode(that_dict)`` rebuilds the value. Codecs run before the built-in rules.

    A torch extension would register ``("tensor", is_tensor, lambda t: {"a":
    t.cpu().numpy()}, lambda s: torch.as_tensor(s["a"]))``.
    """
    _CODECS[name] = (predicate, encode, decode)


def class_key(cls: type) -> str:
    """The name under which ``cls`` is written (its public koop module, if it has one)."""
    for key, registered in _REGISTERED.items():
        if registered is cls:
            return key
    candidates = sorted(
        (m for m in _ALLOWED_MODULES if cls.__module__ == m or cls.__module__.startswith(m + ".")),
        key=len, reverse=True,
    )
    for module_name in candidates:
        module = _imported(module_name)
        if module is not None and getattr(module, cls.__name__, None) is cls:
            return f"{module_name}:{cls.__name__}"
    if _is_koop_module(cls.__module__) and "." not in cls.__qualname__ and _is_estimator_class(
            cls):
        return f"{cls.__module__}:{cls.__qualname__}"
    raise TypeError(
        f"{cls.__module__}.{cls.__qualname__} is not a koop class that can be saved; "
        "register it with koop.io.register_class(cls) first."
    )


def _is_koop_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "koop" and len(parts) > 1 and all(p.isidentifier() for p in parts)


def _is_estimator_class(cls: Any) -> bool:
    from sklearn.base import BaseEstimator

    return isinstance(cls, type) and issubclass(cls, BaseEstimator)


def _imported(module_name: str, needed_by: str | None = None):
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        absent = isinstance(exc, ModuleNotFoundError) and exc.name is not None and (
            f"{module_name}.".startswith(f"{exc.name}."))
        if needed_by is None or absent:
            return None
        # the module exists but needs an optional extra (koop.rnn: torch); say which
        raise ImportError(f"the file holds a {needed_by}, whose module {module_name} "
                          f"cannot be imported here: {exc}") from exc


def _resolve_class(key: str) -> type:
    if key in _REGISTERED:
        return _REGISTERED[key]
    module_name, _, name = key.partition(":")
    # koop's own modules only (an estimator class defined there); nothing else is imported
    if not (module_name in _ALLOWED_MODULES or _is_koop_module(module_name)) or not (
            name.isidentifier()):
        raise ValueError(
            f"the file names class {key!r}, which is not on koop's allowlist of loadable "
            "classes (koop.io.register_class adds one)."
        )
    module = _imported(module_name, needed_by=key)
    cls = getattr(module, name, None) if module is not None else None
    if not _is_estimator_class(cls):
        raise ValueError(
            f"the file names class {key!r}, which this version of koop does not have."
        )
    return cls


def _resolve_dataclass(key: str) -> type:
    """A dataclass of koop's own modules (the only ones ever imported by a load)."""
    module_name, _, name = key.partition(":")
    parts = module_name.split(".")
    if parts[0] != "koop" or not all(p.isidentifier() for p in parts) or not (
            name.isidentifier()):
        raise ValueError(f"the file names {key!r}, which is not a koop class.")
    module = _imported(module_name)
    cls = getattr(module, name, None) if module is not None else None
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"the file names {key!r}, which this version of koop does not have.")
    return cls


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") and not isinstance(value, type)


def _is_function(value: Any) -> bool:
    return isinstance(value, types.FunctionType | types.BuiltinFunctionType | np.ufunc)


class Encoder:
    """Turn an object tree into JSON-ready values, collecting arrays in ``arrays``."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.skipped: list[str] = []
        self._depth = 0

    def _array(self, value: np.ndarray, where: str) -> dict:
        if value.dtype.kind == "O":
            if all(isinstance(v, str) for v in value.flat):
                value = value.astype(str)
                kind = "str_object"
            else:
                raise TypeError(f"{where} is an object array, which cannot be saved "
                                "without pickle.")
        else:
            kind = "ndarray"
        if value.dtype.kind not in "biufcUS":
            raise TypeError(f"{where} has dtype {value.dtype}, which koop cannot save.")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return {"__type__": kind, "key": key, "dtype": value.dtype.str,
                "shape": list(value.shape)}

    def encode(self, value: Any, where: str = "model") -> Any:
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                raise TypeError(f"{where} is nested deeper than {_MAX_DEPTH} levels (a "
                                "reference cycle?); koop cannot save it.")
            return self._encode(value, where)
        finally:
            self._depth -= 1

    def _encode(self, value: Any, where: str) -> Any:
        for name, (predicate, encode, _) in _CODECS.items():
            if predicate(value):
                return {"__type__": "codec", "codec": name,
                        "state": self.encode(encode(value), f"{where}<{name}>")}
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, np.generic):
            return {"__type__": "scalar", "dtype": value.dtype.str,
                    "value": self.encode(value.item(), where)}
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__type__": "float",
                                                       "value": repr(value)}
        if isinstance(value, complex):
            return {"__type__": "complex", "real": self.encode(value.real, where),
                    "imag": self.encode(value.imag, where)}
        if isinstance(value, list | tuple):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"__type__": "tuple",
                                                          "items": items}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {"__type__": "dict", "items": {
                    k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
            # JSON keys are strings: other keys (counts per integer label) go as pairs
            if not all(isinstance(k, str | numbers.Integral) for k in value):
                raise TypeError(f"{where} is a dict with keys other than strings and "
                                "integers; cannot save it.")
            return {"__type__": "mapping", "items": [
                [self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                for k, v in value.items()]}
        if isinstance(value, np.random.RandomState):
            return {"__type__": "random_state",
                    "state": self.encode(list(value.get_state()), where)}
        if type(value).__name__ == "GramMatrices":
            from koop.gram import GramMatrices

            if isinstance(value, GramMatrices):
                fields = {f: getattr(value, f) for f in (
                    "G", "A", "L", "C", "n_samples", "weights_sum", "backend", "extras")}
                return {"__type__": "gram", "fields": self.encode(fields, where)}
        if _is_function(value):
            return self._function(value, where)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._dataclass(value, where)
        if _is_estimator(value):
            return self.encode_object(value, where)
        hint = ""
        if type(value).__module__.startswith("torch"):
            hint = (" (a torch model is saved by its class's _io_state/_io_restore, which "
                    "turn its state_dict into arrays; see koop.io.register_class)")
        raise TypeError(
            f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which koop "
            f"cannot save without pickle{hint}."
        )

    def _dataclass(self, value: Any, where: str) -> dict:
        cls = type(value)
        if not cls.__module__.startswith("koop.") or "<" in cls.__qualname__:
            raise TypeError(f"{where} is a {cls.__module__}.{cls.__qualname__}, which koop "
                            "cannot save without pickle.")
        fields = {f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}")
                  for f in dataclasses.fields(value)}
        return {"__type__": "dataclass", "class": f"{cls.__module__}:{cls.__qualname__}",
                "fields": fields}

    def _function(self, func: Callable, where: str) -> dict:
        module = getattr(func, "__module__", None)
        qualname = getattr(func, "__qualname__", "")
        if not module or "<" in qualname or module == "__main__":
            raise TypeError(
                f"{where} is the function {qualname or func!r} defined "
                f"{'in __main__' if module == '__main__' else 'inline (a lambda or a local)'}"
                "; koop saves functions by name only (never pickle). Define it at module "
                "level in an importable module, or re-create the model after loading."
            )
        return {"__type__": "function", "name": f"{module}:{qualname}"}

    def encode_object(self, obj: Any, where: str = "model") -> dict:
        """Encode an estimator-like object: class, parameters and fitted state."""
        key = class_key(type(obj))
        params = obj.get_params(deep=False)
        enc_params = {k: self.encode(v, f"{where}.{k}") for k, v in params.items()}
        custom = getattr(obj, "_io_state", None)
        if callable(custom):  # a class that knows its own state (e.g. torch weights)
            state = {k: self.encode(v, f"{where}.{k}") for k, v in custom().items()}
            return {"__type__": "object", "class": key, "params": enc_params,
                    "fitted": {}, "state": state}
        fitted = {}
        for name, value in vars(obj).items():
            if name in params:
                continue
            try:
                fitted[name] = self.encode(value, f"{where}.{name}")
            except TypeError:
                # private caches (not fitted state) may hold anything: rebuilt on use
                if name.endswith("_") or not name.startswith("_"):
                    raise
                self.skipped.append(f"{where}.{name}")
        return {"__type__": "object", "class": key, "params": enc_params, "fitted": fitted}


class Decoder:
    """Rebuild values from JSON metadata and the loaded arrays."""

    def __init__(self, arrays: Any, functions: dict[str, Callable] | None = None) -> None:
        self.arrays = arrays
        self.functions = dict(functions or {})
        self._depth = 0

    def _array(self, spec: dict) -> np.ndarray:
        key = spec.get("key")
        if not isinstance(key, str) or key not in self.arrays:
            raise ValueError(f"the array {key!r} named in the metadata is missing.")
        arr = self.arrays[key]
        if arr.dtype.str != spec.get("dtype") or list(arr.shape) != spec.get("shape"):
            raise ValueError(
                f"array {key!r} has dtype {arr.dtype.str} and shape {arr.shape}, but the "
                f"metadata say {spec.get('dtype')} and {spec.get('shape')}."
            )
        return arr.astype(object) if spec["__type__"] == "str_object" else arr

    def decode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                raise ValueError(f"the metadata are nested deeper than {_MAX_DEPTH} levels.")
            return self._decode(value)
        finally:
            self._depth -= 1

    def _decode(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict) or "__type__" not in value:
            raise ValueError(f"unexpected entry in the metadata: {str(value)[:80]!r}.")
        kind = value["__type__"]
        if kind in ("ndarray", "str_object"):
            return self._array(value)
        if kind == "scalar":
            return np.dtype(value["dtype"]).type(self.decode(value["value"]))
        if kind == "float":
            return float(value["value"])
        if kind == "complex":
            return complex(self.decode(value["real"]), self.decode(value["imag"]))
        if kind == "tuple":
            return tuple(self.decode(v) for v in value["items"])
        if kind == "dict":
            return {k: self.decode(v) for k, v in value["items"].items()}
        if kind == "mapping":
            return self._mapping(value["items"])
        if kind == "random_state":
            rs = np.random.RandomState()
            rs.set_state(tuple(self.decode(value["state"])))
            return rs
        if kind == "gram":
            from koop.gram import GramMatrices

            return GramMatrices(**self.decode(value["fields"]))
        if kind == "codec":
            name = value.get("codec")
            if name not in _CODECS:
                raise ValueError(f"the file needs the codec {name!r}, which is not "
                                 "registered (import the module that provides it).")
            return _CODECS[name][2](self.decode(value["state"]))
        if kind == "function":
            name = value["name"]
            if name not in self.functions:
                raise ValueError(
                    f"the model uses the function {name!r}; koop never imports code named "
                    f"in a file. Pass it: koop.io.load(path, functions={{{name!r}: func}})."
                )
            return self.functions[name]
        if kind == "object":
            return self.decode_object(value)
        if kind == "dataclass":
            return self._dataclass(value)
        raise ValueError(f"unknown entry type {kind!r} in the metadata.")

    def _mapping(self, items: Any) -> dict:
        out = {}
        for item in items:
            if not (isinstance(item, list) and len(item) == 2):
                raise ValueError(f"a dict entry in the metadata is not a key-value pair: "
                                 f"{str(item)[:80]!r}.")
            key = self.decode(item[0])
            if not isinstance(key, str | numbers.Integral):
                raise ValueError(f"a dict key in the metadata is a {type(key).__name__}, not "
                                 "a string or an integer.")
            out[key] = self.decode(item[1])
        return out

    def _dataclass(self, spec: dict) -> Any:
        cls = _resolve_dataclass(spec["class"])
        values = {k: self.decode(v) for k, v in spec["fields"].items()}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if set(values) != set(fields):
            raise ValueError(f"the fields saved for {spec['class']} do not match this koop's "
                             "version of it.")
        obj = cls(**{k: v for k, v in values.items() if fields[k].init})
        for k, v in values.items():
            if not fields[k].init:
                object.__setattr__(obj, k, v)
        return obj

    def decode_object(self, spec: dict) -> Any:
        cls = _resolve_class(spec["class"])
        params = {k: self.decode(v) for k, v in spec["params"].items()}
        try:
            obj = cls(**params)
        except TypeError as exc:
            raise ValueError(f"the saved parameters do not fit {spec['class']}: {exc}") from None
        if "state" in spec:
            restore = getattr(obj, "_io_restore", None)
            if not callable(restore):
                raise ValueError(f"{spec['class']} cannot restore the saved state (this koop "
                                 "version lacks its _io_restore).")
            restore({k: self.decode(v) for k, v in spec["state"].items()})
            return obj
        for name, value in spec["fitted"].items():
            obj.__dict__[name] = self.decode(value)
        return obj
