"""Under ``NUMBA_DISABLE_JIT=1`` (debugging numba code in pure Python) koop still works:
the kernels run as Python and agree with the numpy reference path."""

import os
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent("""
    import numpy as np
    from koop.data import as_trajectories
    from koop.dictionaries import RBF, Polynomial
    from koop.gram import build_gram
    from koop._spectral.factor import pencil_from_gram
    from koop._spectral.pseudospectrum import smallest_residuals

    rng = np.random.default_rng(0)
    X = np.cumsum(rng.standard_normal((400, 2)), axis=0) * 0.05
    data = as_trajectories(X)
    for d in (RBF(12, random_state=0), RBF(8, kernel="thinplate", random_state=0),
              Polynomial(3)):
        d.fit(X)
        g, ref = build_gram(d, data), build_gram(d, data, backend="numpy")
        for name in "GAL":
            a, b = getattr(g, name), getattr(ref, name)
            assert np.allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max()), name
    from koop import systems

    Y = systems.lorenz63(2000, dt=0.01, random_state=0)
    Y = (Y - Y.mean(axis=0)) / Y.std(axis=0)
    d = RBF(120, width=0.3, random_state=0).fit(Y)
    g = build_gram(d, as_trajectories(Y))
    pencil = pencil_from_gram(g.G, g.A, g.L, rcond=1e-10)
    assert pencil.rank > 96, pencil.rank  # the size that takes the numba kernel
    z = np.array([0.5 + 0.2j, -0.3 + 0.1j])
    fast = smallest_residuals(pencil, z)[0]
    ref = smallest_residuals(pencil, z, method="svd")[0]
    assert np.allclose(fast, ref, atol=1e-9), (fast, ref)
    print("ok")
""")


def test_everything_runs_with_the_jit_disabled():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
