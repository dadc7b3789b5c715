"""Issue 17, item 3: the GPU path measured, in one prepared run on the device machine.

    python benchmarks/gpu_check.py --out "$OUT"            # the issue's sizes
    python benchmarks/gpu_check.py --quick --out /tmp/gpu   # small sizes (also on a CPU)

Prints (and writes ``gpu_check.json`` under ``--out``):

1. the device and its measured FP64 matmul rate (an n^3 float64 ``torch.matmul``, best
   of 3: the "peak" the fractions below are taken against);
2. ``build_gram`` of 500 Gaussian RBFs on Lorenz-63 (N = 1e7 by default) with
   ``backend="torch"`` on the device in float64: time, the flops of the build (counted
   as in benchmarks/gram.py: G N M (M+1), A 2 N M^2, C 2 N M d, the dictionary with the
   exponential as 35 flops) and the fraction of the peak (target >= 50 %); the same
   build with koop's default CPU path (numba) in the same run, and the largest relative
   difference of G, A, L between the two;
3. the pseudospectrum of a 1000-function dictionary on a 100 x 100 grid with
   ``method="torch"`` on the device (target < 10 s), and its agreement with the CPU
   method ``"cholesky"`` on 200 of the grid points.

Nothing here runs in the test suite; the torch method itself is tested on the CPU
(tests/validation/test_pseudospectrum_torch.py, tests/backends/test_torch.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def matmul_peak(torch, dev, n: int) -> float:
    a = torch.rand(n, n, dtype=torch.float64, device=dev)
    b = torch.rand(n, n, dtype=torch.float64, device=dev)
    best = np.inf
    for _ in range(4):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        a @ b
        if dev.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.environ.get("OUT", "."))
    p.add_argument("--quick", action="store_true", help="N = 1e5, RBF-200, 20 x 20 grid")
    p.add_argument("--device", default=None, help="default: cuda when available")
    args = p.parse_args(argv)

    import torch
    from gram import flop_counts

    from koop import systems
    from koop._backends.torch_backend import resolve_device
    from koop.dictionaries import RBF
    from koop.estimators import ResDMD
    from koop.gram import build_gram
    from koop.validation import pseudospectrum

    dev = resolve_device(args.device)
    n = 100_000 if args.quick else 10_000_000
    n_ps, grid_n = (200, 20) if args.quick else (1000, 100)
    report = {"device": str(dev), "torch": torch.__version__,
              "name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"}
    report["fp64_matmul_gflops"] = matmul_peak(torch, dev, 2048 if args.quick else 8192)
    print(f"# {report['name']}: FP64 matmul {report['fp64_matmul_gflops']:.0f} GFLOP/s",
          flush=True)

    X = systems.lorenz63(n + 1, dt=0.01, random_state=0)
    rbf = RBF(500, center_method="random", random_state=0).fit(X[:100_001])
    build_gram(rbf, X[:20_000], backend="torch", device=dev)  # warm-up (kernels, cuBLAS)
    t_gpu, gpu = _timed(lambda: build_gram(rbf, X, backend="torch", device=dev))
    build_gram(rbf, X[:20_000])
    t_cpu, cpu = _timed(lambda: build_gram(rbf, X))
    flops = sum(flop_counts("rbf", n).values())
    rel = {k: float(np.max(np.abs(getattr(gpu, k) - getattr(cpu, k)))
                    / np.max(np.abs(getattr(cpu, k)))) for k in "GAL"}
    report["gram"] = dict(n=n, n_features=500, flops=flops, seconds_device=t_gpu,
                          seconds_cpu=t_cpu, fraction_of_peak=flops / t_gpu / 1e9
                          / report["fp64_matmul_gflops"], max_rel_diff=rel)
    print(f"# RBF-500 Gram, N = {n:.0e}: device {t_gpu:.2f} s "
          f"({100 * report['gram']['fraction_of_peak']:.0f} % of the FP64 matmul rate), "
          f"CPU (numba, {os.cpu_count()} cores) {t_cpu:.2f} s; max rel diff {rel}",
          flush=True)

    Xs = (X[:200_001] - X[:200_001].mean(axis=0)) / X[:200_001].std(axis=0)
    model = ResDMD(dictionary=RBF(n_ps, width=0.15, center_method="random",
                                  random_state=0)).fit(Xs)
    axis = np.linspace(-1.5, 1.5, grid_n)
    pseudospectrum(model, (axis[:4], axis[:4]), method="torch", device=dev)  # warm-up
    t_ps, tau = _timed(lambda: pseudospectrum(model, (axis, axis), method="torch",
                                              device=dev))
    z = (axis[None, :] + 1j * axis[:, None]).ravel()
    pick = np.random.default_rng(0).choice(z.size, 200, replace=False)
    ref = pseudospectrum(model, z[pick], method="cholesky").values
    rel_ps = float(np.max(np.abs(tau.values.ravel()[pick] - ref) / ref))
    report["pseudospectrum"] = dict(n_functions=n_ps, grid=[grid_n, grid_n],
                                    seconds=t_ps, max_rel_diff_vs_cholesky=rel_ps)
    print(f"# pseudospectrum, {n_ps} functions, {grid_n} x {grid_n} grid: {t_ps:.2f} s "
          f"on the device; max rel diff vs 'cholesky' on 200 points {rel_ps:.1e}", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
