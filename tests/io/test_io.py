"""koop.io: exact save/load round trips, clear errors on bad files, labelled output."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from koop import io, systems
from koop.dictionaries import RBF, Concat, Custom, Identity, Polynomial, RandomFourier, TimeDelay
from koop.estimators import DMD, EDMD

pytestmark = pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")


@pytest.fixture(scope="module")
def X():
    return systems.slow_manifold(120, mu=0.9, lam=0.5, x0=[1.0, 0.8])


DICTIONARIES = [
    Identity(),
    Polynomial(degree=3),
    Polynomial(degree=2, include_bias=False),
    RBF(n_centers=8, random_state=0),
    RBF(n_centers=6, kernel="thinplate", center_method="random", random_state=1),
    RandomFourier(n_features=6, random_state=np.random.RandomState(3)),
    TimeDelay(n_delays=3, stride=2),
    Polynomial(degree=2) + RBF(n_centers=4, random_state=0),
]


def _optional_estimators():
    """Every other estimator that exists in this checkout, with a small configuration."""
    import koop.estimators as est

    out = []
    if hasattr(est, "ResDMD"):
        out.append(est.ResDMD(Polynomial(degree=2)))
    if hasattr(est, "HankelDMD"):
        out.append(est.HankelDMD(n_delays=4, rank=4))
    if hasattr(est, "HAVOK"):
        out.append(est.HAVOK(n_delays=8, rank=3))
    if hasattr(est, "KernelEDMD"):
        out.append(est.KernelEDMD(n_components=20))
    if hasattr(est, "MPEDMD"):
        out.append(est.MPEDMD(Polynomial(degree=2)))
    return out


def assert_same(a, b, where="model"):
    """Equal bit for bit, recursively (arrays: same dtype, shape and bytes)."""
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where
    elif hasattr(a, "get_params"):
        assert a.get_params(deep=False).keys() == b.get_params(deep=False).keys(), where
        assert vars(a).keys() == vars(b).keys(), where
        for name in vars(a):
            assert_same(vars(a)[name], vars(b)[name], f"{where}.{name}")
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            assert_same(u, v, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, np.random.RandomState):
        assert_same(a.get_state(), b.get_state(), where)
    elif isinstance(a, float) and a != a:
        assert b != b, where
    else:
        assert a == b, where


assert_same_state = assert_same


@pytest.mark.parametrize("dictionary", DICTIONARIES, ids=lambda d: type(d).__name__)
def test_edmd_roundtrip_is_bitwise_exact(X, dictionary, tmp_path):
    model = EDMD(clone(dictionary)).fit(X, dt=0.1)
    again = io.load(io.save(model, tmp_path / "m.npz"))
    assert_same_state(model, again)
    assert np.array_equal(model.predict(X), again.predict(X))
    assert np.array_equal(model.simulate(X[: model.n_lags_ + 1], 20),
                          again.simulate(X[: model.n_lags_ + 1], 20))
    assert np.array_equal(model.eigenfunctions(X), again.eigenfunctions(X))


def test_compressed_files_are_exact_too(X, tmp_path):
    model = EDMD(RBF(n_centers=30, random_state=0)).fit(X)
    plain = io.save(model, tmp_path / "p.npz")
    packed = io.save(model, tmp_path / "c.npz", compress=True)
    assert packed.stat().st_size < plain.stat().st_size
    assert_same(io.load(packed), model)


def test_dmd_roundtrip_and_unfitted_estimator(X, tmp_path):
    model = DMD(rank=2).fit(X, dt=0.1)
    again = io.load(io.save(model, tmp_path / "dmd.npz"))
    assert_same_state(model, again)
    assert np.array_equal(model.modes_, again.modes_)
    fresh = io.load(io.save(EDMD(Polynomial(degree=4), rank=3), tmp_path / "u.npz"))
    assert fresh.get_params()["rank"] == 3 and fresh.dictionary.degree == 4
    assert not hasattr(fresh, "eigenvalues_")


@pytest.mark.parametrize("est", _optional_estimators(), ids=lambda e: type(e).__name__)
def test_other_estimators_roundtrip(est, tmp_path):
    x = systems.lorenz63(300, dt=0.01)
    model = est.fit(x[:, :1] if type(est).__name__ == "HAVOK" else x, dt=0.01)
    again = io.load(io.save(model, tmp_path / "m.npz"))
    assert_same_state(model, again)
    assert np.array_equal(model.eigenvalues_, again.eigenvalues_)


def test_metadata_is_human_readable_json(X, tmp_path):
    path = io.save(EDMD(Polynomial(degree=2)).fit(X, dt=0.1), tmp_path / "m.npz")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert "__koop_metadata__.npy" in names
    meta = io.read_metadata(path)
    assert meta["format"] == "koop-model" and meta["format_version"] == io.FORMAT_VERSION
    assert meta["class"] == "koop.estimators:EDMD"
    assert {"eigenvalues_", "gram_", "dictionary_"} <= set(meta["fitted"])
    dictionary = meta["model"]["params"]["dictionary"]
    assert dictionary["class"] == "koop.dictionaries:Polynomial"
    assert dictionary["params"] == {"degree": 2, "include_bias": True}
    json.dumps(meta)  # plain JSON, no NaN


def psi_sin(X):
    return np.hstack([X, np.sin(X)])


def test_custom_dictionary_by_name_only(X, tmp_path):
    model = EDMD(Custom(psi_sin)).fit(X)
    path = io.save(model, tmp_path / "c.npz")
    name = f"{__name__}:psi_sin"
    with pytest.raises(ValueError, match="never imports code"):
        io.load(path)
    again = io.load(path, functions={name: psi_sin})
    assert np.array_equal(model.predict(X), again.predict(X))
    with pytest.raises(TypeError, match="lambda"):
        io.save(EDMD(Custom(lambda Z: Z**2)).fit(X), tmp_path / "l.npz")


def test_unsaveable_attribute_is_named(X, tmp_path):
    model = EDMD().fit(X)
    model.extra_ = object()
    with pytest.raises(TypeError, match="extra_"):
        io.save(model, tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.fixture(scope="module")
def good_bytes(X, tmp_path_factory):
    path = tmp_path_factory.mktemp("g") / "m.npz"
    io.save(EDMD(Polynomial(degree=2)).fit(X), path)
    return path.read_bytes()


def test_truncated_file(good_bytes, tmp_path):
    path = tmp_path / "t.npz"
    path.write_bytes(good_bytes[: len(good_bytes) // 2])
    with pytest.raises(ValueError, match="not a readable koop model file"):
        io.load(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "r.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match=r"not an \.npz"):
        io.load(path)


def test_foreign_npz(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, weights=np.ones(3), bias=np.zeros(2))
    with pytest.raises(ValueError, match=r"not written by koop\.io\.save"):
        io.load(path)


def test_pickle_file_is_refused(X, tmp_path):
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(EDMD().fit(X)))
    with pytest.raises(ValueError, match="pickle"):
        io.load(path)


def _rewrite_metadata(good_bytes, tmp_path, change):
    src = tmp_path / "src.npz"
    src.write_bytes(good_bytes)
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["__koop_metadata__"].tobytes())
    change(meta)
    arrays["__koop_metadata__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    dst = tmp_path / "dst.npz"
    np.savez(dst, **arrays)
    return dst


def test_wrong_format_version(good_bytes, tmp_path):
    path = _rewrite_metadata(good_bytes, tmp_path, lambda m: m.update(format_version=99))
    with pytest.raises(ValueError, match=r"format_version 99 is newer.*upgrade koop"):
        io.load(path)


@pytest.mark.parametrize("name, message", [
    ("os:system", "allowlist"),
    ("builtins:eval", "allowlist"),
    ("koop.systems:lorenz63", "does not have"),   # a koop function, not an estimator
    ("koop.io._model:save", "does not have"),
])
def test_class_outside_allowlist_is_never_built(good_bytes, tmp_path, name, message):
    def evil(meta):
        meta["model"]["class"] = name

    with pytest.raises(ValueError, match=message):
        io.load(_rewrite_metadata(good_bytes, tmp_path, evil))


def test_missing_array(good_bytes, tmp_path):
    def drop(meta):
        meta["model"]["fitted"]["basis_"]["key"] = "nope"

    with pytest.raises(ValueError, match="missing"):
        io.load(_rewrite_metadata(good_bytes, tmp_path, drop))


@pytest.mark.parametrize("change, message", [
    (lambda f: f.update(dictionary_=None), "dictionary_ is missing"),
    (lambda f: f.update(eigenvalues_=3.0), "eigenvalues_ is float"),
    (lambda f: f.update(n_features_in_=7), "n_features_in_ = 7"),
])
def test_semantically_inconsistent_file_is_refused(good_bytes, tmp_path, change, message):
    """A file that decodes but whose fitted attributes contradict each other."""
    path = _rewrite_metadata(good_bytes, tmp_path, lambda m: change(m["model"]["fitted"]))
    with pytest.raises(ValueError, match=message):
        io.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "absent.npz")


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_raise_valueerror_or_load(good_bytes, tmp_path, data):
    """Any truncation or byte flip gives a ValueError (or, if harmless, the same model)."""
    raw = bytearray(good_bytes)
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    path = tmp_path / "fuzz.npz"
    path.write_bytes(bytes(raw))
    try:
        model = io.load(path)
    except ValueError:
        return
    assert isinstance(model, EDMD)


def test_to_xarray_spectrum_labels(X):
    model = EDMD(Polynomial(degree=2)).fit(systems.as_xarray(X, dt=0.1))
    ds = model.to_xarray()
    assert ds.eigenvalue.dims == ("mode",) and ds.modes.dims == ("feature", "mode")
    # names come from the DataArray once estimators record feature_names_in_
    expected = getattr(model, "feature_names_in_", ["x0", "x1"])
    assert [str(v) for v in ds.feature.values] == [str(v) for v in expected]
    assert ds.attrs["dt"] == pytest.approx(0.1, rel=1e-12) and ds.attrs["estimator"] == "EDMD"
    np.testing.assert_array_equal(ds.eigenvalue.values, model.eigenvalues_)
    np.testing.assert_allclose(ds.continuous_eigenvalue.values,
                               np.log(model.eigenvalues_.astype(complex)) / model.dt_)
    # the exact slow-manifold eigenvalues 1, mu, mu^2, lambda (their eigenfunctions lie
    # in the span of the monomials of degree <= 2) are all found
    for exact in (1.0, 0.9, 0.81, 0.5):
        assert np.min(np.abs(ds.eigenvalue.values - exact)) < 1e-8


def test_netcdf_roundtrip_of_complex_spectrum(X, tmp_path):
    model = EDMD(Polynomial(degree=2)).fit(X, dt=0.1)
    path = io.to_netcdf(model, tmp_path / "s.nc")
    back = io.open_netcdf(path)
    assert back.eigenvalue.dtype == np.complex128
    np.testing.assert_array_equal(back.eigenvalue.values, model.eigenvalues_)
    np.testing.assert_array_equal(back.modes.values, model.modes_)
    assert back.attrs["estimator"] == "EDMD"


def test_to_xarray_rejects_other_objects():
    with pytest.raises(TypeError, match="fitted koop estimator"):
        io.to_xarray(42)


def test_concat_parts_survive(X, tmp_path):
    model = EDMD(Concat([Identity(), Polynomial(degree=2, include_bias=False)])).fit(X)
    again = io.load(io.save(model, tmp_path / "c.npz"))
    assert [type(d).__name__ for d in again.dictionary_.dictionaries_] == [
        "Identity", "Polynomial"]


class _Affine(Polynomial):
    """A dictionary that stores its state through the _io_state protocol (as torch
    models do with their state_dict)."""

    def _fit(self, X):
        super()._fit(X)
        self.shift_ = X.mean(axis=0)

    def _io_state(self):
        return {"arrays": [self.powers_, self.parent_, self.var_, self.shift_],
                "n": [self.n_features_in_, self.n_output_features_]}

    def _io_restore(self, state):
        self.powers_, self.parent_, self.var_, self.shift_ = state["arrays"]
        self.n_features_in_, self.n_output_features_ = state["n"]


def test_io_state_protocol_for_registered_classes(X, tmp_path):
    io.register_class(_Affine, key="tests.io.test_io:_Affine")
    d = _Affine(degree=2).fit(X)
    again = io.load(io.save(d, tmp_path / "a.npz"))
    assert type(again) is _Affine
    np.testing.assert_array_equal(again.transform(X), d.transform(X))
    assert again.shift_.tobytes() == d.shift_.tobytes()
    assert io.read_metadata(tmp_path / "a.npz")["model"]["state"]


def test_dicts_with_integer_keys_round_trip():
    # e.g. ALRNN.subregion_counts_: JSON keys are strings, so these go as key-value pairs
    from koop.io._codec import Decoder, Encoder

    value = {3: 10, np.int64(1): "a", "x": [1.5], True: None}
    encoder = Encoder()
    tree = json.loads(json.dumps(encoder.encode(value)))
    back = Decoder(encoder.arrays).decode(tree)
    assert back == value and [type(k) for k in back] == [type(k) for k in value]
    with pytest.raises(TypeError, match="keys other than strings and integers"):
        Encoder().encode({1.5: 0})
    with pytest.raises(ValueError, match="not a string or an integer"):
        Decoder({}).decode({"__type__": "mapping", "items": [[[1], 0]]})


def _every_estimator():
    import koop.estimators as est

    out = [est.DMD(), est.EDMD(Polynomial(degree=2)), est.ResDMD(Polynomial(degree=2))]
    for name, kwargs in (("HankelDMD", {"n_delays": 3, "rank": 4}),
                         ("HAVOK", {"n_delays": 5, "rank": 3}), ("KernelEDMD", {}),
                         ("MPEDMD", {"dictionary": Polynomial(degree=2)})):
        if hasattr(est, name):
            out.append(getattr(est, name)(**kwargs))
    return out


@pytest.mark.parametrize("est", _every_estimator(), ids=lambda e: type(e).__name__)
def test_every_estimator_fits_dataarray_and_dataset_input(est, X):
    da = systems.as_xarray(X, dt=0.1)
    plain = clone(est).fit(X, dt=0.1)
    from_da = clone(est).fit(da)
    from_ds = clone(est).fit(da.to_dataset(dim="feature"))
    for model in (from_da, from_ds):
        assert model.dt_ == pytest.approx(0.1, rel=1e-12)
        np.testing.assert_allclose(model.eigenvalues_, plain.eigenvalues_, atol=1e-10)
    ds = from_da.to_xarray()
    assert ds.sizes["feature"] == 2 and ds.sizes["mode"] == plain.eigenvalues_.size
    np.testing.assert_array_equal(ds.eigenvalue.values, from_da.eigenvalues_)


def test_validation_report_and_pseudospectrum_are_labelled_and_saveable(X, tmp_path):
    from koop.estimators import ResDMD
    from koop.validation import report

    model = ResDMD(Polynomial(degree=2)).fit(X[:80])
    rep = report(model, X[80:])
    back = io.open_netcdf(io.to_netcdf(rep, tmp_path / "rep.nc"))
    np.testing.assert_array_equal(back.eigenvalue.values, model.eigenvalues_)
    np.testing.assert_allclose(back.residual.values, rep.to_xarray().residual.values)
    tau = model.pseudospectrum((np.linspace(0, 1, 5), np.linspace(-0.2, 0.2, 3)))
    assert tau.dims == ("imag", "real")
    back = io.open_netcdf(io.to_netcdf(tau.to_dataset(name="tau"), tmp_path / "ps.nc"))
    np.testing.assert_array_equal(back.tau.values, tau.values)


def test_deeply_nested_metadata_and_cycles_are_refused(good_bytes, X, tmp_path):
    def deep(meta):
        nested = None
        for _ in range(500):
            nested = [nested]
        meta["model"]["params"]["rank"] = nested

    with pytest.raises(ValueError, match="nested deeper"):
        io.load(_rewrite_metadata(good_bytes, tmp_path, deep))
    model = EDMD().fit(X)
    model.loop_ = [model]
    with pytest.raises(TypeError, match="cycle"):
        io.save(model, tmp_path / "cycle.npz")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_saved_file_mode_follows_the_umask(X, tmp_path):
    """A saved model is an ordinary new file (0666 less the umask), not a 0600 temp file."""
    import stat

    model = EDMD().fit(X)
    for mask in (0o022, 0o077, 0o002):
        old = os.umask(mask)
        try:
            path = io.save(model, tmp_path / f"m{mask:o}.npz")
        finally:
            os.umask(old)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
