"""Every ```python block in docs/ and README.md runs: in order, a fresh namespace per page.

Conventions for doc writers: a block fenced exactly as ```python (optionally followed by
attributes such as ``title="..."``) is executed; ```py, ```text, ```bash and the rest are
shown only (use ```py for Python that needs software koop's tests do not have, e.g.
pykoopman). A page whose examples cannot run in the test suite carries the line
``<!-- koop-docs: no-run (reason) -->``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NO_RUN = "<!-- koop-docs: no-run"
# Pages written elsewhere whose examples are exercised by their own tests instead.
EXERCISED_ELSEWHERE = {
    # it runs (checked by hand: ~10-20 s here) but costs a third of the docs budget
    "dysts_benchmark.md": "fits every model on two dysts systems; tests/bench covers it",
    # it runs (checked by hand: ~15-40 s here, training two RNNs and EDMD-DL)
    "rnn_comparison.md": "trains RNNs and EDMD-DL; tests/rnn and tests/dictionaries cover it",
}
FENCE = re.compile(r"^```python(?:[ \t]+[^\n]*)?\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    """The executable code blocks of a page, in order."""
    return [m.group(1) for m in FENCE.finditer(text)]


def _name(path: Path) -> str:
    return path.relative_to(DOCS if DOCS in path.parents else ROOT).as_posix()


def _pages() -> list[Path]:
    pages = []
    for path in [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8")
        rel = _name(path)
        if NO_RUN in text or rel in EXERCISED_ELSEWHERE or not python_blocks(text):
            continue
        pages.append(path)
    return pages


def test_fence_parser_finds_blocks_and_ignores_others():
    text = ("```python\na = 1\n```\n\n```py\nnot run\n```\n"
            '```python title="x"\nb = a + 1\n```\n```bash\nls\n```\n')
    assert python_blocks(text) == ["a = 1\n", "b = a + 1\n"]


def test_the_guide_pages_have_examples():
    names = {_name(p) for p in _pages()}
    for page in ("README.md", "quickstart.md", "concepts/edmd.md", "concepts/resdmd.md", "io.md",
                 "examples/slow_manifold.md", "examples/lorenz.md", "pykoopman.md",
                 "cli.md", "plotting.md", "concepts/validation.md", "control.md", "online.md"):
        assert page in names


@pytest.mark.parametrize("page", _pages(), ids=_name)
def test_page_examples_run(page, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    t0 = time.perf_counter()
    for i, block in enumerate(python_blocks(page.read_text(encoding="utf-8"))):
        code = compile(block, f"{_name(page)}[block {i}]", "exec")
        exec(code, namespace)
    assert time.perf_counter() - t0 < 60, "doc examples must stay fast"
