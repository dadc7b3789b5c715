"""Online learning: the cost of partial_fit as data grow, and control fits vs peers.

Part 1, update cost: a stream of forced Van der Pol samples (``koop.systems``; 1000
trajectories advanced together and concatenated, inputs uniform in [-1, 1]) is fed to a
model; at N samples seen, ``partial_fit`` of the next batch of B samples is timed against
a refit from scratch on all N + B samples. Printed per new sample (microseconds): the
update stays flat as N grows (it touches only the new samples), the refit grows linearly.
Estimators: EDMD(Polynomial(3)), EDMDc(Polynomial(3)), DMDc, ResDMD(Polynomial(3)) (QR
rows stacked under R) and HankelDMD(n_delays=10) (delay windows across calls).

Part 2, control fits vs peers: Korda & Mezić's Van der Pol (``control_vdp.py``) on one
trajectory of N = 2e5 steps with inputs uniform in [-1, 1] (one trajectory, because
PyDMD's DMDc takes consecutive snapshots), tested on another of 2e4 steps. Each fit runs
in its own process: koop's EDMDc (the state plus 100 thin-plate RBFs, centres uniform in
[-1, 1]^2) and DMDc; pykoopman 1.2.1's EDMDc with the same RBFs and its DMDc; PyDMD
0.4.1's DMDc (no truncation). Printed: fit time (best of 3, data already in memory) and
the one-step relative error ||x_pred - x_true|| / ||x_true - mean|| on the test
trajectory. Peers come from ``.venv-peers`` (``make bench``); one that fails is skipped
with the reason.

Usage::

    .venv/bin/python benchmarks/online.py                        # both parts
    .venv/bin/python benchmarks/online.py --sizes 1e3 1e4 1e5    # part 1 sizes
    .venv/bin/python benchmarks/online.py --no-peers             # part 1 only

Timings on a shared machine are noisy: compare the ratios measured within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEERS_PY = ROOT / ".venv-peers" / "bin" / "python"
DT = 0.01


# -- data -----------------------------------------------------------------------------
def stream(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n samples of the forced Van der Pol oscillator (1000 trajectories, concatenated)."""
    from koop import systems

    rng = np.random.default_rng(seed)
    n_traj = 1000 if n >= 1000 else 1
    length = -(-n // n_traj)
    X = np.empty((n_traj, length, 2))
    U = rng.uniform(-1, 1, (n_traj, length, 1))
    X[:, 0] = rng.uniform(-1, 1, (n_traj, 2))
    for k in range(length - 1):
        X[:, k + 1] = systems.van_der_pol_control_step(X[:, k], U[:, k], DT)
    return X.reshape(-1, 2)[:n], U.reshape(-1, 1)[:n]


def one_trajectory(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from koop import systems

    X, U = systems.van_der_pol_control(n + 1, dt=DT, random_state=seed)
    return X, U


# -- part 1 ---------------------------------------------------------------------------
def time_call(fn, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def update_cost(sizes, batch: int) -> list[dict]:
    from sklearn.base import clone

    from koop.dictionaries import Polynomial
    from koop.estimators import EDMD, DMDc, EDMDc, HankelDMD, ResDMD

    n_max = int(max(sizes)) + 4 * batch
    X, U = stream(n_max)
    estimators = {"EDMD(Polynomial(3))": (EDMD(Polynomial(3)), False),
                  "EDMDc(Polynomial(3))": (EDMDc(Polynomial(3)), True),
                  "DMDc": (DMDc(), True),
                  "ResDMD(Polynomial(3))": (ResDMD(Polynomial(3)), False),
                  "HankelDMD(n_delays=10)": (HankelDMD(n_delays=10), False)}
    rows = []
    for name, (est, inputs) in estimators.items():
        for n in sizes:
            n = int(n)
            model = clone(est).partial_fit(X[:n], **({"u": U[:n]} if inputs else {}))
            snapshot = (model.stream_, n)

            def update(model=model, n=n, inputs=inputs, snapshot=snapshot):
                model.stream_ = snapshot[0]  # the same update each repeat
                sl = slice(n, n + batch)
                model.partial_fit(X[sl], **({"u": U[sl]} if inputs else {}))

            def refit(n=n, inputs=inputs, est=est):
                sl = slice(0, n + batch)
                clone(est).fit(X[sl], **({"u": U[sl][:-1]} if inputs else {}))

            t_up = time_call(update)
            t_re = time_call(refit, repeats=1 if n >= 10**6 else 3)
            rows.append({"estimator": name, "N": n, "update_us": 1e6 * t_up / batch,
                         "refit_us": 1e6 * t_re / batch, "ratio": t_re / t_up})
            print(f"  {name:22s} N={n:>9d}: update {1e6 * t_up / batch:8.2f} us/sample, "
                  f"refit {1e6 * t_re / batch:10.2f} us/new sample, refit/update "
                  f"{t_re / t_up:8.1f}", flush=True)
    return rows


# -- part 2: workers ------------------------------------------------------------------
def _relative_one_step(pred, X, Y):
    return float(np.linalg.norm(pred - Y) / np.linalg.norm(Y - Y.mean(axis=0)))


def worker(spec: dict) -> dict:
    data = np.load(spec["data"])
    Xtr, Utr, Xte, Ute, centres = (data[k] for k in ("Xtr", "Utr", "Xte", "Ute", "centres"))
    who = spec["who"]
    warnings.simplefilter("ignore")
    if who.startswith("koop"):
        from koop.dictionaries import RBF, Custom, Identity
        from koop.estimators import DMDc, EDMDc

        if who == "koop-edmdc":
            rbf = RBF(centres.shape[0], kernel="thinplate", width=1.0, center_method="random",
                      random_state=0).fit(centres)
            make = lambda: EDMDc(Identity() + Custom(rbf.transform))  # noqa: E731
        else:
            make = DMDc
        fit = lambda: make().fit(Xtr, u=Utr)  # noqa: E731
        model = fit()
        predict = lambda: model.predict(Xte[:-1], Ute)  # noqa: E731
    elif who.startswith("pykoopman"):
        import pykoopman as pk

        if who == "pykoopman-edmdc":
            obs = pk.observables.RadialBasisFunction(
                rbf_type="thinplate", n_centers=centres.shape[0], centers=centres.T,
                kernel_width=1.0, include_state=True)
            reg = pk.regression.EDMDc()
        else:
            obs, reg = pk.observables.Identity(), pk.regression.DMDc()

        def fit():
            return pk.Koopman(observables=obs, regressor=reg).fit(Xtr, u=Utr, dt=DT)

        model = fit()
        predict = lambda: np.asarray(model.predict(Xte[:-1], u=Ute)).real  # noqa: E731
    elif who == "pydmd-dmdc":
        from pydmd import DMDc as PDMDc

        def fit():
            m = PDMDc(svd_rank=-1, svd_rank_omega=-1)
            m.fit(Xtr.T, Utr.T)
            return m

        model = fit()
        Ur = model.basis
        Atil = model.operator.as_numpy_array

        def predict():
            return (Ur @ (Atil @ (Ur.conj().T @ Xte[:-1].T)) + model.B @ Ute.T).T.real
    else:
        raise ValueError(who)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        fit()
        best = min(best, time.perf_counter() - t0)
    pred = predict()
    return {"fit_s": best, "one_step_error": _relative_one_step(pred, Xte[:-1], Xte[1:])}


def peers(n: int, peers_py: Path) -> list[dict]:
    rng = np.random.default_rng(1)
    Xtr, Utr = one_trajectory(n, seed=2)
    Xte, Ute = one_trajectory(n // 10, seed=3)
    centres = rng.uniform(-1, 1, (100, 2))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vdp.npz")
        np.savez(path, Xtr=Xtr, Utr=Utr, Xte=Xte, Ute=Ute, centres=centres)
        runs = [("koop", "koop-edmdc", sys.executable), ("koop", "koop-dmdc", sys.executable),
                ("pykoopman 1.2.1", "pykoopman-edmdc", str(peers_py)),
                ("pykoopman 1.2.1", "pykoopman-dmdc", str(peers_py)),
                ("PyDMD 0.4.1", "pydmd-dmdc", str(peers_py))]
        for lib, who, python in runs:
            spec = json.dumps({"who": who, "data": path})
            env = dict(os.environ)
            env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
            proc = subprocess.run([python, __file__, "--worker", spec], capture_output=True,
                                  text=True, env=env)
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                print(f"  {who}: skipped ({tail})")
                continue
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            out.update(library=lib, model=who.split("-")[1].upper().replace("C", "c"))
            rows.append(out)
            print(f"  {who:18s} fit {out['fit_s']:8.3f} s   one-step error "
                  f"{out['one_step_error']:.3e}", flush=True)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e3, 1e4, 1e5, 1e6])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--peer-samples", type=float, default=2e5)
    parser.add_argument("--peers-python", type=Path, default=PEERS_PY)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-update", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    result = {}
    if not args.no_update:
        print(f"Part 1: partial_fit of a batch of {args.batch} samples vs refit on all, "
              "per new sample")
        result["update"] = update_cost(args.sizes, args.batch)
        print("\n| estimator | N seen | partial_fit [us/sample] | refit [us/new sample] | "
              "refit / update |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for r in result["update"]:
            print(f"| {r['estimator']} | {r['N']:.0e} | {r['update_us']:.2f} | "
                  f"{r['refit_us']:.1f} | {r['ratio']:.0f} |")
    if not args.no_peers:
        n = int(args.peer_samples)
        print(f"\nPart 2: control fits on the forced Van der Pol, one trajectory of {n} steps")
        rows = peers(n, args.peers_python)
        result["peers"] = rows
        print("\n| library | model | fit [s] | one-step error |")
        print("| --- | --- | ---: | ---: |")
        for r in rows:
            print(f"| {r['library']} | {r['model']} | {r['fit_s']:.3f} | "
                  f"{r['one_step_error']:.2e} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
