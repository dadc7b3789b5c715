"""One torch thread for the RNN tests: the CI/dev machines are small and shared, and tiny
recurrent models are dominated by per-op overhead that extra threads only add to."""

import pytest


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread(single_torch_thread):
    """Every RNN test module runs with one torch thread (tests/conftest.py)."""
