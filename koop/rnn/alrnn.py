"""Almost-linear RNN (AL-RNN) with its symbolic code of linear subregions."""

from __future__ import annotations

import copy
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..data import as_trajectories, check_array
from ._base import COMMON_CONSTRAINTS, RNNReconstruction
from ._torch import import_torch

__all__ = ["ALRNN"]


class ALRNN(RNNReconstruction):
    r"""Almost-linear RNN reconstruction with a symbolic code (AL-RNN).

    .. math::

        z_t = \mathrm{diag}(A)\, z_{t-1} + W\,\Phi^*(z_{t-1}) + h, \qquad
        \Phi^*(z) = [z_1, \dots, z_{M-P}, \mathrm{ReLU}(z_{M-P+1}), \dots,
        \mathrm{ReLU}(z_M)],

    observed through the identity on the first ``N`` latent units. The map is linear on
    each of at most ``2^P`` subregions, labelled by the sign pattern of the last ``P``
    units; the sequence of labels along a trajectory is its symbolic code
    (label ``sum_k 2^k 1[z_{M-P+k} > 0]``, ``k = 0..P-1``). Training as for
    :class:`~koop.rnn.ShallowPLRNN`, but with the AL-RNN paper's defaults: sparse teacher
    forcing (``teacher_forcing="sparse"``, ``forcing_interval=16`` for Lorenz-63, 8 for
    Rossler), learning rate 1e-3 -> 1e-5, no weight regularization, and the returned model
    is the checkpoint whose free run best matches the training data in state space
    (``checkpoint_interval``), as in the authors' code.

    Parameters
    ----------
    n_latent : int
        Latent dimension M (AL-RNN paper: 20 for Lorenz-63 and Rossler).
    n_pwl : int
        Number P of piecewise-linear (ReLU) units (paper: 2 for Lorenz-63, 1 for Rossler).
    n_subregion_steps : int
        Length of the free run (after as many transient steps, capped at 1000) on which
        ``subregions_`` is counted after fitting; also the length of the free runs that
        score the checkpoints.
    subregion_threshold : float
        A subregion counts as used (``subregions_``) if it holds more than this fraction of
        the free run (paper: 1 %); ``subregion_counts_`` lists every visited one.
    checkpoint_interval : int or None
        Every this many epochs, generate ``n_subregion_steps`` steps from the first
        training sample and score them against the training data with
        :func:`koop.metrics.state_space_divergence` (30 bins); after training the model of
        the best-scoring checkpoint (the final model included) is kept. The authors'
        repository saves and scores checkpoints every 25 epochs and reports the best one
        (their tutorial trains with ``use_best_model=True``): short free-running
        statistics fluctuate strongly between epochs for chaotic systems, and late epochs
        can fall onto a fixed point or cycle. ``None`` keeps the final model.
    **training parameters
        As for :class:`~koop.rnn.ShallowPLRNN` (n_epochs, batches_per_epoch, batch_size,
        sequence_length, learning_rate, final_learning_rate, teacher_forcing, alpha,
        alpha_method, alpha_decay, alpha_update_interval, forcing_interval,
        latent_regularization, device, n_threads, random_state, verbose).

    Attributes
    ----------
    subregions_ : ndarray of int
        Labels of the linear subregions visited by a free run from the first training
        sample, sorted by occupancy (most visited first).
        Only subregions holding more than ``subregion_threshold`` of the run count.
    subregion_counts_ : dict
        Label -> number of visited steps on that run (all visited subregions).
    best_epoch_ : int
        Number of epochs trained by the returned model (the selected checkpoint, or all).
    checkpoint_epochs_, checkpoint_scores_ : ndarray
        Epochs of the scored checkpoints and their D_stsp against the training data
        (empty when ``checkpoint_interval`` is None or no checkpoint was reached).
    model_, n_parameters_, loss_history_, alpha_history_, fit_time_
        As for :class:`~koop.rnn.ShallowPLRNN`.

    References
    ----------
    M. Brenner, C. J. Hemmer, Z. Monfared, D. Durstewitz, "Almost-Linear RNNs Yield Highly
    Interpretable Symbolic Codes in Dynamical Systems Reconstruction", NeurIPS 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from koop.rnn import ALRNN
    >>> t = np.arange(400) * 0.1
    >>> X = np.column_stack([np.sin(t), np.cos(t)])
    >>> model = ALRNN(n_latent=4, n_pwl=1, n_epochs=2, batches_per_epoch=2,
    ...               sequence_length=20, random_state=0).fit(X)
    >>> codes = model.symbolic_code(X)
    >>> codes.shape, set(np.unique(codes)) <= {0, 1}
    ((400,), True)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_latent": [Interval(Integral, 1, None, closed="left")],
        "n_pwl": [Interval(Integral, 0, None, closed="left")],
        "n_subregion_steps": [Interval(Integral, 1, None, closed="left")],
        "subregion_threshold": [Interval(Real, 0, 1, closed="left")],
        "checkpoint_interval": [Interval(Integral, 1, None, closed="left"), None],
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        n_latent: int = 20,
        n_pwl: int = 2,
        *,
        n_subregion_steps: int = 10000,
        subregion_threshold: float = 0.01,
        checkpoint_interval: int | None = 25,
        n_epochs: int = 2000,
        batches_per_epoch: int = 50,
        batch_size: int = 16,
        sequence_length: int = 200,
        learning_rate: float = 1e-3,
        final_learning_rate: float = 1e-5,
        teacher_forcing: str = "sparse",
        alpha: float = 1.0,
        alpha_method: str = "product_upper_bound",
        alpha_decay: float = 0.999,
        alpha_update_interval: int = 5,
        forcing_interval: int = 16,
        latent_regularization: float = 0.0,
        device="cpu",
        n_threads: int | None = 1,
        random_state=None,
        verbose: bool = False,
    ) -> None:
        self.n_latent = n_latent
        self.n_pwl = n_pwl
        self.n_subregion_steps = n_subregion_steps
        self.subregion_threshold = subregion_threshold
        self.checkpoint_interval = checkpoint_interval
        self.n_epochs = n_epochs
        self.batches_per_epoch = batches_per_epoch
        self.batch_size = batch_size
        self.sequence_length = sequence_length
        self.learning_rate = learning_rate
        self.final_learning_rate = final_learning_rate
        self.teacher_forcing = teacher_forcing
        self.alpha = alpha
        self.alpha_method = alpha_method
        self.alpha_decay = alpha_decay
        self.alpha_update_interval = alpha_update_interval
        self.forcing_interval = forcing_interval
        self.latent_regularization = latent_regularization
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _latent_dim(self, n_features: int) -> int:
        if self.n_pwl > self.n_latent:
            raise ValueError(
                f"n_pwl={self.n_pwl} exceeds n_latent={self.n_latent}; the ReLU units are "
                "a subset of the latent units."
            )
        return int(self.n_latent)

    def _cell(self, n_latent: int, generator):
        from .cells import ALRNNCell

        return ALRNNCell(n_latent, self.n_pwl, generator)

    def fit(self, X, y=None, *, dt: float | None = None, callback=None):
        """Train the AL-RNN; see :meth:`RNNReconstruction.fit`.

        With ``checkpoint_interval`` set, the returned model is the best-scoring
        checkpoint (see the class parameters); ``callback`` still runs after every epoch.
        """
        self._validate_params()
        interval = self.checkpoint_interval
        if interval is None or y is not None:
            return super().fit(X, y, dt=dt, callback=callback)
        data = as_trajectories(X, dt=dt, name="X")
        self._checkpoints = []
        self._reference = (np.asarray(data.trajectories[0][0], dtype=np.float64),
                           np.concatenate([np.asarray(b) for b in data.trajectories]))

        def checkpoint(epoch, latent_model, history):
            if (epoch + 1) % interval == 0:
                score = self._checkpoint_score(latent_model)
                self._checkpoints.append(
                    (epoch + 1, score, copy.deepcopy(latent_model.state_dict())))
            return bool(callback(epoch, latent_model, history)) if callback else False

        try:
            return super().fit(X, y, dt=dt, callback=checkpoint)
        finally:
            del self._checkpoints, self._reference

    def _checkpoint_score(self, latent_model) -> float:
        """D_stsp (30 bins) of a free run from the first training sample vs the data."""
        from ..metrics import state_space_divergence

        torch = import_torch()
        x0, reference = self._reference
        with torch.no_grad():
            z0 = latent_model.infer(torch.as_tensor(x0[None], device=_device(latent_model)))
            gen = latent_model.observe(latent_model.generate(z0, self.n_subregion_steps))
            gen = gen[0].cpu().numpy()
        if not np.all(np.isfinite(gen)):
            return float("inf")
        score = float(state_space_divergence(reference, gen, n_bins=30))
        return score if np.isfinite(score) else float("inf")

    def _after_fit(self, data) -> None:
        checkpoints = getattr(self, "_checkpoints", [])
        self.best_epoch_ = len(self.loss_history_)
        self.checkpoint_epochs_ = np.array([c[0] for c in checkpoints], dtype=np.int64)
        self.checkpoint_scores_ = np.array([c[1] for c in checkpoints], dtype=np.float64)
        if checkpoints:
            final = (self.best_epoch_, self._checkpoint_score(self.model_), None)
            epoch, _, state = min([*checkpoints, final], key=lambda c: c[1])
            if state is not None:
                self.model_.load_state_dict(state)
                self.best_epoch_ = int(epoch)
        x0 = np.asarray(data.trajectories[0][0])
        transient = min(1000, self.n_subregion_steps)
        z = self.latent_trajectory(x0, transient + self.n_subregion_steps)[transient:]
        codes = self.subregion_of(z)
        labels, counts = np.unique(codes, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        used = counts[order] > self.subregion_threshold * counts.sum()
        self.subregions_ = labels[order][used]
        self.subregion_counts_ = {int(lab): int(c) for lab, c in zip(labels, counts, strict=True)}

    def subregion_of(self, Z) -> np.ndarray:
        """Label of the linear subregion of each latent state in ``Z`` (n, M)."""
        check_is_fitted(self, "model_")
        torch = import_torch()
        Z = check_array(Z, name="Z", n_features=self.n_latent_)
        return self.model_.cell.symbolic_code(torch.as_tensor(Z)).numpy()

    def forced_latent_trajectory(self, X) -> np.ndarray:
        """Latent states along the data ``X``: observed units replaced by the data each step.

        ``z_0 = [x_0, L x_0]``; then ``z_t = F(z~_{t-1})`` with ``z~_t`` equal to ``z_t``
        except for its first ``N`` units, which are set to ``x_t`` (teacher forcing with
        alpha = 1), so the unobserved units are driven by the data. Rows ``t >= 1`` are the
        forced states ``z~_t``.
        """
        check_is_fitted(self, "model_")
        torch = import_torch()
        X = check_array(X, name="X", n_features=self.n_features_in_)
        x = torch.as_tensor(X, dtype=torch.float64)
        n = self.n_features_in_
        out = torch.empty(x.shape[0], self.n_latent_, dtype=torch.float64)
        with torch.no_grad():
            z = self.model_.infer(x[:1])
            out[0] = z[0]
            for t in range(1, x.shape[0]):
                z = self.model_.cell(z)
                z = torch.cat([x[t : t + 1], z[:, n:]], dim=1)
                out[t] = z[0]
        return out.numpy()

    def symbolic_code(self, X) -> np.ndarray:
        """Symbolic code of a data trajectory ``X``: the subregion label at every sample.

        The latent states come from :meth:`forced_latent_trajectory`. For the code of a
        generated trajectory use ``subregion_of(latent_trajectory(x0, n_steps))``.

        Returns
        -------
        ndarray of int, shape (n_samples,)
            Labels in ``0 .. 2^P - 1``.
        """
        return self.subregion_of(self.forced_latent_trajectory(X))


def _device(module):
    return next(module.parameters()).device
