"""How the Gram sums are computed: the plan of a build and its four backends.

:mod:`~koop._backends.plan` fixes what is summed (lags, pairs, weights, chunks, how psi
is evaluated) once; :mod:`~koop._backends.numba_backend` (the default),
:mod:`~koop._backends.numpy_backend` (the reference), :mod:`~koop._backends.dask_backend`
(chunks on a cluster) and :mod:`~koop._backends.torch_backend` (GPU) receive the plan
and return raw sums, which :func:`koop.gram.build_gram` normalises. The dask and torch
modules import their engine inside their functions, with an error naming the extra to
install (``pip install koop[dask]``, ``koop[torch]``); ``import koop`` loads neither.
"""
