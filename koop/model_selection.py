r"""Cross-validation for time series without leakage across the split.

scikit-learn's splitters cut the *rows* of ``X``. For a trajectory that is wrong twice:
a training fold made of the rows before and after a test block is read by a koop
estimator as one trajectory with a false snapshot pair across the seam, and the
samples next to the test block are correlated with it (information leaks). Here the
unit of splitting is a whole trajectory:

* :func:`split_blocks` cuts one long trajectory into contiguous blocks, dropping ``gap``
  samples between neighbours so that no pair straddles two blocks and neighbouring blocks
  are decorrelated by ``gap`` steps;
* :class:`TrajectoryKFold` splits a *list* of trajectories (or blocks) into folds of
  whole trajectories; scikit-learn indexes a list element by element, so
  ``GridSearchCV(model, grid, cv=TrajectoryKFold(5), scoring=vamp_scorer).fit(blocks)``
  fits and scores each fold on whole trajectories.

This is its own small module (like scikit-learn's ``model_selection``) rather than part
of :mod:`koop.validation`, which verifies a fitted model's spectrum: splitting data is
a different concern, and it sits above the estimators in the layering.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.model_selection import BaseCrossValidator, KFold

from koop.data import check_array

__all__ = ["split_blocks", "TrajectoryKFold"]


def split_blocks(X: Any, n_blocks: int, gap: int = 0) -> list[np.ndarray]:
    r"""Cut one trajectory into ``n_blocks`` contiguous blocks separated by ``gap`` samples.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        One trajectory.
    n_blocks : int
        Number of blocks (>= 2).
    gap : int, default=0
        Samples dropped between consecutive blocks (choose about the decorrelation time
        in steps to keep test blocks independent of training blocks).

    Returns
    -------
    list of ndarray
        The blocks, in time order, of (almost) equal length.

    Examples
    --------
    >>> import numpy as np
    >>> blocks = split_blocks(np.arange(10.0), 3, gap=1)
    >>> [b.ravel().tolist() for b in blocks]
    [[0.0, 1.0, 2.0], [4.0, 5.0], [7.0, 8.0, 9.0]]
    """
    X = check_array(X, name="X")
    for value, name, low in ((n_blocks, "n_blocks", 2), (gap, "gap", 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    n = X.shape[0]
    usable = n - gap * (n_blocks - 1)
    if usable < 2 * n_blocks:
        raise ValueError(
            f"{n} samples cannot make {n_blocks} blocks of >= 2 samples with gap={gap}; use "
            "fewer blocks or a smaller gap."
        )
    edges = np.linspace(0, usable, n_blocks + 1).round().astype(int)
    return [X[edges[i] + i * gap: edges[i + 1] + i * gap] for i in range(n_blocks)]


class TrajectoryKFold(BaseCrossValidator):
    """K-fold over whole trajectories: no trajectory is split between train and test.

    Parameters
    ----------
    n_splits : int, default=5
    shuffle : bool, default=False
        Shuffle the trajectories before forming folds (contiguous in time otherwise).
    random_state : int, RandomState or None
        Used when ``shuffle`` is True.

    Examples
    --------
    >>> import numpy as np
    >>> trajs = [np.zeros((10, 1)) for _ in range(4)]
    >>> [test.tolist() for _, test in TrajectoryKFold(2).split(trajs)]
    [[0, 1], [2, 3]]
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False,
                 random_state: Any = None) -> None:
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def _check(self, X: Any) -> int:
        if isinstance(self.n_splits, bool) or not isinstance(self.n_splits, int | np.integer) \
                or self.n_splits < 2:
            raise ValueError(f"n_splits must be an int >= 2, got {self.n_splits!r}.")
        if not isinstance(X, list | tuple):
            raise TypeError(
                "TrajectoryKFold splits a list of trajectories, got "
                f"{type(X).__name__}. For one long trajectory, cut it first with "
                "koop.model_selection.split_blocks(X, n_blocks, gap): splitting its rows "
                "would create false snapshot pairs across the split and leak correlated "
                "samples into the test fold."
            )
        if len(X) < self.n_splits:
            raise ValueError(f"{len(X)} trajectories cannot make {self.n_splits} folds; "
                             "use fewer splits or more blocks.")
        return len(X)

    def split(self, X: Any, y: Any = None, groups: Any = None
              ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` indices into the list of trajectories.

        Parameters
        ----------
        X : list of array-like
        y, groups : ignored

        Yields
        ------
        train, test : ndarray of int
        """
        n = self._check(X)
        yield from KFold(self.n_splits, shuffle=self.shuffle,
                         random_state=self.random_state if self.shuffle else None
                         ).split(np.zeros(n))

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of folds."""
        return int(self.n_splits)
