"""koop analyze FILE: every input format, the report, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from koop import io, systems
from koop.cli import main

A = np.array([[0.9, 0.2], [0.0, 0.5]])  # eigenvalues 0.9 and 0.5


@pytest.fixture(scope="module")
def linear():
    return systems.linear(A, 200, x0=[1.0, 1.0])


def _run(args, capsys):
    code = main(["analyze", *args, "--quiet"])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _eigs(out):
    summary = json.loads((out / "summary.json").read_text())
    return np.array([complex(*v) if isinstance(v, list) else complex(v)
                     for v in summary["model"]["eigenvalues"]])


def test_csv_with_time_column(linear, tmp_path, capsys):
    path = tmp_path / "lin.csv"
    t = 0.1 * np.arange(len(linear))
    np.savetxt(path, np.column_stack([t, linear]), delimiter=",", header="time,u,v",
               comments="")
    out = tmp_path / "r"
    code, _, err = _run([str(path), "--dictionary", "identity", "--out", str(out)], capsys)
    assert code == 0, err
    np.testing.assert_allclose(np.sort(_eigs(out).real), [0.5, 0.9], atol=1e-8)
    spectrum = io.open_netcdf(out / "edmd_spectrum.nc")
    assert list(spectrum.feature.values) == ["u", "v"]
    assert spectrum.attrs["dt"] == pytest.approx(0.1)
    assert (out / "index.html").exists() and (out / "figures" / "edmd_spectrum.png").exists()


def test_npy_with_dt_and_resdmd(linear, tmp_path, capsys):
    path = tmp_path / "lin.npy"
    np.save(path, linear)
    out = tmp_path / "r"
    code, _, err = _run([str(path), "--dt", "0.1", "--estimator", "resdmd", "--dictionary",
                         "poly:1", "--out", str(out), "--no-figures"], capsys)
    assert code == 0, err
    model = io.load(out / "resdmd_model.npz")
    for exact in (0.9, 0.5):  # linear functions span the eigenfunctions: zero residual
        j = np.argmin(np.abs(model.eigenvalues_ - exact))
        assert abs(model.eigenvalues_[j] - exact) < 1e-8 and model.residuals_[j] < 1e-6


def test_npz_and_netcdf(tmp_path, capsys):
    X = systems.slow_manifold(300, mu=0.9, lam=0.5, x0=[1.0, 0.8])
    npz = tmp_path / "s.npz"
    np.savez(npz, X=X, t=0.5 * np.arange(300))
    nc = io.to_netcdf(systems.as_xarray(X, dt=0.5).to_dataset(name="state"),
                      tmp_path / "s.nc")
    for path in (npz, nc):
        out = tmp_path / f"r_{path.suffix[1:]}"
        code, _, err = _run([str(path), "--dictionary", "poly:2", "--out", str(out),
                             "--no-figures"], capsys)
        assert code == 0, err
        lam = _eigs(out)
        for exact in (1.0, 0.9, 0.81, 0.5):
            assert np.min(np.abs(lam - exact)) < 1e-8


@pytest.mark.parametrize("args, message", [
    (["missing.csv"], "no such file"),
    (["data.txt"], "unsupported file type"),
    (["bad.npy"], "cannot read"),
    (["text.csv"], "non-numeric"),
    (["uneven.csv"], "not uniformly"),
    (["good.npy", "--dictionary", "poly:x"], "bad --dictionary"),
    (["good.npy", "--dictionary", "spline:3"], "bad --dictionary kind"),
    (["good.npy", "--estimator", "havok", "--dictionary", "poly:2"], "delay"),
    (["good.npy", "--dt", "-1"], "--dt must be"),
    (["good.npy", "--variables", "a"], "named columns"),
    (["good.npy", "--estimator", "dmd", "--dictionary", "poly:2"], "drop --dictionary"),
    (["good.npy", "--estimator", "kernel", "--dictionary", "rbf:9"], "drop --dictionary"),
    (["ok.csv", "--variables", "zz"], "no variable 'zz'"),
    (["short.npy"], "at least"),
    (["foreign.nc"], "cannot read"),
    (["empty.nc"], "no variable with a 'time' dimension"),
])
def test_bad_input_gives_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.txt").write_text("1 2 3")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "text.csv").write_text("a,b\n1,2\nx,y\n")
    (tmp_path / "ok.csv").write_text("a,b\n" + "".join(f"{k},{k * k}\n" for k in range(30)))
    (tmp_path / "uneven.csv").write_text("t,a\n0,1\n1,2\n3,3\n" + "".join(
        f"{k},{k}\n" for k in range(4, 30)))
    np.save(tmp_path / "good.npy", np.random.default_rng(0).normal(size=(50, 2)))
    np.save(tmp_path / "short.npy", np.zeros((3, 2)))
    (tmp_path / "foreign.nc").write_bytes(b"this is not netCDF")
    (tmp_path / "empty.nc").write_bytes(b"CDF\x01" + bytes(40))
    code, _, err = _run(args, capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


@pytest.mark.parametrize("argv", [["analyze", "x.npy", "--estimator", "nope"],
                                  ["analyze", "x.npy", "--dt", "fast"], ["analyze"],
                                  ["demo", "--out"]])
def test_bad_options_give_one_line(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"koop {argv[0]}: error:")


def test_help_texts_are_clear(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for word in ("--dictionary", "poly:DEGREE", "--estimator", "resdmd", "havok", "examples"):
        assert word in text
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "--out" in capsys.readouterr().out


@pytest.mark.parametrize("estimator, extra", [
    ("dmd", []),
    ("kernel", []),
    ("mpedmd", ["--dictionary", "poly:1"]),
    ("hankel", ["--dictionary", "delay:6", "--rank", "4"]),
    ("havok", ["--dictionary", "delay:20", "--rank", "4"]),
])
def test_other_estimators(tmp_path, capsys, estimator, extra):
    t = np.arange(600.0)
    signal = np.sin(0.3 * t) + 0.5 * np.cos(0.71 * t)
    data = signal if estimator in ("hankel", "havok") else np.column_stack(
        [signal, np.roll(signal, 3)])
    np.save(tmp_path / "s.npy", data)
    out = tmp_path / estimator
    code, _, err = _run([str(tmp_path / "s.npy"), "--dt", "1", "--estimator", estimator,
                         *extra, "--out", str(out), "--no-figures"], capsys)
    assert code == 0, err
    model = io.load(out / f"{estimator}_model.npz")
    assert type(model).__name__ == {"dmd": "DMD", "hankel": "HankelDMD", "havok": "HAVOK",
                                    "kernel": "KernelEDMD", "mpedmd": "MPEDMD"}[estimator]
    if estimator == "hankel":  # two sinusoids: eigenvalues e^{+-0.3i}, e^{+-0.71i}
        for w in (0.3, 0.71):
            assert np.min(np.abs(model.eigenvalues_ - np.exp(1j * w))) < 1e-6


def _field_file(tmp_path, n=160):
    """A netCDF field (time, y, x) with two oscillations (0.9 and 1.7 rad per unit time,
    growth 0 and -0.02) and a masked corner (NaN at every time)."""
    import xarray as xr

    dt = 0.1
    ny, nx = 12, 16
    y, x = np.linspace(0, 1, ny), np.linspace(0, 2, nx)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    t = dt * np.arange(n)
    F = np.zeros((n, ny, nx))
    for k, (w, g) in enumerate([(0.9, 0.0), (1.7, -0.02)]):
        a = np.sin((k + 1) * np.pi * xx / 2) * np.cos((k + 1) * np.pi * yy)
        b = np.cos((k + 2) * np.pi * xx / 2) * yy ** (k + 1)
        F += np.exp(g * t)[:, None, None] * (np.cos(w * t)[:, None, None] * a
                                             + np.sin(w * t)[:, None, None] * b)
    F[:, :2, :3] = np.nan
    da = xr.DataArray(F, dims=("time", "y", "x"), coords={"time": t, "y": y, "x": x},
                      name="vorticity")
    ds = da.to_dataset().assign(probe=("time", np.cos(t)))  # a second, non-field variable
    return io.to_netcdf(ds, tmp_path / "field.nc"), dt


def test_netcdf_field_gives_modes_on_the_grid_and_the_frequencies(tmp_path, capsys):
    path, dt = _field_file(tmp_path)
    out = tmp_path / "r"
    code, _, err = _run([str(path), "--variables", "vorticity", "--out", str(out)], capsys)
    assert code == 0, err
    model = io.load(out / "dmd_model.npz")
    assert type(model).__name__ == "DMD" and model.field_.dims == ("y", "x")
    lam = _eigs(out)
    truth = np.exp(dt * np.array([0.9j, -0.9j, -0.02 + 1.7j, -0.02 - 1.7j]))
    assert max(np.abs(lam - z).min() for z in truth) < 1e-8  # clean data: exact DMD
    # the mode figures: the two oscillating pairs, captioned with their frequencies
    html = (out / "index.html").read_text()
    figures = sorted(p.name for p in (out / "figures").glob("dmd_mode*.png"))
    assert len(figures) == 2, figures
    for w in (0.9, 1.7):
        assert f"frequency {w / (2 * np.pi):.4g} per unit time" in html
    # the modes live on the grid, the masked corner is restored as NaN
    from koop._fields import modes_dataarray

    modes = modes_dataarray(model)
    assert modes.dims == ("mode", "y", "x") and modes.shape[1:] == (12, 16)
    assert np.isnan(modes.isel(y=0, x=0)).all() and not np.isnan(modes.isel(y=5, x=5)).any()


def test_netcdf_field_other_estimators_run_on_pod_coordinates(tmp_path, capsys):
    path, dt = _field_file(tmp_path)
    out = tmp_path / "res"
    code, _, err = _run([str(path), "--variables", "vorticity", "--estimator", "resdmd",
                         "--pod-rank", "4", "--out", str(out), "--no-figures"], capsys)
    assert code == 0, err
    model = io.load(out / "resdmd_model.npz")
    assert model.reduction_.components_.shape[1] == 4
    for z in np.exp(dt * np.array([0.9j, -0.02 + 1.7j])):  # two-split: true modes, small
        j = np.argmin(np.abs(model.eigenvalues_ - z))     # residuals
        assert abs(model.eigenvalues_[j] - z) < 1e-6 and model.residuals_[j] < 1e-6


def test_netcdf_with_a_field_among_other_variables_asks_for_one(tmp_path, capsys):
    path, _ = _field_file(tmp_path)
    code, _, err = _run([str(path), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "pick one with variables=NAME (koop analyze: --variables NAME)" in err
