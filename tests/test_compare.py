"""koop.compare and `koop compare --quick`: one table, every method, finite numbers."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from koop.compare import METHODS, compare, make_data

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_make_data_follows_the_gtf_setup():
    data = make_data("lorenz63", 4000, 3000, noise=0.05, random_state=1)
    assert data.train.shape == (4000, 3) and data.test.shape == (3000, 3)
    assert data.dt == 0.01
    # standardized with the clean training statistics, then 5 % noise on the training set
    np.testing.assert_allclose(data.train.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(data.train.std(axis=0), np.sqrt(1 + 0.05**2), rtol=0.01)
    # noise level from second differences (the smooth signal's part is O(dt^2))
    est = np.std(np.diff(data.train, 2, axis=0), axis=0) / np.sqrt(6)
    np.testing.assert_allclose(est, 0.05, rtol=0.1)
    # the test set is noise-free: in original units it satisfies the Lorenz equations,
    # up to the O(dt^2) error of central differences
    Z = data.test * data.std + data.mean
    dz = (Z[2:] - Z[:-2]) / (2 * data.dt)
    x, y, z = Z[1:-1].T
    rhs = np.column_stack([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z])
    # measured: 1.8e-3 for the test set, 0.49 with 5 % noise added to it
    assert np.median(np.abs(dz - rhs) / (np.abs(rhs) + 1.0)) < 1e-2
    assert make_data("rossler", 10, 10).dt == 0.08
    with pytest.raises(ValueError, match="Unknown system"):
        make_data("duffing-ish", 10, 10)


@pytest.fixture(scope="module")
def quick_result():
    return compare("lorenz63", quick=True, random_state=0)


def test_quick_compare_has_every_method_with_finite_numbers(quick_result):
    assert [row["method"] for row in quick_result.rows] == list(METHODS)
    for row in quick_result.rows:
        for key in ("D_stsp", "D_H", "pe20", "valid_time", "fit_time"):
            assert np.isfinite(row[key]), (row["method"], key, row[key])
        assert row["D_stsp"] >= 0 and 0 <= row["D_H"] <= 1
        assert row["n_parameters"] > 0
    for name, gen in quick_result.generated.items():
        assert gen.shape == quick_result.test.shape, name
    table = quick_result.to_markdown()
    assert table.count("\n") == len(METHODS) + 1
    assert quick_result.to_csv().splitlines()[0].startswith("method,D_stsp,D_H")


def test_modal_forecaster_matches_simulate():
    from koop import systems
    from koop.compare import _ModalForecaster
    from koop.dictionaries import Polynomial
    from koop.estimators import EDMD

    rng = np.random.default_rng(0)
    trajs = [systems.slow_manifold(10, x0=x0) for x0 in rng.uniform(-1, 1, (30, 2))]
    model = EDMD(Polynomial(degree=2)).fit(trajs)  # eigenvalues 1, 0.9, 0.81, 0.5, ...
    fc = _ModalForecaster(model)
    assert fc.n_projected == 0
    x0 = np.array([[0.7, -0.4]])
    np.testing.assert_allclose(fc(x0, [0], 30)[0], model.simulate(x0[0], 30), rtol=1e-8,
                               atol=1e-10)
    # projection: an unstable eigenvalue is moved radially onto the unit circle
    model.eigenvalues_ = model.eigenvalues_.copy()
    model.eigenvalues_[-1] = 1.5 * np.exp(0.3j)
    projected = _ModalForecaster(model)
    assert projected.n_projected == 1
    np.testing.assert_allclose(projected.lam[-1], np.exp(0.3j))


def test_unknown_method_rejected():
    with pytest.raises(ValueError, match="Unknown method"):
        compare("lorenz63", quick=True, methods=["SINDy"])


def test_cli_compare_quick_writes_table_and_figure(tmp_path, capsys):
    from koop.cli import main

    code = main(["compare", "--system", "rossler", "--quick", "--quiet", "--out",
                 str(tmp_path), "--methods", "EDMD,AL-RNN"])
    assert code == 0
    md = (tmp_path / "compare_rossler.md").read_text()
    assert "| EDMD |" in md and "| AL-RNN |" in md and "P=1" in md
    payload = json.loads((tmp_path / "compare_rossler.json").read_text())
    assert payload["settings"]["system"] == "rossler"
    assert payload["settings"]["dt"] == 0.08
    assert (tmp_path / "compare_rossler_attractors.png").stat().st_size > 1000
    assert "D_stsp" in capsys.readouterr().out


def test_cli_compare_rejects_unknown_system(capsys):
    from koop.cli import main

    assert main(["compare", "--system", "pluto", "--quick", "--quiet"]) == 2
    assert "Unknown system" in capsys.readouterr().err
