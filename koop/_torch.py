"""The one place where koop meets torch: import, devices, seeded generators (koop.rnn and
the neural dictionaries)."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["import_torch", "resolve_device", "make_generator", "torch_threads"]

_INSTALL_HINT = (
    "koop.rnn and the neural dictionaries need PyTorch. Install it with "
    "`pip install koop[torch]` (on a CPU-only machine first `pip install torch` from the "
    "CPU wheel index to avoid the multi-GB CUDA build)."
)


def import_torch():
    """Return the ``torch`` module, or raise an ImportError that names the extra."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError(_INSTALL_HINT) from exc
    return torch


def resolve_device(device: str | object):
    """Turn ``"cpu"``, ``"cuda"``, ``"auto"`` or a ``torch.device`` into a device.

    ``"auto"`` picks CUDA when present and the CPU otherwise; ``"cuda"`` without a GPU is
    an error rather than a silent fallback, so a run never ends up slower than asked.
    """
    torch = import_torch()
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be 'cpu', 'cuda', 'auto' or a torch.device, got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch sees no CUDA device; use "
            "device='cpu' or device='auto'."
        )
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"Unknown device {device!r}: {exc}") from None


def make_generator(random_state: object):
    """A ``torch.Generator`` (CPU) seeded from ``random_state``, and the numpy RNG.

    Both streams derive from one ``numpy.random.Generator`` so that a fixed integer
    ``random_state`` makes initialization, batch sampling and noise reproducible.
    """
    torch = import_torch()
    if random_state is None or isinstance(random_state, numbers.Integral | np.random.Generator):
        rng = np.random.default_rng(random_state)
    elif isinstance(random_state, np.random.RandomState):
        rng = np.random.default_rng(random_state.randint(0, 2**31 - 1))
    else:
        raise TypeError(
            f"random_state must be None, an int or a numpy Generator, got {random_state!r}."
        )
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(rng.integers(0, 2**62)))
    return gen, rng


class torch_threads:
    """Context manager: run torch with ``n`` intra-op threads, then restore the setting.

    Small recurrent models are dominated by per-operation overhead, which extra threads
    only increase (measured on a 16-core machine: 176 ms per training batch with all
    threads, ~20 ms with one). ``n=None`` leaves torch's setting alone.
    """

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.before = None

    def __enter__(self):
        if self.n is not None:
            torch = import_torch()
            self.before = torch.get_num_threads()
            torch.set_num_threads(int(self.n))
        return self

    def __exit__(self, *exc) -> None:
        if self.before is not None:
            import_torch().set_num_threads(self.before)
