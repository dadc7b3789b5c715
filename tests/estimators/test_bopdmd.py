"""Optimized DMD and BOP-DMD: irregular sampling, noise without bias, stated uncertainty."""

import numpy as np
import pytest

from koop import io
from koop.estimators import BOPDMD, DMD
from koop.estimators._bopdmd import optdmd

ALPHA = np.array([0.0 + 2j, -0.2 + 5j])


def oscillators(t, d=60, seed=0):
    lift = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, 4)))[0]
    Z = np.column_stack([np.cos(2 * t), np.sin(2 * t), 3 * np.exp(-0.2 * t) * np.cos(5 * t),
                         3 * np.exp(-0.2 * t) * np.sin(5 * t)])
    return Z @ lift.T


def upper(values, partner=None):
    keep = values.imag > 0
    order = np.argsort(values[keep].imag)
    return values[keep][order] if partner is None else partner[keep][order]


def test_optdmd_recovers_eigenvalues_from_irregular_times_exactly():
    t = np.sort(np.random.default_rng(2).uniform(0, 15, 120))
    X = oscillators(t)
    model = BOPDMD(rank=4, n_bags=0).fit(X, t=t)
    np.testing.assert_allclose(upper(model.continuous_eigenvalues_), ALPHA, atol=1e-8)
    np.testing.assert_allclose(model.reconstruct(t), X, atol=1e-7)
    assert model.relative_residual_ < 1e-9
    assert not hasattr(model, "eigenvalues_std_")


def test_bagging_is_unbiased_within_its_uncertainty_where_exact_dmd_is_biased():
    dt = 0.1
    t = np.arange(300) * dt
    X = oscillators(t) + 0.1 * np.random.default_rng(1).normal(size=(300, 60))
    model = BOPDMD(rank=4, n_bags=12, random_state=0).fit(X, dt=dt)
    found = upper(model.continuous_eigenvalues_)
    std = upper(model.continuous_eigenvalues_, model.continuous_eigenvalues_std_)
    assert (std.real > 0).all() and (std.imag > 0).all()
    assert (np.abs(found.real - ALPHA.real) < 3 * std.real).all()
    assert (np.abs(found.imag - ALPHA.imag) < 3 * std.imag).all()
    exact = upper(DMD(rank=4).fit(X, dt=dt).continuous_eigenvalues_)
    assert (ALPHA.real - exact.real > 30 * std.real).all()  # spurious damping, far beyond
    assert model.eigenvalues_std_.shape == model.eigenvalues_.shape


def test_xarray_time_coordinate_gives_the_times_and_io_roundtrip(tmp_path):
    xr = pytest.importorskip("xarray")
    t = np.sort(np.random.default_rng(3).uniform(0, 15, 100))
    X = oscillators(t, d=12)
    da = xr.DataArray(X, dims=("time", "feature"), coords={"time": t})
    model = BOPDMD(rank=4, n_bags=3, random_state=0).fit(da)
    np.testing.assert_allclose(model.times_, t)
    np.testing.assert_allclose(upper(model.continuous_eigenvalues_), ALPHA, atol=1e-7)
    again = io.load(io.save(model, tmp_path / "b.npz"))
    assert np.array_equal(again.eigenvalues_std_, model.eigenvalues_std_)
    assert np.array_equal(again.predict(X[:3]), model.predict(X[:3]))
    # the discrete model steps by the median spacing
    np.testing.assert_allclose(np.sort_complex(model.eigenvalues_),
                               np.sort_complex(np.exp(model.continuous_eigenvalues_ *
                                                      model.dt_)), atol=1e-12)


def test_optdmd_function_on_two_columns():
    t = np.linspace(0, 10, 60)
    Z = np.column_stack([np.exp(-0.1 * t), np.exp(-0.1 * t) * 2])
    alpha, B, _ = optdmd(t, Z, np.array([-0.3 + 0j]))
    np.testing.assert_allclose(alpha, [-0.1], atol=1e-10)
    np.testing.assert_allclose(B, [[1.0, 2.0]], atol=1e-9)


@pytest.mark.parametrize("bad, msg", [({"n_bags": -1}, "n_bags"),
                                      ({"bag_fraction": 0.0}, "bag_fraction"),
                                      ({"rank": 0}, "rank")])
def test_constraints_and_bad_times(bad, msg):
    X = oscillators(np.arange(20) * 0.1, d=5)
    with pytest.raises(ValueError, match=msg):
        BOPDMD(**bad).fit(X)
    with pytest.raises(ValueError, match="increase"):
        BOPDMD(rank=2, n_bags=0).fit(X, t=np.arange(20)[::-1])
    with pytest.raises(ValueError, match="one per snapshot"):
        BOPDMD(rank=2, n_bags=0).fit(X, t=np.arange(5))
