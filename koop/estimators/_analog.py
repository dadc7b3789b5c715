r"""Analog EDMD: EDMD on a Markov (analog) kernel dictionary, simulated with re-lifting."""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from sklearn.utils.validation import check_is_fitted

from koop._params import NON_NEGATIVE_REAL, POSITIVE_INT, RANK, StrOptions
from koop.base import KoopmanEstimator
from koop.data import check_array
from koop.dictionaries import Dictionary
from koop.estimators._solvers import select_rank

__all__ = ["AnalogEDMD"]

#: Gaussian weight of a landmark at the k-th neighbour's distance: exp(-WIDTH)
_WIDTH = 2.0


def _leading_eigh(G, rank) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of the sparse symmetric ``G``, largest first: the leading ``rank + 1`` by
    Lanczos for an integer rank well below its size, else all (dense)."""
    m = G.shape[0]
    if isinstance(rank, Integral) and not isinstance(rank, bool) and rank + 1 < m // 2:
        s2, V = scipy.sparse.linalg.eigsh(G, k=int(rank) + 1, which="LA", tol=1e-10,
                                          v0=np.ones(m))
    else:
        s2, V = np.linalg.eigh(G.toarray())
    order = np.argsort(s2)[::-1]
    return s2[order], V[:, order]


class AnalogKernel(Dictionary):
    r"""The state and a Markov kernel on landmark states: :math:`\psi(x) = [x, p(x)]`.

    :math:`p_j(x) = e^{-2 (d_j/d_k)^2} / \sum_{l} e^{-2 (d_l/d_k)^2}` over the ``k``
    landmarks :math:`c_j` nearest to :math:`x` (distances :math:`d_1 \le \dots \le d_k`),
    and 0 for the others: a partition of unity whose width adapts to the local density
    of landmarks, as in kernel analog forecasting. Used by :class:`AnalogEDMD`; ``fit``
    takes the landmarks as given (``centers``).

    Parameters
    ----------
    centers : array-like (m, d)
        Landmark states.
    n_neighbors : int
        Number ``k`` of landmarks each state is spread over.
    """

    def __init__(self, centers: Any = None, n_neighbors: int = 8) -> None:
        self.centers = centers
        self.n_neighbors = n_neighbors

    def _fit(self, X: np.ndarray) -> None:
        centers = check_array(self.centers, name="centers", n_features=X.shape[1])
        if not 1 <= self.n_neighbors <= centers.shape[0]:
            raise ValueError(f"n_neighbors must be between 1 and the {centers.shape[0]} "
                             f"centers, got {self.n_neighbors}.")
        self.centers_ = centers

    def _n_output(self) -> int:
        return self.n_features_in_ + self.centers_.shape[0]

    def _feature_names(self, input_names: list[str]) -> list[str]:
        return [*input_names, *(f"p{j}" for j in range(self.centers_.shape[0]))]

    def neighbours(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights and indices ``(n, k)`` of the ``k`` nearest landmarks of each row.

        A k-d tree (built on first use, not saved) answers many rows at once; the
        re-lifted runs use the brute-force numba kernel
        (:mod:`koop._kernels.analog`), which finds the same neighbours.
        """
        check_is_fitted(self, "centers_")
        if getattr(self, "_tree", None) is None:
            from scipy.spatial import cKDTree

            self._tree = cKDTree(self.centers_)
        k = int(self.n_neighbors)
        dist, idx = self._tree.query(np.asarray(X, dtype=np.float64), k)
        dist, idx = dist.reshape(-1, k), idx.reshape(-1, k)
        far = dist[:, -1:] ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(far > 0, np.exp(-_WIDTH * dist**2 / np.where(far > 0, far, 1.0)),
                         1.0)
        return w / w.sum(axis=1, keepdims=True), idx

    def weights(self, X: np.ndarray) -> scipy.sparse.csr_matrix:
        """The kernel part :math:`p(X)` as a sparse (n, m) matrix (``k`` entries a row)."""
        w, idx = self.neighbours(X)
        n, k = w.shape
        return scipy.sparse.csr_matrix((w.ravel(), idx.ravel(), np.arange(0, n * k + 1, k)),
                                       shape=(n, self.centers_.shape[0]))

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return np.hstack([X, self.weights(X).toarray()])


class AnalogEDMD(KoopmanEstimator):
    r"""EDMD on the state plus a Markov kernel over landmark states, re-lifted every step.

    The dictionary is :math:`\psi(x) = [x, p_1(x), \dots, p_m(x)]` with the Markov
    (analog) kernel :math:`p` of :class:`AnalogKernel` on :math:`m` landmark states taken
    evenly along the training pairs. EDMD of the one-step increment of the state on the
    kernel functions,

    .. math::
        D = \arg\min_D \sum_n w_n \|x_{n+1} - x_n - p(x_n) D\|^2 + \varepsilon\|D\|^2
          = (G_p + \varepsilon I)^{-1} P_X^\top W (Y - X),

    and of the kernel functions on themselves, :math:`K_p = G_p^{+} A_p` (:math:`G_p =
    P_X^\top W P_X`, :math:`A_p = P_X^\top W P_Y`, sparse: each row of :math:`P` has
    ``n_neighbors`` entries), give the Koopman matrix on :math:`\psi` (rows evolve as
    :math:`\psi_{n+1} = \psi_n K`)

    .. math::
        K = \begin{pmatrix} I_d & 0 \\ D & K_p \end{pmatrix},

    whose state row is the one-step map :math:`F(x) = x + p(x) D`. The reduced model
    (``eigenvalues_``, ``modes_``, the linear simulation) is :math:`K` with the Markov part
    compressed onto its leading ``rank`` principal directions: :math:`d` eigenvalues 1
    (the state block) and the spectrum of the compressed Markov operator, an Ulam-type
    transfer-operator estimate whose constant function has eigenvalue 1.

    ``simulate`` re-lifts (``simulation="relift"``, the default): each step evaluates the
    dictionary at the current state, :math:`x_{n+1} = F(x_n)`, so the model is a nonlinear
    map made of averaged training increments and its long runs stay on the data's
    attractor (a linear Koopman run, :math:`\psi_n = \psi_0 K^n`, relaxes to the mean;
    ``simulation="linear"``). With ``n_neighbors=1`` and every sample a landmark this is
    Lorenz's method of analogues; in general it is kernel analog forecasting of the state
    observable (Zhao & Giannakis 2016), the Koopman operator's action on the
    coordinates estimated in a data-driven Markov basis.

    Parameters
    ----------
    n_centers : int, default=2000
        Number of landmark states :math:`m` (at most the number of training pairs).
    n_neighbors : int, default=8
        Landmarks each state is spread over (``k``).
    rank : int, float, "optimal" or None, default=100
        Size of the reduced model behind the spectral attributes and the linear
        simulation: the Markov part is compressed onto the leading ``rank`` principal
        directions of :math:`G_p` (:func:`~koop.estimators._solvers.select_rank`). The
        re-lifted map always uses the full :math:`D`.
    regularization : float, default=1e-8
        Ridge :math:`\varepsilon`, relative to the mean diagonal of :math:`G_p`.
    simulation : {"relift", "linear"}, default="relift"
        How :meth:`simulate` and :meth:`simulate_batch` iterate the model.

    Attributes
    ----------
    increment_map_ : ndarray (m, d)
        :math:`D`; row :math:`j` is the averaged increment attached to landmark
        :math:`j`.
    dictionary_ : AnalogKernel
        The fitted dictionary (its ``centers_`` are the landmarks).
    n_parameters_ : int
        Numbers the generator uses: the landmarks and :math:`D`, :math:`2md`.

    References
    ----------
    E. N. Lorenz, "Atmospheric predictability as revealed by naturally occurring
    analogues", J. Atmos. Sci. 26 (1969). Z. Zhao, D. Giannakis, "Analog forecasting with
    dynamics-adapted kernels", Nonlinearity 29 (2016). M. O. Williams, I. G. Kevrekidis,
    C. W. Rowley, "A data-driven approximation of the Koopman operator: extending dynamic
    mode decomposition", J. Nonlinear Sci. 25 (2015).

    Examples
    --------
    >>> import numpy as np
    >>> from koop.estimators import AnalogEDMD
    >>> t = np.arange(3000) * 0.05
    >>> X = np.column_stack([np.cos(t), np.sin(t)])  # a limit cycle
    >>> model = AnalogEDMD(n_centers=1000, n_neighbors=4).fit(X)
    >>> run = model.simulate(X[0], 2000)
    >>> bool(np.allclose(np.linalg.norm(run, axis=1), 1.0, atol=1e-2))  # stays on it
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_centers": POSITIVE_INT,
        "rank": RANK,
        "n_neighbors": POSITIVE_INT,
        "regularization": NON_NEGATIVE_REAL,
        "simulation": [StrOptions({"relift", "linear"})],
    }

    def __init__(self, n_centers: int = 2000, n_neighbors: int = 8, rank: Any = 100,
                 regularization: float = 1e-8, simulation: str = "relift") -> None:
        self.n_centers = n_centers
        self.n_neighbors = n_neighbors
        self.rank = rank
        self.regularization = regularization
        self.simulation = simulation

    def fit(self, X: Any, y: Any = None, *, dt: float | None = None) -> AnalogEDMD:
        """Fit on one trajectory, a list of them, or snapshot pairs ``(X, y)``.

        Returns
        -------
        self
        """
        self._validate_params()
        data = self._validate_training_data(X, y, dt)
        xs, ys = data.pairs()
        n, d = xs.shape
        if self.n_centers > n:
            raise ValueError(f"n_centers={self.n_centers} exceeds the {n} training pairs; "
                             "lower it.")
        if self.n_neighbors > self.n_centers:
            raise ValueError(f"n_neighbors={self.n_neighbors} exceeds n_centers="
                             f"{self.n_centers}.")
        centers = xs[np.linspace(0, n - 1, self.n_centers).round().astype(np.int64)]
        dictionary = AnalogKernel(centers, self.n_neighbors).fit(xs)
        if data.is_pairs:
            PX, PY = dictionary.weights(xs), dictionary.weights(ys)
        else:  # consecutive samples: evaluate each trajectory once, then shift
            blocks = [dictionary.weights(np.asarray(t)) for t in data.trajectories]
            PX = scipy.sparse.vstack([b[:-1] for b in blocks]).tocsr()
            PY = scipy.sparse.vstack([b[1:] for b in blocks]).tocsr()
        G = (PX.T @ PX).tocsc() / n
        m = centers.shape[0]
        eps = self.regularization * max(G.diagonal().mean(), np.finfo(float).tiny)
        lu = scipy.sparse.linalg.splu(G + eps * scipy.sparse.identity(m, format="csc"))
        D = lu.solve(np.asarray(PX.T @ (ys - xs)) / n)
        # reduced model: the state and the leading G-orthonormal directions of p
        s2, V = _leading_eigh(G, self.rank)
        r = select_rank(np.sqrt(np.clip(s2, 0.0, None)), self.rank, (n, m))
        Qp = V[:, :r] / np.sqrt(s2[:r])
        Dr = Qp.T @ (np.asarray(PX.T @ (ys - xs)) / n)
        Kr = np.zeros((d + r, d + r))
        Kr[:d, :d] = np.eye(d)
        Kr[d:, :d] = Dr
        Kr[d:, d:] = Qp.T @ ((PX.T @ PY) @ Qp) / n
        basis = np.zeros((d + m, d + r))
        basis[:d, :d] = np.eye(d)
        basis[d:, d:] = Qp
        state_map = np.zeros((d + r, d))
        state_map[:d] = np.eye(d)
        self.dictionary_ = dictionary
        self.n_features_in_ = d
        self.increment_map_ = D
        self.n_parameters_ = int(2 * m * d)
        self._set_feature_names(data)
        self._set_reduced_model(basis, Kr, state_map, data.dt)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """One-step prediction: :meth:`step` (re-lifted) or the reduced linear model."""
        if self.simulation == "linear":
            return super().predict(X)
        return self.step(X)

    def step(self, X: Any) -> np.ndarray:
        r"""The re-lifted one-step map :math:`F(x) = x + p(x) D` for each row of ``X``."""
        check_is_fitted(self, "increment_map_")
        X = check_array(X, name="X", n_features=self.n_features_in_)
        return X + self.dictionary_.weights(X) @ self.increment_map_

    def simulate(self, x0: Any, n_steps: int) -> np.ndarray:
        """Iterate the model ``n_steps`` times from the state ``x0``.

        With ``simulation="relift"`` each step is :meth:`step`; with ``"linear"`` the
        linear Koopman iteration of the base class.

        Returns
        -------
        ndarray (n_steps, n_features_in_)
            The states after ``x0``.
        """
        if self.simulation == "linear":
            return super().simulate(x0, n_steps)
        x0 = np.asarray(x0, dtype=np.float64).reshape(1, -1)
        return self.simulate_batch(x0, n_steps)[0]

    def simulate_batch(self, X0: Any, n_steps: int) -> np.ndarray:
        """Runs of ``n_steps`` states from every row of ``X0``, stepped together.

        Returns
        -------
        ndarray (n_starts, n_steps, n_features_in_)
            ``out[i, k]`` is the state ``k + 1`` steps after ``X0[i]``.
        """
        check_is_fitted(self, "increment_map_")
        if isinstance(n_steps, bool) or not isinstance(n_steps, Integral) or n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}.")
        X = check_array(X0, name="X0", n_features=self.n_features_in_)
        if self.simulation == "linear":
            return np.stack([super(AnalogEDMD, self).simulate(x, int(n_steps)) for x in X])
        from koop._kernels.analog import analog_run

        out = np.empty((X.shape[0], int(n_steps), X.shape[1]))
        analog_run(np.ascontiguousarray(X, dtype=np.float64),
                   np.ascontiguousarray(self.dictionary_.centers_, dtype=np.float64),
                   np.ascontiguousarray(self.increment_map_, dtype=np.float64),
                   int(self.n_neighbors), _WIDTH, int(n_steps), out)
        return out
