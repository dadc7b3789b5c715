"""Recurrent reconstructions of dynamical systems (torch): shPLRNN and AL-RNN with GTF.

Importing this subpackage imports torch; ``import koop`` does not. Install the extra
with ``pip install koop[torch]``.

Public names
------------
ShallowPLRNN
    Shallow PLRNN (clipped by default) trained with generalized teacher forcing.
ALRNN
    Almost-linear RNN with its symbolic code of linear subregions.
gtf_rollout, sparse_tf_rollout, estimate_alpha, optimal_alpha, anneal_alpha
    The teacher-forcing building blocks (:mod:`koop.rnn.teacher_forcing`).
"""

from ._torch import import_torch

import_torch()

from .alrnn import ALRNN  # noqa: E402
from .plrnn import ShallowPLRNN  # noqa: E402
from .teacher_forcing import (  # noqa: E402
    anneal_alpha,
    estimate_alpha,
    gtf_rollout,
    optimal_alpha,
    sparse_tf_rollout,
)

__all__ = [
    "ALRNN",
    "ShallowPLRNN",
    "anneal_alpha",
    "estimate_alpha",
    "gtf_rollout",
    "optimal_alpha",
    "sparse_tf_rollout",
]
