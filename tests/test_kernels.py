"""Every numba kernel equals its numpy twin, and the twins equal the math.

Truths: the dictionary formulas written out independently (products of powers, scipy's
cdist, ``X @ omega``), ``numpy.exp`` for the vectorised exponential, and bitwise
equality across thread counts and processes (cache).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.preprocessing import PolynomialFeatures

from koop._kernels import features as F
from koop._kernels.dispatch import KERNEL_NAMES, chunk_evaluator
from koop._kernels.threads import run_rows
from koop.dictionaries import RBF, Identity, Polynomial, RandomFourier, TimeDelay

RTOL = 1e-12


def _dictionaries():
    return {
        "identity": Identity(),
        "polynomial": Polynomial(degree=4),
        "rbf_gaussian": RBF(n_centers=17, width=1.3, center_method="random", random_state=0),
        "rbf_thinplate": RBF(n_centers=9, kernel="thinplate", width=0.7,
                             center_method="random", random_state=1),
        "fourier": RandomFourier(n_features=11, bandwidth=0.9, random_state=2),
        "delay": TimeDelay(n_delays=3, stride=2),
    }


@pytest.fixture(scope="module")
def samples():
    return np.random.default_rng(7).normal(scale=2.0, size=(61, 3))


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_kernel_equals_twin_and_dictionary(name, samples):
    dic = _dictionaries()[name].fit(samples)
    assert dic._kernel_spec()[0] == name
    ev = chunk_evaluator(dic._kernel_spec(), samples.shape[1])
    n_rows = samples.shape[0] - ev.n_lags
    out = np.full((n_rows, ev.n_outputs), np.nan)
    ev.evaluate(samples, out)
    twin = ev.twin(samples)
    np.testing.assert_allclose(out, twin, rtol=RTOL, atol=1e-300)
    # the dictionary's own transform is a third, independent route to the same values
    ref = dic.transform(samples)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(out, ref, rtol=RTOL, atol=RTOL * scale)
    # one sample row at a time, and non-contiguous (column-sliced) output
    for i in (0, n_rows - 1):
        one = np.empty((1, ev.n_outputs))
        ev.evaluate(np.ascontiguousarray(samples[i : i + ev.n_lags + 1]), one)
        np.testing.assert_array_equal(one[0], out[i])
    wide = np.zeros((n_rows, ev.n_outputs + 3))
    ev.evaluate(samples, wide[:, 2 : 2 + ev.n_outputs])
    np.testing.assert_array_equal(wide[:, 2 : 2 + ev.n_outputs], out)
    assert not wide[:, :2].any() and not wide[:, -1].any()


def test_polynomial_matches_products_of_powers_in_sklearn_order(samples):
    dic = Polynomial(degree=5).fit(samples)
    out = np.empty((samples.shape[0], dic.n_output_features_))
    F.polynomial(samples, dic.parent_, dic.var_, out)
    powers = PolynomialFeatures(degree=5).fit(samples).powers_
    np.testing.assert_array_equal(dic.powers_, powers)
    expected = np.prod(samples[:, None, :] ** powers[None], axis=2)
    np.testing.assert_allclose(out, expected, rtol=RTOL)


def test_rbf_kernels_match_closed_forms(samples):
    C = samples[::7].copy()
    d2 = cdist(samples, C, "sqeuclidean")
    out = np.empty((samples.shape[0], C.shape[0]))
    F.rbf_gaussian(samples, np.ascontiguousarray(C.T), 0.3, out)
    np.testing.assert_allclose(out, np.exp(-0.3 * d2), rtol=RTOL)
    F.rbf_thinplate(samples, np.ascontiguousarray(C.T), 0.5, out)
    r2 = 0.5 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(r2 > 0, 0.5 * r2 * np.log(r2), 0.0)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-13)
    assert (out[::7, np.arange(C.shape[0])].diagonal() == 0).all()  # psi_k(c_k) = 0


def test_fourier_matches_matrix_product(samples):
    omega = np.random.default_rng(3).normal(size=(3, 5))
    out = np.empty((samples.shape[0], 10))
    F.fourier(samples, omega, 0.25, out)
    phase = samples @ omega
    np.testing.assert_allclose(out[:, :5], 0.25 * np.cos(phase), rtol=0, atol=1e-14)
    np.testing.assert_allclose(out[:, 5:], 0.25 * np.sin(phase), rtol=0, atol=1e-14)


def test_vexp_within_one_ulp_of_numpy_exp():
    # distances d with gamma = 1 give exp(-d^2) over the whole range down to underflow
    a = np.concatenate([-np.linspace(0, 746, 400_001), -np.geomspace(1e-300, 1, 2001)])
    a = np.concatenate([a, [-745.13321910194, -745.1332191019412, -708.3964185322641, -0.0]])
    X = np.sqrt(-a)[:, None]
    out = np.empty((a.size, 1))
    F.rbf_gaussian(X, np.zeros((1, 1)), 1.0, out)
    expected = np.exp(-(X[:, 0] ** 2))
    ulp = np.spacing(np.maximum(expected, np.finfo(float).smallest_subnormal))
    assert np.max(np.abs(out[:, 0] - expected) / ulp) <= 1.0
    assert out[-1, 0] == 1.0 and out[0, 0] == 1.0


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_row_split_is_bitwise_independent_of_thread_count(threads, monkeypatch, samples):
    X = np.random.default_rng(0).normal(size=(700, 3))
    dic = RBF(n_centers=300, width=2.0, center_method="random", random_state=0).fit(X)
    ev = chunk_evaluator(dic._kernel_spec(), 3)
    serial = np.empty((700, 300))
    ev.evaluate(X, serial)
    monkeypatch.setenv("NUMBA_NUM_THREADS", threads)
    split = np.empty_like(serial)
    run_rows(ev.evaluate, X, split)
    np.testing.assert_array_equal(split, serial)
    delay = chunk_evaluator(TimeDelay(n_delays=2, stride=3).fit(X)._kernel_spec(), 3)
    lagged = np.empty((700 - 6, 9))
    run_rows(delay.evaluate, X, lagged, n_lags=6)
    np.testing.assert_array_equal(lagged, delay.twin(X))


def test_nothing_compiles_at_import_and_the_cache_works_across_processes(tmp_path):
    """Process 1 compiles and writes the cache; process 2 (another thread count) loads it."""
    script = textwrap.dedent(
        """
        import json, sys, numpy as np
        import koop, koop.gram, koop.estimators, koop.dictionaries
        from koop._kernels import features as F
        kernels = [F.identity, F.polynomial, F.rbf_gaussian, F.rbf_thinplate, F.fourier,
                   F.delay]
        compiled_at_import = sum(len(k.signatures) for k in kernels)
        X = np.random.default_rng(0).normal(size=(50, 2))
        out = np.empty((50, 4))
        F.rbf_gaussian(X, np.ascontiguousarray(X[:4].T), 0.5, out)
        print(json.dumps({"compiled_at_import": compiled_at_import,
                          "hits": sum(F.rbf_gaussian.stats.cache_hits.values()),
                          "sum": float(out.sum()), "bits": out.tobytes().hex()}))
        """
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = []
    for threads in ("2", "1"):
        env["NUMBA_NUM_THREADS"] = threads
        res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, check=True)
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    assert runs[0]["compiled_at_import"] == 0 and runs[1]["compiled_at_import"] == 0
    assert runs[0]["hits"] == 0 and runs[1]["hits"] == 1
    assert runs[0]["bits"] == runs[1]["bits"]


def _split_in_child(X):
    out = np.empty((X.shape[0], 4))
    run_rows(lambda Z, o: F.rbf_gaussian(Z, np.ascontiguousarray(X[:4].T), 0.5, o), X, out)
    return out


def test_thread_pool_survives_fork(monkeypatch):
    """A forked child (multiprocessing, dask) gets a fresh pool instead of hanging."""
    import multiprocessing

    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    X = np.random.default_rng(0).normal(size=(40_000, 2))
    parent = _split_in_child(X)  # creates the pool in this process
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(_split_in_child, (X,)).get(timeout=60)
    np.testing.assert_array_equal(child, parent)


def test_no_nested_pool_outside_the_main_thread(monkeypatch):
    """Inside a dask worker or a user's thread pool the kernels run in the caller's thread."""
    from concurrent.futures import ThreadPoolExecutor

    from koop._kernels.threads import n_threads

    monkeypatch.setenv("NUMBA_NUM_THREADS", "4")
    assert n_threads() == 4
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(n_threads).result() == 1
