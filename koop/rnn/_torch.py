"""The torch helpers of koop.rnn live in :mod:`koop._torch` (the neural dictionaries use
them too, and sit below koop.rnn)."""

from koop._torch import import_torch, make_generator, resolve_device, torch_threads

__all__ = ["import_torch", "make_generator", "resolve_device", "torch_threads"]
