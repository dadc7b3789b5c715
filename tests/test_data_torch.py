"""torch tensors enter koop through ``koop.data`` on any device, and torch is never
imported by koop for that: ``np.asarray`` fails on a GPU tensor (``can't convert cuda:0
device type tensor to numpy``), so the boundary copies tensors to the host itself."""

import subprocess
import sys

import numpy as np
import pytest

from koop.data import as_trajectories, check_array, check_weights

torch = pytest.importorskip("torch")


class _FakeCudaTensor(torch.Tensor):
    """Behaves as a tensor on a GPU does for numpy: ``.numpy()`` refuses, ``.cpu()``
    copies to the host. Counts the copies."""

    copies = 0

    @property
    def device(self):
        return torch.device("cuda", 0)

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy. Use "
                        "Tensor.cpu() to copy the tensor to host memory first.")

    def cpu(self, *args, **kwargs):
        type(self).copies += 1
        return self.as_subclass(torch.Tensor).clone()


def _fake_cuda(array):
    return torch.as_tensor(array).as_subclass(_FakeCudaTensor)


def test_cpu_tensors_equal_their_numpy_arrays():
    X = np.random.default_rng(0).normal(size=(20, 3))
    for t in (torch.as_tensor(X), torch.as_tensor(X, dtype=torch.float32),
              torch.as_tensor(X).requires_grad_()):
        got = check_array(t)
        assert isinstance(got, np.ndarray)
        np.testing.assert_array_equal(got, X.astype(got.dtype))
        assert got.dtype == (np.float32 if t.dtype == torch.float32 else np.float64)
    np.testing.assert_array_equal(check_array(torch.as_tensor(X).bfloat16()),
                                  torch.as_tensor(X).bfloat16().float().numpy())
    conj = torch.as_tensor(X[:, :2] @ np.array([1.0, 1j])).conj()  # a lazy conjugate view
    np.testing.assert_array_equal(check_array(conj, allow_complex=True)[:, 0],
                                  np.conj(X[:, 0] + 1j * X[:, 1]))


def test_gpu_tensors_are_copied_to_the_host_once():
    X = np.random.default_rng(1).normal(size=(30, 2))
    fake = _fake_cuda(X)
    with pytest.raises(TypeError, match="cuda"):
        np.asarray(fake)  # what koop.data did before
    _FakeCudaTensor.copies = 0
    data = as_trajectories([fake, _fake_cuda(X[:10])], dt=0.1)
    np.testing.assert_array_equal(data.trajectories[0], X)
    np.testing.assert_array_equal(data.trajectories[1], X[:10])
    pairs = as_trajectories(_fake_cuda(X[:-1]), y=_fake_cuda(X[1:]))
    np.testing.assert_array_equal(pairs.successors[0], X[1:])
    w = check_weights(_fake_cuda(np.ones(29)), 29)
    np.testing.assert_array_equal(w, np.ones(29))
    assert _FakeCudaTensor.copies == 5


def test_an_estimator_fits_on_tensors_as_on_arrays():
    from koop.dictionaries import Polynomial
    from koop.estimators import EDMD

    X = np.random.default_rng(2).normal(size=(200, 2)).cumsum(axis=0) * 0.1
    ref = EDMD(Polynomial(2)).fit(X)
    got = EDMD(Polynomial(2)).fit(_fake_cuda(X))
    np.testing.assert_array_equal(got.eigenvalues_, ref.eigenvalues_)


def test_torch_is_not_imported_for_numpy_input():
    code = ("import sys, numpy as np; from koop.data import as_trajectories; "
            "as_trajectories(np.zeros((5, 2))); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
