"""The dysts sweep gives the same scores whatever the machine's speed: the integrator is
chosen by a fixed rule (an evaluation count, never a clock), seeds are fixed, and the
tuning budget is a number of candidates."""

import subprocess
import sys

import numpy as np
import pytest

from koop.bench import _dysts_data, dysts_suite, make_dataset, tuned_methods

pytest.importorskip("dysts")

SCORES = ("smape", "vpt", "vpt_smape", "rmse", "val_smape", "n_tried")


def test_score_columns_do_not_depend_on_the_time_limits():
    # Two runs of the tuned sweep, without a cache, one with generous limits and one
    # with tight ones (a slow machine): every score column is identical to the bit.
    kw = dict(quick=True, budget=2, methods=tuned_methods("univariate", 25)[:2])
    fast = dysts_suite(["Lorenz", "Rossler"], time_limit=300.0, timeout=None, **kw)
    slow = dysts_suite(["Lorenz", "Rossler"], time_limit=20.0, timeout=120.0, **kw)
    assert (fast["status"] != "failed").all()
    for name in SCORES:
        np.testing.assert_array_equal(fast[name].values, slow[name].values, err_msg=name)
    assert (fast["params"].values == slow["params"].values).all()
    assert (fast["integrator"].values == slow["integrator"].values).all()
    np.testing.assert_array_equal(fast["rhs_evaluations"], slow["rhs_evaluations"])


def test_integrator_rule_counts_evaluations_not_seconds(monkeypatch):
    # Under the cap, DOP853; with a cap below what Lorenz needs, Radau, whatever the
    # time limit. The counts are the same in every run.
    small = dict(n_periods=2, pts_per_period=10, n_reference=30, tol=1e-8)
    first = make_dataset("Lorenz", **small)
    again = make_dataset("Lorenz", time_limit=1000.0, **small)
    assert first.integrator == again.integrator == "DOP853"
    assert first.rhs_evaluations == again.rhs_evaluations > 0
    np.testing.assert_array_equal(first.test, again.test)
    monkeypatch.setattr(_dysts_data, "MAX_EXPLICIT_RHS_EVALS", first.rhs_evaluations // 10)
    stiff = [make_dataset("Lorenz", time_limit=t, **small).integrator for t in (30.0, 300.0)]
    assert stiff == ["Radau", "Radau"]


def test_time_limit_fails_a_system_and_never_switches_integrator():
    with pytest.raises(_dysts_data.IntegrationError, match="time_limit"):
        make_dataset("Lorenz", n_periods=3, pts_per_period=20, n_reference=100,
                     time_limit=1e-9)


def test_forced_integrator_and_cache_roundtrip(tmp_path):
    small = dict(n_periods=2, pts_per_period=10, n_reference=30, tol=1e-8)
    made = make_dataset("Lorenz", method="Radau", cache_dir=tmp_path, **small)
    assert made.integrator == "Radau"
    (path,) = tmp_path.glob("*.npz")
    assert "Radau" in path.name
    loaded = make_dataset("Lorenz", method="Radau", cache_dir=tmp_path, **small)
    np.testing.assert_array_equal(loaded.train, made.train)
    assert (loaded.integrator, loaded.rhs_evaluations) == ("Radau", made.rhs_evaluations)
    # "auto" is keyed apart (with its cap), so a forced run never poses as the rule's
    make_dataset("Lorenz", cache_dir=tmp_path, **small)
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_unknown_system_names_are_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown dysts system\(s\) \['Lorenz63'\]"):
        make_dataset("Lorenz63")
    with pytest.raises(ValueError, match="list_systems"):
        dysts_suite(["Lorenz", "NotASystem"], quick=True)


def test_cli_without_dysts_prints_one_line_naming_the_extra():
    # dysts blocked in a fresh interpreter: one line on stderr, exit 2, no traceback
    code = ("import sys; sys.modules['dysts'] = None; sys.modules['dysts.flows'] = None\n"
            "from koop.cli import main\n"
            "sys.exit(main(['benchmark', 'dysts', '--quick']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install koop[bench]" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
