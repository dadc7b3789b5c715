"""Gram matrices at the speed of BLAS: koop's build_gram vs numpy, the BLAS floor and peers.

Lorenz-63 (koop.systems.lorenz63, dt=0.01), N snapshot pairs of one trajectory, two
dictionaries: 500 Gaussian RBFs (width: mean distance to the mean) and all monomials up
to degree 5 (M=56). Each measurement runs in its own process (clean peak memory):

* ``koop``     build_gram(dictionary, X): G, A, L and C, dictionary evaluation included;
* ``edmd``     koop.estimators.EDMD(dictionary).fit(X), end to end;
* ``numpy``    plain numpy: psi once (N x M in memory), G by dsyrk, A by dgemm;
* ``floor``    dsyrk + dgemm on a precomputed psi: the work an exact build cannot avoid;
* ``streamed`` (polynomials) build_gram with the fused polynomial kernel switched off: psi
  streamed through a buffer, dsyrk + dgemm (the path before koop._kernels.poly_gram);
* ``peak``     this machine's DGEMM rate: a 4000 x 4000 dgemm, best of 3, per BLAS setting;
* peers        EDMD fits of pykoopman, kooplearn, deeptime, datafold, run from
  ``.venv-peers`` (datafold from ``.venv-datafold``: see ``make bench``; a peer that fails
  is skipped and the reason printed).

A second table per BLAS setting sets each build against the arithmetic limit: its flops,
counted exactly, at the measured DGEMM peak. Counted: G by dsyrk ``N M (M+1)``, A by
dgemm ``2 N M^2``, C by dgemm ``2 N M d`` (RBF; a block of G for polynomials), the
dictionary on ``N+1`` samples (RBF: ``3d`` for the squared distance, 1 for the scaling and
35 for the exponential, the arithmetic of koop's vexp; monomials: one multiplication each
beyond the constant and the state), and for the fused polynomial kernel ``2 N K`` for its
``K`` distinct moment sums in place of the dsyrk. Not counted: rows recomputed at chunk or
block boundaries (one per 256 samples at most, < 0.4 %) and the rank-one end corrections
of L.

Peak extra memory is the process's peak resident memory during the call minus its
resident memory just before (Linux: /proc/self/clear_refs resets the peak). The whole
table is measured once with the BLAS environment as it is and once with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed, each in fresh processes; ratios compare
numbers from the same setting. The first-call numba compile time is measured with an
empty cache and again with the cache written by the first process.

Usage::

    .venv/bin/python benchmarks/gram.py                  # N = 1e4, 1e5, 1e6, peers
    .venv/bin/python benchmarks/gram.py --sizes 1e4 1e5 --no-peers
    .venv/bin/python benchmarks/gram.py --sizes 1e6 --settings current --no-cpu-table

Timings on a shared machine are noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KOOP_PY = ROOT / ".venv" / "bin" / "python"
PEERS_PY = ROOT / ".venv-peers" / "bin" / "python"
# datafold 2.x pins scikit-learn ~1.2, pykoopman 1.2.1 pins 1.1.3: in one venv pip falls
# back to datafold 1.0.0, which no longer runs with numpy >= 1.24, pandas >= 1.5 or
# scikit-learn 1.1 (np.int, a recursion in TSCDataFrame.sort_index, EDMD's read-only
# feature_names_in_). make bench gives datafold its own venv.
DATAFOLD_PY = ROOT / ".venv-datafold" / "bin" / "python"
PEERS = ("pykoopman", "kooplearn", "deeptime", "datafold")
DICTS = ("rbf", "poly")
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# -- measurement helpers (run inside the task process) ---------------------------------
_CPU: list = []  # CPU seconds (user + system) of the measured call, best of the repeats


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _measure(fn, repeats: int):
    """Best wall time of ``repeats`` calls, and the first call's peak extra memory (MB)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        base = _status_kb("VmRSS")
    except OSError:
        base = None
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    times = [time.perf_counter() - t0]
    cpu = [time.process_time() - c0]
    peak = (_status_kb("VmHWM") - base) / 1024 if base is not None else float("nan")
    for _ in range(repeats - 1):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    _CPU.append(min(cpu))
    return min(times), peak, result


def _load(args):
    data = np.load(args.data)
    X = np.ascontiguousarray(data["X"][: args.n + 1])
    return X, data


def _rbf_numpy(X, centers, gamma):
    from scipy.spatial.distance import cdist

    psi = cdist(X, centers, "sqeuclidean")
    psi *= -gamma
    return np.exp(psi, out=psi)


def _poly_numpy(X, degree=5):
    from sklearn.preprocessing import PolynomialFeatures

    return PolynomialFeatures(degree).fit_transform(X)


def _numpy_psi(X, data, dictionary):
    if dictionary == "rbf":
        return _rbf_numpy(X, data["centers"], float(data["gamma"]))
    return _poly_numpy(X)


def _gram_blas(psi):
    from scipy.linalg.blas import dgemm, dsyrk

    G = dsyrk(1.0, psi[:-1].T, trans=0)
    A = dgemm(1.0, psi[:-1].T, psi[1:].T, trans_b=1)
    return G, A


def _koop_dictionary(data, dictionary):
    from koop.dictionaries import RBF, Polynomial

    if dictionary == "rbf":
        return RBF(500, width=float(data["width"]), center_method="random", random_state=0)
    return Polynomial(5)


# -- tasks ------------------------------------------------------------------------------
def task_koop(args):
    import koop._backends.numba_backend as nb
    from koop.estimators._solvers import edmd_solve
    from koop.gram import build_gram

    if args.path == "streamed":  # the path before the fused polynomial kernel
        nb.fused_polynomial_plan = lambda plan: None

    X, data = _load(args)
    dic = _koop_dictionary(data, args.dict).fit(X)
    if args.dict == "rbf":
        dic.centers_ = np.ascontiguousarray(data["centers"])
    build_gram(dic, X[:2000])  # load the compiled kernels
    t, peak, gm = _measure(lambda: build_gram(dic, X), args.repeats)
    model = edmd_solve(gm.G, gm.A, gm.C, warn=False)
    np.save(args.out, _eigs(model.reduced))
    return {"time": t, "peak_mb": peak, "kept": int(model.basis.shape[1])}


def task_edmd(args):
    from koop.estimators import EDMD

    X, data = _load(args)
    dic = _koop_dictionary(data, args.dict)
    EDMD(dic).fit(X[:2000])
    t, peak, _ = _measure(lambda: EDMD(dic).fit(X), args.repeats)
    return {"time": t, "peak_mb": peak}


def task_numpy(args):
    import koop  # noqa: F401  (same process imports as the koop task)
    from koop.estimators._solvers import edmd_solve

    X, data = _load(args)
    timings = {}

    def run():
        t0 = time.perf_counter()
        psi = _numpy_psi(X, data, args.dict)
        timings["psi"] = time.perf_counter() - t0
        G, A = _gram_blas(psi)
        n = psi.shape[0] - 1
        G = np.triu(G) + np.triu(G, 1).T
        C = psi[:-1].T @ X[:-1]
        return G / n, A / n, C / n

    t, peak, (G, A, C) = _measure(run, args.repeats)
    model = edmd_solve(G, A, C, warn=False)
    np.save(args.out, _eigs(model.reduced))
    # a second exact route (the sum over samples split in two halves: another summation
    # order): the eigenvalues' own sensitivity to rounding, against which the koop/numpy
    # difference is judged
    psi = _numpy_psi(X, data, args.dict)
    n = psi.shape[0] - 1
    h = n // 2
    Gh, Ah = _gram_blas(psi[: h + 1])
    Gt, At = _gram_blas(psi[h:])
    G2, A2 = (Gh + Gt) / n, (Ah + At) / n
    G2 = np.triu(G2) + np.triu(G2, 1).T
    np.save(str(args.out).replace(".npy", "_alt.npy"),
            _eigs(edmd_solve(G2, A2, C, warn=False).reduced))
    return {"time": t, "peak_mb": peak, "psi_time": timings["psi"],
            "kept": int(model.basis.shape[1])}


def task_floor(args):
    X, data = _load(args)
    psi = _numpy_psi(X, data, args.dict)
    _gram_blas(psi[:1000])
    t, peak, _ = _measure(lambda: _gram_blas(psi), args.repeats)
    return {"time": t, "peak_mb": peak}


def _eigs(K):
    return np.linalg.eigvals(K)


def task_peak(args):
    """DGEMM rate of this machine with the BLAS environment as given: best of 3."""
    n = 4000
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)), rng.random((n, n))
    c = a @ b
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return {"time": best, "gflops": 2.0 * n**3 / best / 1e9}


def flop_counts(dictionary: str, n: int, d: int = 3) -> dict:
    """Flops of one build of G, A, L, C over ``n`` pairs (see the module docstring)."""
    if dictionary == "rbf":
        M = 500
        return {"syrk": n * M * (M + 1), "gemm": 2 * n * M * M, "C": 2 * n * M * d,
                "eval": (n + 1) * M * (3 * d + 1 + 35), "moments": 0}
    from math import comb

    M, K = comb(d + 5, 5), comb(d + 10, 10)  # degree 5; distinct sums of degree <= 10
    chain = (n + 1) * (M - 1 - d)
    streamed = {"syrk": n * M * (M + 1), "gemm": 2 * n * M * M, "C": 0, "eval": chain,
                "moments": 0}
    if dictionary == "poly-streamed":
        return streamed
    return dict(streamed, syrk=0, moments=2 * n * K)


def task_peer(args):
    X, data = _load(args)
    name, dictionary = args.peer, args.dict
    centers, gamma, width = data["centers"], float(data["gamma"]), float(data["width"])
    import warnings

    warnings.filterwarnings("ignore")
    if name == "pykoopman":
        import pykoopman as pk

        obs = (
            pk.observables.RadialBasisFunction(
                rbf_type="gauss", n_centers=500, centers=centers.T.copy(),
                kernel_width=1.0 / (np.sqrt(2.0) * width), include_state=False)
            if dictionary == "rbf" else pk.observables.Polynomial(degree=5)
        )

        def fit():
            return pk.Koopman(observables=obs, regressor=pk.regression.EDMD()).fit(X)
    elif name == "kooplearn":
        from kooplearn.abc import FeatureMap
        from kooplearn.data import traj_to_contexts
        from kooplearn.models import Nonlinear

        class Psi(FeatureMap):
            def __call__(self, Z):
                return _numpy_psi(np.asarray(Z).reshape(Z.shape[0], -1), data, dictionary)

        M = 500 if dictionary == "rbf" else 56

        def fit():
            ctx = traj_to_contexts(X, context_window_len=2)
            return Nonlinear(Psi(), reduced_rank=False, rank=M, tikhonov_reg=1e-12).fit(ctx)
    elif name == "deeptime":
        from deeptime.basis import Monomials
        from deeptime.decomposition import EDMD as DTEDMD

        basis = (
            (lambda Z: _rbf_numpy(Z, centers, gamma)) if dictionary == "rbf"
            else Monomials(p=5, d=3)
        )

        def fit():
            return DTEDMD(basis).fit((X[:-1], X[1:])).fetch_model()
    elif name == "datafold":
        import datafold
        from datafold.appfold import EDMD as DFEDMD
        from datafold.dynfold import TSCPolynomialFeatures, TSCRadialBasis
        from datafold.pcfold import GaussianKernel, TSCDataFrame

        if int(datafold.__version__.split(".")[0]) < 2:
            raise RuntimeError(
                f"datafold {datafold.__version__} does not run with this venv's numpy, "
                "pandas and scikit-learn; make bench installs datafold 2.0.2 into "
                ".venv-datafold")

        def fit():
            # string feature names: datafold's polynomial step fails on integer ones
            tsc = TSCDataFrame.from_array(X, feature_names=["x", "y", "z"])
            if dictionary == "rbf":
                step = ("rbf", TSCRadialBasis(GaussianKernel(epsilon=width**2),
                                              center_type="fit_params"))
                return DFEDMD([step], include_id_state=False).fit(
                    tsc, rbf__centers=centers)
            return DFEDMD([("poly", TSCPolynomialFeatures(degree=5))],
                          include_id_state=False).fit(tsc)
    else:
        raise ValueError(name)
    t, peak, _ = _measure(fit, args.repeats)
    return {"time": t, "peak_mb": peak}


def task_versions(args):
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for q in PEERS:
        try:
            out[q] = version(q)
        except PackageNotFoundError:
            out[q] = None
    return out


def task_compile(args):
    """First build_gram per dictionary kind in this process (cold or warm numba cache)."""
    t0 = time.perf_counter()
    import koop.gram
    from koop.dictionaries import RBF, Polynomial, RandomFourier, TimeDelay

    t_import = time.perf_counter() - t0
    X = np.random.default_rng(0).normal(size=(200, 3))
    out = {"import": t_import}
    for name, dic in [("poly", Polynomial(3)), ("rbf", RBF(10, center_method="random")),
                      ("thinplate", RBF(10, kernel="thinplate", center_method="random")),
                      ("fourier", RandomFourier(5)), ("delay", TimeDelay(2))]:
        dic.fit(X)
        t0 = time.perf_counter()
        koop.gram.build_gram(dic, X)
        out[name] = time.perf_counter() - t0
    return out


TASKS = {"koop": task_koop, "edmd": task_edmd, "numpy": task_numpy, "floor": task_floor,
         "peer": task_peer, "compile": task_compile, "versions": task_versions,
         "peak": task_peak}


# -- driver -------------------------------------------------------------------------------
def _run(python, task, env, timeout, **kw):
    cmd = [str(python), __file__, "--task", task]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    try:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")]
    if res.returncode != 0 or not lines:
        tail = (res.stderr.strip().splitlines() or ["(no output)"])[-1]
        why = "killed (out of memory?)" if res.returncode in (-9, 137) else tail
        return {"error": f"exit {res.returncode}: {why}"[:160]}
    return json.loads(lines[-1][7:])


def _make_data(path: Path, n_max: int) -> None:
    sys.path.insert(0, str(ROOT))
    from koop import systems
    from koop.dictionaries import RBF

    t0 = time.perf_counter()
    X = systems.lorenz63(n_max + 1, dt=0.01, random_state=0)
    rbf = RBF(500, center_method="random", random_state=0).fit(X[: min(len(X), 100_001)])
    np.savez(path, X=X, centers=rbf.centers_, width=rbf.width_,
             gamma=0.5 / rbf.width_**2)
    print(f"# Lorenz-63 data: {X.shape} in {time.perf_counter() - t0:.1f} s; RBF width "
          f"{rbf.width_:.3f}", flush=True)


def _match_eigs(a, b):
    from scipy.optimize import linear_sum_assignment

    if a.size == 0 or b.size == 0:
        return float("nan")
    cost = np.abs(a[:, None] - b[None, :])
    r, c = linear_sum_assignment(cost)
    return float(cost[r, c].max())


def _fmt(res, key="time"):
    if "error" in res:
        return "—"
    return f"{res[key]:.3g}"


def _peer_python(name: str) -> Path:
    return DATAFOLD_PY if name == "datafold" and DATAFOLD_PY.exists() else PEERS_PY


def _cpu_table(sizes, data, base_env, timeout, dicts=DICTS) -> None:
    """koop vs the floor on one thread, in CPU seconds of the measured call.

    On a machine shared with other jobs, wall times of multithreaded BLAS swing by 10x
    (its threads spin-wait for descheduled partners); one thread's CPU time measures the
    work done and stays comparable across runs.
    """
    env = dict(base_env, OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    print("\n## One thread, CPU seconds (BLAS environment as set)")
    print("| N | dict | koop CPU s | floor CPU s | koop/floor | streamed CPU s | "
          "koop/streamed | EDMD CPU s | EDMD/floor |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for n in sizes:
        for dic in dicts:
            kw = dict(data=data, n=n, dict=dic, repeats=3 if n <= 100_000 else 1)
            with tempfile.TemporaryDirectory() as tmp:
                rk = _run(KOOP_PY, "koop", env, timeout, out=Path(tmp) / "k.npy", **kw)
                rs = (_run(KOOP_PY, "koop", env, timeout, out=Path(tmp) / "s.npy",
                           path="streamed", **kw) if dic == "poly" else {"error": "n/a"})
            rf = _run(KOOP_PY, "floor", env, timeout, **kw)
            re_ = _run(KOOP_PY, "edmd", env, timeout, **kw)
            if any("error" in r for r in (rk, rf, re_)):
                print(f"#   N={n:.0e} {dic}: failed", rk, rf, re_)
                continue
            streamed = ("—", "—") if "error" in rs else (
                f"{rs['cpu']:.3g}", f"{rk['cpu'] / rs['cpu']:.3f}")
            print(f"| {n:.0e} | {dic} | {rk['cpu']:.3g} | {rf['cpu']:.3g} | "
                  f"{rk['cpu'] / rf['cpu']:.3f} | {streamed[0]} | {streamed[1]} | "
                  f"{re_['cpu']:.3g} | {re_['cpu'] / rf['cpu']:.3f} |", flush=True)


def _limit_table(label: str, peak: dict, timings: list) -> None:
    """Each build against its arithmetic limit: flops at the measured DGEMM peak."""
    if "error" in peak:
        print(f"# DGEMM peak failed ({peak['error']}): no limit table")
        return
    rate = peak["gflops"] * 1e9
    print(f"\n## Against the arithmetic limit (BLAS environment {label}; DGEMM peak "
          f"{peak['gflops']:.1f} GFLOP/s, 4000^3 dgemm best of 3)")
    print("| N | build | Gflop: dsyrk | dgemm (A, C) | moments | dictionary | total | "
          "limit s | koop s | koop/limit | % of peak |")
    print("|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for n, name, t in timings:
        f = flop_counts(name, n)
        total = sum(f.values())
        limit = total / rate
        row = [f"{n:.0e}", name] + [f"{v / 1e9:.3g}" for v in
                                    (f["syrk"], f["gemm"] + f["C"], f["moments"], f["eval"],
                                     total)]
        row += [f"{limit:.3g}", f"{t:.3g}", f"{t / limit:.2f}", f"{100 * limit / t:.0f} %"]
        print("| " + " | ".join(row) + " |", flush=True)
    if any(name == "poly" for _, name, _ in timings):
        print("# 'poly' is the fused kernel (its own arithmetic: dgemm for A, distinct sums "
              "for G, L, C); 'poly-streamed' the dsyrk + dgemm path; the poly-streamed "
              "limit is the one the fused kernel's time is to be compared against.")


def main(argv=None) -> None:
    global KOOP_PY, PEERS_PY, DATAFOLD_PY
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["1e4", "1e5", "1e6"])
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--dicts", nargs="+", choices=DICTS, default=list(DICTS))
    p.add_argument("--settings", choices=["both", "current"], default="both")
    p.add_argument("--peer-settings", choices=["both", "current"], default="both",
                   help="run the peers in both BLAS settings or only in the current one")
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--cpu-table", action=argparse.BooleanOptionalAction, default=True,
                   help="also measure koop and the floor on one thread, in CPU seconds")
    p.add_argument("--only-cpu-table", action="store_true")
    p.add_argument("--data-cache", default=str(Path(tempfile.gettempdir()) / "koop-bench"))
    p.add_argument("--python", default=str(KOOP_PY if KOOP_PY.exists() else sys.executable),
                   help="koop's interpreter (default: .venv, else this one)")
    p.add_argument("--peers-python", default=str(PEERS_PY))
    p.add_argument("--datafold-python", default=str(DATAFOLD_PY))
    args = p.parse_args(argv)
    KOOP_PY, PEERS_PY = Path(args.python), Path(args.peers_python)
    DATAFOLD_PY = Path(args.datafold_python)
    sizes = [int(float(s)) for s in args.sizes]
    cache = Path(args.data_cache)
    cache.mkdir(parents=True, exist_ok=True)
    data = cache / f"lorenz63_{max(sizes)}.npz"
    if not data.exists():
        _make_data(data, max(sizes))
    peers = [] if args.no_peers or not PEERS_PY.exists() else list(PEERS)
    if not args.no_peers and not PEERS_PY.exists():
        print(f"# peers skipped: {PEERS_PY} not found (make bench creates it)")
    base_env = dict(os.environ, PYTHONPATH=str(ROOT))
    if peers:
        versions = _run(PEERS_PY, "versions", base_env, 120)
        if DATAFOLD_PY.exists():
            versions["datafold"] = _run(DATAFOLD_PY, "versions", base_env, 120).get("datafold")
        print("# peers:", json.dumps(versions), "; datafold from",
              _peer_python("datafold"))
    settings = [("as set", base_env)]
    if args.settings == "both":
        settings.append(("unset", {k: v for k, v in base_env.items() if k not in BLAS_VARS}))
    print("# machine:", os.cpu_count(), "cores;",
          ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in BLAS_VARS))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(base_env, NUMBA_CACHE_DIR=tmp)
        cold = _run(KOOP_PY, "compile", env, args.timeout)
        warm = _run(KOOP_PY, "compile", env, args.timeout)
        print("# first build_gram per kernel (s), empty numba cache:",
              json.dumps({k: round(v, 2) for k, v in cold.items()}))
        print("# same, next process (kernels loaded from the cache):",
              json.dumps({k: round(v, 2) for k, v in warm.items()}))
    if args.cpu_table:
        _cpu_table(sizes, data, base_env, args.timeout, args.dicts)
    if args.only_cpu_table:
        return
    all_peers = peers
    for label, env in settings:
        peers = all_peers if label == "as set" or args.peer_settings == "both" else []
        peak = _run(KOOP_PY, "peak", env, args.timeout)
        print(f"\n## BLAS environment {label}: " + ", ".join(
            f"{k}={env.get(k, '(unset)')}" for k in BLAS_VARS) +
            (f"; DGEMM peak {peak['gflops']:.1f} GFLOP/s" if "error" not in peak else ""),
            flush=True)
        head = ["N", "dict", "koop s", "MB", "floor s", "koop/floor", "streamed s",
                "koop/streamed", "numpy s (psi)", "MB", "EDMD s", "EDMD/floor",
                "|dλ| koop-np", "|dλ| np-np"]
        head += [f"{q} s (MB)" for q in peers] + ["fastest peer/koop", "pykoopman/koop"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head), flush=True)
        timings = []
        for n in sizes:
            for dic in args.dicts:
                # best of several calls where a call is short (the polynomial build at 1e6
                # takes ~0.1-0.3 s, where scheduling noise of one call is ~0.1 s)
                reps = 3 if n <= 10_000 or dic == "poly" else (2 if n <= 100_000 else 1)
                kw = dict(data=data, n=n, dict=dic, repeats=reps)
                with tempfile.TemporaryDirectory() as tmp:
                    ek, en = Path(tmp) / "koop.npy", Path(tmp) / "numpy.npy"
                    r_koop = _run(KOOP_PY, "koop", env, args.timeout, out=ek, **kw)
                    r_str = (_run(KOOP_PY, "koop", env, args.timeout, out=Path(tmp) / "s.npy",
                                  path="streamed", **kw) if dic == "poly"
                             else {"error": "n/a"})
                    r_floor = _run(KOOP_PY, "floor", env, args.timeout, **kw)
                    r_np = _run(KOOP_PY, "numpy", env, args.timeout, out=en, **kw)
                    r_edmd = _run(KOOP_PY, "edmd", env, args.timeout, **kw)
                    d_kn = d_nn = float("nan")
                    if ek.exists() and en.exists():
                        d_kn = _match_eigs(np.load(ek), np.load(en))
                        d_nn = _match_eigs(np.load(en), np.load(str(en).replace(".npy",
                                                                                "_alt.npy")))
                r_peers = {q: _run(_peer_python(q), "peer", env, args.timeout, peer=q,
                                   **dict(kw, repeats=1 if n >= 100_000 else 2))
                           for q in peers}
                ok = "error" not in r_koop and "error" not in r_floor
                if "error" not in r_koop:
                    timings.append((n, dic, r_koop["time"]))
                if "error" not in r_str:
                    timings.append((n, "poly-streamed", r_str["time"]))
                row = [f"{n:.0e}", dic, _fmt(r_koop), _fmt(r_koop, "peak_mb"), _fmt(r_floor),
                       f"{r_koop['time'] / r_floor['time']:.3f}" if ok else "—",
                       _fmt(r_str),
                       (f"{r_koop['time'] / r_str['time']:.3f}"
                        if "error" not in r_str and ok else "—"),
                       (f"{r_np['time']:.3g} ({r_np['psi_time']:.2g})"
                        if "error" not in r_np else "—"), _fmt(r_np, "peak_mb"),
                       _fmt(r_edmd),
                       (f"{r_edmd['time'] / r_floor['time']:.3f}"
                        if "error" not in r_edmd and ok else "—"),
                       f"{d_kn:.1e}", f"{d_nn:.1e}"]
                good = {}
                for q in peers:
                    r = r_peers[q]
                    if "error" in r:
                        row.append("failed")
                        print(f"#   {q} ({dic}, N={n:.0e}) skipped: {r['error']}")
                    else:
                        row.append(f"{r['time']:.3g} ({r['peak_mb']:.0f})")
                        good[q] = r["time"]
                kt = r_koop.get("time")
                row.append(f"{min(good.values()) / kt:.1f}x" if good and kt else "—")
                row.append(f"{good['pykoopman'] / kt:.1f}x" if "pykoopman" in good and kt
                           else "—")
                for name, r in [("koop", r_koop), ("floor", r_floor), ("numpy", r_np),
                                ("edmd", r_edmd)] + ([("streamed", r_str)] if dic == "poly"
                                                     else []):
                    if "error" in r:
                        print(f"#   {name} ({dic}, N={n:.0e}) failed: {r['error']}")
                print("| " + " | ".join(row) + " |", flush=True)
        _limit_table(label, peak, timings)


if __name__ == "__main__":
    if "--task" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--task", choices=list(TASKS))
        ap.add_argument("--data")
        ap.add_argument("--n", type=int)
        ap.add_argument("--dict", choices=DICTS)
        ap.add_argument("--repeats", type=int, default=1)
        ap.add_argument("--out")
        ap.add_argument("--peer", choices=PEERS)
        ap.add_argument("--path", choices=["default", "streamed"], default="default")
        a = ap.parse_args()
        res = TASKS[a.task](a)
        if _CPU:
            res["cpu"] = _CPU[-1]
        print("RESULT " + json.dumps(res), flush=True)
    else:
        main()
