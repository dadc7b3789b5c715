"""Latent maps: analytic Jacobians, boundedness of the clipped shPLRNN, AL-RNN regions."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from koop.rnn.cells import ALRNNCell, ShallowPLRNNCell  # noqa: E402


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("clipped", [True, False])
def test_shplrnn_jacobian_matches_autograd(clipped):
    cell = ShallowPLRNNCell(4, 30, clipped, _gen(1))
    z = torch.randn(7, 4, generator=_gen(2), dtype=torch.float64)
    analytic = cell.jacobian(z)
    for b in range(z.shape[0]):
        auto = torch.autograd.functional.jacobian(lambda v: cell(v[None])[0], z[b])
        np.testing.assert_allclose(analytic[b].detach(), auto, rtol=0, atol=1e-12)


def test_alrnn_jacobian_matches_autograd():
    cell = ALRNNCell(6, 3, _gen(3))
    with torch.no_grad():
        cell.W.normal_(0, 0.5, generator=_gen(4))
    z = torch.randn(9, 6, generator=_gen(5), dtype=torch.float64)
    analytic = cell.jacobian(z)
    for b in range(z.shape[0]):
        auto = torch.autograd.functional.jacobian(lambda v: cell(v[None])[0], z[b])
        np.testing.assert_allclose(analytic[b].detach(), auto, rtol=0, atol=1e-12)


def test_clipped_shplrnn_orbits_bounded_when_A_contracts():
    # |ReLU(u + h2) - ReLU(u)| <= |h2| entrywise, so |z_t| <= a |z_{t-1}| + c with
    # c = |W1| |h2| + |h1| and a = max|A| < 1: the orbit stays below max(|z0|, c / (1 - a)).
    cell = ShallowPLRNNCell(3, 50, True, _gen(6))
    with torch.no_grad():
        cell.A.copy_(torch.tensor([0.9, -0.95, 0.5], dtype=torch.float64))
        cell.W1.mul_(40.0)
        cell.W2.mul_(40.0)
        cell.h1.normal_(0, 1.0, generator=_gen(7))
    with torch.no_grad():
        a = float(cell.A.abs().max())
        c = float((cell.W1.abs() @ cell.h2.abs() + cell.h1.abs()).max())
    z = 50.0 * torch.ones(1, 3, dtype=torch.float64)
    bound = max(float(z.abs().max()), c / (1 - a))
    prev = float(z.abs().max())
    with torch.no_grad():
        for _ in range(3000):
            z = cell(z)
            now = float(z.abs().max())
            assert now <= a * prev + c + 1e-9
            assert now <= bound + 1e-9
            prev = now


def test_alrnn_is_affine_on_each_subregion_and_codes_match_signs():
    m, p = 5, 2
    cell = ALRNNCell(m, p, _gen(8))
    with torch.no_grad():
        cell.W.normal_(0, 0.7, generator=_gen(9))
        cell.h.normal_(0, 0.3, generator=_gen(10))
    z = torch.randn(500, m, generator=_gen(11), dtype=torch.float64)
    codes = cell.symbolic_code(z)
    assert len(torch.unique(codes)) <= 2**p
    expected = (z[:, m - 2] > 0).long() + 2 * (z[:, m - 1] > 0).long()
    assert torch.equal(codes, expected)
    # Phi*(z) = D(z) z, so F(z) = J(z) z + h exactly, with J constant on a subregion.
    with torch.no_grad():
        jac = cell.jacobian(z)
        affine = torch.einsum("bmn,bn->bm", jac, z) + cell.h
        np.testing.assert_allclose(cell(z), affine, atol=1e-12)
        for label in torch.unique(codes):
            block = jac[codes == label]
            np.testing.assert_array_equal(block, block[:1].expand_as(block))
