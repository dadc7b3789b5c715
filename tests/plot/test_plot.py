"""koop.plot: every figure renders to PNG and shows the data it was given."""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from koop import plot, systems
from koop.dictionaries import Polynomial
from koop.estimators import EDMD

PNG = b"\x89PNG\r\n\x1a\n"


def render(fig, tmp_path, name="fig.png"):
    path = tmp_path / name
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 2000
    return data


@pytest.fixture(scope="module")
def model_and_data():
    X = systems.slow_manifold(200, mu=0.9, lam=0.5, x0=[1.0, 0.8])
    return EDMD(Polynomial(degree=2)).fit(X, dt=0.1), X


def _offsets(ax):
    return np.vstack([c.get_offsets() for c in ax.collections if hasattr(c, "get_offsets")
                      and len(c.get_offsets())])


def test_spectrum_draws_every_eigenvalue_and_the_unit_circle(model_and_data, tmp_path):
    model, _ = model_and_data
    fig = plot.spectrum(model)
    ax = fig.axes[0]
    pts = _offsets(ax)
    np.testing.assert_allclose(np.sort_complex(pts[:, 0] + 1j * pts[:, 1]),
                               np.sort_complex(model.eigenvalues_), atol=1e-12)
    circle = ax.lines[0].get_xydata()
    np.testing.assert_allclose(np.hypot(circle[:, 0], circle[:, 1]), 1.0, atol=1e-12)
    render(fig, tmp_path)


def test_spectrum_coloured_by_residual_with_tolerance(tmp_path):
    lam = np.array([1.0, 0.9, 0.5 + 0.5j, 0.5 - 0.5j])
    res = np.array([1e-10, 1e-3, 0.2, 0.2])
    fig = plot.spectrum(lam, residuals=res, tol=1e-2)
    assert len(fig.axes) == 2  # plane + colour bar
    verified, hollow = fig.axes[0].collections[:2]
    assert len(verified.get_offsets()) == 2 and len(hollow.get_offsets()) == 2
    render(fig, tmp_path)
    with pytest.raises(ValueError, match="residuals has 3 entries"):
        plot.spectrum(lam, residuals=res[:3])


def test_continuous_spectrum(model_and_data, tmp_path):
    render(plot.spectrum(model_and_data[0], continuous=True), tmp_path)


def test_pseudospectrum_from_dataarray_and_tuple(tmp_path):
    import xarray as xr

    x = np.linspace(-1.5, 1.5, 41)
    y = np.linspace(-1.2, 1.2, 31)
    Z = np.abs(x[None, :] + 1j * y[:, None] - 0.5)  # distance to an eigenvalue at 0.5
    da = xr.DataArray(Z, dims=("imag", "real"), coords={"imag": y, "real": x})
    fig = plot.pseudospectrum(da, levels=[0.01, 0.1, 1.0], eigenvalues=[0.5])
    cs = fig.axes[0].collections
    assert any(len(getattr(c, "get_paths", list)()) for c in cs)
    render(fig, tmp_path)
    render(plot.pseudospectrum((x, y, Z)), tmp_path, "b.png")
    with pytest.raises(ValueError, match="expected"):
        plot.pseudospectrum((x, y, Z.T))
    with pytest.raises(TypeError, match="pseudospectrum takes"):
        plot.pseudospectrum(42)


def test_eigenfunctions_2d_and_1d(model_and_data, tmp_path):
    model, X = model_and_data
    fig = plot.eigenfunctions(model, X, n=3)
    visible = [a for a in fig.axes if a.get_visible() and a.get_title()]
    assert len(visible) == 3
    # the constant eigenfunction (lambda = 1) is skipped by default
    assert all("0.000+" not in a.get_title() or "1.000" not in a.get_title() for a in visible)
    render(fig, tmp_path)
    t = np.arange(300)
    m1 = EDMD(Polynomial(degree=1)).fit(np.sin(0.2 * t))
    render(plot.eigenfunctions(m1, np.sin(0.2 * t), n=2), tmp_path, "1d.png")
    with pytest.raises(ValueError, match="part"):
        plot.eigenfunctions(model, X, part="imaginary")


def test_modes_forecast_convergence(model_and_data, tmp_path):
    model, X = model_and_data
    render(plot.modes(model, feature_names=["x", "y"]), tmp_path, "m.png")
    pred = model.simulate(X[0], 50)
    fig = plot.forecast(X[1:51], pred, dt=0.1, feature_names=["x", "y"])
    truth_line = fig.axes[0].lines[0].get_ydata()
    np.testing.assert_array_equal(truth_line, X[1:51, 0])
    render(fig, tmp_path, "f.png")
    n = np.array([100, 1000, 10000])
    fig = plot.convergence({"n_samples": n, "error": 1 / np.sqrt(n), "residual": 1 / n})
    assert len(fig.axes[0].lines) == 2
    render(fig, tmp_path, "c.png")


def test_havok_forcing_with_a_stand_in(tmp_path):
    t = np.arange(500) * 0.01
    forcing = np.where((t > 2) & (t < 2.3), 3.0, 0.05 * np.sin(40 * t))
    stub = types.SimpleNamespace(
        forcing_=forcing, dt_=0.01, delay_coordinates_=np.column_stack([np.sin(t), forcing]),
        forcing_active=lambda threshold=None: np.abs(forcing) > (threshold or 1.0),
    )
    fig = plot.havok_forcing(stub)
    assert len([a for a in fig.axes if a.get_visible()]) == 2
    render(fig, tmp_path)


def test_draws_into_given_axes(model_and_data, tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    assert plot.spectrum(model_and_data[0], ax=ax) is fig
    render(fig, tmp_path)


def test_import_koop_plot_and_io_does_not_import_matplotlib():
    code = "import sys, koop.plot, koop.io; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_havok_forcing_with_a_fitted_model(tmp_path):
    from koop.estimators import HAVOK

    x = systems.lorenz63(4000, dt=0.005)[:, 0]
    model = HAVOK(n_delays=19, rank=8).fit(x, dt=0.005)
    fig = plot.havok_forcing(model)
    top, bottom = [a for a in fig.axes if a.get_visible()]
    np.testing.assert_allclose(bottom.lines[0].get_ydata(), model.forcing_[:4000 - 19])
    np.testing.assert_allclose(top.lines[0].get_ydata(), model.delay_coordinates_[:, 0])
    render(fig, tmp_path)
