"""koop demo --quick: the tables it prints and the report folder it writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from koop import io
from koop.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import contextlib
    import io as stdio

    out = tmp_path_factory.mktemp("demo") / "report"
    buffer = stdio.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(stdio.StringIO()):
        code = main(["demo", "--quick", "--out", str(out)])
    return code, buffer.getvalue(), out


def test_demo_exits_cleanly_and_prints_tables(demo):
    code, text, _ = demo
    assert code == 0
    for title in ("Slow manifold", "Lorenz-63: EDMD", "ResDMD", "HAVOK"):
        assert title in text
    # the slow manifold's exact eigenvalues, to the 8 printed digits
    for value in ("1.00000000", "0.90000000", "0.81000000", "0.50000000"):
        assert value in text
    assert "residual" in text and "eigenpairs have residual <=" in text


def test_demo_report_folder(demo):
    _, _, out = demo
    index = (out / "index.html").read_text()
    assert "Key numbers" in index and "slow_manifold_max_error" in index
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    for name in ("lorenz_edmd_spectrum", "lorenz_edmd_forecast", "lorenz_edmd_eigenfunctions",
                 "lorenz_resdmd_pseudospectrum", "lorenz_havok_forcing"):
        assert f"{name}.png" in figures
    for name in figures:  # every figure is linked from the index and is a real PNG
        assert f"figures/{name}" in index
        assert (out / "figures" / name).read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["slow_manifold_max_error"] < 1e-8
    assert summary["resdmd"]["n_verified"] >= 1


def test_demo_files_load_back(demo):
    _, _, out = demo
    model = io.load(out / "lorenz_resdmd_model.npz")
    spectrum = io.open_netcdf(out / "lorenz_resdmd_spectrum.nc")
    np.testing.assert_array_equal(spectrum.eigenvalue.values, model.eigenvalues_)
    np.testing.assert_array_equal(spectrum.residual.values, model.residuals_)
    validation = io.open_netcdf(out / "lorenz_resdmd_validation.nc")
    np.testing.assert_array_equal(validation.eigenvalue.values, model.eigenvalues_)
    assert {"residual_test", "conv_max_residual"} <= set(validation.data_vars)
    assert validation.conv_max_residual.dims == ("n_samples", "dictionary_size")
    # the trivial eigenvalue 1 (the constant, well but not exactly approximated by the
    # Gaussian RBFs) is found and verified at the demo's tolerance (0.05)
    assert np.min(np.abs(model.eigenvalues_ - 1)) < 1e-3
    assert model.residuals_[np.argmin(np.abs(model.eigenvalues_ - 1))] <= 0.05


def test_demo_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["demo", "--quick", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err


def test_demo_cylinder_wake_gives_the_shedding_frequency_and_modes_on_the_grid(demo):
    code, text, out = demo
    assert code == 0 and "Cylinder wake at Re = 100" in text
    summary = json.loads((out / "summary.json").read_text())
    # blockage 0.2 on the quick lattice: St = 0.204 (docs/fields.md; unconfined 0.165)
    assert 0.19 < summary["cylinder"]["strouhal"] < 0.22
    assert summary["cylinder"]["residuals"][0] < 0.05  # the shedding pair, held-out data
    modes = sorted((out / "figures").glob("cylinder_dmd_mode*.png"))
    assert len(modes) >= 2 and (out / "figures" / "cylinder_dmd_spectrum.png").exists()
    model = io.load(out / "cylinder_dmd_model.npz")
    assert model.field_.dims == ("y", "x")
