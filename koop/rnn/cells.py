"""Latent maps of the piecewise-linear RNNs: shPLRNN (plain and clipped) and AL-RNN.

Each cell is a ``torch.nn.Module`` mapping a batch of latent states ``z`` of shape
``(batch, M)`` to ``F(z)``, with the analytic Jacobian of ``F`` (used by the GTF alpha
estimate) beside it. The training loop, the observation model and the estimator
interface live elsewhere (:mod:`koop.rnn.teacher_forcing`, :mod:`koop.rnn.training`).

References
----------
Hess, Monfared, Brenner, Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
Dynamics", ICML 2023 (shPLRNN, clipped shPLRNN).
Brenner, Hemmer, Monfared, Durstewitz, "Almost-Linear RNNs Yield Highly Interpretable
Symbolic Codes in Dynamical Systems Reconstruction", NeurIPS 2024 (AL-RNN).
"""

from __future__ import annotations

from ._torch import import_torch

torch = import_torch()
nn = torch.nn

__all__ = ["ShallowPLRNNCell", "ALRNNCell", "normalized_positive_definite"]


def normalized_positive_definite(m: int, generator) -> torch.Tensor:
    """``(R^T R / m + I) / lambda_max``: a PD matrix whose largest eigenvalue is 1.

    Its diagonal initializes ``A``: entries in (0, 1], so the linear part starts as a
    slowly decaying memory (Talathi & Vartak 2016, as in both papers).
    """
    r = torch.randn(m, m, generator=generator, dtype=torch.float64)
    k = r.T @ r / m + torch.eye(m, dtype=torch.float64)
    return k / torch.linalg.eigvalsh(k).abs().max()


def _uniform(shape: tuple, bound: float, generator) -> torch.Tensor:
    return (2.0 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1.0) * bound


class ShallowPLRNNCell(nn.Module):
    r"""Shallow PLRNN latent map, clipped by default.

    .. math::

        F(z) = A \odot z + W_1\,\big[\mathrm{ReLU}(W_2 z + h_2) - \mathrm{ReLU}(W_2 z)\big] + h_1
        \quad\text{(clipped)}, \qquad
        F(z) = A \odot z + W_1\,\mathrm{ReLU}(W_2 z + h_2) + h_1 \quad\text{(plain)},

    with ``A`` a vector (diagonal), ``W_1`` of shape (M, H), ``W_2`` of shape (H, M).
    The clipped bracket is bounded by ``|h_2|`` entrywise, so orbits stay bounded whenever
    ``max|A| < 1``.

    Parameters
    ----------
    n_latent : int
        Latent dimension M.
    n_hidden : int
        Hidden width H.
    clipped : bool
        Use the clipped nonlinearity.
    generator : torch.Generator
        Source of the initial weights.
    """

    def __init__(self, n_latent: int, n_hidden: int, clipped: bool, generator) -> None:
        super().__init__()
        m, h = int(n_latent), int(n_hidden)
        self.clipped = bool(clipped)
        self.A = nn.Parameter(torch.diagonal(normalized_positive_definite(m, generator)).clone())
        self.W1 = nn.Parameter(_uniform((m, h), h**-0.5, generator))
        self.W2 = nn.Parameter(_uniform((h, m), m**-0.5, generator))
        self.h1 = nn.Parameter(torch.zeros(m, dtype=torch.float64))
        h2 = _uniform((h,), h**-0.5, generator) if clipped else torch.zeros(h, dtype=torch.float64)
        self.h2 = nn.Parameter(h2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """One step ``F(z)`` for a batch ``z`` of shape (batch, M)."""
        u = z @ self.W2.T
        act = torch.relu(u + self.h2)
        if self.clipped:
            act = act - torch.relu(u)
        return self.A * z + act @ self.W1.T + self.h1

    def hidden_gates(self, z: torch.Tensor) -> torch.Tensor:
        """Slopes of the hidden units at ``z``: ``1[W2 z > -h2] - 1[W2 z > 0]`` if clipped."""
        u = z @ self.W2.T
        d = (u > -self.h2).to(z.dtype)
        if self.clipped:
            d = d - (u > 0).to(z.dtype)
        return d

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        r"""Batched Jacobian ``diag(A) + W_1 diag(d(z)) W_2``, shape (batch, M, M)."""
        d = self.hidden_gates(z)
        jac = torch.einsum("mh,bh,hn->bmn", self.W1, d, self.W2)
        return jac + torch.diag_embed(self.A.expand_as(z))

    def norm_upper_bound(self) -> torch.Tensor:
        """``max|A| + ||W1||_2 ||W2||_2``: bounds the Jacobian's spectral norm everywhere."""
        two = torch.linalg.matrix_norm
        return self.A.abs().max() + two(self.W1, ord=2) * two(self.W2, ord=2)

    def regularization(self) -> torch.Tensor:
        """L2 penalty pulling ``A`` to 1 and the other weights to 0 (as in the GTF code)."""
        total = ((1.0 - self.A) ** 2).sum()
        for p in (self.W1, self.W2, self.h1, self.h2):
            total = total + (p**2).sum()
        return total


class ALRNNCell(nn.Module):
    r"""Almost-linear RNN latent map.

    .. math::

        F(z) = A \odot z + W\,\Phi^*(z) + h, \qquad
        \Phi^*(z) = [z_1, \dots, z_{M-P}, \mathrm{ReLU}(z_{M-P+1}), \dots, \mathrm{ReLU}(z_M)],

    so only the last ``P`` units are piecewise linear and the map is linear on each of at
    most ``2^P`` subregions, labelled by the sign pattern of ``z_{M-P+1:M}``.

    Parameters
    ----------
    n_latent : int
        Latent dimension M.
    n_pwl : int
        Number P of ReLU units (the last P latent units), ``0 <= P <= M``.
    generator : torch.Generator
        Source of the initial weights.
    """

    def __init__(self, n_latent: int, n_pwl: int, generator) -> None:
        super().__init__()
        m = int(n_latent)
        self.n_pwl = int(n_pwl)
        self.A = nn.Parameter(torch.diagonal(normalized_positive_definite(m, generator)).clone())
        self.W = nn.Parameter(0.01 * torch.randn(m, m, generator=generator, dtype=torch.float64))
        self.h = nn.Parameter(torch.zeros(m, dtype=torch.float64))

    def _phi(self, z: torch.Tensor) -> torch.Tensor:
        k = z.shape[-1] - self.n_pwl
        return torch.cat([z[..., :k], torch.relu(z[..., k:])], dim=-1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """One step ``F(z)`` for a batch ``z`` of shape (batch, M)."""
        return self.A * z + self._phi(z) @ self.W.T + self.h

    def gates(self, z: torch.Tensor) -> torch.Tensor:
        """Slopes of ``Phi*`` at ``z``: ones, then ``1[z_i > 0]`` on the last P units."""
        k = z.shape[-1] - self.n_pwl
        ones = torch.ones_like(z[..., :k])
        return torch.cat([ones, (z[..., k:] > 0).to(z.dtype)], dim=-1)

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        r"""Batched Jacobian ``diag(A) + W diag(d(z))``, shape (batch, M, M)."""
        d = self.gates(z)
        return torch.diag_embed(self.A.expand_as(z)) + self.W * d[:, None, :]

    def norm_upper_bound(self) -> torch.Tensor:
        """``max|A| + ||W||_2``: bounds the Jacobian's spectral norm everywhere."""
        return self.A.abs().max() + torch.linalg.matrix_norm(self.W, ord=2)

    def regularization(self) -> torch.Tensor:
        """L2 penalty pulling ``A`` to 1 and ``W``, ``h`` to 0."""
        return ((1.0 - self.A) ** 2).sum() + (self.W**2).sum() + (self.h**2).sum()

    def symbolic_code(self, z: torch.Tensor) -> torch.Tensor:
        """Integer label of the linear subregion: ``sum_k 2^k 1[z_{M-P+k} > 0]``."""
        bits = (z[..., z.shape[-1] - self.n_pwl :] > 0).to(torch.int64)
        weights = 2 ** torch.arange(self.n_pwl, dtype=torch.int64, device=z.device)
        return (bits * weights).sum(dim=-1)
