"""``method="torch"``: the batched pseudospectrum (for a GPU), run here with torch on the CPU.

Truth: ``method="svd"``, an SVD of the 2r x r matrix per point (itself tested against
scipy's generalized eigensolver in test_pseudospectrum.py). The batched path accepts a
point when its Rayleigh-Ritz error bound is below 1e-8 of tau^2 and else takes a dense
eigensolve, so tau agrees to 1e-7 relative; both branches are exercised.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from koop import systems  # noqa: E402
from koop._spectral.model import as_koopman_model  # noqa: E402
from koop.dictionaries import RBF, Identity  # noqa: E402
from koop.estimators import ResDMD  # noqa: E402
from koop.validation import pseudospectrum  # noqa: E402

RTOL = 1e-7


@pytest.fixture
def eigh_calls(monkeypatch):
    """Rows (points) that took the dense r x r fallback eigensolve."""
    calls = []
    real = torch.linalg.eigh

    def spy(H, *args, **kwargs):
        calls.append(tuple(H.shape))
        return real(H, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "eigh", spy)
    return calls


def _dense_rows(calls, r):
    return sum(s[0] for s in calls if s[-1] == r and len(s) == 3)


def test_separated_spectrum_is_accepted_by_the_krylov_step(eigh_calls):
    rng = np.random.default_rng(0)
    d = 120
    lam = 0.95 * np.exp(2j * np.pi * rng.uniform(0, 0.5, d // 2)) * rng.uniform(0.5, 1, d // 2)
    blocks = [np.array([[z.real, -z.imag], [z.imag, z.real]]) for z in lam]
    A = np.zeros((d, d))
    for k, b in enumerate(blocks):
        A[2 * k : 2 * k + 2, 2 * k : 2 * k + 2] = b
    S = rng.standard_normal((d, d))
    A = S @ A @ np.linalg.inv(S)
    X = rng.standard_normal((5000, d))
    Y = X @ A.T + 0.05 * rng.standard_normal((5000, d))
    model = ResDMD(dictionary=Identity()).fit(X, Y)
    grid = (np.linspace(-1.2, 1.2, 7), np.linspace(-1.2, 1.2, 7))
    ref = pseudospectrum(model, grid, method="svd").values
    got = pseudospectrum(model, grid, method="torch", device="cpu").values
    np.testing.assert_allclose(got, ref, rtol=RTOL)
    n_points = np.unique(np.round(ref, 12)).size
    assert _dense_rows(eigh_calls, d) < n_points / 2  # most points never need the fallback


def test_packed_spectrum_falls_back_and_stays_exact(eigh_calls):
    X = systems.lorenz63(8001, dt=0.01, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = ResDMD(dictionary=RBF(80, center_method="random", random_state=0)).fit(X)
    grid = (np.linspace(-1.5, 1.5, 6), np.linspace(-1.5, 1.5, 6))
    ref = pseudospectrum(model, grid, method="svd").values
    got = pseudospectrum(model, grid, method="torch").values
    np.testing.assert_allclose(got, ref, rtol=RTOL)
    r = as_koopman_model(model).pencil().rank
    assert _dense_rows(eigh_calls, r) > 0  # Lorenz: a packed low spectrum


def test_vectors_are_unit_pseudoeigenfunctions():
    X = systems.linear([[0.9, 0.2], [0.0, 0.5]], 40, x0=[1.0, 1.0])
    model = ResDMD().fit(X)
    z = [0.9, 0.7 + 0.1j, 0.5]
    tau, g = pseudospectrum(model, z, method="torch", vectors=True)
    ref = pseudospectrum(model, z, method="svd").values
    np.testing.assert_allclose(tau.values, ref, rtol=RTOL, atol=1e-12)
    assert g.shape[0] == 3


def test_device_is_for_torch_only():
    X = systems.linear([[0.9, 0.0], [0.0, 0.5]], 30, x0=[1.0, 1.0])
    with pytest.raises(ValueError, match="device is for method='torch'"):
        pseudospectrum(ResDMD().fit(X), [0.5], device="cpu")
    with pytest.raises(ValueError, match="method must be one of"):
        pseudospectrum(ResDMD().fit(X), [0.5], method="gpu")
