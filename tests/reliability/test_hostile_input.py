"""Hostile input over every public entry point: each bad value is refused clearly.

The catalogue crosses a list of bad arrays (NaN, +-inf, empty, one sample, wrong number
of dimensions, non-numeric and complex dtypes, None, ragged lists, a file name) with
the estimators (``fit``, ``predict``, ``simulate``, ``eigenfunctions``, ``score``), the
torch models, the dictionaries (``fit``, ``transform``), ``build_gram`` and the metrics
(``koop.validation``, the backends, the systems and the CLI:
``test_hostile_entry_points.py``; hostile files for ``koop.io.load``:
``test_hostile_files.py``, ``test_io_fuzz.py``). The contract: a ``ValueError`` or
``TypeError`` whose message
names the problem, never another exception, never a result with NaN in it. Odd but
valid layouts (int, bool, float16/32, big-endian, Fortran-ordered, strided, read-only
arrays, lists) are accepted and give finite results.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from koop import metrics, systems
from koop.dictionaries import (
    RBF,
    Concat,
    Custom,
    Identity,
    Polynomial,
    RandomFourier,
    TimeDelay,
)
from koop.estimators import BOPDMD, DMD, EDMD, HAVOK, MPEDMD, HankelDMD, KernelEDMD, ResDMD
from koop.gram import build_gram

from ._support import BAD_DATA, GOOD, SHORT_DATA, with_value
from ._support import ids as _ids
from ._support import raises as _raises

pytestmark = [
    pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning"),
    # boolean data have two distinct points: k-means finds fewer clusters than asked
    pytest.mark.filterwarnings("ignore:Number of distinct clusters:UserWarning"),
]

ODD_BUT_VALID = {
    "int": lambda: (GOOD * 100).astype(np.int64),
    "bool": lambda: GOOD > 0,
    "float16": lambda: GOOD.astype(np.float16),
    "float32": lambda: GOOD.astype(np.float32),
    "big-endian": lambda: GOOD.astype(">f8"),
    "fortran": lambda: np.asfortranarray(GOOD),
    "strided": lambda: np.repeat(GOOD, 2, axis=0)[::2],
    "read-only": lambda: _read_only(GOOD),
    "tuple of trajectories": lambda: (GOOD[:20], GOOD[20:]),
}


def _last_bad_rows(X, n_lags):
    """The n_lags + 1 samples ending at the last bad row (simulate reads only those)."""
    if isinstance(X, np.ndarray) and X.shape == GOOD.shape and X.dtype.kind == "f":
        i = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[-1])
        return X[max(0, i - n_lags) : max(i, n_lags) + 1]
    return X


def _read_only(X):
    X = X.copy()
    X.flags.writeable = False
    return X


ESTIMATORS = {
    "DMD": lambda: DMD(),
    "BOPDMD": lambda: BOPDMD(rank=2, n_bags=2, random_state=0),
    "EDMD-identity": lambda: EDMD(),
    "EDMD-polynomial": lambda: EDMD(Polynomial(2)),
    "EDMD-rbf": lambda: EDMD(RBF(5, random_state=0)),
    "EDMD-fourier": lambda: EDMD(RandomFourier(4, random_state=0)),
    "EDMD-delay": lambda: EDMD(TimeDelay(2)),
    "EDMD-numpy": lambda: EDMD(Polynomial(2), backend="numpy"),
    "ResDMD": lambda: ResDMD(Polynomial(2)),
    "MPEDMD": lambda: MPEDMD(Polynomial(2)),
    "KernelEDMD": lambda: KernelEDMD(),
    "HankelDMD": lambda: HankelDMD(n_delays=3),
    "HAVOK": lambda: HAVOK(n_delays=5, rank=3),
}

# estimators whose default observables are linear: complex snapshots are native
COMPLEX_NATIVE = {"DMD", "BOPDMD", "EDMD-identity", "EDMD-delay", "HankelDMD"}

DICTIONARIES = {
    "Identity": lambda: Identity(),
    "Polynomial": lambda: Polynomial(3),
    "RBF": lambda: RBF(4, random_state=0),
    "RBF-thinplate": lambda: RBF(4, kernel="thinplate", random_state=0),
    "RandomFourier": lambda: RandomFourier(3, random_state=0),
    "TimeDelay": lambda: TimeDelay(2),
    "Custom": lambda: Custom(np.sin),
    "Concat": lambda: Concat([Identity(), Polynomial(2)]),
}


# -- estimators ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", BAD_DATA + SHORT_DATA, ids=_ids(BAD_DATA + SHORT_DATA))
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_fit_refuses(name, case):
    _, make, exc, msg = case
    if name in COMPLEX_NATIVE and case[0] == "complex":  # complex snapshots are native
        model = ESTIMATORS[name]().fit(make(), dt=0.1)
        assert model.modes_.dtype == np.complex128 and np.iscomplexobj(model.state_map_)
        return
    _raises(lambda: ESTIMATORS[name]().fit(make(), dt=0.1), exc, msg)


@pytest.fixture(scope="module")
def fitted():
    return {name: make().fit(GOOD, dt=0.1) for name, make in ESTIMATORS.items()}


@pytest.mark.parametrize("case", BAD_DATA, ids=_ids(BAD_DATA))
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_fitted_estimator_methods_refuse(fitted, name, case):
    _, make, exc, msg = case
    model = fitted[name]
    for method in (model.predict, model.eigenfunctions, model.score):
        _raises(lambda m=method: m(make()), exc, msg)
    if case[0] not in ("empty rows", "empty 1-D", "3-D", "zero features"):
        # simulate reads the last samples of x0: put the bad value there
        # (x0 goes through np.asarray first: None and strings are "not numbers" there,
        # and for a lagged model its shape is checked before its dtype)
        _raises(lambda: model.simulate(_last_bad_rows(make(), model.n_lags_), 3),
                (TypeError, ValueError), f"{msg}|numbers|samples")


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_wrong_feature_count_and_bad_arguments(fitted, name):
    model = fitted[name]
    three = np.zeros((10, 3))
    for method in (model.predict, model.eigenfunctions, model.score):
        _raises(lambda m=method: m(three), ValueError, "fitted with 2")
    _raises(lambda: model.simulate(np.zeros(3), 3), ValueError, r"fitted with 2|x0")
    for bad, exc in ((2.5, TypeError), (-1, ValueError), ("3", TypeError), (None, TypeError),
                     (True, TypeError)):
        _raises(lambda b=bad: model.simulate(GOOD[-3:], b), exc, "n_steps")
    for dt, exc in ((-0.1, ValueError), (0.0, ValueError), (np.nan, ValueError),
                    (np.inf, ValueError), ("0.1", TypeError), (True, TypeError)):
        _raises(lambda d=dt: ESTIMATORS[name]().fit(GOOD, dt=d), exc, "dt")


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_unfitted_estimator_raises_not_fitted(name):
    model = ESTIMATORS[name]()
    for call in (lambda: model.predict(GOOD), lambda: model.simulate(GOOD[0], 3),
                 lambda: model.eigenfunctions(GOOD), lambda: model.score(GOOD)):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("layout", sorted(ODD_BUT_VALID))
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_odd_but_valid_layouts_are_accepted(name, layout):
    X = ODD_BUT_VALID[layout]()
    if name == "BOPDMD" and isinstance(X, tuple):  # one trajectory at its sample times
        _raises(lambda: ESTIMATORS[name]().fit(X, dt=0.1), ValueError, "one trajectory")
        return
    model = ESTIMATORS[name]().fit(X, dt=0.1)
    assert np.isfinite(model.eigenvalues_).all()
    Z = np.asarray(X[0] if isinstance(X, tuple) else X, dtype=float)
    assert np.isfinite(model.predict(Z)).all()
    assert np.isfinite(model.simulate(Z, 5)).all()  # simulate reads the last samples


def test_estimator_bad_snapshot_pairs_and_weights():
    X, Y = GOOD[:-1], GOOD[1:]
    for make in (lambda: EDMD(Polynomial(2)), lambda: ResDMD(Polynomial(2)), DMD):
        _raises(lambda m=make: m().fit(X, Y[:-1]), ValueError, "same shape")
        _raises(lambda m=make: m().fit(X, with_value(np.nan)[1:]), ValueError, "NaN")
        _raises(lambda m=make: m().fit(X, Y[:, :1]), ValueError, "same shape")
    for make in (lambda: EDMD(Polynomial(2)), lambda: ResDMD(Polynomial(2))):
        n = len(GOOD) - 1
        for w, exc, msg in ((np.ones(n - 1), ValueError, "weights"),
                            (np.full(n, np.nan), ValueError, "finite"),
                            (-np.ones(n), ValueError, "non-negative"),
                            (np.zeros(n), ValueError, "sum to zero"),
                            (np.array(["a"] * n), TypeError, "real numbers")):
            _raises(lambda m=make, w=w: m().fit(GOOD, weights=w), exc, msg)


def test_xarray_input_without_time_or_with_uneven_time():
    import xarray as xr

    da = xr.DataArray(GOOD, dims=("t", "feature"))
    _raises(lambda: EDMD().fit(da), ValueError, "time")
    t = np.cumsum(np.random.default_rng(0).uniform(0.5, 1.5, len(GOOD)))
    da = xr.DataArray(GOOD, dims=("time", "feature"), coords={"time": t})
    _raises(lambda: EDMD().fit(da), ValueError, "uniform")
    da = systems.as_xarray(GOOD, dt=0.1)
    _raises(lambda: EDMD().fit(da, dt=0.2), ValueError, "disagrees")
    assert EDMD().fit(da).dt_ == pytest.approx(0.1)


def _arrays_of(dtype):
    import hypothesis.extra.numpy as hnp
    from hypothesis import strategies as st

    if dtype is np.bool_:
        elements = st.booleans()
    elif dtype is np.int64:
        elements = st.integers(-1000, 1000)
    else:
        tiny = 1e-300 if dtype is np.float64 else 1e-30
        elements = st.floats(-1e6, 1e6, width=64 if dtype is np.float64 else 32) | (
            st.sampled_from([np.nan, np.inf, -np.inf, 0.0, tiny]))
    shapes = hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=12)
    return hnp.arrays(dtype, shapes, elements=elements)


def test_fit_on_arbitrary_arrays_succeeds_or_refuses():
    """Any array (NaN, inf, 0 or 1 rows, constant, tiny, int, bool): a finite model, or a
    ValueError / TypeError. Hypothesis, derandomized; 1500 examples found nothing more."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from ._support import RELIABLE

    dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.bool_])

    @settings(RELIABLE, max_examples=80)
    @given(name=st.sampled_from(sorted(ESTIMATORS)), X=dtypes.flatmap(_arrays_of))
    def check(name, X):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = ESTIMATORS[name]().fit(X, dt=0.1)
            except (ValueError, TypeError) as exc:
                assert str(exc)
                return
            assert np.isfinite(model.eigenvalues_).all()
            assert np.isfinite(model.predict(X)).all()

    check()


# torch-based entry points: tiny settings, the data are refused before any training
TORCH_MODELS = {
    "EDMDDL": lambda: __import__("koop.estimators.neural", fromlist=["EDMDDL"]).EDMDDL(
        n_trainable=2, hidden_layers=(4,), n_iterations=1, n_epochs=1, random_state=0),
    "NeuralDictionary": lambda: __import__(
        "koop.dictionaries.neural", fromlist=["NeuralDictionary"]).NeuralDictionary(
        n_trainable=2, hidden_layers=(4,), n_iterations=1, n_epochs=1, random_state=0),
    "ShallowPLRNN": lambda: __import__("koop.rnn", fromlist=["ShallowPLRNN"]).ShallowPLRNN(
        n_hidden=4, n_epochs=1, batches_per_epoch=1, batch_size=2, sequence_length=5,
        random_state=0),
    "ALRNN": lambda: __import__("koop.rnn", fromlist=["ALRNN"]).ALRNN(
        n_epochs=1, batches_per_epoch=1, batch_size=2, sequence_length=5, random_state=0),
}
# a list of two lists is two 1-D trajectories to koop, so "ragged" is valid input there
_TORCH_BAD = [c for c in BAD_DATA if c[0] != "ragged"]


@pytest.mark.parametrize("case", _TORCH_BAD, ids=_ids(_TORCH_BAD))
@pytest.mark.parametrize("name", sorted(TORCH_MODELS))
def test_torch_models_refuse_bad_data(name, case):
    pytest.importorskip("torch")
    _, make, exc, msg = case
    _raises(lambda: TORCH_MODELS[name]().fit(make()), exc, msg)


# -- dictionaries -------------------------------------------------------------------------
@pytest.mark.parametrize("case", BAD_DATA, ids=_ids(BAD_DATA))
@pytest.mark.parametrize("name", sorted(DICTIONARIES))
def test_dictionary_fit_and_transform_refuse(name, case):
    _, make, exc, msg = case
    if name in ("Identity", "TimeDelay", "Custom") and case[0] == "complex":
        # linear dictionaries (and user callables) take complex states: values stay complex
        assert np.iscomplexobj(DICTIONARIES[name]().fit(make()).transform(make()))
        _raises(lambda: DICTIONARIES[name]().fit(GOOD).transform(np.zeros((10, 3))),
                ValueError, "fitted with 2")
        return
    _raises(lambda: DICTIONARIES[name]().fit(make()), exc, msg)
    fitted = DICTIONARIES[name]().fit(GOOD)
    _raises(lambda: fitted.transform(make()), exc, msg)
    _raises(lambda: fitted.transform(np.zeros((10, 3))), ValueError, "fitted with 2")


@pytest.mark.parametrize("name", sorted(DICTIONARIES))
def test_dictionary_on_one_sample_works_or_says_why(name):
    d = DICTIONARIES[name]()
    try:
        d.fit(GOOD[:1])
    except ValueError as exc:
        assert "sample" in str(exc) or "n_centers" in str(exc)
        return
    if d.n_lags:
        _raises(lambda: d.transform(GOOD[:1]), ValueError, "sample")
    else:
        assert np.isfinite(d.transform(GOOD[:1])).all()


@pytest.mark.parametrize("layout", sorted(ODD_BUT_VALID))
@pytest.mark.parametrize("name", sorted(DICTIONARIES))
def test_dictionary_odd_layouts_give_the_same_values(name, layout):
    X = ODD_BUT_VALID[layout]()
    if isinstance(X, tuple):
        return  # a dictionary takes one array of samples
    ref_in = np.asarray(X, dtype=np.float64)
    d = DICTIONARIES[name]().fit(ref_in)
    np.testing.assert_array_equal(d.transform(X), d.transform(ref_in))


def test_custom_dictionary_bad_functions():
    with np.errstate(invalid="ignore"):
        _raises(lambda: Custom(lambda Z: np.log(Z - 10)).fit(GOOD), ValueError, "NaN or inf")
    _raises(lambda: Custom(lambda Z: Z[:-1]).fit(GOOD), ValueError, "one row per sample")
    _raises(lambda: Custom(lambda Z: np.array([["a"]] * len(Z))).fit(GOOD), TypeError,
            "non-numeric")
    _raises(lambda: Custom("sin").fit(GOOD), TypeError, "callable")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        d = Custom(lambda Z: 1.0 / Z).fit(GOOD + 5.0)
        _raises(lambda: d.transform(np.zeros((3, 2))), ValueError, "NaN or inf")


# -- build_gram ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", BAD_DATA + SHORT_DATA, ids=_ids(BAD_DATA + SHORT_DATA))
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_build_gram_refuses_bad_data(case, backend):
    _, make, exc, msg = case
    d = Polynomial(2).fit(GOOD)
    _raises(lambda: build_gram(d, make(), backend=backend), exc, msg)


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        ({"chunk_size": 0}, ValueError, "chunk_size"),
        ({"chunk_size": -3}, ValueError, "chunk_size"),
        ({"chunk_size": 2.5}, TypeError, "chunk_size"),
        ({"chunk_size": "10"}, TypeError, "chunk_size"),
        ({"chunk_size": True}, TypeError, "chunk_size"),
        ({"backend": "cuda"}, ValueError, "backend"),
        ({"backend": None}, ValueError, "backend"),
        ({"weights": np.ones(3)}, ValueError, "weights"),
        ({"weights": np.full(39, np.inf)}, ValueError, "finite"),
        ({"weights": np.zeros(39)}, ValueError, "sum to zero"),
        ({"weights": "uniform"}, TypeError, "real numbers"),
        ({"dt": -1.0}, ValueError, "dt"),
        ({"y": GOOD[:-1]}, ValueError, "same shape"),
    ],
)
def test_build_gram_refuses_bad_arguments(kwargs, exc, msg):
    _raises(lambda: build_gram(Polynomial(2).fit(GOOD), GOOD, **kwargs), exc, msg)


def test_build_gram_refuses_bad_dictionaries():
    with pytest.raises(NotFittedError):
        build_gram(Polynomial(2), GOOD)
    _raises(lambda: build_gram("poly", GOOD), TypeError, "dictionary")
    _raises(lambda: build_gram(Identity().fit(GOOD[:, :1]), GOOD), ValueError, "feature")
    _raises(lambda: build_gram(TimeDelay(2).fit(GOOD), GOOD[:-1], y=GOOD[1:]), ValueError,
            "snapshot pairs")


# -- metrics ------------------------------------------------------------------------------
METRICS = {
    "state_space_divergence": lambda t, g: metrics.state_space_divergence(t, g),
    "power_spectrum_distance": lambda t, g: metrics.power_spectrum_distance(t, g),
    "smape": lambda t, g: metrics.smape(t, g),
    "rmse": lambda t, g: metrics.rmse(t, g),
}


@pytest.mark.parametrize("case", BAD_DATA[:4] + BAD_DATA[5:], ids=_ids(BAD_DATA[:4] +
                                                                     BAD_DATA[5:]))
@pytest.mark.parametrize("name", sorted(METRICS))
def test_metrics_refuse_a_bad_true_series(name, case):
    _, make, exc, msg = case
    _raises(lambda: METRICS[name](make(), GOOD), exc, msg)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metrics_refuse_mismatched_generated_series(name):
    _raises(lambda: METRICS[name](GOOD, np.zeros((len(GOOD), 3))), ValueError, "feature")
    _raises(lambda: METRICS[name](GOOD, "abc"), TypeError, "numeric")
