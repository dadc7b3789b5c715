"""The scaling figure of docs/scaling.md: memory and throughput of the Gram build vs data size.

Writes one Lorenz-63 zarr store (``--size-gib``, ``--n-traj`` trajectories, see
``out_of_core.py``), then for the first 1, 2, 4, ... trajectories measures, each in a
fresh process: the dask backend reading the store lazily (out of core), the numba
backend on the same data loaded into memory and, where torch is installed, the torch
backend (on the GPU when there is one). Saves ``scaling.json`` and ``scaling.png`` in
``--out`` and removes the store.

Usage::

    python benchmarks/scaling_figure.py [--size-gib 2] [--n-traj 16] [--out docs/img]
        [--modes dask,numba,torch] [--threads N] [--store EXISTING.zarr]
    python benchmarks/scaling_figure.py --replot docs/img/scaling.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from out_of_core import run_measure, write_store

STYLE = {
    "dask": ("dask, zarr on disk (out of core)", "C0", "o"),
    "numba": ("numba, in memory", "C1", "s"),
    "torch": ("torch, in memory", "C2", "^"),
}


def _existing(store: str) -> dict:
    import zarr

    x = zarr.open_group(store, mode="r")["x"]
    n_traj, n_steps, d = x.shape
    return {"n_traj": n_traj, "n_steps": n_steps, "nbytes": n_traj * n_steps * d * 8,
            "chunk_rows": x.chunks[1]}


def sweep(size_gib: float, n_traj: int, modes: list[str], threads: int, degree: int,
          store: str | None = None, chunk_rows: int = 2**18) -> dict:
    tmp = None
    if store is None:
        tmp = tempfile.mkdtemp(prefix="koop_scaling_", dir="/tmp")
        store = tmp + "/lorenz.zarr"
    try:
        meta = write_store(store, size_gib, n_traj, chunk_rows) if tmp else _existing(store)
        n_traj = meta["n_traj"]
        print(f"store: {meta['nbytes'] / 2**30:.2f} GiB, {n_traj} trajectories", flush=True)
        counts, k = [], 1
        while k < n_traj:
            counts.append(k)
            k *= 2
        counts.append(n_traj)
        runs = []
        for k in counts:
            for mode in modes:
                r = run_measure(mode, store, k, degree, threads=threads)
                r = {key: v for key, v in r.items() if key not in ("G", "A", "L", "C")}
                r["gib"] = k * meta["nbytes"] / n_traj / 2**30
                runs.append(r)
                print(f"{mode:>6} {r['gib']:6.2f} GiB  {r['pairs_per_s'] / 1e6:8.2f} Mpairs/s"
                      f"  peak RSS {r['peak_rss_mib']:8.0f} MiB  ({r['device']})", flush=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"meta": meta, "degree": degree, "threads": threads, "runs": runs}


def plot(result: dict, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_mem, ax_tp) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for mode, (label, color, marker) in STYLE.items():
        runs = [r for r in result["runs"] if r["mode"] == mode]
        if not runs:
            continue
        gib = [r["gib"] for r in runs]
        if mode == "torch":
            label = f"torch, in memory ({runs[0]['device']})"
        ax_mem.plot(gib, [r["peak_rss_mib"] / 1024 for r in runs], marker=marker,
                    color=color, label=label)
        ax_tp.plot(gib, [r["pairs_per_s"] / 1e6 for r in runs], marker=marker, color=color,
                   label=label)
    ax_mem.plot(gib, gib, ls=":", color="grey", label="size of the data")
    ax_mem.axhline(1.0, ls="--", color="C3", lw=1, label="1 GiB")
    ax_mem.set(xlabel="data (GiB, float64)", ylabel="peak resident memory (GiB)",
               xscale="log", ylim=(0, None), title="Peak memory of the process")
    ax_tp.set(xlabel="data (GiB, float64)", ylabel="throughput (million pairs / s)",
              xscale="log", yscale="log", title="Throughput of the G, A, L, C build")
    ticks = sorted({round(r["gib"], 3) for r in result["runs"]})
    for ax in (ax_mem, ax_tp):
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    ax_tp.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    cpu = next((r["device"] for r in result["runs"] if r["mode"] != "torch"), "")
    rows = result["meta"].get("chunk_rows")
    chunking = f", zarr chunks of {rows * 24 / 2**20:g} MiB" if rows else ""
    fig.suptitle(f"Lorenz-63, Polynomial(degree={result['degree']}), M = "
                 f"{result['runs'][0]['M']}; {cpu}, {result['threads']} dask threads"
                 f"{chunking}", fontsize=10)
    fig.savefig(path, dpi=120)
    print(f"saved {path}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-gib", type=float, default=2.0)
    p.add_argument("--n-traj", type=int, default=16)
    p.add_argument("--degree", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--chunk-rows", type=int, default=2**18, help="zarr chunk (time rows)")
    p.add_argument("--modes", default=None, help="comma-separated; default all available")
    p.add_argument("--out", default="docs/img")
    p.add_argument("--store", default=None, help="use (and keep) this existing store")
    p.add_argument("--replot", default=None, help="redraw from a saved scaling.json")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.replot:
        result = json.loads(Path(args.replot).read_text())
    else:
        modes = (args.modes.split(",") if args.modes else
                 ["dask", "numba"] + (["torch"] if importlib.util.find_spec("torch") else []))
        result = sweep(args.size_gib, args.n_traj, modes, args.threads, args.degree,
                       args.store, args.chunk_rows)
        (out / "scaling.json").write_text(json.dumps(result, indent=2))
    plot(result, out / "scaling.png")


if __name__ == "__main__":
    main()
