"""DMD on fields (n_features >> n_samples): koop vs the current PyDMD, in one run.

Cases (each measurement in a fresh process, so that its peak memory is its own):

* ``synthetic``: the field of the issue (three oscillations 2.3, 2.8, 4.1 rad/s, growth
  0, -0.05, 0.02; noise 1e-6), d in {1e4, 1e5, 1e6} values, 500 snapshots, dt = 0.05,
  rank 6. koop ``DMD(rank=6)`` vs PyDMD ``DMD(svd_rank=6, exact=True)``: fit time, peak
  memory the fit adds, largest eigenvalue error against the truth e^{(g +- i w) dt}, and
  the largest difference between koop's and PyDMD's eigenvalues.
* ``noisy``: the same field, d = 1e4, 500 snapshots, noise 0.05: exact DMD, fb and tls
  DMD, koop ``BOPDMD`` and PyDMD ``BOPDMD`` (20 bags each): growth-rate error against the
  truth (the bias of exact DMD) and, for the bagged fits, the stated standard deviation.
* ``cylinder``: ``koop.systems.cylinder_wake`` (400 x 100 nodes, D = 20, Re = 100,
  200 snapshots); koop DMD on the xarray field vs PyDMD DMD on the same flattened
  unmasked points: time, memory, Strouhal number of the shedding mode.
* ``zarr``: a field written to a zarr store on disk (sizes in GB, chunked along features),
  fitted from ``dask.array.from_zarr`` by koop DMD: time and peak memory (flat in size).

Peak extra memory: the process's peak resident memory during the fit minus its
resident memory just before (Linux: /proc/self/clear_refs resets the peak).

Usage::

    .venv/bin/python benchmarks/fields.py                      # everything (long)
    .venv/bin/python benchmarks/fields.py --cases synthetic --sizes 1e4 1e5
    .venv/bin/python benchmarks/fields.py --cases zarr --zarr-gb 3 6 --zarr-dir /tmp
    .venv/bin/python benchmarks/fields.py --threads 1     # on a loaded machine

PyDMD runs from ``.venv-pydmd`` (``make .venv-pydmd/.installed``); if it is missing the
PyDMD columns are skipped. Timings on a shared machine are noisy: compare ratios within
one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KOOP_PY = Path(sys.executable)
PYDMD_PY = Path(os.environ.get("KOOP_PYDMD_PYTHON", ROOT / ".venv-pydmd" / "bin" / "python"))
OMEGAS = np.array([2.3, 2.8, 4.1])
GROWTH = np.array([0.0, -0.05, 0.02])
DT = 0.05
THREADS: list = [None]  # BLAS threads of the workers (None: the environment's)


# -- inside a worker ------------------------------------------------------------------
def _kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


CPU: list = [0.0]  # CPU seconds (user + system) of the last measured call


def _measure(call):
    import resource

    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = _kb("VmRSS")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    CPU[0] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return out, seconds, (_kb("VmHWM") - base) / 1024


def synthetic_field(d: int, m: int, noise: float = 1e-6, seed: int = 0,
                    cols: slice | None = None) -> np.ndarray:
    """Snapshots in rows (m x d); ``cols`` builds only those columns (for disk writes)."""
    x = np.linspace(-10, 10, d)[cols if cols is not None else slice(None)]
    t = np.arange(m) * DT
    F = np.zeros((m, x.size))
    for k, (w, g) in enumerate(zip(OMEGAS, GROWTH, strict=True)):
        phi1 = np.exp(-((x - 3 * k + 3) ** 2) / 4)
        phi2 = np.tanh(x - k) / np.cosh(x)
        F += np.exp(g * t)[:, None] * (np.cos(w * t)[:, None] * phi1
                                       + np.sin(w * t)[:, None] * phi2)
    rng = np.random.default_rng([seed, 0 if cols is None else cols.start])
    F += noise * rng.standard_normal(F.shape)
    return F


def true_eigs() -> np.ndarray:
    alpha = np.concatenate([GROWTH + 1j * OMEGAS, GROWTH - 1j * OMEGAS])
    return np.exp(alpha * DT)


def _err(found, expected) -> float:
    found = np.asarray(found)
    return float(max(np.abs(found - e).min() for e in expected))


def worker(task: dict) -> dict:
    case, who = task["case"], task["who"]
    if case == "synthetic":
        F = synthetic_field(task["d"], task["m"])
        if who == "koop":
            from koop.estimators import DMD

            DMD(rank=6).fit(F[:, :500], dt=DT)  # warm-up: first-call costs are not the fit's
            model, s, mb = _measure(lambda: DMD(rank=6).fit(F, dt=DT))
            lam = model.eigenvalues_
        else:
            from pydmd import DMD

            Ft = F.T
            DMD(svd_rank=6, exact=True).fit(Ft[:500])
            model, s, mb = _measure(lambda: DMD(svd_rank=6, exact=True).fit(Ft))
            lam = model.eigs
        return {"seconds": s, "mb": mb, "eigs": [[z.real, z.imag] for z in lam],
                "err": _err(lam, true_eigs())}
    if case == "noisy":
        F = synthetic_field(task["d"], task["m"], noise=0.05)
        t = np.arange(task["m"]) * DT
        if who == "pydmd":
            from pydmd import BOPDMD

            model, s, mb = _measure(lambda: BOPDMD(svd_rank=6, num_trials=20,
                                                   trial_size=0.6).fit(F.T, t))
            alpha, std = model.eigs, model.eigenvalues_std
        else:
            from koop.estimators import BOPDMD, DMD

            if who == "koop-bop":
                model, s, mb = _measure(lambda: BOPDMD(rank=6, n_bags=20, random_state=0)
                                        .fit(F, dt=DT))
                alpha, std = model.continuous_eigenvalues_, model.continuous_eigenvalues_std_
            else:
                method = who.split("-")[1]
                model, s, mb = _measure(lambda: DMD(rank=6, method=method).fit(F, dt=DT))
                alpha, std = model.continuous_eigenvalues_, None
        truth = GROWTH + 1j * OMEGAS
        up = np.asarray(alpha)[np.asarray(alpha).imag > 0]
        k = [int(np.argmin(np.abs(up - a))) for a in truth]
        out = {"seconds": s, "mb": mb,
               "growth_err": float(np.max(np.abs(up[k].real - truth.real))),
               "freq_err": float(np.max(np.abs(up[k].imag - truth.imag)))}
        if std is not None:
            sd = np.asarray(std)[np.asarray(alpha).imag > 0][k]
            out["growth_std"] = float(np.max(np.abs(sd.real)))
        return out
    if case == "cylinder":
        import xarray as xr

        w = xr.open_dataarray(task["path"]).load()
        dt = float(w.time[1] - w.time[0])
        if who == "koop":
            from koop.estimators import DMD

            model, s, mb = _measure(lambda: DMD(rank=10).fit(w))
            lam = model.eigenvalues_
        else:
            from pydmd import DMD

            flat = w.values.reshape(w.shape[0], -1)
            flat = np.ascontiguousarray(flat[:, np.isfinite(flat).all(axis=0)].T)
            model, s, mb = _measure(lambda: DMD(svd_rank=10, exact=True).fit(flat))
            lam = model.eigs
        freq = np.angle(lam) / (2 * np.pi * dt)
        keep = (np.abs(lam) > 0.99) & (freq > 1e-3)
        return {"seconds": s, "mb": mb, "st": float(freq[keep].min()),
                "eigs": [[z.real, z.imag] for z in lam]}
    if case == "zarr":
        import dask.array as da

        from koop.estimators import DMD

        lazy = da.from_zarr(task["path"])
        model, s, mb = _measure(lambda: DMD(rank=6).fit(lazy, dt=DT))
        return {"seconds": s, "mb": mb, "err": _err(model.eigenvalues_, true_eigs()),
                "gb": lazy.nbytes / 1e9}
    raise ValueError(case)


# -- driver ---------------------------------------------------------------------------
def run(python: Path, task: dict) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    if THREADS[0]:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(THREADS[0])
    proc = subprocess.run([str(python), __file__, "--worker", json.dumps(task)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_zarr(path: str, gb: float, m: int = 500) -> None:
    import zarr

    d = int(gb * 1e9 / (8 * m))
    chunk = 25_000
    z = zarr.open_array(path, mode="w", shape=(m, d), chunks=(m, chunk), dtype="f8")
    for a in range(0, d, chunk):
        cols = slice(a, min(a + chunk, d))
        z[:, cols] = synthetic_field(d, m, cols=cols)


def _lam(r):
    return np.array([complex(*z) for z in r["eigs"]])


def main() -> None:
    sys.path.insert(0, str(ROOT))  # this checkout's koop, in the driver as in the workers
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker")
    p.add_argument("--cases", nargs="+", default=["synthetic", "noisy", "cylinder", "zarr"])
    p.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6])
    p.add_argument("--snapshots", type=int, default=500)
    p.add_argument("--zarr-gb", nargs="+", type=float, default=[3.0, 6.0])
    p.add_argument("--zarr-dir", default=None)
    p.add_argument("--no-pydmd", action="store_true")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads in every worker (default: the environment's)")
    args = p.parse_args()
    THREADS[0] = args.threads
    if args.worker:
        result = worker(json.loads(args.worker))
        result["cpu"] = CPU[0]
        print(json.dumps(result))
        return
    peer = None if args.no_pydmd or not PYDMD_PY.exists() else PYDMD_PY
    if peer is None:
        print(f"(PyDMD columns skipped: {PYDMD_PY} not found; make .venv-pydmd/.installed)")
    else:
        version = subprocess.run([str(peer), "-c", "import importlib.metadata as m; "
                                  "print(m.version('pydmd'))"], capture_output=True,
                                 text=True).stdout.strip()
        print(f"PyDMD {version} from {peer}")
    print(f"load average at start: {os.getloadavg()}; BLAS threads per worker: "
          f"{args.threads or os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    m = args.snapshots
    if "synthetic" in args.cases:
        print(f"\n## synthetic field, {m} snapshots, rank 6 (fit time, peak extra memory)")
        print("| d | koop s (CPU s) | koop MB | PyDMD s (CPU s) | PyDMD MB | speed-up wall "
              "(CPU) | memory ratio | koop eig err | PyDMD eig err | koop vs PyDMD |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for d in args.sizes:
            task = {"case": "synthetic", "d": int(d), "m": m}
            k = run(KOOP_PY, {**task, "who": "koop"})
            q = run(peer, {**task, "who": "pydmd"}) if peer else {"error": "skipped"}
            if "error" in k:
                print(f"| {int(d):.0e} | koop failed: {k['error']} |")
                continue
            if "error" in q:
                print(f"| {int(d):.0e} | {k['seconds']:.2f} ({k['cpu']:.2f}) | {k['mb']:.0f} "
                      "| - | - | - | - | "
                      f"{k['err']:.1e} | - | - |  (PyDMD: {q['error']})")
                continue
            diff = _err(_lam(k), _lam(q))
            print(f"| {int(d):.0e} | {k['seconds']:.2f} ({k['cpu']:.2f}) | {k['mb']:.0f} | "
                  f"{q['seconds']:.2f} ({q['cpu']:.2f}) | {q['mb']:.0f} | "
                  f"{q['seconds'] / k['seconds']:.1f}x ({q['cpu'] / k['cpu']:.1f}x) | "
                  f"{k['mb'] / max(q['mb'], 1):.2f} | {k['err']:.1e} | {q['err']:.1e} | "
                  f"{diff:.1e} |")
    if "noisy" in args.cases:
        print(f"\n## noisy field (noise 0.05), d = 1e4, {m} snapshots: bias of exact DMD")
        print("| method | s (CPU s) | MB | max growth-rate error | max frequency error | "
              "max stated std (growth) |")
        print("|---|---|---|---|---|---|")
        task = {"case": "noisy", "d": 10_000, "m": m}
        whos = [(KOOP_PY, "koop-exact"), (KOOP_PY, "koop-fb"), (KOOP_PY, "koop-tls"),
                (KOOP_PY, "koop-bop")] + ([(peer, "pydmd")] if peer else [])
        for py, who in whos:
            r = run(py, {**task, "who": who})
            names = {"pydmd": "PyDMD BOPDMD (20 bags)", "koop-bop": "koop BOPDMD (20 bags)"}
            name = names.get(who) or f"koop DMD method={who.split('-')[1]!r}"
            if "error" in r:
                print(f"| {name} | failed: {r['error']} |")
                continue
            print(f"| {name} | {r['seconds']:.2f} ({r['cpu']:.2f}) | {r['mb']:.0f} | "
                  f"{r['growth_err']:.2e} | "
                  f"{r['freq_err']:.2e} | {r.get('growth_std', float('nan')):.2e} |")
    if "cylinder" in args.cases:
        from koop.systems import cylinder_wake

        t0 = time.perf_counter()
        w = cylinder_wake(200)
        sim = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "wake.nc")
            w.to_netcdf(path)
            print(f"\n## cylinder wake, Re = 100, 400 x 100 nodes, D = 20, 200 snapshots "
                  f"(simulated in {sim:.1f} s), rank 10")
            print("| code | s (CPU s) | MB | Strouhal St = f D / U |")
            print("|---|---|---|---|")
            k = run(KOOP_PY, {"case": "cylinder", "who": "koop", "path": path})
            rows = [("koop DMD (xarray field, mask dropped)", k)]
            if peer:
                rows.append(("PyDMD DMD (same unmasked points)",
                             run(peer, {"case": "cylinder", "who": "pydmd", "path": path})))
            for name, r in rows:
                if "error" in r:
                    print(f"| {name} | failed: {r['error']} |")
                else:
                    print(f"| {name} | {r['seconds']:.2f} ({r['cpu']:.2f}) | {r['mb']:.0f} | "
                          f"{r['st']:.4f} |")
    if "zarr" in args.cases:
        base = args.zarr_dir or tempfile.gettempdir()
        print(f"\n## field on disk (zarr, chunks of 25 000 features), {m} snapshots, rank 6")
        print("| size GB | koop s (CPU s) | koop peak extra MB | eig err |")
        print("|---|---|---|---|")
        for gb in args.zarr_gb:
            path = os.path.join(base, f"koop-field-{gb:g}GB.zarr")
            try:
                write_zarr(path, gb, m)
                r = run(KOOP_PY, {"case": "zarr", "who": "koop", "path": path})
            finally:
                shutil.rmtree(path, ignore_errors=True)
            if "error" in r:
                print(f"| {gb:g} | failed: {r['error']} |")
            else:
                print(f"| {r['gb']:.2f} | {r['seconds']:.1f} ({r['cpu']:.1f}) | {r['mb']:.0f} | "
                      f"{r['err']:.1e} |")


if __name__ == "__main__":
    main()
