"""Tests that keep the architecture honest."""

import importlib
import pkgutil
import subprocess
import sys

import koop


def test_import_koop_loads_no_heavy_optional_modules():
    code = ("import sys, koop, koop.estimators, koop.dictionaries, koop.gram; "
            "print(' '.join(m for m in ('torch', 'dask', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_public_name_has_a_docstring():
    missing = []
    for modname in ("koop", "koop.dictionaries", "koop.estimators", "koop.gram",
                    "koop.systems", "koop.data", "koop.validation", "koop.metrics", "koop.io",
                    "koop.model_selection"):
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if callable(obj) and not (obj.__doc__ or "").strip():
                missing.append(f"{modname}.{name}")
    assert not missing, missing


def test_all_modules_importable():
    broken = []
    for info in pkgutil.walk_packages(koop.__path__, "koop."):
        try:
            importlib.import_module(info.name)
        except ImportError as exc:  # optional extras must not break import of the module
            broken.append(f"{info.name}: {exc}")
    assert not broken, broken
