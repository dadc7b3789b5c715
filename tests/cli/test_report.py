"""The report folder writer behind koop demo / koop analyze."""

from __future__ import annotations

import json

import numpy as np
import pytest

from koop._cli._report import Report, eigenvalue_table


def test_eigenvalue_table_values():
    lam = np.array([0.9 * np.exp(0.1j), 0.5])
    text = eigenvalue_table(lam, dt=0.1, residuals=[1e-12, 0.3], exact="0.9 e^{0.1i}, 0.5")
    lines = text.splitlines()
    assert "residual" in lines[0] and "log(lambda)/dt" in lines[0]
    # log(0.9 e^{0.1 i}) / 0.1 = 10 log 0.9 + 1i
    assert f"{10 * np.log(0.9):.6f}" in lines[1] and "+1.000000j" in lines[1]
    assert "1.00e-12" in lines[1] and "3.00e-01" in lines[2]
    assert lines[-1].strip().startswith("exact:")
    long = eigenvalue_table(np.ones(15), None, n=10)
    assert "5 more" in long and "log(lambda)/dt" not in long


def test_report_writes_escaped_html_with_relative_links(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    out = tmp_path / "rep"
    report = Report(out, "A <b>title</b>", verbose=False)
    report.section("First & only")
    report.text("<script>alert(1)</script>")
    report.table("  # a\n  0 1")
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    report.figure(fig, "line", "a line")
    data = out / "data.txt"
    data.write_text("x")
    report.file(data, "some data")
    report.summary.update({"n": 3, "nested": {"x": 0.5}, "arr": np.arange(2)})
    index = report.write().read_text()
    assert "<script>" not in index and "&lt;script&gt;" in index
    assert "A &lt;b&gt;title&lt;/b&gt;" in index
    assert "src='figures/line.png'" in index and "href='data.txt'" in index
    assert str(tmp_path) not in index  # relative links only: the folder can move
    assert "nested.x" in index  # key numbers table
    assert json.loads((out / "summary.json").read_text())["arr"] == [0, 1]
    assert (out / "figures" / "line.png").read_bytes()[:4] == b"\x89PNG"


def test_report_without_figures_and_bad_out(tmp_path):
    report = Report(tmp_path / "r", "t", verbose=False, figures=False)
    assert report.figure(object(), "never") is None
    target = tmp_path / "file"
    target.write_text("")
    with pytest.raises(ValueError, match="not a folder"):
        Report(target, "t", verbose=False)
