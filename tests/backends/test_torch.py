"""backend="torch": psi and the Gram products on a torch device, equal to numba.

Truth: the numba backend on the same data, to 1e-10 relative (max-abs error over
max-abs entry). Tests run on CPU; on a machine with CUDA the device test runs there too.
"""

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from koop import systems  # noqa: E402
from koop._backends.torch_backend import torch_features  # noqa: E402
from koop._kernels.dispatch import chunk_evaluator  # noqa: E402
from koop.dictionaries import (  # noqa: E402
    RBF,
    Custom,
    Identity,
    Polynomial,
    RandomFourier,
    TimeDelay,
)
from koop.estimators import EDMD  # noqa: E402
from koop.gram import build_gram  # noqa: E402

RTOL = 1e-10


def rel_err(got, ref) -> float:
    return max(
        float(np.abs(getattr(got, k) - getattr(ref, k)).max() / np.abs(getattr(ref, k)).max())
        for k in "GALC"
    )


@pytest.fixture(scope="module")
def lorenz():
    return systems.lorenz63(1200, random_state=0)


DICTIONARIES = {
    "identity": lambda: Identity(),
    "polynomial": lambda: Polynomial(degree=4),
    "polynomial-nobias": lambda: Polynomial(degree=3, include_bias=False),
    "rbf-gaussian": lambda: RBF(n_centers=25, random_state=0),
    "rbf-thinplate": lambda: RBF(n_centers=25, kernel="thinplate", center_method="random",
                                 random_state=0),
    "fourier": lambda: RandomFourier(n_features=40, random_state=0),
    "delay": lambda: TimeDelay(n_delays=3, stride=2),
    "poly+delay": lambda: Polynomial(degree=2) + TimeDelay(n_delays=2),
    "custom": lambda: Custom(lambda X: np.hstack([np.sin(X), X[:, :1] * X[:, 1:2]])),
    "custom-complex": lambda: Custom(lambda X: np.exp(1j * X)),
}


@pytest.mark.parametrize("make", DICTIONARIES.values(), ids=DICTIONARIES.keys())
def test_torch_equals_numba(lorenz, make):
    dictionary = make().fit(lorenz)
    # three trajectories (one too short to pair for lagged dictionaries), small chunks
    parts = [lorenz[:500], lorenz[500:502], lorenz[502:]]
    ref = build_gram(dictionary, parts)
    got = build_gram(dictionary, parts, chunk_size=97, backend="torch", device="cpu")
    assert got.backend == "torch"
    assert got.n_samples == ref.n_samples
    assert np.iscomplexobj(got.G) == np.iscomplexobj(ref.G)
    assert rel_err(got, ref) < RTOL


@pytest.mark.parametrize("name", ["polynomial", "rbf-gaussian", "rbf-thinplate", "fourier",
                                  "delay", "poly+delay"])
def test_torch_features_equal_numba_kernel_twins(lorenz, name):
    dictionary = DICTIONARIES[name]().fit(lorenz)
    spec = dictionary._kernel_spec()
    evaluate, lags = torch_features(spec, 3, torch.device("cpu"))
    X = np.ascontiguousarray(lorenz[:200])
    psi = evaluate(torch.from_numpy(X)).numpy()
    twin = chunk_evaluator(spec, 3).twin(X)
    assert lags == dictionary.n_lags
    np.testing.assert_allclose(psi, twin, rtol=1e-12, atol=1e-12)


def test_weights_and_explicit_pairs(lorenz):
    dictionary = Polynomial(degree=3).fit(lorenz)
    w = np.random.default_rng(0).uniform(size=lorenz.shape[0] - 1)
    ref = build_gram(dictionary, lorenz, weights=w)
    got = build_gram(dictionary, lorenz, weights=w, chunk_size=128, backend="torch",
                     device="cpu")
    assert rel_err(got, ref) < RTOL
    assert got.weights_sum == pytest.approx(w.sum(), rel=1e-14)
    X, Y = lorenz[:-1], lorenz[1:]
    ref = build_gram(dictionary, X, y=Y, weights=w)
    got = build_gram(dictionary, X, y=Y, weights=w, chunk_size=100, backend="torch",
                     device="cpu")
    assert rel_err(got, ref) < RTOL


def test_cuda_device_runs_there_or_is_refused(lorenz):
    dictionary = RBF(n_centers=20, random_state=0).fit(lorenz)
    if torch.cuda.is_available():
        ref = build_gram(dictionary, lorenz)
        got = build_gram(dictionary, lorenz, backend="torch", device="cuda")
        assert rel_err(got, ref) < RTOL
    else:
        with pytest.raises(ValueError, match="no CUDA GPU"):
            build_gram(dictionary, lorenz, backend="torch", device="cuda")


def test_bad_device_arguments(lorenz):
    dictionary = Identity().fit(lorenz)
    with pytest.raises(ValueError, match="torch device"):
        build_gram(dictionary, lorenz, backend="torch", device="abacus")
    with pytest.raises(ValueError, match="backend='torch' only"):
        build_gram(dictionary, lorenz, device="cpu")


def test_edmd_torch_backend(lorenz):
    model = EDMD(Polynomial(degree=2), backend="torch").fit(lorenz, dt=0.01)
    ref = EDMD(Polynomial(degree=2)).fit(lorenz, dt=0.01)
    assert model.gram_.backend == "torch"
    assert rel_err(model.gram_, ref.gram_) < RTOL
    np.testing.assert_allclose(model.koopman_matrix_, ref.koopman_matrix_, rtol=0, atol=1e-7)


def test_missing_torch_names_the_extra(monkeypatch, lorenz):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"koop\[torch\]"):
        build_gram(Identity().fit(lorenz), lorenz, backend="torch")
