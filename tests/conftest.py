"""Shared fixtures: known-truth systems."""

import numpy as np
import pytest

from koop import systems


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def slow_manifold_data():
    """40 short trajectories of the slow-manifold map (mu=0.9, lambda=0.5)."""
    rng = np.random.default_rng(0)
    x0s = rng.uniform(-1, 1, size=(40, 2))
    return [systems.slow_manifold(10, mu=0.9, lam=0.5, x0=x0) for x0 in x0s]


@pytest.fixture(scope="session")
def stable_linear_map():
    """A non-normal stable 3x3 map with known eigenvalues 0.95, 0.7 +- 0.2i."""
    rng = np.random.default_rng(1)
    T = rng.normal(size=(3, 3))
    D = np.array([[0.95, 0.0, 0.0], [0.0, 0.7, 0.2], [0.0, -0.2, 0.7]])
    A = T @ D @ np.linalg.inv(T)
    return A, np.array([0.95, 0.7 + 0.2j, 0.7 - 0.2j])


@pytest.fixture(scope="module")
def single_torch_thread():
    """One torch thread for a module's tiny networks: per-op overhead dominates them, and
    extra threads on a small shared machine only slow them down (measured 3 s with one
    thread, 40 s with two under load). Use with ``pytest.mark.usefixtures``."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
