"""Gram-build backends that run on an existing engine: dask (chunks on a cluster), torch (GPU).

Nothing here is imported by ``import koop``: :func:`koop.gram.build_gram` imports a backend
module when it is asked for, and each module imports its engine inside its functions,
with an error naming the extra to install (``pip install koop[dask]``, ``koop[torch]``).
"""
