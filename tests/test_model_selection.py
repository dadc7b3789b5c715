"""Trajectory-aware splitting: whole blocks, gaps, no rows shared between folds."""

import itertools

import numpy as np
import pytest

from koop.model_selection import TrajectoryKFold, split_blocks


def test_blocks_are_contiguous_disjoint_and_separated_by_the_gap():
    X = np.arange(103.0).reshape(-1, 1)
    blocks = split_blocks(X, 4, gap=5)
    assert len(blocks) == 4
    for b in blocks:
        np.testing.assert_array_equal(np.diff(b[:, 0]), 1.0)  # contiguous
    for a, b in itertools.pairwise(blocks):
        assert b[0, 0] - a[-1, 0] == 6  # exactly `gap` samples dropped in between
    assert sum(len(b) for b in blocks) == 103 - 3 * 5


def test_folds_hold_whole_trajectories_and_cover_each_once():
    trajs = [np.full((7, 1), i, dtype=float) for i in range(6)]
    cv = TrajectoryKFold(3)
    seen = []
    for train, test in cv.split(trajs):
        assert set(train).isdisjoint(test)
        assert set(train) | set(test) == set(range(6))
        seen.extend(test)
    assert sorted(seen) == list(range(6))
    assert cv.get_n_splits(trajs) == 3
    shuffled = [t.tolist() for _, t in TrajectoryKFold(3, shuffle=True,
                                                       random_state=0).split(trajs)]
    assert sorted(i for t in shuffled for i in t) == list(range(6))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: list(TrajectoryKFold(3).split(np.zeros((30, 1)))), TypeError, "split_blocks"),
    (lambda: list(TrajectoryKFold(5).split([np.zeros((5, 1))] * 3)), ValueError, "folds"),
    (lambda: list(TrajectoryKFold(1).split([np.zeros((5, 1))] * 3)), ValueError, "n_splits"),
    (lambda: split_blocks(np.zeros((10, 1)), 4, gap=2), ValueError, "blocks"),
    (lambda: split_blocks(np.zeros((10, 1)), 1), ValueError, "n_blocks"),
    (lambda: split_blocks(np.zeros((10, 1)), 2, gap=-1), ValueError, "gap"),
])
def test_bad_requests_are_refused(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
