"""Out-of-core Gram build: a >= 2 GiB Lorenz-63 zarr store, G, A, L with bounded memory.

1. Writes ``--size-gib`` GiB (float64, d = 3; 2 GiB is 89.5 M samples) of Lorenz-63
   trajectories to a zarr store, piece by piece (memory bounded by one piece). Each
   trajectory starts on the attractor (``koop.systems.lorenz63``, a different seed per
   trajectory) and is continued by a fixed-step RK4 (dt = 0.01) in numba, because the
   adaptive scipy integrator would take minutes for 90 M samples.
2. In a fresh process: opens the store lazily (``xr.open_zarr``), builds G, A, L, C with
   ``build_gram(..., backend="dask")`` (default threaded scheduler, or a
   ``LocalCluster`` with ``--cluster``) and reports the peak resident memory of that
   process (``ru_maxrss``) and the throughput in pairs/s (reading and decompression
   included).
3. In two more processes, on a subset of trajectories that fits in memory
   (``--subset-gib``): the in-memory numba path (data loaded first, load not timed) and
   the dask path on the same subset; prints both throughputs and their max relative
   difference (the dask result must equal numba's to 1e-12).
4. Removes the store (unless ``--keep``).

Usage::

    python benchmarks/out_of_core.py [--size-gib 2] [--subset-gib 0.25] [--degree 3]
        [--chunk-rows 1048576] [--cluster] [--json results.json] [--keep] [--store PATH]

Timings on a shared machine are noisy; the peak memory is not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

DT = 0.01
D = 3
BYTES = 8


@njit(cache=True)
def _lorenz_rk4(u0, n, dt, out):
    """Fill ``out[:n]`` with RK4 steps of Lorenz-63 from ``u0`` (exclusive); return the end."""
    s, r, b = 10.0, 28.0, 8.0 / 3.0
    x, y, z = u0[0], u0[1], u0[2]
    for i in range(n):
        k1x, k1y, k1z = s * (y - x), x * (r - z) - y, x * y - b * z
        x2, y2, z2 = x + 0.5 * dt * k1x, y + 0.5 * dt * k1y, z + 0.5 * dt * k1z
        k2x, k2y, k2z = s * (y2 - x2), x2 * (r - z2) - y2, x2 * y2 - b * z2
        x3, y3, z3 = x + 0.5 * dt * k2x, y + 0.5 * dt * k2y, z + 0.5 * dt * k2z
        k3x, k3y, k3z = s * (y3 - x3), x3 * (r - z3) - y3, x3 * y3 - b * z3
        x4, y4, z4 = x + dt * k3x, y + dt * k3y, z + dt * k3z
        k4x, k4y, k4z = s * (y4 - x4), x4 * (r - z4) - y4, x4 * y4 - b * z4
        x += dt / 6.0 * (k1x + 2 * k2x + 2 * k3x + k4x)
        y += dt / 6.0 * (k1y + 2 * k2y + 2 * k3y + k4y)
        z += dt / 6.0 * (k1z + 2 * k2z + 2 * k3z + k4z)
        out[i, 0], out[i, 1], out[i, 2] = x, y, z
    return np.array([x, y, z])


def write_store(path: str, size_gib: float, n_traj: int, chunk_rows: int) -> dict:
    """Write ``n_traj`` Lorenz trajectories totalling ``size_gib`` GiB; return metadata."""
    import zarr

    from koop import systems

    n_steps = int(np.ceil(size_gib * 2**30 / (BYTES * D * n_traj)))
    group = zarr.open_group(path, mode="w")
    x = group.create_array("x", shape=(n_traj, n_steps, D), chunks=(1, chunk_rows, D),
                           dtype="f8", dimension_names=["trajectory", "time", "feature"])
    t = group.create_array("time", shape=(n_steps,), chunks=(chunk_rows,), dtype="f8",
                           dimension_names=["time"])
    t[:] = DT * np.arange(n_steps)
    piece = np.empty((8 * chunk_rows, D))
    for i in range(n_traj):
        u = systems.lorenz63(2, dt=DT, random_state=i)[-1]
        for s in range(0, n_steps, piece.shape[0]):
            e = min(s + piece.shape[0], n_steps)
            u = _lorenz_rk4(u, e - s, DT, piece)
            x[i, s:e] = piece[: e - s]
    disk = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return {"n_traj": n_traj, "n_steps": n_steps, "nbytes": n_traj * n_steps * D * BYTES,
            "disk_bytes": disk, "chunk_rows": chunk_rows}


def _rss_now_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _device(mode: str) -> str:
    if mode != "torch":
        return f"cpu x {os.cpu_count()}"
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu (torch)"


def measure(mode: str, store: str, n_traj: int | None, degree: int, cluster: bool,
            threads: int) -> dict:
    """Build the Gram matrices in this process; return timing and memory."""
    import dask
    import xarray as xr

    from koop.dictionaries import Polynomial
    from koop.gram import build_gram

    dictionary = Polynomial(degree=degree).fit(np.zeros((1, D)))
    build_gram(dictionary, np.random.default_rng(0).normal(size=(500, D)))  # warm the JIT
    lazy = xr.open_zarr(store, consolidated=False)["x"]
    if n_traj is not None:
        lazy = lazy.isel(trajectory=slice(0, n_traj))
    client = None
    if mode in ("numba", "torch"):
        data = [np.ascontiguousarray(lazy.isel(trajectory=i).values)
                for i in range(lazy.sizes["trajectory"])]
        if mode == "torch":  # warm up CUDA (context, kernels) outside the timing
            build_gram(dictionary, data[0][:100_000], backend="torch")
    else:
        data = lazy
        if cluster:
            from distributed import Client, LocalCluster

            client = Client(LocalCluster(n_workers=1, threads_per_worker=threads,
                                         processes=False, dashboard_address=None))
    base = _rss_now_mib()
    start = time.perf_counter()
    with dask.config.set(num_workers=threads):
        gm = build_gram(dictionary, data, backend=mode)
    seconds = time.perf_counter() - start
    if client is not None:
        client.close()
    return {
        "mode": mode, "n_pairs": gm.n_samples, "seconds": seconds,
        "pairs_per_s": gm.n_samples / seconds, "threads": threads, "rss_before_build_mib": base,
        "peak_rss_mib": _peak_rss_mib(), "M": gm.n_features, "device": _device(mode),
        "G": gm.G.tolist(), "A": gm.A.tolist(), "L": gm.L.tolist(), "C": gm.C.tolist(),
    }


def run_measure(mode: str, store: str, n_traj: int | None, degree: int,
                cluster: bool = False, threads: int | None = None) -> dict:
    """:func:`measure` in a fresh Python process, so its peak memory is its own."""
    cmd = [sys.executable, __file__, "--measure", mode, "--store", store,
           "--degree", str(degree), "--threads", str(threads or os.cpu_count())]
    if n_traj is not None:
        cmd += ["--n-traj", str(n_traj)]
    if cluster:
        cmd.append("--cluster")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} build failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def rel_diff(a: dict, b: dict) -> float:
    return max(float(np.abs(np.subtract(a[k], b[k])).max() / np.abs(b[k]).max())
               for k in "GALC")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-gib", type=float, default=2.0)
    p.add_argument("--n-traj", type=int, default=None)
    p.add_argument("--subset-gib", type=float, default=0.25)
    p.add_argument("--degree", type=int, default=3)
    p.add_argument("--chunk-rows", type=int, default=2**20)
    p.add_argument("--store", default=None)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--cluster", action="store_true", help="dask.distributed LocalCluster")
    p.add_argument("--json", default=None)
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="dask threads (default: all cores)")
    p.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.measure:
        res = measure(args.measure, args.store, args.n_traj, args.degree, args.cluster,
                      args.threads)
        print(json.dumps(res))
        return res

    n_traj = args.n_traj or 16
    store = args.store or tempfile.mkdtemp(prefix="koop_ooc_", dir="/tmp") + "/lorenz.zarr"
    try:
        t0 = time.perf_counter()
        meta = write_store(store, args.size_gib, n_traj, args.chunk_rows)
        meta["write_seconds"] = time.perf_counter() - t0
        print(f"wrote {meta['nbytes'] / 2**30:.2f} GiB ({meta['n_traj']} x "
              f"{meta['n_steps']} samples x 3, float64; {meta['disk_bytes'] / 2**30:.2f} GiB "
              f"on disk) to {store} in {meta['write_seconds']:.1f} s", flush=True)
        full = run_measure("dask", store, None, args.degree, args.cluster, args.threads)
        per_traj = meta["nbytes"] / n_traj
        k = max(1, min(n_traj, int(args.subset_gib * 2**30 // per_traj)))
        mem = run_measure("numba", store, k, args.degree)
        sub = run_measure("dask", store, k, args.degree, args.cluster, args.threads)
    finally:
        if not args.keep:
            shutil.rmtree(Path(store).parent if args.store is None else store,
                          ignore_errors=True)
    rows = [
        (f"dask, zarr, all {n_traj} traj.", full),
        (f"numba, in memory, {k} traj.", mem),
        (f"dask, zarr, {k} traj.", sub),
    ]
    M = full["M"]
    print(f"\nPolynomial(degree={args.degree}) dictionary, M = {M}; "
          f"{'LocalCluster' if args.cluster else 'threaded scheduler'}; {os.cpu_count()} cores")
    print(f"{'path':<28}{'pairs':>13}{'seconds':>10}{'Mpairs/s':>10}"
          f"{'RSS before':>12}{'peak RSS':>11}")
    for name, r in rows:
        print(f"{name:<28}{r['n_pairs']:>13,}{r['seconds']:>10.2f}"
              f"{r['pairs_per_s'] / 1e6:>10.2f}{r['rss_before_build_mib']:>9.0f} MiB"
              f"{r['peak_rss_mib']:>7.0f} MiB")
    diff = rel_diff(sub, mem)
    print(f"\ndask / numba throughput on the same {k} trajectories: "
          f"{sub['pairs_per_s'] / mem['pairs_per_s']:.2f}")
    print(f"dask vs numba max relative difference (G, A, L, C): {diff:.1e}")
    print(f"out-of-core peak memory: {full['peak_rss_mib']:.0f} MiB for "
          f"{meta['nbytes'] / 2**20:.0f} MiB of data")
    result = {"meta": meta, "degree": args.degree, "cluster": args.cluster,
              "threads": args.threads,
              "subset_traj": k, "max_rel_diff": diff,
              "runs": {name: {key: v for key, v in r.items() if key not in ("G", "A", "L", "C")}
                       for name, r in rows}}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
