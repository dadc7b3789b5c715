"""Tests that keep the architecture honest."""

import functools
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


# -- the layers ---------------------------------------------------------------------------
# Data flows one way (DESIGN.md, section 4): a module may import its own layer and the
# layers below it, never one above. Finer ranks than DESIGN's six layers keep gram and
# its backends from importing each other, and the private cores below their users.
LAYERS = {
    "koop.data": 0, "koop._fields": 0, "koop.exceptions": 0, "koop._version": 0, "koop._params": 0,
    "koop._kernels": 0, "koop._torch": 0, "koop._torch_state": 0, "koop.systems": 0,
    "koop.dictionaries": 1, "koop.metrics": 1,  # metrics: scores of arrays (uses data only)
    "koop._backends": 2,
    "koop.gram": 3,
    "koop._spectral": 4,
    # the truncation rule and the streamed TSQR are private cores below their users
    # (the POD dictionary truncates and streams)
    "koop._spectral.truncation": 0, "koop._spectral.tsqr": 0,
    "koop._reduction": 4,
    "koop.base": 5, "koop._labelled_model": 5,
    "koop.estimators": 6,
    "koop.validation": 7,
    "koop.io": 8, "koop.plot": 8, "koop.rnn": 8, "koop.interop": 8,
    "koop.mpc": 8,
    "koop.compare": 9, "koop.bench": 9, "koop._cli": 9, "koop.cli": 9, "koop": 9,
}


def _unit(module: str) -> str:
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        name = ".".join(parts[:k])
        if name in LAYERS:
            return name
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _imports(path, module: str):
    """(line, imported module) for every import of koop in a file, relative ones resolved."""
    import ast

    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "koop":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "koop":
                continue
            for alias in node.names:  # `from koop import systems` imports koop.systems
                sub = f"{target}.{alias.name}"
                yield node.lineno, sub if _is_module(sub) else target


@functools.cache
def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def test_no_module_imports_from_a_higher_layer():
    import pathlib

    root = pathlib.Path(koop.__file__).parent
    upward = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        src = LAYERS[_unit(module)]
        for line, target in _imports(path, module):
            if LAYERS[_unit(target)] > src:
                upward.append(f"{rel}.py:{line}: {module} imports {target}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_the_layer_check_sees_relative_and_function_level_imports(tmp_path):
    import textwrap

    pkg = tmp_path / "koop" / "dictionaries"
    pkg.mkdir(parents=True)
    (pkg / "_x.py").write_text(textwrap.dedent("""
        from ..validation import report
        def f():
            import koop.estimators
    """))
    found = [t for _, t in _imports(pkg / "_x.py", "koop.dictionaries._x")]
    assert [LAYERS[_unit(t)] for t in found] == [7, 6]


# Heavy libraries that `import koop` and `koop --help` must not load: a fast CLI start
# (issue 17 item 4). A module-set check is deterministic where a timing would not be.
_HEAVY = ("numpy", "scipy", "sklearn", "numba", "xarray", "pandas", "torch", "dask",
          "matplotlib")


def _loaded_heavy(code: str) -> list[str]:
    probe = (code + "; import sys; print(' '.join(sorted({m.split('.')[0] for m in "
             f"sys.modules}} & set({_HEAVY!r}))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def test_import_koop_is_lazy():
    assert _loaded_heavy("import koop") == []


def test_cli_help_and_version_import_no_numerical_library():
    code = ("import contextlib, io; from koop.cli import main\n"
            "for argv in (['--help'], ['--version'], []):\n"
            "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "        main(argv)")
    assert _loaded_heavy(code) == []


def test_lazy_attributes_resolve_to_the_real_objects():
    from koop.estimators import EDMD
    from koop.gram import build_gram

    assert koop.EDMD is EDMD and koop.build_gram is build_gram
    assert koop.systems is importlib.import_module("koop.systems")
    assert set(koop.__all__) <= set(dir(koop))
    try:
        koop.not_a_name  # noqa: B018
    except AttributeError as exc:
        assert "not_a_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("unknown attribute did not raise")


def test_cli_help_still_lists_every_subcommand(capsys):
    from koop.cli import SUBCOMMANDS, main

    try:
        main(["--help"])
    except SystemExit:
        pass
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)
