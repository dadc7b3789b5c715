"""Hostile input, continued: koop.validation, the Gram backends, the systems, the CLI.

Same catalogue and contract as ``test_hostile_input.py``: every bad value gives a
``ValueError`` or ``TypeError`` that names the problem; the CLI prints one line and exits
with status 2; nothing read from a file runs code.
"""

import warnings

import numpy as np
import pytest

from koop import systems
from koop.dictionaries import Polynomial
from koop.estimators import EDMD, ResDMD
from koop.gram import build_gram

from ._support import BAD_DATA, GOOD, SHORT_DATA, Payload
from ._support import ids as _ids
from ._support import raises as _raises

pytestmark = pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")


# -- koop.validation ----------------------------------------------------------------------
# X=None means "the training data" there, so None is not bad input for these
BAD_VALIDATION_DATA = [c for c in BAD_DATA + SHORT_DATA if c[0] != "None"]


@pytest.fixture(scope="module")
def validated_models():
    return {"EDMD": EDMD(Polynomial(2)).fit(GOOD), "ResDMD": ResDMD(Polynomial(2)).fit(GOOD)}


def _validation_calls(model):
    from koop import validation as V

    return {
        "residuals": lambda bad: V.residuals(model, bad),
        "pseudospectrum": lambda bad: V.pseudospectrum(model, [0.5, 0.9], X=bad),
        "report": lambda bad: V.report(model, bad),
        "convergence_study": lambda bad: V.convergence_study(EDMD(Polynomial(2)), bad),
    }


@pytest.mark.parametrize("case", BAD_VALIDATION_DATA, ids=_ids(BAD_VALIDATION_DATA))
@pytest.mark.parametrize("fn", ["residuals", "pseudospectrum", "report", "convergence_study"])
@pytest.mark.parametrize("model_name", ["EDMD", "ResDMD"])
def test_validation_refuses_bad_data(validated_models, model_name, fn, case):
    _, make, exc, msg = case
    call = _validation_calls(validated_models[model_name])[fn]
    _raises(lambda: call(make()), exc, msg)


def test_validation_refuses_what_is_not_a_fitted_model():
    from koop import validation as V

    for bad in (None, "model", EDMD(), np.eye(2)):
        for call in (lambda b: V.residuals(b), lambda b: V.pseudospectrum(b, [0.5]),
                     lambda b: V.report(b)):
            _raises(lambda c=call, b=bad: c(b), TypeError, "not a fitted")


def test_pseudospectrum_refuses_bad_points(validated_models):
    from koop import validation as V

    model = validated_models["ResDMD"]
    for pts, exc, msg in ((np.nan, ValueError, "NaN or inf"), ([0.5, np.inf], ValueError,
                          "NaN or inf"), ("abc", TypeError, "points"), ({"a": 1}, TypeError,
                          "points"), ([[1.0, 2.0], [3.0, 4.0]], ValueError, "1-D")):
        _raises(lambda p=pts: V.pseudospectrum(model, p), exc, msg)
    tau = V.pseudospectrum(model, [0.5, 0.9 + 0.1j])
    assert np.isfinite(tau).all() and (np.asarray(tau) >= 0).all()


def test_spectral_measure_refuses_bad_observables(validated_models):
    from koop import validation as V

    model = validated_models["ResDMD"]
    for bad in (GOOD, "x0", None, np.zeros(5), 99, -1, 2.5):
        _raises(lambda b=bad: V.spectral_measure(model, b), (ValueError, TypeError),
                r"observable|NaN|index")


def test_spectral_measure_refuses_nan_coefficients(validated_models):
    from koop import validation as V

    with pytest.raises(ValueError, match="NaN"):
        V.spectral_measure(validated_models["ResDMD"], np.full(6, np.nan))


# -- build_gram backends --------------------------------------------------------------------
@pytest.mark.parametrize("case", BAD_DATA + SHORT_DATA, ids=_ids(BAD_DATA + SHORT_DATA))
@pytest.mark.parametrize("backend", ["dask", "torch"])
def test_build_gram_backends_refuse_bad_data(case, backend):
    pytest.importorskip(backend)
    _, make, exc, msg = case
    d = Polynomial(2).fit(GOOD)
    _raises(lambda: build_gram(d, make(), backend=backend), exc, msg)


@pytest.mark.parametrize("case", BAD_DATA[:4], ids=_ids(BAD_DATA[:4]))
def test_dask_backend_refuses_nan_inside_lazy_chunks(case):
    da = pytest.importorskip("dask.array")
    _, make, _, _ = case
    lazy = da.from_array(make(), chunks=(7, 2))
    _raises(lambda: build_gram(Polynomial(2).fit(GOOD), lazy, backend="dask"), ValueError,
            "NaN")


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("backend", ["numba", "numpy", "dask", "torch"])
def test_overflowing_dictionary_is_refused_not_returned(backend):
    if backend in ("dask", "torch"):
        pytest.importorskip(backend)
    X = GOOD * 1e100  # finite data, but the degree-2 products reach 1e400
    _raises(lambda: build_gram(Polynomial(2).fit(X), X, backend=backend), ValueError,
            "overflow")
    _raises(lambda: Polynomial(4).fit(X).transform(X * 1e30), ValueError, "Rescale")
    _raises(lambda: EDMD(Polynomial(2), backend=backend).fit(X), ValueError, "Rescale|rescale")


# -- systems ------------------------------------------------------------------------------
_SYSTEMS = ["lorenz63", "rossler", "duffing", "pendulum", "van_der_pol", "slow_manifold"]


@pytest.mark.parametrize("name", _SYSTEMS)
def test_systems_refuse_bad_arguments(name):
    make = getattr(systems, name)
    d = make(2).shape[1]
    for n in (0, -1):
        _raises(lambda n=n: make(n), ValueError, "n_steps")
    for n in (2.5, "10", None, True):
        _raises(lambda n=n: make(n), TypeError, "n_steps")
    for x0 in ([np.nan] * d, [np.inf] * d, [1.0] * (d + 1)):
        _raises(lambda x0=x0: make(5, x0=x0), ValueError, "x0")
    # a string x0 gets numpy's own message, which does not name x0 (reported)
    _raises(lambda: make(5, x0="abc"), (ValueError, TypeError), "x0|convert")
    if name != "slow_manifold":
        for dt, exc in ((0.0, ValueError), (-1.0, ValueError), (np.nan, ValueError),
                        ("0.1", TypeError)):
            _raises(lambda dt=dt: make(5, dt=dt), exc, "dt")


# -- CLI ----------------------------------------------------------------------------------
def test_cli_reports_user_errors_in_one_line(tmp_path, capsys):
    from koop.cli import main

    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
    marker = tmp_path / "code-ran"
    np.save(tmp_path / "payload.npy", np.array([Payload(marker)], dtype=object),
            allow_pickle=True)
    files = {
        "missing.csv": None,
        "garbage.npz": b"\x00garbage",
        "nan.csv": b"1,2\nnan,3\n4,5\n",
        "empty.csv": b"",
        "header-only.csv": b"a,b\n",
        "text.csv": b"a,b\nx,y\n1,2\n",
        "one-row.csv": b"1,2\n",
        "ragged.csv": b"1,2\n3\n4,5,6\n",
        "truncated.nc": b"CDF\x01\x00\x00",
        "payload.npy": None,
    }
    out = tmp_path / "out"
    for name, content in files.items():
        if content is not None:
            _write(tmp_path / name, content)
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's loadtxt warns about an empty body
            code = main(["analyze", str(tmp_path / name), "--out", str(out), "--quiet",
                         "--no-figures"])
        err = capsys.readouterr().err
        assert code == 2, (name, err)
        assert err.startswith("koop") and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert not marker.exists(), "analyze ran code from a file"
    capsys.readouterr()
    assert main(["compare", "--system", "no-such-system", "--quick", "--no-plot",
                 "--out", str(tmp_path / "c")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
