"""Labelled fields: spatial dims flattened and restored, NaN masks, clear errors; the
cylinder wake and its Strouhal number; the LBM kernel against its numpy twin."""

import numpy as np
import pytest

from koop import io, plot, systems
from koop._kernels.lbm import equilibrium, lbm_step, lbm_step_twin
from koop.estimators import DMD

xr = pytest.importorskip("xarray")


def wave_field(mask=True, n=60):
    t = np.arange(n) * 0.1
    y, x = np.linspace(-1, 1, 9), np.linspace(0, 2, 14)
    Y, X = np.meshgrid(y, x, indexing="ij")
    v = (np.cos(3 * t)[:, None, None] * np.cos(Y * X)[None]
         + np.sin(3 * t)[:, None, None] * np.sin(X + Y)[None])
    if mask:
        v[:, 2:4, 5:8] = np.nan  # an island: NaN at every time
    return xr.DataArray(v, dims=("time", "y", "x"), coords={"time": t, "y": y, "x": x})


def test_field_roundtrip_modes_on_the_grid_and_mask_restored(tmp_path):
    da = wave_field()
    model = DMD(rank=2).fit(da)
    assert model.n_features_in_ == 9 * 14 - 6
    np.testing.assert_allclose(np.sort(np.abs(2 * np.pi * model.frequencies_)), [3, 3],
                               atol=1e-10)
    ds = model.to_xarray()
    assert ds["modes"].dims == ("mode", "y", "x")
    np.testing.assert_array_equal(ds["x"].values, da["x"].values)
    assert np.isnan(ds["modes"].values[:, 2:4, 5:8]).all()
    assert np.isfinite(ds["modes"].values[:, 0]).all()
    # modes on the grid are modes_ with the mask put back
    np.testing.assert_array_equal(ds["modes"].values[0][np.isfinite(ds["modes"].values[0])],
                                  model.modes_[:, 0])
    pred = model.predict(da.isel(time=slice(0, 5)))
    assert pred.dims == ("time", "y", "x")
    np.testing.assert_allclose(pred["time"].values, da["time"].values[1:6])
    np.testing.assert_allclose(pred.values, da.values[1:6], atol=1e-10, equal_nan=True)
    rec = model.reconstruct_field(60)
    np.testing.assert_allclose(rec.values, da.values, atol=1e-9, equal_nan=True)
    again = io.load(io.save(model, tmp_path / "f.npz"))
    assert again.field_.dims == ("y", "x")
    np.testing.assert_array_equal(again.field_.valid, model.field_.valid)
    fig = plot.field_modes(model)
    assert len(fig.axes) >= 2


def test_field_errors_are_clear():
    da = wave_field()
    bad = da.copy()
    bad.values[3, 0, 0] = np.nan
    with pytest.raises(ValueError, match="valid at other times"):
        DMD(rank=2).fit(bad)
    with pytest.raises(ValueError, match="monotonically"):
        DMD(rank=2).fit(da.isel(time=slice(None, None, -1)))
    model = DMD(rank=2).fit(da)
    moved = wave_field(mask=False)
    moved.values[:, 0:2, 0:3] = np.nan
    with pytest.raises(ValueError, match=r"mask .* differs"):
        model.predict(moved)
    with pytest.raises(ValueError, match="spatial dims"):
        model.predict(da.isel(x=slice(0, 5)))
    with pytest.raises(ValueError, match="exceeds min"):
        DMD(rank=500).fit(da)


def test_trajectory_dim_before_time_still_means_runs():
    da = wave_field(mask=False)
    runs = xr.concat([da, da * 0.5], dim="run").transpose("run", "time", "y", "x")
    model = DMD(rank=2).fit(runs)
    np.testing.assert_allclose(np.sort(np.abs(np.angle(model.eigenvalues_))), [0.3, 0.3],
                               atol=1e-10)


def test_lbm_kernel_equals_numpy_twin():
    rng = np.random.default_rng(0)
    nx, ny = 30, 12
    obstacle = np.zeros((nx, ny), bool)
    obstacle[10:13, 5:8] = True
    u_in = 0.05 * (1 + 0.01 * rng.normal(size=ny))
    f = equilibrium(1 + 0.01 * rng.random((nx, ny)), 0.02 * rng.normal(size=(2, nx, ny)))
    g, scratch = f.copy(), np.empty_like(f)
    start = f.copy()
    for _ in range(7):
        f = lbm_step_twin(f, obstacle, u_in, 1.7)
        lbm_step(g, scratch, obstacle, u_in, 1.7)
    assert np.abs(f - start).max() > 1e-3  # the flow moved
    np.testing.assert_allclose(g, f, rtol=1e-13, atol=1e-15)


def test_cylinder_wake_sheds_at_the_strouhal_number():
    w = systems.cylinder_wake(100, nx=120, ny=40, diameter=8, sample_every=20,
                              n_transient=5000)
    assert w.dims == ("time", "y", "x") and w.attrs["reynolds"] == 100.0
    assert np.isnan(w.sel(x=0, y=0, method="nearest")).all()  # the cylinder is masked
    model = DMD(rank=6).fit(w)
    st = np.abs(model.frequencies_[np.abs(model.eigenvalues_) > 0.99])
    st = st[st > 0].min()
    # unconfined Re = 100: 0.164-0.167; this coarse, 20 % blocked lattice sheds faster
    assert 0.17 < st < 0.23
