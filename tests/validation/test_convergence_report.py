"""convergence_study and report / ValidationReport."""

import numpy as np
import pytest

from koop import systems
from koop.dictionaries import Polynomial
from koop.estimators import EDMD, ResDMD
from koop.validation import ValidationReport, convergence_study, report


def test_convergence_study_slow_manifold(slow_manifold_data):
    ds = convergence_study(ResDMD(Polynomial(2)), slow_manifold_data, n_samples=[100, 400],
                           dictionary_sizes=[2, 3], n_eigenvalues=4, verbose=False)
    assert ds.eigenvalue.dims == ("n_samples", "dictionary_size", "mode")
    assert ds.eigenvalue.shape == (2, 2, 4)
    # the four leading eigenvalues are exact (1, 0.9, 0.81, 0.729 or 0.5) in every fit
    assert float(ds.residual.max()) < 1e-10
    np.testing.assert_allclose(ds.eigenvalue.sel(mode=0).values, 1.0, atol=1e-10)
    assert ds.attrs["dictionary_param"] == "dictionary__degree"


def test_convergence_study_on_test_data_flags_spurious(slow_manifold_data):
    rng = np.random.default_rng(5)
    test = [systems.slow_manifold(10, x0=x0) for x0 in rng.uniform(-1, 1, (10, 2))]
    ds = convergence_study(EDMD(Polynomial(3)), slow_manifold_data, dictionary_sizes=[3],
                           X_test=test, n_eigenvalues=10, tol=1e-8)
    assert (ds.n_verified.values == 6).all()
    assert ds.attrs["residuals_on"] == "X_test"


def test_convergence_needs_size_param(slow_manifold_data):
    from koop.dictionaries import Custom

    est = ResDMD(Custom(lambda X: X))
    with pytest.raises(ValueError, match="dictionary_param"):
        convergence_study(est, slow_manifold_data, dictionary_sizes=[1, 2])


def test_report_contents_and_text(slow_manifold_data):
    model = ResDMD(Polynomial(3)).fit(slow_manifold_data, dt=0.1)
    X = systems.slow_manifold(40, x0=[0.5, 0.2])
    rep = report(model, X, n_steps=20, convergence={"n_samples": [200, 400]})
    assert isinstance(rep, ValidationReport)
    ds = rep.to_xarray()
    for name in ("eigenvalue", "residual", "residual_test", "continuous_eigenvalue",
                 "one_step_r2", "multistep_rmse", "conv_residual"):
        assert name in ds, name
    assert float(ds.one_step_r2) > 0.999999
    assert float(ds.multistep_rmse.max()) < 1e-8  # the slow manifold is closed here
    text = repr(rep)
    assert "residual" in text and "convergence" in text and "0.900000" in text
    table = rep.table(3, tol=1e-8)
    assert table.count("yes") == 3


def test_report_plot(slow_manifold_data):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    rep = report(EDMD(Polynomial(2)).fit(slow_manifold_data))
    ax = rep.plot()
    assert ax.get_xlabel() == "Re lambda"
    assert rep.dataset.attrs["residual_source"] == "Gram quadratic form"
