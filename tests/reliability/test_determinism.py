"""Determinism: a fixed random_state gives bitwise-identical results.

Within one process (fit twice, clone and refit) and across fresh processes with
different kernel thread counts (``NUMBA_NUM_THREADS`` = 1 and 2, which changes how
:func:`koop._kernels.threads.run_rows` splits the rows of psi), the SHA-256 of every
result array must be the same. On a failure the assertion names each array that
differs and the run configurations that disagree.

Measured and reported, not asserted: results also depend on the BLAS thread count
(OpenBLAS' dgemm for ``A``) and on OpenMP's (scikit-learn's k-means centres). With
single-threaded BLAS the chunks go to a fixed number of accumulation slots, whatever the
number of threads, so those builds are bitwise identical across thread counts too
(asserted below).
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from koop import systems
from koop.dictionaries import RBF, Polynomial, RandomFourier
from koop.estimators import DMD, EDMD, ResDMD

pytestmark = pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")

# the script fits every model once and prints {result name: sha256 of its bytes}
_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from koop.dictionaries import RBF, Polynomial, RandomFourier, TimeDelay
    from koop.estimators import DMD, EDMD, MPEDMD, HankelDMD, KernelEDMD, ResDMD
    from koop.gram import build_gram

    def digest(a):
        a = np.ascontiguousarray(a)
        return hashlib.sha256(a.dtype.str.encode() + str(a.shape).encode()
                              + a.tobytes()).hexdigest()[:16]

    # a random walk: cheap to make, and psi of 3000 samples is split across threads
    X = np.cumsum(np.random.default_rng(0).normal(size=(3000, 3)), axis=0) / 30.0
    trajs = [X[:700], X[700:1500], X[1500:]]
    out = {"data": digest(X)}
    models = {
        "rbf": EDMD(RBF(30, random_state=0)),
        "rbf-chunked": EDMD(RBF(30, center_method="random", random_state=1),
                            chunk_size=333),
        "fourier": EDMD(RandomFourier(20, random_state=0)),
        "poly": EDMD(Polynomial(3)),
        "delay": EDMD(TimeDelay(3) + Polynomial(2)),
        "resdmd": ResDMD(RBF(20, random_state=0)),
        "dmd": DMD(rank=3),
        "mpedmd": MPEDMD(Polynomial(2)),
        "kernel": KernelEDMD(n_components=40, random_state=0),
        "hankel": HankelDMD(n_delays=4),
    }
    for name, model in models.items():
        model.fit(X)
        for attr in ("eigenvalues_", "modes_", "koopman_matrix_", "residuals_"):
            if hasattr(model, attr):
                out[f"{name}.{attr}"] = digest(getattr(model, attr))
        for key in ("G", "A", "L", "C"):
            out[f"{name}.gram.{key}"] = digest(getattr(model.gram_, key))
        out[f"{name}.predict"] = digest(model.predict(X[:500]))
        out[f"{name}.simulate"] = digest(model.simulate(X[:8], 50))
    weights = np.linspace(0.5, 1.5, sum(len(t) - 1 for t in trajs))
    gm = build_gram(RBF(40, random_state=2).fit(np.vstack(trajs)), trajs, weights=weights,
                    chunk_size=128)
    for key in ("G", "A", "L", "C"):
        out[f"weighted-multi.gram.{key}"] = digest(getattr(gm, key))
    print(json.dumps(out))
    """
)


def _run_configs(configs, script=_SCRIPT):
    """Start one fresh interpreter per configuration (concurrently); return their digests."""
    procs = {}
    for name, extra_env in configs.items():
        env = dict(os.environ, **extra_env)
        procs[name] = subprocess.Popen([sys.executable, "-c", script], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name} failed:\n{err[-3000:]}"
        results[name] = json.loads(out.strip().splitlines()[-1])
    return results


def _differences(results):
    names = list(results)
    ref = results[names[0]]
    diffs = []
    for other in names[1:]:
        for key, value in ref.items():
            if results[other].get(key) != value:
                diffs.append(f"{key}: {names[0]} != {other}")
    return diffs


def test_bitwise_identical_across_processes_and_kernel_thread_counts():
    # BLAS threads pinned: with BLAS on one thread the kernels take another path (below)
    results = _run_configs({
        "threads=1": {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "2"},
        "threads=2": {"NUMBA_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"},
    })
    assert len(results["threads=1"]) > 60
    diffs = _differences(results)
    assert not diffs, "results differ across processes:\n" + "\n".join(diffs)


# With single-threaded BLAS the kernels split the chunks over NUMBA_NUM_THREADS threads,
# each with its own partial sums: the order of the sum then depends on the thread count.
_CHUNKED_SCRIPT = textwrap.dedent(
    """
    import hashlib, json
    import numpy as np
    from koop.dictionaries import RBF, Polynomial
    from koop.gram import build_gram

    X = np.cumsum(np.random.default_rng(0).normal(size=(3000, 3)), axis=0) / 30.0
    trajs = [X[:700], X[700:1500], X[1500:]]
    out = {}
    for name, d in {"rbf": RBF(30, center_method="random", random_state=1),
                    "poly": Polynomial(3)}.items():
        d.fit(X)
        for weighted in (False, True):
            w = np.linspace(0.5, 1.5, 2997) if weighted else None
            gm = build_gram(d, trajs, weights=w, chunk_size=128)
            for key in ("G", "A", "L", "C"):
                a = np.ascontiguousarray(getattr(gm, key))
                out[f"{name}.w={weighted}.{key}"] = hashlib.sha256(a.tobytes()).hexdigest()[:16]
    print(json.dumps(out))
    """
)


def test_bitwise_identical_across_kernel_thread_counts_with_serial_blas():
    results = _run_configs({
        "blas=1 threads=1": {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        "blas=1 threads=2": {"NUMBA_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "1"},
    }, script=_CHUNKED_SCRIPT)
    diffs = _differences(results)
    assert not diffs, "results differ across thread counts:\n" + "\n".join(diffs)


def _digest(a) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(a.dtype.str.encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


@pytest.mark.parametrize(
    "make",
    [
        lambda: EDMD(RBF(25, random_state=7)),
        lambda: EDMD(RBF(25, center_method="random", random_state=np.random.RandomState(3))),
        lambda: EDMD(RandomFourier(15, random_state=5), chunk_size=97),
        lambda: ResDMD(Polynomial(3)),
        lambda: DMD(rank="optimal"),
    ],
    ids=["rbf-kmeans", "rbf-random-RandomState", "fourier-chunked", "resdmd", "dmd"],
)
def test_bitwise_identical_within_a_process(make):
    X = systems.duffing(800, random_state=1)
    first = make()
    runs = [first.fit(X), make().fit(X), clone(first).fit(X)]
    for attr in ("eigenvalues_", "modes_", "basis_", "reduced_matrix_"):
        digests = {_digest(getattr(m, attr)) for m in runs}
        assert len(digests) == 1, attr
    for key in ("G", "A", "L", "C"):
        assert len({_digest(getattr(m.gram_, key)) for m in runs}) == 1, key


def test_random_state_controls_all_randomness():
    X = systems.van_der_pol(800)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = EDMD(RBF(10, random_state=1)).fit(X).dictionary_.centers_
        b = EDMD(RBF(10, random_state=2)).fit(X).dictionary_.centers_
        c = EDMD(RBF(10, random_state=1)).fit(X).dictionary_.centers_
    assert a.tobytes() == c.tobytes() and a.tobytes() != b.tobytes()
    for system in (systems.lorenz63, systems.duffing, systems.pendulum):
        assert _digest(system(20, random_state=4)) == _digest(system(20, random_state=4))
        assert _digest(system(20, random_state=4)) != _digest(system(20, random_state=5))
