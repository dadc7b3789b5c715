"""Train shPLRNN+GTF seeds on the GTF paper's data with the authors' settings (resumable).

    python benchmarks/rnn_gtf_train.py --data ecg --models 20 --out /work/runs/gtf/ecg
    python benchmarks/rnn_gtf_train.py --data lorenz63 --models 10 --out /work/runs/gtf/lorenz63

All seeds train together in one batched numba step (koop.rnn.ensemble.GTFEnsemble), one
thread. ``OUT/ensemble.npz`` is rewritten every ``--checkpoint-every`` epochs; running
the same command again resumes from it (the schedule, seeds and random streams continue
exactly). ``OUT/ensemble.npz.epoch<E>.npz`` keeps the weights every ``--snapshot-every``
epochs; ``OUT/train.log`` gets a line per checkpoint. On several cores, ``--split K``
cuts ``OUT/ensemble.npz`` into ``OUT/part<i>/ensemble.npz`` (seeds, optimizer state and
random streams), each part trains with ``--out OUT/part<i>`` in its own process, and
``--merge`` puts them back into ``OUT/ensemble.npz`` once they reach the same epoch:
every seed continues exactly as in one process (GTFEnsemble.split/merge). Evaluate with
``benchmarks/rnn_table.py --runs OUT`` (the paper's protocol on the test file).

Settings (koop.rnn.ensemble.GTFSettings): ``ecg`` is the paper's Table-1 ECG script
(M=5, H=250, affine read-out, alpha=0.3 constant, T=200, lambda_obs=1e-7, 5000 x 50
batches of 16, RAdam 1e-3 -> 1e-6); ``lorenz63`` the repository defaults (M=3, H=100,
identity read-out, alpha annealed from 1 with the product upper bound, lambda_lat=1e-5).
The data are the authors' files in ``../shared/data/gtf`` (or ``--data-dir``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FILES = {"ecg": "ECG_pecuzal_5d_train.npy", "lorenz63": "lorenz63_on0.05_train.npy"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(FILES), required=True)
    parser.add_argument("--models", type=int, default=20, help="seeds trained together")
    parser.add_argument("--seed", type=int, default=0, help="ensemble random_state")
    parser.add_argument("--out", required=True, help="folder for checkpoint and log")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "gtf"))
    parser.add_argument("--epochs", type=int, default=None,
                        help="stop after this many epochs (the schedule stays 5000 long)")
    parser.add_argument("--schedule-epochs", type=int, default=None,
                        help="change the schedule length (default: the paper's 5000)")
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--snapshot-every", type=int, default=500)
    parser.add_argument("--time-budget", type=float, default=None, help="seconds")
    parser.add_argument("--split", type=int, default=None, metavar="K",
                        help="cut OUT/ensemble.npz into K parts OUT/part<i> and exit")
    parser.add_argument("--merge", action="store_true",
                        help="merge OUT/part<i>/ensemble.npz into OUT/ensemble.npz and exit")
    args = parser.parse_args(argv)

    from koop.rnn.ensemble import GTFEnsemble, GTFSettings

    path = Path(args.data_dir) / FILES[args.data]
    if not path.exists():
        print(f"error: {path} not found; pass --data-dir (the GTF paper's data files)",
              file=sys.stderr)
        return 2
    X = np.load(path)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "ensemble.npz"
    logfile = open(out / "train.log", "a", buffering=1)

    def log(line: str) -> None:
        logfile.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")

    if args.split is not None or args.merge:
        return _split_or_merge(GTFEnsemble, X, out, args.split, log)
    if ckpt.exists():
        ens = GTFEnsemble.load(ckpt, X)
        log(f"resumed from {ckpt} at epoch {ens.epoch}")
    else:
        changes = {} if args.schedule_epochs is None else {"n_epochs": args.schedule_epochs}
        settings = getattr(GTFSettings, args.data)(**changes)
        ens = GTFEnsemble(X, settings, n_models=args.models, random_state=args.seed)
        log(f"start {args.data}: {args.models} seeds, seed {args.seed}, {settings}")
    ens.train(until_epoch=args.epochs, checkpoint=ckpt, checkpoint_every=args.checkpoint_every,
              snapshot_every=args.snapshot_every, log=log, time_budget=args.time_budget)
    log(f"stopped at epoch {ens.epoch}/{ens.settings.n_epochs}, "
        f"{int(ens.diverged.sum())} diverged, {ens.train_seconds:.0f} s training")
    return 0


def _split_or_merge(GTFEnsemble, X, out: Path, n_parts, log) -> int:
    ckpt = out / "ensemble.npz"
    if n_parts is not None:
        if not ckpt.exists():
            print(f"error: {ckpt} not found: nothing to split", file=sys.stderr)
            return 2
        for i, part in enumerate(GTFEnsemble.load(ckpt, X).split(n_parts)):
            (out / f"part{i}").mkdir(exist_ok=True)
            part.save(out / f"part{i}" / "ensemble.npz")
            print(f"part{i}: {part.n_models} seeds at epoch {part.epoch}; train with "
                  f"--out {out / f'part{i}'}")
        log(f"split into {n_parts} parts at epoch {part.epoch}")
        return 0
    paths = sorted(out.glob("part*/ensemble.npz"), key=lambda p: int(p.parent.name[4:]))
    if not paths:
        print(f"error: no {out}/part<i>/ensemble.npz to merge", file=sys.stderr)
        return 2
    try:
        merged = GTFEnsemble.merge([GTFEnsemble.load(p, X) for p in paths])
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    merged.save(ckpt)
    log(f"merged {len(paths)} parts: {merged.n_models} seeds at epoch {merged.epoch}")
    print(f"{ckpt}: {merged.n_models} seeds at epoch {merged.epoch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
