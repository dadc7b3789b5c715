"""Torch modules as named numpy arrays: how koop.io saves and rebuilds torch models.

A fitted estimator that holds ``torch.nn.Module`` attributes inherits
:class:`TorchStateMixin`, lists those attributes in ``_torch_modules`` and builds an
untrained module of the right architecture in ``_build_torch_module(name)`` from its
constructor parameters and its other fitted attributes. :func:`koop.io.save` then stores
each module's ``state_dict`` as arrays (dtype and shape kept, nothing pickled) and
:func:`koop.io.load` rebuilds the module and copies the arrays into it, after checking
that every tensor is present with the shape and dtype the module expects.

This module imports no torch: saving reads the tensors it is handed, and only
restoring a model that has a torch module imports torch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

__all__ = ["TorchStateMixin", "module_arrays", "load_module_arrays"]


def module_arrays(module: Any, where: str) -> dict[str, np.ndarray]:
    """The module's ``state_dict`` as ``{name: ndarray}`` (CPU copies, dtype kept)."""
    arrays = {}
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu()
        try:
            arrays[name] = tensor.numpy().copy()
        except TypeError:  # bfloat16 and the like: no numpy twin, and never cast silently
            raise TypeError(f"{where}[{name!r}] has dtype {tensor.dtype}, which has no numpy "
                            "equivalent; cast the module (e.g. .double()) before saving."
                            ) from None
    return arrays


def load_module_arrays(module: Any, arrays: Any, where: str) -> Any:
    """Copy saved arrays into ``module`` after checking names, shapes and dtypes.

    Raises
    ------
    ValueError
        When a tensor is missing, unexpected, or has the wrong shape or dtype for the
        module rebuilt from the saved parameters (a damaged or hand-edited file).
    """
    from koop._torch import import_torch

    torch = import_torch()
    expected = module.state_dict()
    if not isinstance(arrays, dict):
        raise ValueError(f"the weights of {where} are not a mapping of tensor names to arrays.")
    missing = [k for k in expected if k not in arrays]
    unexpected = sorted(k for k in arrays if k not in expected)
    if missing or unexpected:
        wrong = [f"{what} tensors {names}" for what, names in (
            ("missing", missing), ("unexpected", unexpected)) if names]
        raise ValueError(f"the weights of {where} do not match the network rebuilt from the "
                         f"saved parameters: {' and '.join(wrong)}.")
    tensors = {}
    for name, ref in expected.items():
        arr = arrays[name]
        want = ref.detach().cpu().numpy().dtype
        if not isinstance(arr, np.ndarray) or arr.shape != tuple(ref.shape) or (
                arr.dtype != want):
            got = (f"has shape {arr.shape} and dtype {arr.dtype}"
                   if isinstance(arr, np.ndarray) else f"is a {type(arr).__name__}")
            raise ValueError(
                f"tensor {name!r} of {where} {got}, but the network rebuilt from the "
                f"saved parameters needs shape {tuple(ref.shape)} and dtype {want}."
            )
        tensors[name] = torch.from_numpy(np.array(arr, copy=True))
    module.load_state_dict(tensors, strict=True)
    return module


class TorchStateMixin:
    """The ``_io_state`` / ``_io_restore`` pair of :mod:`koop.io` for torch estimators.

    Subclasses set ``_torch_modules`` (names of fitted attributes holding a
    ``torch.nn.Module``) and implement ``_build_torch_module(name)``, which returns an
    untrained module of the fitted architecture (it may read the other fitted
    attributes, which are restored first). Every other non-parameter attribute is saved
    as it is, so fitted arrays come back bit for bit.
    """

    _torch_modules: ClassVar[tuple[str, ...]] = ()

    def _build_torch_module(self, name: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _io_state(self) -> dict:
        params = self.get_params(deep=False)
        fitted, modules = {}, {}
        for name, value in vars(self).items():
            if name in params:
                continue
            if name in self._torch_modules:
                modules[name] = module_arrays(value, f"{type(self).__name__}.{name}")
            else:
                fitted[name] = value
        return {"fitted": fitted, "modules": modules}

    def _io_restore(self, state: dict) -> None:
        cls = type(self).__name__
        fitted, modules = state.get("fitted"), state.get("modules")
        if not isinstance(fitted, dict) or not isinstance(modules, dict):
            raise ValueError(f"the saved state of {cls} lacks its fitted attributes or "
                             "its torch modules.")
        unknown = sorted(set(modules) - set(self._torch_modules))
        if unknown:
            raise ValueError(f"the file holds torch modules {unknown} that {cls} does not "
                             f"have (it has {list(self._torch_modules)}).")
        self.__dict__.update(fitted)
        for name, arrays in modules.items():
            module = self._build_torch_module(name)
            self.__dict__[name] = load_module_arrays(module, arrays, f"{cls}.{name}").eval()
