"""One torch thread for the RNN tests: the CI/dev machines are small and shared, and tiny
recurrent models are dominated by per-op overhead that extra threads only add to."""

import pytest


@pytest.fixture(scope="module", autouse=True)
def _single_torch_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
