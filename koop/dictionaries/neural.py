r"""Neural dictionary learned jointly with the Koopman matrix (EDMD-DL, torch).

The dictionary is :math:`\psi(x) = [1, x, g_\theta(x)]` with :math:`g_\theta` a small
feed-forward network (the constant and the state keep the state reconstructible and rule
out the trivial all-zero dictionary). Training alternates, as in Li, Dietrich, Bollt &
Kevrekidis (2017):

1. with :math:`\theta` fixed, the EDMD solve
   :math:`K = (G + \lambda I)^{-1} A`, :math:`G = \Psi_X^\top \Psi_X / n`,
   :math:`A = \Psi_X^\top \Psi_Y / n`;
2. with :math:`K` fixed, a few epochs of Adam on
   :math:`J(\theta) = \frac1n \|\Psi_Y - \Psi_X K\|_F^2` over minibatches of pairs.

Once fitted it is an ordinary koop dictionary: EDMD, ResDMD and the validation tools use
its ``transform``. :class:`koop.estimators.neural.EDMDDL` wraps the whole procedure.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from koop._params import (
    NON_NEGATIVE_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    Satisfies,
    StrOptions,
)
from koop._torch_state import TorchStateMixin
from koop.data import as_trajectories, check_array
from koop.dictionaries._base import Dictionary

__all__ = ["NeuralDictionary", "train_edmd_dl", "NEURAL_DICTIONARY_PARAMETERS"]

_ACTIVATIONS = ("tanh", "relu", "elu", "softplus")


def _network(n_in: int, hidden: tuple, n_out: int, activation: str, generator):
    from koop._torch import import_torch

    torch = import_torch()
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "elu": torch.nn.ELU,
           "softplus": torch.nn.Softplus}[activation]
    layers, width = [], n_in
    for h in (*hidden, n_out):
        lin = torch.nn.Linear(width, h, dtype=torch.float64)
        bound = width**-0.5
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=generator)
            lin.bias.uniform_(-bound, bound, generator=generator)
        layers += [lin, act()]
        width = h
    return torch.nn.Sequential(*layers[:-1])  # linear output layer


def train_edmd_dl(lift, parameters, X, Y, *, n_iterations: int, n_epochs: int,
                  batch_size: int, learning_rate: float, regularization: float,
                  generator, verbose: bool = False) -> tuple[np.ndarray, list[float]]:
    r"""Alternate EDMD solves for ``K`` and Adam epochs on the lifting ``lift``.

    Parameters
    ----------
    lift : callable
        ``lift(x) -> psi(x)`` on torch tensors (n, d) -> (n, M), differentiable.
    parameters : iterable of torch parameters
        The trainable parameters of ``lift``.
    X, Y : torch.Tensor of shape (n, d)
        Snapshot pairs.
    n_iterations, n_epochs, batch_size, learning_rate, regularization
        Outer iterations, Adam epochs per iteration, minibatch size, Adam step size and the
        Tikhonov parameter ``lambda`` of the K solve.
    generator : torch.Generator
        Shuffles the minibatches.

    Returns
    -------
    K : ndarray (M, M)
        The Koopman matrix of the last solve, on the final dictionary.
    losses : list of float
        Mean loss per outer iteration (evaluated on the full data after its epochs).
    """
    from koop._torch import import_torch

    torch = import_torch()
    params = list(parameters)
    optimizer = torch.optim.Adam(params, lr=learning_rate)
    n = X.shape[0]

    def solve_k():
        with torch.no_grad():
            px, py = lift(X), lift(Y)
            G = px.T @ px / n
            A = px.T @ py / n
            eye = torch.eye(G.shape[0], dtype=G.dtype, device=G.device)
            # lstsq, not solve: a collapsed network output makes G singular
            K = torch.linalg.lstsq(G + regularization * eye, A).solution
            loss = float(torch.mean((py - px @ K) ** 2))
        return K, loss

    losses = []
    iterations = range(n_iterations)
    if verbose:
        from tqdm.auto import tqdm

        iterations = tqdm(iterations, desc="EDMD-DL", unit="iter")
    for _ in iterations:
        K, _loss = solve_k()
        for _ in range(n_epochs):
            perm = torch.randperm(n, generator=generator).to(X.device)
            for start in range(0, n, batch_size):
                idx = perm[start : start + batch_size]
                loss = torch.mean((lift(Y[idx]) - lift(X[idx]) @ K) ** 2)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        losses.append(solve_k()[1])
    K, _ = solve_k()
    return K.cpu().numpy(), losses


#: the constructor parameters of NeuralDictionary (EDMDDL passes them through)
NEURAL_DICTIONARY_PARAMETERS: dict = {
    "n_trainable": POSITIVE_INT,
    "hidden_layers": [Satisfies(
        lambda v: isinstance(v, tuple | list) and all(
            isinstance(h, Integral) and not isinstance(h, bool) and h >= 1 for h in v),
        "a tuple of positive ints")],
    "activation": [StrOptions(set(_ACTIVATIONS))],
    "include_state": ["boolean"],
    "include_bias": ["boolean"],
    "n_iterations": POSITIVE_INT,
    "n_epochs": POSITIVE_INT,
    "batch_size": POSITIVE_INT,
    "learning_rate": POSITIVE_REAL,
    "regularization": NON_NEGATIVE_REAL,
    # a torch.device is accepted too; resolve_device checks it when fit starts
    "device": [Satisfies(lambda v: isinstance(v, str) or type(v).__name__ == "device",
                         "'cpu', 'cuda', 'auto' or a torch.device")],
    "n_threads": [*POSITIVE_INT, None],
    "random_state": ["random_state", np.random.Generator],
    "verbose": ["verbose"],
}


class NeuralDictionary(TorchStateMixin, Dictionary):
    r"""Dictionary :math:`\psi(x) = [1, x, g_\theta(x)]` with a trained network (EDMD-DL).

    Parameters
    ----------
    n_trainable : int
        Number of network outputs :math:`g_\theta` (learned observables).
    hidden_layers : tuple of int
        Widths of the hidden layers.
    activation : {"tanh", "relu", "elu", "softplus"}
        Hidden-layer nonlinearity.
    include_state, include_bias : bool
        Prepend the state :math:`x` and the constant 1.
    n_iterations : int
        Outer iterations (K solve, then ``n_epochs`` of Adam).
    n_epochs : int
        Adam epochs over the pairs per outer iteration.
    batch_size : int
        Pairs per minibatch.
    learning_rate : float
        Adam step size.
    regularization : float
        Tikhonov parameter of the inner K solve.
    device : {"cpu", "auto", "cuda"}
        Where to train; the network is moved back to the CPU.
    n_threads : int or None
        Torch intra-op threads during training (restored afterwards); None keeps torch's
        setting. One thread is fastest for small networks on shared machines.
    random_state : int, numpy Generator or None
        Seeds the network's initial weights and the minibatch order.
    verbose : bool
        Progress bar.

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained network (inputs standardized with ``mean_`` and ``scale_``).
    training_koopman_matrix_ : ndarray (M, M)
        The K of the final solve on the training pairs.
    loss_history_ : ndarray
        Loss :math:`\|\Psi_Y - \Psi_X K\|^2/n` (averaged over entries) per outer iteration.
    n_parameters_ : int
        Number of network weights.

    Notes
    -----
    :func:`koop.io.save` stores ``network_`` as its ``state_dict`` arrays and
    :func:`koop.io.load` rebuilds the network from the parameters and loads them.

    ``fit(X)`` on a single array treats its rows as one trajectory (pairs are consecutive
    rows); pass a list of trajectories, or ``fit(X, y)`` with explicit pairs, when the data
    are several trajectories. Inside :class:`~koop.estimators.EDMD` the dictionary is fitted
    on the stacked samples, so with several trajectories the few pairs that straddle two
    of them are trained on too; :class:`~koop.estimators.neural.EDMDDL` avoids that.

    References
    ----------
    Q. Li, F. Dietrich, E. M. Bollt, I. G. Kevrekidis, "Extended dynamic mode decomposition
    with dictionary learning: a data-driven adaptive spectral decomposition of the Koopman
    operator", Chaos 27, 103111 (2017).

    Examples
    --------
    >>> import numpy as np
    >>> from koop.dictionaries.neural import NeuralDictionary
    >>> X = 0.9 ** np.arange(50.0)[:, None] * np.array([[1.0, -1.0]])
    >>> psi = NeuralDictionary(n_trainable=3, hidden_layers=(8,), n_iterations=2,
    ...                        n_epochs=2, random_state=0).fit(X)
    >>> psi.transform(X).shape, list(psi.get_feature_names_out()[:3])
    ((50, 6), ['1', 'x0', 'x1'])
    """

    _torch_modules = ("network_",)
    _parameter_constraints: ClassVar[dict] = NEURAL_DICTIONARY_PARAMETERS
    size_param = "n_trainable"

    def __init__(self, n_trainable: int = 10, hidden_layers: tuple = (64, 64),
                 activation: str = "tanh", include_state: bool = True,
                 include_bias: bool = True, n_iterations: int = 10, n_epochs: int = 5,
                 batch_size: int = 256, learning_rate: float = 1e-3,
                 regularization: float = 1e-4, device: Any = "cpu",
                 n_threads: int | None = 1, random_state: Any = None,
                 verbose: bool = False) -> None:
        self.n_trainable = n_trainable
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.include_state = include_state
        self.include_bias = include_bias
        self.n_iterations = n_iterations
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: Any, y: Any = None) -> NeuralDictionary:
        """Train the network and the Koopman matrix on snapshot pairs.

        Parameters
        ----------
        X : array-like (n_samples, n_features) or list of trajectories
            Trajectories (pairs are consecutive rows), or the ``X`` of snapshot pairs.
        y : array-like, optional
            Successors of ``X`` row by row.

        Returns
        -------
        self
        """
        self._validate_params()
        data = as_trajectories(X, y, name="X", min_pairs=1)
        Xp, Yp = data.pairs()
        return self._fit_pairs(np.asarray(Xp, dtype=np.float64), np.asarray(Yp, dtype=np.float64))

    def _fit_pairs(self, X: np.ndarray, Y: np.ndarray) -> NeuralDictionary:
        from koop._torch import import_torch, make_generator, resolve_device, torch_threads

        torch = import_torch()
        generator, _ = make_generator(self.random_state)
        device = resolve_device(self.device)
        self.n_features_in_ = X.shape[1]
        both = np.concatenate([X, Y])
        self.mean_ = both.mean(axis=0)
        scale = both.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        net = _network(X.shape[1], tuple(self.hidden_layers), self.n_trainable,
                       self.activation, generator).to(device)
        self.network_ = net
        tx = torch.as_tensor(X, device=device)
        ty = torch.as_tensor(Y, device=device)
        with torch_threads(self.n_threads):
            K, losses = train_edmd_dl(
                lambda x: self._lift_torch(x), net.parameters(), tx, ty,
                n_iterations=self.n_iterations, n_epochs=self.n_epochs,
                batch_size=self.batch_size, learning_rate=self.learning_rate,
                regularization=self.regularization, generator=generator,
                verbose=self.verbose,
            )
        self.network_ = net.cpu().eval()
        self.training_koopman_matrix_ = K
        self.loss_history_ = np.asarray(losses)
        self.n_parameters_ = int(sum(p.numel() for p in net.parameters()))
        self.n_output_features_ = int(self._n_output())
        return self

    def _build_torch_module(self, name: str):
        """An untrained network of the fitted shape (koop.io loads weights into it)."""
        from koop._torch import make_generator

        generator, _ = make_generator(0)  # the initial weights are overwritten
        return _network(self.n_features_in_, tuple(self.hidden_layers), self.n_trainable,
                        self.activation, generator)

    def _lift_torch(self, x):
        from koop._torch import import_torch

        torch = import_torch()
        mean = torch.as_tensor(self.mean_, device=x.device)
        scale = torch.as_tensor(self.scale_, device=x.device)
        parts = []
        if self.include_bias:
            parts.append(torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device))
        if self.include_state:
            parts.append(x)
        parts.append(self.network_((x - mean) / scale))
        return torch.cat(parts, dim=1)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        from koop._torch import import_torch

        torch = import_torch()
        with torch.no_grad():
            return self._lift_torch(torch.as_tensor(X, dtype=torch.float64)).numpy().copy()

    def transform(self, X: Any) -> np.ndarray:
        r"""Evaluate :math:`\psi(X) = [1, x, g_\theta(x)]`, one row per sample."""
        check_is_fitted(self, "network_")
        X = check_array(X, name="X", n_features=self.n_features_in_)
        return self._transform(np.asarray(X, dtype=np.float64))

    def _n_output(self) -> int:
        return (int(self.include_bias) + self.n_features_in_ * int(self.include_state)
                + int(self.n_trainable))

    def _feature_names(self, input_names: list[str]) -> list[str]:
        names = ["1"] if self.include_bias else []
        if self.include_state:
            names += list(input_names)
        return names + [f"nn{i}" for i in range(self.n_trainable)]
