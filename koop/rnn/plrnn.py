"""Shallow PLRNN (clipped by default) trained with generalized teacher forcing."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

from sklearn.utils._param_validation import Interval, StrOptions

from ._base import COMMON_CONSTRAINTS, RNNReconstruction

__all__ = ["ShallowPLRNN"]


class ShallowPLRNN(RNNReconstruction):
    r"""Shallow piecewise-linear RNN reconstruction of a dynamical system (shPLRNN + GTF).

    The latent map (clipped variant, the default) is

    .. math::

        z_t = A \odot z_{t-1} + W_1\big[\mathrm{ReLU}(W_2 z_{t-1} + h_2)
              - \mathrm{ReLU}(W_2 z_{t-1})\big] + h_1,
        \qquad \hat x_t = z_t[1{:}N],

    with ``A`` diagonal, ``W_1`` (M, H), ``W_2`` (H, M) and the identity observation
    model on the first ``N`` latent units (or an affine one, ``observation_model``).
    Training minimises the one-window MSE under generalized teacher forcing,
    ``z~_t = (1 - alpha) z_t + alpha x_t`` on the observed units, with alpha annealed
    from the Jacobian norms along the data (:mod:`koop.rnn.teacher_forcing`), RAdam and an
    exponentially decaying learning rate.

    Parameters
    ----------
    n_latent : int, optional
        Latent dimension M; default the number of observed features (M = N, as in the GTF
        paper's Lorenz-63 runs).
    n_hidden : int
        Hidden width H (GTF paper: 100 for Lorenz-63).
    clipped : bool
        Use the clipped nonlinearity (bounded orbits when ``max|A| < 1``).
    observation_model : {"identity", "affine"}
        ``"identity"``: the first N latent units are observed (``z_0 = [x_0, L x_0]``,
        GTF forces the first N units). ``"affine"``: :math:`\hat x = B z` with initial
        states and forcing signals :math:`B^+ x` on all M units (the GTF paper's ECG runs).
    observation_regularization : float
        Weight of the read-out penalty: affine, the condition penalty
        :math:`(1 - s_{max}(B)/(s_{min}(B) + 10^{-8}))^2` (GTF ECG: 1e-7); identity,
        :math:`\|L\|^2`.
    n_epochs, batches_per_epoch, batch_size, sequence_length : int
        Training length (GTF paper: 5000 epochs of 50 batches of 16 windows of 200 steps).
    learning_rate, final_learning_rate : float
        RAdam learning rate, decayed exponentially from the first to the second.
    teacher_forcing : {"gtf", "sparse"}
        Generalized teacher forcing, or sparse forcing every ``forcing_interval`` steps.
    alpha : float
        Initial (or constant) GTF alpha.
    alpha_method : {"product_upper_bound", "jacobian_upper_bound", "batch_maximum", "constant"}
        How alpha is re-estimated during training.
    alpha_decay : float
        Annealing factor ``gamma`` (alpha <- gamma alpha + (1 - gamma) alpha_estimate).
    alpha_update_interval : int
        Re-estimate alpha every this many batches.
    forcing_interval : int
        Sparse teacher-forcing interval tau.
    latent_regularization : float
        Weight of the L2 penalty on the latent parameters (``A`` towards 1).
    device : {"cpu", "auto", "cuda"} or torch.device
        Where to train; the fitted model is moved back to the CPU.
    n_threads : int or None
        Torch intra-op threads during training (restored afterwards). The default 1 is
        fastest for these small models; None keeps torch's setting.
    random_state : int, numpy Generator or None
        Seeds initialization and batch sampling (deterministic on the CPU).
    verbose : bool
        Show a progress bar.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained latent model (cell and initial-state map ``L``).
    n_parameters_ : int
        Number of trained parameters.
    loss_history_, alpha_history_ : ndarray
        Mean training loss and alpha per epoch.
    fit_time_ : float
        Training time in seconds.

    References
    ----------
    F. Hess, Z. Monfared, M. Brenner, D. Durstewitz, "Generalized Teacher Forcing for
    Learning Chaotic Dynamics", ICML 2023, PMLR 202:13017-13049.

    Examples
    --------
    >>> import numpy as np
    >>> from koop.rnn import ShallowPLRNN
    >>> t = np.arange(400) * 0.1
    >>> X = np.column_stack([np.sin(t), np.cos(t)])
    >>> model = ShallowPLRNN(n_hidden=8, n_epochs=2, batches_per_epoch=2,
    ...                      sequence_length=20, random_state=0).fit(X)
    >>> model.simulate(X[0], 5).shape
    (5, 2)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_latent": [Interval(Integral, 1, None, closed="left"), None],
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
        "clipped": ["boolean"],
        "observation_model": [StrOptions({"identity", "affine"})],
        "observation_regularization": [Interval(Real, 0, None, closed="left")],
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        n_latent: int | None = None,
        n_hidden: int = 100,
        *,
        clipped: bool = True,
        observation_model: str = "identity",
        observation_regularization: float = 0.0,
        n_epochs: int = 1000,
        batches_per_epoch: int = 50,
        batch_size: int = 16,
        sequence_length: int = 200,
        learning_rate: float = 1e-3,
        final_learning_rate: float = 1e-6,
        teacher_forcing: str = "gtf",
        alpha: float = 1.0,
        alpha_method: str = "product_upper_bound",
        alpha_decay: float = 0.999,
        alpha_update_interval: int = 5,
        forcing_interval: int = 16,
        latent_regularization: float = 1e-5,
        device="cpu",
        n_threads: int | None = 1,
        random_state=None,
        verbose: bool = False,
    ) -> None:
        self.n_latent = n_latent
        self.n_hidden = n_hidden
        self.clipped = clipped
        self.observation_model = observation_model
        self.observation_regularization = observation_regularization
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
        return n_features if self.n_latent is None else int(self.n_latent)

    def _cell(self, n_latent: int, generator):
        from .cells import ShallowPLRNNCell

        return ShallowPLRNNCell(n_latent, self.n_hidden, self.clipped, generator)
