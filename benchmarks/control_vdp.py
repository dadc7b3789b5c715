"""Korda & Mezić's Van der Pol example: lifted predictor vs local linearization, and MPC.

Part 1, prediction (Korda & Mezić 2018, section 8.1; REFERENCES.md §8): the forced Van der
Pol oscillator x1' = 2 x2, x2' = -0.8 x1 + 2 x2 - 10 x1^2 x2 + u, sampled every 0.01 s
(one RK4 step with the input held, ``koop.systems.van_der_pol_control_step``); training
data: 200 trajectories of 1000 steps (``--protocol paper``; the authors' MATLAB code uses
1000 trajectories of 200 steps: ``--protocol code``) from initial states uniform in
[-1, 1]^2 with inputs uniform in [-1, 1], drawn every step. Predictors:

* EDMDc with their lift: the state plus 100 thin-plate RBFs r^2 log r, centres uniform in
  [-1, 1]^2 (fixed before the fit, as in their code);
* EDMDc with koop's own ``RBF(100, kernel="thinplate", width=1)`` (k-means centres on
  the data);
* DMDc (no lift);
* local linearization at the initial state and at the origin (exact Jacobians, the
  affine term kept, discretized exactly by a matrix exponential), as in their code.

Error over a horizon of T steps: 100 * ||x_pred - x_true||_F / ||x_true||_F (in %), for
(a) their test: x0 = (0.5, 0.5) and the square wave u_k = (-1)^round(k / 30), over 1 s
and 3 s; (b) a constant input u = 0.4 held for 1 s from the origin (outside the training
distribution of inputs that change every step); (c) 100 random initial states in
[-1, 1]^2 with random inputs, over 1 s (mean and median).

Part 2, MPC: track a piecewise-constant reference for x1 (0.5, -0.5, 0, 0.8; 2 s each)
with ``koop.mpc.MPC`` (horizon 0.4 s, Q = diag(1, 0.1), R_delta = 0.01, |u| <= 1,
offset-free) on the true plant, for EDMDc (their lift) and DMDc; RMS tracking error of x1
over the last second of each segment and overall. ``--figure PATH`` draws the prediction
comparison and the closed loop.

Usage::

    .venv/bin/python benchmarks/control_vdp.py                     # the paper's protocol
    .venv/bin/python benchmarks/control_vdp.py --protocol code
    .venv/bin/python benchmarks/control_vdp.py --figure docs/img/control_vdp.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.linalg

from koop import systems
from koop.dictionaries import RBF, Custom, Identity
from koop.estimators import DMDc, EDMDc
from koop.mpc import MPC, closed_loop

DT = 0.01
PROTOCOLS = {"paper": (200, 1000), "code": (1000, 200)}


def training_data(n_traj: int, n_steps: int, rng: np.random.Generator):
    """All trajectories advanced together (the step is vectorised)."""
    X = np.empty((n_traj, n_steps + 1, 2))
    X[:, 0] = rng.uniform(-1, 1, (n_traj, 2))
    U = rng.uniform(-1, 1, (n_traj, n_steps, 1))
    for k in range(n_steps):
        X[:, k + 1] = systems.van_der_pol_control_step(X[:, k], U[:, k], DT)
    return list(X), list(U)


def korda_mezic_lift(rng: np.random.Generator):
    """The state plus 100 thin-plate RBFs with centres uniform in [-1, 1]^2 (fixed)."""
    centres = rng.uniform(-1, 1, (100, 2))
    # a random subset of 100 out of these 100 points: the centres themselves
    rbf = RBF(100, kernel="thinplate", width=1.0, center_method="random",
              random_state=0).fit(centres)
    return Identity() + Custom(rbf.transform)


def rhs(x, u):
    return np.array([2 * x[1], -0.8 * x[0] + 2 * x[1] - 10 * x[0] ** 2 * x[1] + u])


def local_linearization(xe):
    """Affine model at xe, discretized exactly: x' = Ad x + Bd u + cd."""
    Jx = np.array([[0.0, 2.0], [-0.8 - 20 * xe[0] * xe[1], 2.0 - 10 * xe[0] ** 2]])
    Ju = np.array([0.0, 1.0])
    c = rhs(xe, 0.0) - Jx @ xe
    M = np.zeros((4, 4))
    M[:2, :2], M[:2, 2], M[:2, 3] = Jx, Ju, c
    E = scipy.linalg.expm(M * DT)
    return E[:2, :2], E[:2, 2], E[:2, 3]


def run_linear(model, x0, u):
    Ad, Bd, cd = model
    out, x = [], np.asarray(x0, dtype=float)
    for uk in u:
        x = Ad @ x + Bd * uk + cd
        out.append(x)
    return np.array(out)


def true_run(x0, u):
    out, x = [], np.asarray(x0, dtype=float)
    for uk in u:
        x = systems.van_der_pol_control_step(x, uk, DT)
        out.append(x)
    return np.array(out)


def error(pred, true):
    return float(100 * np.linalg.norm(pred - true) / np.linalg.norm(true))


def predictions(models, x0, u):
    out = {name: m.simulate(x0, len(u), u[:, None]) for name, m in models.items()}
    out["local lin. at x0"] = run_linear(local_linearization(np.asarray(x0)), x0, u)
    out["local lin. at 0"] = run_linear(local_linearization(np.zeros(2)), x0, u)
    return out


def prediction_table(models, rng):
    square = np.array([(-1.0) ** round(k / 30) for k in range(300)])
    x0 = np.array([0.5, 0.5])
    rows = {}
    for T in (100, 300):
        true = true_run(x0, square[:T])
        for name, pred in predictions(models, x0, square[:T]).items():
            rows.setdefault(name, {})[f"square wave {T * DT:.0f} s"] = error(pred, true)
    held = np.full(100, 0.4)
    true = true_run(np.zeros(2), held)
    for name, pred in predictions(models, np.zeros(2), held).items():
        rows[name]["u = 0.4 held 1 s"] = error(pred, true)
    errs = {}
    for _ in range(100):
        x0, u = rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 100)
        true = true_run(x0, u)
        for name, pred in predictions(models, x0, u).items():
            errs.setdefault(name, []).append(error(pred, true))
    for name, e in errs.items():
        rows[name]["random 1 s, mean"] = float(np.mean(e))
        rows[name]["random 1 s, median"] = float(np.median(e))
    return rows, square


def reference(n: int) -> np.ndarray:
    t = DT * np.arange(n)
    r = np.zeros((n, 2))
    r[:, 0] = np.select([t < 2, t < 4, t < 6], [0.5, -0.5, 0.0], 0.8)
    return r


def mpc_runs(models, horizon=40, n_steps=800):
    ref = reference(n_steps + horizon + 1)
    out = {}
    for name, model in models.items():
        mpc = MPC(model, horizon=horizon, Q=[1.0, 0.1], R_delta=1e-2, u_min=-1, u_max=1)
        t0 = time.perf_counter()
        states, inputs = closed_loop(mpc, systems.van_der_pol_control_step, [0.0, 0.0], ref,
                                     n_steps, offset_free=True)
        seconds = time.perf_counter() - t0
        seg = {}
        for start in range(0, n_steps, 200):
            i = slice(start + 100, start + 200)
            seg[f"{ref[start + 100, 0]:+.1f}"] = float(
                np.sqrt(np.mean((states[i, 0] - ref[i, 0]) ** 2)))
        seg["all"] = float(np.sqrt(np.mean((states[1:, 0] - ref[1 : n_steps + 1, 0]) ** 2)))
        out[name] = {"states": states, "inputs": inputs, "rms": seg,
                     "ms_per_step": 1e3 * seconds / n_steps}
    return out, ref


def figure(path, models, square, loops, ref):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    x0 = np.array([0.5, 0.5])
    t = DT * np.arange(301)
    true = np.vstack([x0, true_run(x0, square)])
    ax = axes[0]
    ax.plot(t, true[:, 1], "k", lw=2.5, label="true")
    styles = {"EDMDc (K&M lift)": "r--", "local lin. at x0": "g:", "local lin. at 0": "b-."}
    for name, pred in predictions({"EDMDc (K&M lift)": models["EDMDc (K&M lift)"]}, x0,
                                  square).items():
        ax.plot(t, np.vstack([x0, pred])[:, 1], styles[name], lw=1.8, label=name)
    ax.set(xlabel="time [s]", ylabel="$x_2$", title="prediction, square-wave input",
           ylim=(true[:, 1].min() - 0.5, true[:, 1].max() + 0.5))
    ax.legend(fontsize=7, loc="lower left")
    n = loops["EDMDc (K&M lift)"]["inputs"].shape[0]
    tt = DT * np.arange(n + 1)
    ax = axes[1]
    ax.plot(tt, ref[: n + 1, 0], "k", lw=1, label="reference")
    for name, style in (("EDMDc (K&M lift)", "r"), ("DMDc", "c--")):
        ax.plot(tt, loops[name]["states"][:, 0], style, lw=1.5, label=name)
    ax.set(xlabel="time [s]", ylabel="$x_1$", title="MPC closed loop")
    ax.legend(fontsize=7)
    ax = axes[2]
    for name, style in (("EDMDc (K&M lift)", "r"), ("DMDc", "c--")):
        ax.plot(tt[:-1], loops[name]["inputs"][:, 0], style, lw=1, label=name)
    ax.set(xlabel="time [s]", ylabel="$u$", title="input ($|u| \\leq 1$)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"figure: {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-mpc", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n_traj, n_steps = PROTOCOLS[args.protocol]
    X, U = training_data(n_traj, n_steps, rng)
    print(f"Van der Pol (Korda & Mezic 8.1), protocol {args.protocol!r}: {n_traj} "
          f"trajectories x {n_steps} steps = {n_traj * n_steps} pairs, dt = {DT}")
    estimators = {
        "EDMDc (K&M lift)": EDMDc(korda_mezic_lift(rng)),
        "EDMDc (koop RBF)": EDMDc(Identity() + RBF(100, kernel="thinplate", width=1.0,
                                                   random_state=args.seed)),
        "DMDc": DMDc(),
    }
    models, fit_s = {}, {}
    for name, est in estimators.items():
        t0 = time.perf_counter()
        models[name] = est.fit(X, u=U, dt=DT)
        fit_s[name] = time.perf_counter() - t0
    rows, square = prediction_table(models, rng)
    cols = list(next(iter(rows.values())))
    print("\nPrediction error, 100 ||x_pred - x_true|| / ||x_true|| (%):\n")
    print("| predictor | fit [s] | " + " | ".join(cols) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in cols) + " |")
    for name, row in rows.items():
        fit = f"{fit_s[name]:.1f}" if name in fit_s else "-"
        print(f"| {name} | {fit} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |")
    result = {"protocol": args.protocol, "prediction_error_percent": rows,
              "fit_seconds": fit_s}
    if not args.no_mpc:
        loops, ref = mpc_runs({k: models[k] for k in ("EDMDc (K&M lift)", "DMDc")})
        segs = list(next(iter(loops.values()))["rms"])
        print("\nMPC tracking of x1, RMS error over the last second of each segment "
              "(reference value in the header) and overall:\n")
        print("| model | " + " | ".join(segs) + " | ms / step |")
        print("| --- | " + " | ".join("---:" for _ in segs) + " | ---: |")
        for name, loop in loops.items():
            print(f"| {name} | " + " | ".join(f"{loop['rms'][s]:.4f}" for s in segs)
                  + f" | {loop['ms_per_step']:.1f} |")
        result["mpc_rms"] = {k: v["rms"] for k, v in loops.items()}
        if args.figure:
            figure(args.figure, models, square, loops, ref)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
