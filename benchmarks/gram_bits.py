"""Fingerprints of build_gram's results, to check that a change keeps them bitwise.

Prints one line per dictionary and thread count: the SHA-256 of the bytes of G, A, L and
C built on fixed Lorenz-63 data. Run it on two checkouts and compare the outputs::

    cd /path/to/before && .venv/bin/python benchmarks/gram_bits.py > /tmp/before.txt
    cd /path/to/after  && .venv/bin/python benchmarks/gram_bits.py > /tmp/after.txt
    diff /tmp/before.txt /tmp/after.txt && echo "bitwise unchanged"

Each thread count runs in its own process (``NUMBA_NUM_THREADS``), so the line also shows
whether the sums depend on the number of threads (they must not). ``--chunk N`` (default
5000 rows) fixes the chunk size, so that a change of the kernels is seen apart from a
change of the default chunk size; ``--chunk default`` takes each dictionary's default.
The polynomial dictionary's line changes with the fused kernel (koop._kernels.poly_gram: other
summation order, same values to 1e-15); ``poly-streamed`` is the streamed path.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np

DICTS = ("rbf", "rbf-weighted", "poly", "poly-streamed", "delay", "fourier")


def fingerprints(n: int, chunk_size: int | None) -> dict:
    import koop._backends.numba_backend as nb
    from koop import systems
    from koop.dictionaries import RBF, Polynomial, RandomFourier, TimeDelay
    from koop.gram import build_gram

    X = systems.lorenz63(n + 1, dt=0.01, random_state=0)
    w = np.random.default_rng(0).uniform(0.5, 1.5, n)
    out = {}
    for name in DICTS:
        dic = {"rbf": RBF(200, center_method="random", random_state=0),
               "rbf-weighted": RBF(200, center_method="random", random_state=0),
               "poly": Polynomial(5), "poly-streamed": Polynomial(5),
               "delay": TimeDelay(n_delays=4), "fourier": RandomFourier(64, random_state=0)
               }[name].fit(X)
        fused = nb.__dict__.get("fused_polynomial_plan")  # absent before the fused kernel
        if name == "poly-streamed" and fused is not None:
            nb.fused_polynomial_plan = lambda plan: None
        try:
            gm = build_gram(dic, X, weights=w if name == "rbf-weighted" else None,
                            chunk_size=chunk_size)
        finally:
            if fused is not None:
                nb.fused_polynomial_plan = fused
        h = hashlib.sha256()
        for key in "GALC":
            h.update(np.ascontiguousarray(getattr(gm, key)).tobytes())
        out[name] = h.hexdigest()[:16]
    return out


def main() -> None:
    n = int(float(sys.argv[sys.argv.index("--n") + 1])) if "--n" in sys.argv else 60_000
    chunk = sys.argv[sys.argv.index("--chunk") + 1] if "--chunk" in sys.argv else "5000"
    if "--worker" in sys.argv:
        print(json.dumps(fingerprints(n, None if chunk == "default" else int(chunk))))
        return
    for threads in ("1", "2", "3"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        cmd = [sys.executable, __file__, "--worker", "--n", str(n), "--chunk", chunk]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        for name, digest in json.loads(res.stdout.strip().splitlines()[-1]).items():
            print(f"{name:14s} threads={threads} {digest}")


if __name__ == "__main__":
    main()
