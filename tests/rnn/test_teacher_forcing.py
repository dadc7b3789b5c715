"""Generalized teacher forcing: forced states, the (1 - alpha) gradient rule, alpha."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from koop.rnn.cells import ALRNNCell, ShallowPLRNNCell  # noqa: E402
from koop.rnn.teacher_forcing import (  # noqa: E402
    anneal_alpha,
    estimate_alpha,
    gtf_rollout,
    optimal_alpha,
    sparse_tf_rollout,
)


def _cell(seed=0, m=3, h=20):
    return ShallowPLRNNCell(m, h, True, torch.Generator().manual_seed(seed))


def _data(seed, shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def test_gtf_alpha_one_reproduces_one_step_predictions_from_the_data():
    cell = _cell()
    x = _data(1, (4, 11, 3))
    z = gtf_rollout(cell, x[:, 0], x[:, 1:], 1.0)
    with torch.no_grad():
        expected = torch.stack([cell(x[:, t]) for t in range(10)], dim=1)
    np.testing.assert_array_equal(z.detach(), expected)


def test_gtf_alpha_zero_is_the_free_run():
    cell = _cell(2)
    x = _data(3, (2, 9, 3))
    z = gtf_rollout(cell, x[:, 0], x[:, 1:], 0.0)
    free, state = [], x[:, 0]
    with torch.no_grad():
        for _ in range(8):
            state = cell(state)
            free.append(state)
    np.testing.assert_allclose(z.detach(), torch.stack(free, 1), rtol=0, atol=1e-14)


def test_gtf_partial_forcing_leaves_unobserved_units_free():
    cell = ALRNNCell(5, 2, torch.Generator().manual_seed(4))
    z0 = _data(5, (3, 5))
    forcing = _data(6, (3, 6, 2))
    z = gtf_rollout(cell, z0, forcing, 1.0)
    with torch.no_grad():
        state = z0
        for t in range(6):
            state = cell(state)
            np.testing.assert_array_equal(z[:, t].detach(), state)
            state = torch.cat([forcing[:, t], state[:, 2:]], dim=1)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.9])
def test_gtf_gradient_through_forced_state_is_scaled_by_one_minus_alpha(alpha):
    # dz_2/dz_0 = J(z~_1) (1 - alpha) J(z_0): the data term alpha * x carries no gradient
    cell = _cell(7)
    z0 = _data(8, (1, 3))[0]
    forcing = _data(9, (1, 2, 3))

    def second(v):
        return gtf_rollout(cell, v[None], forcing, alpha)[0, 1]

    auto = torch.autograd.functional.jacobian(second, z0)
    with torch.no_grad():
        z1 = cell(z0[None])
        zt1 = (1 - alpha) * z1 + alpha * forcing[:, 0]
        expected = cell.jacobian(zt1)[0] @ ((1 - alpha) * cell.jacobian(z0[None])[0])
    np.testing.assert_allclose(auto, expected, rtol=1e-12, atol=1e-12)


def test_sparse_forcing_replaces_state_every_interval():
    cell = _cell(10)
    x = _data(11, (2, 13, 3))
    z = sparse_tf_rollout(cell, x[:, 0], x[:, 1:], 4)
    with torch.no_grad():
        state = x[:, 0]
        for t in range(12):
            state = cell(state)
            np.testing.assert_array_equal(z[:, t].detach(), state)
            if (t + 1) % 4 == 0:
                state = x[:, t + 1]


def _numpy_jacobians(cell, Z):
    A = cell.A.detach().numpy()
    W1, W2 = cell.W1.detach().numpy(), cell.W2.detach().numpy()
    h2 = cell.h2.detach().numpy()
    out = []
    for z in Z:
        u = W2 @ z
        d = (u > -h2).astype(float) - (u > 0).astype(float)
        out.append(np.diag(A) + W1 @ np.diag(d) @ W2)
    return np.array(out)


def test_product_upper_bound_alpha_matches_numpy():
    cell = _cell(12, m=3, h=40)
    with torch.no_grad():
        cell.W1.mul_(3.0)
    zhat = _data(13, (5, 17, 3))
    alpha, bound = estimate_alpha(cell, zhat, "product_upper_bound")
    norms = np.array([
        [np.linalg.norm(j, 2) for j in _numpy_jacobians(cell, seq.numpy())] for seq in zhat
    ])
    ref_bound = np.exp(np.log(norms).mean(axis=1)).max()
    np.testing.assert_allclose(bound, ref_bound, rtol=1e-12)
    np.testing.assert_allclose(alpha, max(0.0, 1 - 1 / ref_bound), rtol=1e-12)
    _, bound_max = estimate_alpha(cell, zhat, "batch_maximum")
    np.testing.assert_allclose(bound_max, norms.max(), rtol=1e-12)
    _, bound_weights = estimate_alpha(cell, zhat, "jacobian_upper_bound")
    A, W1, W2 = (p.detach().numpy() for p in (cell.A, cell.W1, cell.W2))
    np.testing.assert_allclose(
        bound_weights, np.abs(A).max() + np.linalg.norm(W1, 2) * np.linalg.norm(W2, 2),
        rtol=1e-12,
    )
    # the bounds are ordered: geometric mean <= batch max <= weight bound
    assert bound <= bound_max <= bound_weights + 1e-12


def test_optimal_alpha_and_annealing():
    assert optimal_alpha(1.0) == 0.0
    assert optimal_alpha(0.3) == 0.0
    np.testing.assert_allclose(optimal_alpha(4.0), 0.75)
    assert anneal_alpha(0.2, 0.5, 0.999) == 0.5
    np.testing.assert_allclose(anneal_alpha(0.5, 0.1, 0.9), 0.9 * 0.5 + 0.1 * 0.1)
    with pytest.raises(ValueError, match="Unknown alpha method"):
        estimate_alpha(_cell(), _data(0, (1, 2, 3)), "bogus")
