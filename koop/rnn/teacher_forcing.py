r"""Generalized and sparse teacher forcing, and the GTF choice of alpha.

Generalized teacher forcing (GTF, Hess et al. 2023) runs the latent map along a training
window and, after every step, pulls the first ``N`` latent units (the observed ones under
the identity observation model) towards the data-inferred states ``zhat_t``:

.. math::

    z_t = F(\tilde z_{t-1}), \qquad
    \tilde z_t = (1 - \alpha)\, z_t + \alpha\, \hat z_t \quad\text{(first N units)} .

The loss is computed on the *unforced* predictions ``z_t``. Because ``zhat_t`` carries no
gradient, backpropagation through ``\tilde z`` multiplies the gradient by ``(1 - alpha)``
at every step, so Jacobian products along the window are damped by ``(1-alpha)^T``: with
``alpha* = max(0, 1 - 1/N)``, where ``N`` bounds the Jacobians' spectral norm, gradients
neither explode nor vanish needlessly. Sparse teacher forcing (STF) instead replaces the
first ``N`` units by the data every ``tau`` steps.
"""

from __future__ import annotations

import numpy as np

from ._torch import import_torch

torch = import_torch()

__all__ = [
    "ALPHA_METHODS",
    "anneal_alpha",
    "estimate_alpha",
    "gtf_rollout",
    "optimal_alpha",
    "sparse_tf_rollout",
]

ALPHA_METHODS = ("constant", "product_upper_bound", "jacobian_upper_bound", "batch_maximum")


def optimal_alpha(norm_bound: float) -> float:
    r"""GTF's optimal forcing ``alpha* = max(0, 1 - 1/N)`` for a Jacobian norm bound ``N``.

    Examples
    --------
    >>> optimal_alpha(2.0), optimal_alpha(0.5)
    (0.5, 0.0)
    """
    n = float(norm_bound)
    if not np.isfinite(n) or n <= 0:
        return 1.0 if n == np.inf else 0.0
    return max(0.0, 1.0 - 1.0 / n)


def gtf_rollout(cell, z0, forcing, alpha: float):
    """Run ``cell`` over a window with generalized teacher forcing.

    Parameters
    ----------
    cell : torch.nn.Module
        Latent map ``z -> F(z)`` on batches (batch, M).
    z0 : torch.Tensor of shape (batch, M)
        Initial latent state (not forced further).
    forcing : torch.Tensor of shape (batch, T, N)
        Data-inferred states for steps ``1..T`` on the first ``N`` units (``N <= M``).
    alpha : float
        Forcing strength in [0, 1]; 0 runs freely, 1 is classical teacher forcing.

    Returns
    -------
    torch.Tensor of shape (batch, T, M)
        The predictions ``z_t = F(z~_{t-1})`` before forcing.
    """
    n = forcing.shape[-1]
    z = z0
    outputs = []
    for t in range(forcing.shape[1]):
        z = cell(z)
        outputs.append(z)
        mixed = (1.0 - alpha) * z[:, :n] + alpha * forcing[:, t]
        z = mixed if n == z.shape[1] else torch.cat([mixed, z[:, n:]], dim=1)
    return torch.stack(outputs, dim=1)


def sparse_tf_rollout(cell, z0, forcing, interval: int):
    """Run ``cell`` with sparse teacher forcing: replace the first N units every ``interval``.

    Same arguments and output as :func:`gtf_rollout`, with ``interval`` (tau) in place of
    ``alpha``; forcing happens after steps ``interval, 2 interval, ...``.
    """
    n = forcing.shape[-1]
    z = z0
    outputs = []
    for t in range(forcing.shape[1]):
        z = cell(z)
        outputs.append(z)
        if (t + 1) % interval == 0:
            z = forcing[:, t] if n == z.shape[1] else torch.cat([forcing[:, t], z[:, n:]], dim=1)
    return torch.stack(outputs, dim=1)


def estimate_alpha(cell, zhat, method: str = "product_upper_bound") -> tuple[float, float]:
    r"""Estimate the Jacobian norm bound ``N`` and ``alpha* = max(0, 1 - 1/N)``.

    Parameters
    ----------
    cell : torch.nn.Module
        A cell with ``jacobian(z)`` and ``norm_upper_bound()``.
    zhat : torch.Tensor of shape (batch, T, M)
        Data-inferred latent states along the training windows.
    method : {"product_upper_bound", "jacobian_upper_bound", "batch_maximum"}
        ``product_upper_bound`` (default): the maximum over sequences of the geometric mean
        of ``||J(zhat_t)||_2`` along the sequence, which bounds the growth rate of the
        Jacobian products that GTF must tame. ``batch_maximum``: the largest
        ``||J(zhat_t)||_2`` in the batch. ``jacobian_upper_bound``: a bound from the
        weights alone (see the cell's ``norm_upper_bound``).

    Returns
    -------
    alpha : float
    norm_bound : float
    """
    with torch.no_grad():
        if method == "jacobian_upper_bound":
            bound = float(cell.norm_upper_bound())
            return optimal_alpha(bound), bound
        b, t, m = zhat.shape
        jac = cell.jacobian(zhat.reshape(b * t, m))
        norms = torch.linalg.matrix_norm(jac, ord=2).reshape(b, t)
        if method == "product_upper_bound":
            # log of the geometric mean; a zero norm would send it to -inf, harmlessly
            bound = float(torch.exp(torch.log(norms).mean(dim=1)).max())
        elif method == "batch_maximum":
            bound = float(norms.max())
        else:
            raise ValueError(
                f"Unknown alpha method {method!r}; choose one of {ALPHA_METHODS}."
            )
    return optimal_alpha(bound), bound


def anneal_alpha(current: float, estimate: float, decay: float) -> float:
    """GTF annealing: jump up to a larger estimate, otherwise decay towards it.

    ``alpha <- estimate`` if ``estimate > alpha``, else
    ``alpha <- decay * alpha + (1 - decay) * estimate``.

    Examples
    --------
    >>> anneal_alpha(0.5, 0.8, 0.99)
    0.8
    >>> round(anneal_alpha(0.5, 0.0, 0.9), 6)
    0.45
    """
    if estimate > current:
        return float(estimate)
    return float(decay * current + (1.0 - decay) * estimate)
