"""The report folder of ``koop demo`` / ``koop analyze``: figures, data files, index.html."""

from __future__ import annotations

import datetime
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Report", "eigenvalue_table"]


def eigenvalue_table(lam: Any, dt: float | None = None, residuals: Any = None,
                     n: int = 10, exact: Any = None) -> str:
    """A plain-text table of the leading eigenvalues (and residual bounds, if known)."""
    lam = np.asarray(lam, dtype=np.complex128)
    header = f"{'#':>3} {'lambda (discrete time)':>30} {'|lambda|':>9}"
    if dt:
        header += f" {'log(lambda)/dt':>28}"
    if residuals is not None:
        header += f" {'residual':>10}"
    lines = [header]
    res = None if residuals is None else np.asarray(residuals, dtype=float)
    for j, v in enumerate(lam[:n]):
        row = f"{j:>3} {v.real:>15.8f}{v.imag:+14.8f}j {abs(v):>9.6f}"
        if dt:
            with np.errstate(divide="ignore"):
                c = np.log(v) / dt
            row += f" {c.real:>13.6f}{c.imag:+13.6f}j"
        if res is not None:
            row += f" {res[j]:>10.2e}"
        lines.append(row)
    if lam.size > n:
        lines.append(f"    ... {lam.size - n} more")
    if exact is not None:
        lines.append(f"    exact: {exact}")
    return "\n".join(lines)


@dataclass
class _Section:
    title: str
    blocks: list = field(default_factory=list)  # ("text"|"pre"|"figure"|"file", payload)


class Report:
    """Collect text, tables, figures and files, and write them as a browsable folder.

    Figures go to ``out/figures/*.png``; :meth:`write` writes ``out/index.html`` that
    shows everything (relative links only, so the folder can be moved or zipped).
    """

    def __init__(self, out: str | Path, title: str, verbose: bool = True,
                 figures: bool = True) -> None:
        self.out = Path(out)
        self.figures = figures
        self.title = title
        self.verbose = verbose
        self.sections: list[_Section] = []
        self.summary: dict[str, Any] = {}
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"--out {self.out} exists and is not a folder.")
        (self.out / "figures").mkdir(parents=True, exist_ok=True)

    def section(self, title: str) -> None:
        self.sections.append(_Section(title))
        if self.verbose:
            print(f"\n== {title} ==")

    def _current(self) -> _Section:
        if not self.sections:
            self.section(self.title)
        return self.sections[-1]

    def text(self, text: str) -> None:
        self._current().blocks.append(("text", text))
        if self.verbose:
            print(text)

    def table(self, text: str) -> None:
        self._current().blocks.append(("pre", text))
        if self.verbose:
            print(text)

    def figure(self, fig: Any, name: str, caption: str = "") -> Path | None:
        if not self.figures:
            return None
        path = self.out / "figures" / f"{name}.png"
        fig.savefig(path, dpi=110)
        self._current().blocks.append(("figure", (f"figures/{name}.png", caption)))
        return path

    def file(self, path: str | Path, caption: str) -> None:
        rel = Path(path).resolve().relative_to(self.out.resolve())
        self._current().blocks.append(("file", (rel.as_posix(), caption)))
        if self.verbose:
            print(f"wrote {path}")

    def write(self) -> Path:
        """Write ``index.html`` and ``summary.json``; return the index path."""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        from koop import __version__

        parts = [
            "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
            f"<title>{html.escape(self.title)}</title>",
            "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
            "padding:0 1em;color:#222}pre{background:#f6f8fa;padding:.8em;overflow-x:auto;"
            "font-size:13px}figure{display:inline-block;margin:.5em;vertical-align:top}"
            "figure img{max-width:520px;border:1px solid #ddd}figcaption{font-size:13px;"
            "max-width:520px}nav a{margin-right:1em}td{padding:.15em 1em .15em 0}</style>"
            "</head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
            f"<p>koop {html.escape(__version__)} &middot; {now}</p><nav>",
        ]
        for i, s in enumerate(self.sections):
            parts.append(f"<a href='#s{i}'>{html.escape(s.title)}</a>")
        parts.append("</nav>")
        key_numbers = list(_scalars(self.summary))
        if key_numbers:
            parts.append("<h2>Key numbers</h2><table>")
            parts.extend(f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(v)}</code></td>"
                         "</tr>" for k, v in key_numbers)
            parts.append("</table>")
        for i, s in enumerate(self.sections):
            parts.append(f"<h2 id='s{i}'>{html.escape(s.title)}</h2>")
            for kind, payload in s.blocks:
                if kind == "text":
                    parts.append(f"<p>{html.escape(payload)}</p>")
                elif kind == "pre":
                    parts.append(f"<pre>{html.escape(payload)}</pre>")
                elif kind == "figure":
                    src, caption = payload
                    parts.append(f"<figure><a href='{src}'><img src='{src}' alt='"
                                 f"{html.escape(caption)}'></a><figcaption>"
                                 f"{html.escape(caption)}</figcaption></figure>")
                else:
                    href, caption = payload
                    parts.append(f"<p><a href='{href}'>{html.escape(href)}</a> &mdash; "
                                 f"{html.escape(caption)}</p>")
        parts.append("</body></html>")
        index = self.out / "index.html"
        index.write_text("\n".join(parts), encoding="utf-8")
        (self.out / "summary.json").write_text(
            json.dumps(self.summary, indent=1, default=_jsonable), encoding="utf-8")
        if self.verbose:
            print(f"\nReport: {index}")
        return index


def _scalars(tree: dict, prefix: str = ""):
    """(name, formatted value) for every number in the summary, nested keys joined."""
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _scalars(value, f"{name}.")
        elif isinstance(value, bool | str):
            yield name, str(value)
        elif isinstance(value, int | float | np.integer | np.floating):
            yield name, f"{value:.4g}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, complex):
        return [value.real, value.imag]
    return str(value)
