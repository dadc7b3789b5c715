"""Where the RBF Gram build spends its time, stage by stage, on one thread and on two.

koop's numba path (koop/_kernels/stream.py) runs, per chunk of ``c`` psi rows and per
thread: the Gaussian RBF kernel (``features.rbf_gaussian``), ``dsyrk`` for G, ``dgemm``
for A and a ``dgemm`` with the state for C, BLAS single-threaded through scipy's Cython
pointers. This script replays exactly those calls on Lorenz-63 data and times each
stage:

* one thread: per-stage CPU seconds and rates against the one-thread DGEMM peak;
* two threads at once (as koop runs them: each thread its own chunks and buffers): each
  thread's wall time per stage, the sum of its stages against the run's wall time (the
  difference is time no stage ran: GIL, scheduling), and the rates against the two-thread
  DGEMM peak (a 4000^3 dgemm with multithreaded BLAS, the benchmark's reference);
* ``build_gram`` itself on the same data, for reference.

Rates are flops per second with the counts of benchmarks/gram.py (exponential = 35
flops). Usage::

    .venv/bin/python benchmarks/gram_profile.py                   # N = 2e5, chunk 262
    .venv/bin/python benchmarks/gram_profile.py --n 1e6 --chunks 262 4194
    .venv/bin/python benchmarks/gram_profile.py --n 1e6 --sweep 16 1 0.5 --repeats 5

``--sweep`` times ``build_gram`` itself at chunks of the given MiB of psi, each round
against the two-thread peak measured in that round (medians and ranges): the measurement
behind koop's 1 MiB default (``koop._backends.plan.gram_chunk_size``).

A stage slower per flop on two threads than on one points at shared resources (L3,
memory, clock); wall time beyond the sum of the stages points at the Python driver.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
from threadpoolctl import threadpool_limits

from koop import systems
from koop._kernels import features
from koop._kernels.pointer_calls import blas_pointer, gemm_rows, syrk_rows
from koop.dictionaries import RBF
from koop.gram import build_gram

M, D = 500, 3
STAGES = ("eval", "syrk", "gemm A", "gemm C")
DSYRK, DGEMM = blas_pointer("dsyrk"), blas_pointer("dgemm")


def flops_per_row() -> dict:
    return {"eval": M * (3 * D + 1 + 35), "syrk": M * (M + 1), "gemm A": 2 * M * M,
            "gemm C": 2 * M * D}


def peak(threads: int) -> float:
    n = 4000 if threads > 1 else 2000
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)), rng.random((n, n))
    with threadpool_limits(threads, user_api="blas"):
        c = a @ b
        best = min(_timed(lambda: np.matmul(a, b, out=c)) for _ in range(3))
    return 2.0 * n**3 / best / 1e9


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


class Worker:
    """One thread's buffers and accumulators, as in stream._Worker/_Slot."""

    def __init__(self, chunk: int) -> None:
        self.buf = np.empty((chunk + 1, M))
        self.states = np.empty((chunk + 1, D))
        self.G = np.zeros((M, M), order="F")
        self.A = np.zeros((M, M), order="F")
        self.C = np.zeros((M, D), order="F")
        self.wall = dict.fromkeys(STAGES, 0.0)
        self.rows = 0

    def run(self, X, starts, chunk, centers_t, gamma) -> None:
        buf, states = self.buf, self.states
        for s in starts:
            rows = min(chunk, X.shape[0] - 1 - s)
            block = np.ascontiguousarray(X[s : s + rows + 1])
            t0 = time.perf_counter()
            features.rbf_gaussian(block, centers_t, gamma, buf[: rows + 1])
            t1 = time.perf_counter()
            syrk_rows(self.G, buf[:rows], DSYRK)
            t2 = time.perf_counter()
            gemm_rows(self.A, buf[:rows], buf[1 : rows + 1], DGEMM)
            t3 = time.perf_counter()
            states[: rows + 1] = block
            gemm_rows(self.C, buf[:rows], states[:rows], DGEMM)
            t4 = time.perf_counter()
            for k, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                self.wall[k] += dt
            self.rows += rows


def profile(X, chunk: int, centers_t, gamma, threads: int):
    n = X.shape[0] - 1
    starts = list(range(0, n, chunk))
    workers = [Worker(chunk) for _ in range(threads)]
    warm = Worker(chunk)
    warm.run(X[: 2 * chunk + 1], [0], chunk, centers_t, gamma)  # compile, touch buffers
    with threadpool_limits(1, user_api="blas"):
        cpu0, t0 = time.process_time(), time.perf_counter()
        if threads == 1:
            workers[0].run(X, starts, chunk, centers_t, gamma)
        else:
            pool = [threading.Thread(target=w.run, args=(X, starts[t::threads], chunk,
                                                          centers_t, gamma))
                    for t, w in enumerate(workers)]
            for th in pool:
                th.start()
            for th in pool:
                th.join()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return workers, wall, cpu


def sweep(rbf, X, budgets, repeats: int, total_flops: float) -> None:
    """build_gram at several chunk budgets; each round measures the peak again.

    The machine's speed drifts by several % between runs here, so each build is held
    against the two-thread peak measured in the same round, and medians are printed.
    """
    rows = {b: max(256, int(b * 2**20) // (8 * M)) for b in budgets}
    times = {b: [] for b in budgets}
    ratios = {b: [] for b in budgets}
    for _ in range(repeats):
        limit = total_flops / (peak(2) * 1e9)
        for b in budgets:
            t = _timed(lambda b=b: build_gram(rbf, X, chunk_size=rows[b]))
            times[b].append(t)
            ratios[b].append(t / limit)
    print(f"\n## build_gram by chunk size, {repeats} rounds (median; min-max)")
    print("| MiB of psi per chunk | rows | build_gram s | koop/limit |")
    print("|---|---|---|---|")
    for b in budgets:
        t, r = np.array(times[b]), np.array(ratios[b])
        print(f"| {b:g} | {rows[b]} | {np.median(t):.3f} ({t.min():.3f}-{t.max():.3f}) | "
              f"{np.median(r):.3f} ({r.min():.3f}-{r.max():.3f}) |")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", default="2e5", help="snapshot pairs")
    p.add_argument("--chunks", nargs="+", type=int, default=[262],
                   help="psi rows per chunk of the stage replay (koop's default for M = 500 "
                        "is 262, 1 MiB; before 2026-12 it was 4194, 16 MiB)")
    p.add_argument("--sweep", nargs="*", type=float, default=[],
                   help="MiB of psi per chunk: build_gram at each, interleaved with the "
                        "two-thread peak, --repeats rounds (then the stage replay is skipped)")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    n = int(float(args.n))
    X = systems.lorenz63(n + 1, dt=0.01, random_state=0)
    rbf = RBF(M, center_method="random", random_state=0).fit(X[: min(n + 1, 100_001)])
    centers_t = np.ascontiguousarray(rbf.centers_.T)
    gamma = 0.5 / rbf.width_**2
    per_row = flops_per_row()
    p1, p2 = peak(1), peak(2)
    print(f"# N = {n:.0e}, RBF-{M}; DGEMM peak: {p1:.1f} GFLOP/s on one thread, "
          f"{p2:.1f} on two (multithreaded BLAS)")
    build_gram(rbf, X[:5000])
    t_koop = min(_timed(lambda: build_gram(rbf, X)) for _ in range(2))
    total_flops = n * sum(per_row.values())
    print(f"# build_gram: {t_koop:.3f} s; limit at the two-thread peak "
          f"{total_flops / p2 / 1e9:.3f} s (koop/limit {t_koop * p2 * 1e9 / total_flops:.2f})")
    if args.sweep:
        sweep(rbf, X, args.sweep, args.repeats, total_flops)
        return
    for chunk in args.chunks:
        for threads in (1, 2):
            workers, wall, cpu = profile(X, chunk, centers_t, gamma, threads)
            ref = p1 if threads == 1 else p2 / 2
            print(f"\n## chunk {chunk} rows ({chunk * M * 8 / 2**20:.1f} MiB of psi per "
                  f"thread), {threads} thread(s): wall {wall:.3f} s, CPU {cpu:.3f} s")
            print("| stage | " + " | ".join(f"thread {t} s" for t in range(threads)) +
                  " | GFLOP/s per thread | % of per-thread peak |")
            print("|---|" + "---|" * threads + "---|---|")
            for k in STAGES:
                secs = [w.wall[k] for w in workers]
                rate = sum(per_row[k] * w.rows for w in workers) / sum(secs) / 1e9
                print(f"| {k} | " + " | ".join(f"{s:.3f}" for s in secs) +
                      f" | {rate:.1f} | {100 * rate / ref:.0f} % |")
            sums = [sum(w.wall.values()) for w in workers]
            print("| all stages | " + " | ".join(f"{s:.3f}" for s in sums) + " | | |")
            print(f"# wall - busiest thread's stages = {wall - max(sums):.3f} s (no stage "
                  "running); per-thread peak = "
                  f"{'one-thread peak' if threads == 1 else 'half the two-thread peak'}")


if __name__ == "__main__":
    main()
