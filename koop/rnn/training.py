"""Training loop for the PLRNN family: windows, teacher forcing, RAdam, decaying lr.

The model is a latent map (a cell of :mod:`koop.rnn.cells`) plus an observation model:

* ``"identity"``: the first ``N`` latent units are the observed state, ``x_t = z_t[:N]``.
  When ``M > N`` the unobserved units of the initial state are inferred linearly,
  ``z_0 = [x_0, L x_0]``, with ``L`` learned jointly (as the GTF code does); GTF forces
  the first ``N`` units with the data.
* ``"affine"``: ``x_t = B z_t`` (no bias, the GTF code's ``Affine``), initial states and
  forcing signals ``zhat = B^+ x`` (``M >= N``), all ``M`` units forced; ``B`` starts as
  Kaiming-normal (standard deviation ``sqrt(2/M)``), and the optional penalty
  ``lambda (1 - s_max(B) / (s_min(B) + 1e-8))^2`` keeps it well conditioned (the GTF
  paper's ECG runs: ``lambda = 1e-7``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._torch import import_torch
from .teacher_forcing import anneal_alpha, estimate_alpha, gtf_rollout, sparse_tf_rollout

torch = import_torch()
nn = torch.nn

__all__ = ["LatentModel", "TrainingConfig", "train"]


class LatentModel(nn.Module):
    """A latent cell with an identity (first ``n_observed`` units) or affine read-out."""

    def __init__(self, cell, n_observed: int, n_latent: int, generator,
                 observation: str = "identity") -> None:
        super().__init__()
        self.cell = cell
        self.n_observed = int(n_observed)
        self.observation = observation
        extra = int(n_latent) - self.n_observed
        self.L = None
        if observation == "affine":
            std = (2.0 / n_latent) ** 0.5
            self.B = nn.Parameter(std * torch.randn(n_observed, n_latent, generator=generator,
                                                    dtype=torch.float64))
        elif extra > 0:
            bound = n_latent**-0.5
            init = (2.0 * torch.rand(extra, n_observed, generator=generator,
                                     dtype=torch.float64) - 1.0) * bound
            self.L = nn.Parameter(init)

    def infer(self, x):
        """Data-inferred latent states for observations ``x`` (..., N).

        Identity: ``[x, L x]``; affine: ``B^+ x`` (differentiable in ``B``).
        """
        if self.observation == "affine":
            return x @ torch.linalg.pinv(self.B).T
        if self.L is None:
            return x
        return torch.cat([x, x @ self.L.T], dim=-1)

    def forcing_signals(self, x):
        """GTF targets for the latent units (no gradient): ``x`` itself, or ``B^+ x``."""
        if self.observation == "affine":
            return self.infer(x).detach()
        return x

    def observe(self, z):
        """The read-out: ``z[..., :N]``, or ``B z``."""
        if self.observation == "affine":
            return z @ self.B.T
        return z[..., : self.n_observed]

    def observation_penalty(self):
        """The affine read-out's condition penalty ``(1 - s_max/(s_min + 1e-8))^2``
        (the identity read-out: ``||L||^2``)."""
        if self.observation == "affine":
            s = torch.linalg.svdvals(self.B)
            return (1.0 - s[0] / (s[-1] + 1e-8)) ** 2
        if self.L is None:
            return torch.zeros((), dtype=torch.float64)
        return (self.L**2).sum()

    def generate(self, z0, n_steps: int):
        """Free-running latent trajectory ``(batch, n_steps, M)`` after ``z0`` (no grad)."""
        out = torch.empty(z0.shape[0], n_steps, z0.shape[1], dtype=z0.dtype, device=z0.device)
        z = z0
        with torch.no_grad():
            for t in range(n_steps):
                z = self.cell(z)
                out[:, t] = z
        return out


@dataclass
class TrainingConfig:
    """Hyper-parameters of one training run (see the estimators for their meaning)."""

    n_epochs: int = 1000
    batches_per_epoch: int = 50
    batch_size: int = 16
    sequence_length: int = 200
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-6
    teacher_forcing: str = "gtf"
    alpha: float = 1.0
    alpha_method: str = "product_upper_bound"
    alpha_decay: float = 0.999
    alpha_update_interval: int = 5
    forcing_interval: int = 16
    latent_regularization: float = 1e-5
    observation_regularization: float = 0.0
    verbose: bool = False


def _windows(blocks, lengths, seq_len, batch_size, rng):
    """Sample ``batch_size`` windows of ``seq_len + 1`` samples (with replacement)."""
    counts = np.array([n - seq_len for n in lengths], dtype=np.float64)
    which = rng.choice(len(blocks), size=batch_size, p=counts / counts.sum())
    out = []
    for i in which:
        s = int(rng.integers(0, int(counts[i])))
        out.append(blocks[i][s : s + seq_len + 1])
    return torch.stack(out, dim=0)


def train(model: LatentModel, blocks, config: TrainingConfig, rng: np.random.Generator,
          callback=None):
    """Fit ``model`` to the trajectories ``blocks`` (tensors (n_i, N)) in place.

    Each step samples a batch of windows, infers the initial latent state from the first
    sample, runs GTF (or sparse TF) over the remaining ``sequence_length`` samples and
    minimises the mean squared error of the unforced predictions on the observed units,
    plus ``latent_regularization`` times the cell's L2 penalty and
    ``observation_regularization`` times the read-out's penalty. RAdam with an exponential
    learning-rate decay from ``learning_rate`` to ``final_learning_rate`` over the epochs.
    For GTF with ``alpha_method != "constant"``, alpha starts at ``config.alpha`` and every
    ``alpha_update_interval`` batches is re-estimated and annealed
    (:func:`~koop.rnn.teacher_forcing.anneal_alpha`).

    ``callback(epoch, model, history)``, if given, runs after every epoch; a true return
    value stops training early (used for checkpoints and time budgets).

    Returns
    -------
    dict
        ``loss`` (mean training loss per epoch), ``alpha`` (alpha at the end of each epoch).
    """
    seq_len = config.sequence_length
    lengths = [int(b.shape[0]) for b in blocks]
    if max(lengths) < seq_len + 2:
        raise ValueError(
            f"The longest trajectory has {max(lengths)} samples, fewer than "
            f"sequence_length + 2 = {seq_len + 2}; lower sequence_length or pass longer data."
        )
    usable = [(b, n) for b, n in zip(blocks, lengths, strict=True) if n >= seq_len + 2]
    blocks, lengths = [u[0] for u in usable], [u[1] for u in usable]

    optimizer = torch.optim.RAdam(model.parameters(), lr=config.learning_rate)
    gamma = (config.final_learning_rate / config.learning_rate) ** (1.0 / max(config.n_epochs, 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    alpha = float(config.alpha)
    adaptive = config.teacher_forcing == "gtf" and config.alpha_method != "constant"

    history = {"loss": [], "alpha": []}
    epochs = range(config.n_epochs)
    bar = None
    if config.verbose:
        from tqdm.auto import tqdm

        bar = tqdm(epochs, desc=type(model.cell).__name__.replace("Cell", ""), unit="epoch")
        epochs = bar
    step = 0
    for epoch in epochs:
        total = 0.0
        for _ in range(config.batches_per_epoch):
            step += 1
            x = _windows(blocks, lengths, seq_len, config.batch_size, rng)
            z0 = model.infer(x[:, 0])
            target = x[:, 1:]
            forcing = model.forcing_signals(target)
            if adaptive and step % config.alpha_update_interval == 0:
                zhat = model.infer(target).detach()
                estimate, _ = estimate_alpha(model.cell, zhat, config.alpha_method)
                alpha = anneal_alpha(alpha, estimate, config.alpha_decay)
            if config.teacher_forcing == "gtf":
                z = gtf_rollout(model.cell, z0, forcing, alpha)
            else:
                z = sparse_tf_rollout(model.cell, z0, forcing, config.forcing_interval)
            loss = torch.mean((model.observe(z) - target) ** 2)
            objective = loss
            if config.latent_regularization > 0:
                objective = objective + config.latent_regularization * model.cell.regularization()
            if config.observation_regularization > 0:
                objective = objective + (config.observation_regularization
                                         * model.observation_penalty())
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            optimizer.step()
            total += float(loss.detach())
        scheduler.step()
        mean_loss = total / config.batches_per_epoch
        if not np.isfinite(mean_loss):
            raise FloatingPointError(
                "Training diverged (non-finite loss); lower learning_rate, use the clipped "
                "shPLRNN, or raise alpha."
            )
        history["loss"].append(mean_loss)
        history["alpha"].append(alpha)
        if bar is not None:
            bar.set_postfix(loss=f"{mean_loss:.3g}", alpha=f"{alpha:.3f}")
        if callback is not None and callback(epoch, model, history):
            break
    return history
