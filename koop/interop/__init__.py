"""Bridges to other Koopman libraries (their packages are imported only when used)."""

from koop.interop.pykoopman import KoopObservable, PykoopmanObservable

__all__ = ["PykoopmanObservable", "KoopObservable"]
