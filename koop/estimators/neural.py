"""EDMD with a learned neural dictionary (EDMD-DL, torch)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from koop._params import RANK
from koop.base import KoopmanEstimator
from koop.dictionaries.neural import NEURAL_DICTIONARY_PARAMETERS, NeuralDictionary
from koop.estimators._edmd import BACKEND, solve_edmd

__all__ = ["EDMDDL"]

# EDMDDL's parameters are those of its dictionary (minus the fixed [1, x] prefix), plus
# the final solve's: declared once, in NeuralDictionary, and passed through by name
_DICTIONARY_PARAMS = tuple(p for p in NEURAL_DICTIONARY_PARAMETERS
                           if p not in ("include_state", "include_bias"))


class EDMDDL(KoopmanEstimator):
    r"""EDMD with dictionary learning: :math:`\psi = [1, x, g_\theta(x)]`, then :math:`K = G^+A`.

    Trains a :class:`~koop.dictionaries.neural.NeuralDictionary` on the snapshot pairs of
    every trajectory (alternating K solves and Adam epochs on
    :math:`\|\Psi_Y - \Psi_X K\|^2`), then runs the ordinary EDMD pipeline on the fitted
    dictionary: :func:`koop.gram.build_gram` gives ``gram_`` (so ResDMD residuals and the
    validation tools apply) and the spectral attributes follow as for
    :class:`~koop.estimators.EDMD`.

    Parameters
    ----------
    n_trainable, hidden_layers, activation, n_iterations, n_epochs, batch_size,
    learning_rate, regularization, device, n_threads, random_state, verbose
        Passed to :class:`~koop.dictionaries.neural.NeuralDictionary`.
    rank : int, float in (0, 1), "optimal" or None
        Truncation of the final EDMD solve (as in :class:`~koop.estimators.EDMD`).
    backend : str
        Gram backend for the final solve.

    Attributes
    ----------
    dictionary_ : NeuralDictionary
        The trained dictionary.
    gram_ : GramMatrices
    eigenvalues_, eigenvectors_, modes_, koopman_matrix_, continuous_eigenvalues_
        As for :class:`~koop.estimators.EDMD`.
    n_parameters_ : int
        Network weights plus the entries of the Koopman matrix.

    References
    ----------
    Q. Li, F. Dietrich, E. M. Bollt, I. G. Kevrekidis, Chaos 27, 103111 (2017).

    Examples
    --------
    >>> import numpy as np
    >>> from koop.estimators.neural import EDMDDL
    >>> t = np.arange(60.0)
    >>> X = np.column_stack([0.9 ** t, 0.5 ** t])
    >>> model = EDMDDL(n_trainable=2, hidden_layers=(8,), n_iterations=2, n_epochs=2,
    ...                random_state=0).fit(X)
    >>> bool(np.isclose(np.abs(model.eigenvalues_), 0.9, atol=1e-6).any())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **{p: NEURAL_DICTIONARY_PARAMETERS[p] for p in _DICTIONARY_PARAMS},
        "rank": RANK,
        "backend": BACKEND,
    }

    def __init__(self, n_trainable: int = 10, hidden_layers: tuple = (64, 64),
                 activation: str = "tanh", n_iterations: int = 10, n_epochs: int = 5,
                 batch_size: int = 256, learning_rate: float = 1e-3,
                 regularization: float = 1e-4, rank: int | float | str | None = None,
                 backend: str = "numba", device: Any = "cpu", n_threads: int | None = 1,
                 random_state: Any = None, verbose: bool = False) -> None:
        self.n_trainable = n_trainable
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.n_iterations = n_iterations
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.rank = rank
        self.backend = backend
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None) -> EDMDDL:
        """Train the dictionary on the pairs, then solve EDMD on it.

        Parameters
        ----------
        X : array-like, list of arrays or xarray
            Trajectories, or the ``X`` of snapshot pairs.
        y : array-like, optional
            Successors of ``X`` row by row.
        dt : float, optional
            Sampling interval.

        Returns
        -------
        self
        """
        data = self._start_fit(X, y, dt)
        dictionary = NeuralDictionary(**{p: getattr(self, p) for p in _DICTIONARY_PARAMS})
        # the pairs of every trajectory, never one that straddles two of them
        Xp, Yp = data.pairs()
        self.dictionary_ = dictionary.fit(np.asarray(Xp, dtype=np.float64),
                                          np.asarray(Yp, dtype=np.float64))
        self.gram_, reduced = solve_edmd(self.dictionary_, data, backend=self.backend,
                                         rank=self.rank)
        self.n_dropped_directions_ = reduced.n_dropped
        self._set_reduced_model(reduced.basis, reduced.reduced, reduced.state_map, data.dt)
        m = self.dictionary_.n_output_features_
        self.n_parameters_ = int(self.dictionary_.n_parameters_ + m * m)
        return self
