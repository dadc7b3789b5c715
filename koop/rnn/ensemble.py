r"""Many shPLRNN+GTF seeds trained at once on the CPU: one parameter set per seed.

The GTF paper reports median ± MAD over 20 training runs of 5000 epochs x 50 batches.
With torch, one step of a small recurrent model costs far more in per-operation overhead
than in arithmetic (about 60 ms per batch for the ECG model on one core, ~9 h per run).
:func:`koop._kernels.plrnn.gtf_gradients` computes the loss and hand-written
backpropagation-through-time gradients of ``S`` seeds in one numba call (about 3 ms per
seed and batch for the ECG model), and this module drives it: per-seed initialization,
window sampling, the GTF forcing and its alpha, RAdam with the exponential learning-rate
decay, regularization, NaN handling, and resumable checkpoints. Each seed has its own
random stream, so a seed's run does not depend on how many seeds share the batch.

Everything follows the authors' code (DurstewitzLab/GTF-shPLRNN, ``src/``), see
:class:`GTFSettings`; float32 throughout, as their Flux code.

Public names
------------
GTFSettings
    The hyper-parameters, with the paper's presets ``GTFSettings.ecg()`` and
    ``GTFSettings.lorenz63()``.
GTFEnsemble
    The trainer: ``GTFEnsemble(data, settings, n_models, random_state).train(...)``,
    ``save(path)`` / ``GTFEnsemble.load(path, data)``, ``estimators()``; ``split(k)`` and
    ``GTFEnsemble.merge(parts)`` to train the seeds in k processes (one core each).
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from koop._kernels.plrnn import gtf_gradients
from koop._kernels.plrnn import jacobian_norms as _jacobian_norms

__all__ = ["GTFSettings", "GTFEnsemble"]

_DT = np.float32


@dataclass(frozen=True)
class GTFSettings:
    r"""Hyper-parameters of shPLRNN + GTF training (names as in the authors' settings).

    Attributes
    ----------
    n_latent, n_hidden : int
        M and H. ``clipped`` selects the clipped shPLRNN (both paper presets use it).
    observation_model : {"identity", "affine"}
        ``"identity"``: the first N latent units are observed, ``z_0 = [x_0, L x_0]`` with
        ``L`` learned when M > N, and GTF forces the first N units with the data.
        ``"affine"``: :math:`\hat x = B z` (no bias, the authors' default), initial states
        and forcing signals :math:`\hat z = B^+ x`, all M units forced.
    alpha, alpha_method, alpha_decay, alpha_update_interval
        GTF forcing: constant ``alpha``, or annealed from ``alpha`` with the
        ``"product_upper_bound"`` estimate every ``alpha_update_interval`` batches
        (``alpha <- estimate`` if larger, else ``decay * alpha + (1 - decay) * estimate``).
    sequence_length, batch_size, n_epochs, batches_per_epoch : int
    learning_rate, final_learning_rate : float
        RAdam (Flux's variant: rectification once :math:`\rho_t > 4`, eps 1e-8), the
        learning rate multiplied by :math:`(\eta_{end}/\eta_{start})^{1/E}` after every
        epoch.
    latent_regularization : float
        :math:`\lambda_{lat}(\|1 - A\|^2 + \|W_1\|^2 + \|W_2\|^2 + \|h_1\|^2 + \|h_2\|^2)`.
    observation_regularization : float
        Affine model: :math:`\lambda_{obs}(1 - s_{max}(B)/(s_{min}(B) + 10^{-8}))^2`,
        the authors' condition-number penalty; identity model: :math:`\lambda_{obs}\|L\|^2`.
    """

    n_latent: int = 3
    n_hidden: int = 100
    clipped: bool = True
    observation_model: str = "identity"
    alpha: float = 1.0
    alpha_method: str = "product_upper_bound"
    alpha_decay: float = 0.999
    alpha_update_interval: int = 5
    sequence_length: int = 200
    batch_size: int = 16
    n_epochs: int = 5000
    batches_per_epoch: int = 50
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-6
    latent_regularization: float = 1e-5
    observation_regularization: float = 0.0

    @classmethod
    def lorenz63(cls, **changes) -> GTFSettings:
        """``settings/defaults.json`` of the GTF repository (their Lorenz-63 default)."""
        return replace(cls(), **changes)

    @classmethod
    def ecg(cls, **changes) -> GTFSettings:
        """``paper_experiments/ECG/Table1/shPLRNN_GTF.jl`` (Table 1, ECG, shPLRNN+GTF)."""
        base = cls(n_latent=5, n_hidden=250, observation_model="affine", alpha=0.3,
                   alpha_method="constant", latent_regularization=0.0,
                   observation_regularization=1e-7)
        return replace(base, **changes)

    def validate(self, n_features: int) -> None:
        """Raise ValueError for settings this trainer cannot run on ``n_features`` columns."""
        if self.observation_model not in ("identity", "affine"):
            raise ValueError(f"observation_model must be 'identity' or 'affine', got "
                             f"{self.observation_model!r}.")
        if self.alpha_method not in ("constant", "product_upper_bound"):
            raise ValueError("alpha_method must be 'constant' or 'product_upper_bound', got "
                             f"{self.alpha_method!r}.")
        if self.n_latent < n_features:
            raise ValueError(f"n_latent={self.n_latent} is below the {n_features} observed "
                             "features; the read-out needs M >= N.")
        for name in ("n_hidden", "sequence_length", "batch_size", "n_epochs",
                     "batches_per_epoch", "alpha_update_interval"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer.")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}.")


# -- initialization (src/models/initialization.jl, shallow_plrnn.jl, affine.jl) -----------

def _init_seed(settings: GTFSettings, n_features: int, rng: np.random.Generator) -> dict:
    m, h, n = settings.n_latent, settings.n_hidden, n_features
    r = rng.standard_normal((m, m))
    k = r.T @ r / m + np.eye(m)
    a = np.diag(k / np.abs(np.linalg.eigvalsh(k)).max())
    p = {
        "A": a,
        "W1": rng.uniform(-1, 1, (m, h)) / np.sqrt(h),
        # W2 is (H, M) with bound 1/sqrt(M); stored transposed, (M, H)
        "W2T": (rng.uniform(-1, 1, (h, m)) / np.sqrt(m)).T,
        "h1": np.zeros(m),
        "h2": (rng.uniform(-1, 1, h) / np.sqrt(h)) if settings.clipped else np.zeros(h),
    }
    if settings.observation_model == "affine":
        p["B"] = rng.standard_normal((n, m)) * np.sqrt(2.0 / m)  # Flux kaiming_normal
    else:
        # Flux glorot_uniform(M - N, N): bound sqrt(6 / (fan_in + fan_out))
        bound = np.sqrt(6.0 / m) if m > n else 0.0
        p["L"] = rng.uniform(-1, 1, (m - n, n)) * bound
    return {k: np.ascontiguousarray(v, dtype=_DT) for k, v in p.items()}


def _right_inverse(B: np.ndarray) -> np.ndarray:
    """``B^+ = B^T (B B^T)^{-1}`` for each seed's (N, M) read-out of full row rank."""
    return np.linalg.pinv(B.astype(np.float64))


def _right_inverse_grad(B: np.ndarray, P: np.ndarray, G: np.ndarray) -> np.ndarray:
    r"""Gradient w.r.t. B of :math:`\langle G, B^+\rangle` for full-row-rank B (N <= M).

    With :math:`C = B B^T` and :math:`P = B^T C^{-1}`:
    :math:`\partial/\partial B = C^{-1} G^T (I - P B) - P^T G P^T`
    (for square B this is :math:`-B^{-T} G B^{-T}`, the derivative of the inverse).
    """
    C = B @ np.swapaxes(B, -1, -2)
    Ci = np.linalg.inv(C)
    Gt = np.swapaxes(G, -1, -2)
    eye = np.eye(B.shape[-1])
    Pt = np.swapaxes(P, -1, -2)
    return Ci @ Gt @ (eye - P @ B) - Pt @ G @ Pt


def _condition_penalty_grad(B: np.ndarray, lam: float) -> np.ndarray:
    """Gradient of ``lam (1 - s_max / (s_min + 1e-8))^2`` (the authors' Affine penalty)."""
    U, s, Vt = np.linalg.svd(B)
    smax, smin = s[:, 0], s[:, -1] + 1e-8
    ratio = smax / smin
    outer = 2.0 * lam * (1.0 - ratio)
    u1, v1 = U[:, :, 0], Vt[:, 0, :]
    uk, vk = U[:, :, s.shape[1] - 1], Vt[:, s.shape[1] - 1, :]
    d_ratio = (u1[:, :, None] * v1[:, None, :]) / smin[:, None, None] - (
        smax / smin**2)[:, None, None] * (uk[:, :, None] * vk[:, None, :])
    return -outer[:, None, None] * d_ratio


class _RAdam:
    """Flux 0.13's ``RADAM`` (element-wise, so one state over all seeds equals one per seed)."""

    def __init__(self, params: dict, beta1=0.9, beta2=0.999, eps=1e-8) -> None:
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 1

    def step(self, params: dict, grads: dict, lr: float, active: np.ndarray) -> None:
        b1, b2 = self.b1, self.b2
        bp1, bp2 = b1**self.t, b2**self.t
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho = rho_inf - 2.0 * self.t * bp2 / (1.0 - bp2)
        for k, p in params.items():
            g = grads[k]
            m, v = self.m[k], self.v[k]
            m[active] = b1 * m[active] + (1 - b1) * g[active]
            v[active] = b2 * v[active] + (1 - b2) * g[active] ** 2
            if rho > 4.0:
                r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
                upd = m / (1 - bp1) / (np.sqrt(v / (1 - bp2)) + self.eps) * (lr * r)
            else:
                upd = m / (1 - bp1) * lr
            p[active] -= upd[active].astype(p.dtype)
        self.t += 1


def jacobian_norms(params: dict, Z: np.ndarray, clipped: bool) -> np.ndarray:
    r"""Spectral norms :math:`\|J(z)\|_2` for latent states ``Z`` (S, ..., M), per seed.

    See :func:`koop._kernels.plrnn.jacobian_norms`; returns (S, P) for P states per seed.
    """
    S, M = params["A"].shape
    flat = np.ascontiguousarray(Z.reshape(S, -1, M), dtype=np.float64)
    out = np.empty(flat.shape[:2])
    f64 = {k: np.ascontiguousarray(params[k], dtype=np.float64) for k in ("A", "W1", "W2T", "h2")}
    _jacobian_norms(f64["A"], f64["W1"], f64["W2T"], f64["h2"], flat, clipped, out)
    return out


class GTFEnsemble:
    """Train ``n_models`` shPLRNNs with GTF on one data set, all seeds in one batched step.

    Parameters
    ----------
    data : ndarray (n_samples, n_features)
        The training series (the paper's files are standardized already).
    settings : GTFSettings
    n_models : int
        Number of seeds trained together.
    random_state : int
        Seed ``k`` of the ensemble draws its initialization and windows from
        ``SeedSequence(random_state).spawn(n_models)[k]``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(600) * 0.1
    >>> X = np.column_stack([np.sin(t), np.cos(t)])
    >>> s = GTFSettings(n_latent=2, n_hidden=8, n_epochs=2, batches_per_epoch=3,
    ...                 sequence_length=20, batch_size=4)
    >>> ens = GTFEnsemble(X, s, n_models=3, random_state=0).train()
    >>> ens.epoch, ens.loss_history.shape
    (2, (3, 2))
    """

    def __init__(self, data, settings: GTFSettings, n_models: int = 1,
                 random_state: int = 0) -> None:
        data = np.asarray(data)
        if data.ndim != 2 or not np.isfinite(data).all():
            raise ValueError("data must be a finite array of shape (n_samples, n_features).")
        settings.validate(data.shape[1])
        if data.shape[0] < settings.sequence_length + 3:
            raise ValueError(f"data has {data.shape[0]} samples; windows of "
                             f"sequence_length + 1 = {settings.sequence_length + 1} need more.")
        self.data = np.ascontiguousarray(data, dtype=_DT)
        self.settings = settings
        self.n_models = int(n_models)
        self.random_state = int(random_state)
        seqs = np.random.SeedSequence(self.random_state).spawn(self.n_models)
        self.rngs = [np.random.default_rng(s) for s in seqs]
        inits = [_init_seed(settings, data.shape[1], r) for r in self.rngs]
        self.params = {k: np.stack([p[k] for p in inits]) for k in inits[0]}
        self.optimizer = _RAdam(self.params)
        self.alpha = np.full(self.n_models, settings.alpha, dtype=_DT)
        self.epoch = 0
        self.loss_history = np.zeros((self.n_models, 0), dtype=_DT)
        self.alpha_history = np.zeros((self.n_models, 0), dtype=_DT)
        self.diverged = np.zeros(self.n_models, dtype=bool)
        self.train_seconds = 0.0

    # -- one batch ------------------------------------------------------------------------
    def _windows(self) -> np.ndarray:
        s = self.settings
        n = self.data.shape[0]
        starts = np.stack([r.integers(0, n - s.sequence_length - 1, size=s.batch_size)
                           for r in self.rngs])
        idx = starts[:, :, None] + np.arange(s.sequence_length + 1)
        return self.data[idx]  # (S, B, T+1, N)

    def _infer(self, X: np.ndarray):
        """Initial latent states (S, B, M), forcing signals (S, B, T, K), and B^+ if affine."""
        p = self.params
        if self.settings.observation_model == "affine":
            P = _right_inverse(p["B"])  # (S, M, N), float64
            Z = np.einsum("smn,sbtn->sbtm", P, X, optimize=True).astype(_DT)
            return np.ascontiguousarray(Z[:, :, 0]), np.ascontiguousarray(Z[:, :, 1:]), P
        x0 = X[:, :, 0]
        z0 = np.concatenate([x0, np.einsum("skn,sbn->sbk", p["L"], x0)], axis=-1)
        return np.ascontiguousarray(z0, dtype=_DT), np.ascontiguousarray(X[:, :, 1:]), None

    def _readout(self) -> np.ndarray:
        if self.settings.observation_model == "affine":
            return self.params["B"]
        S, M = self.params["A"].shape
        N = self.data.shape[1]
        C = np.zeros((S, N, M), dtype=_DT)
        C[:, np.arange(N), np.arange(N)] = 1.0
        return C

    def _update_alpha(self, zhat: np.ndarray) -> None:
        """GTF annealing with the product upper bound of each seed's Jacobian norms."""
        s = self.settings
        norms = jacobian_norms(self.params, zhat, s.clipped).reshape(
            self.n_models, s.batch_size, -1)
        with np.errstate(divide="ignore"):
            bound = np.exp(np.log(norms).mean(axis=2)).max(axis=1)
        est = np.maximum(0.0, 1.0 - 1.0 / bound)
        self.alpha = np.where(est > self.alpha, est,
                              s.alpha_decay * self.alpha + (1 - s.alpha_decay) * est
                              ).astype(_DT)

    def gradients(self, X: np.ndarray) -> tuple[np.ndarray, dict]:
        """Each seed's loss and gradients on its windows ``X`` (S, B, T+1, N).

        The loss is the GTF training loss of the authors' code: the mean squared error of
        the unforced predictions plus the regularization terms of :class:`GTFSettings`
        (the returned ``loss`` is the data term only, as they log it).
        """
        s, p = self.settings, self.params
        X = np.ascontiguousarray(X, dtype=_DT)
        z0, zhat, P = self._infer(X)
        C = np.ascontiguousarray(self._readout())
        grads = {k: np.empty_like(v) for k, v in p.items() if k not in ("B", "L")}
        dC = np.empty_like(C)
        dz0 = np.empty_like(z0)
        loss = np.empty(self.n_models, dtype=_DT)
        gtf_gradients(p["A"], p["W1"], p["W2T"], p["h1"], p["h2"], C, z0,
                      np.ascontiguousarray(X[:, :, 1:]), zhat, self.alpha, s.clipped,
                      grads["A"], grads["W1"], grads["W2T"], grads["h1"], grads["h2"], dC,
                      dz0, loss)
        x0 = X[:, :, 0].astype(np.float64)
        if s.observation_model == "affine":
            G = np.einsum("sbm,sbn->smn", dz0.astype(np.float64), x0)
            dB = dC + _right_inverse_grad(p["B"].astype(np.float64), P, G)
            if s.observation_regularization > 0:
                dB += _condition_penalty_grad(p["B"].astype(np.float64),
                                              s.observation_regularization)
            grads["B"] = dB.astype(_DT)
        else:
            N = X.shape[-1]
            dL = np.einsum("sbk,sbn->skn", dz0[:, :, N:].astype(np.float64), x0)
            if s.observation_regularization > 0:
                dL += 2 * s.observation_regularization * p["L"]
            grads["L"] = dL.astype(_DT)
        lam = s.latent_regularization
        if lam > 0:
            grads["A"] -= 2 * lam * (1 - p["A"])
            for k in ("W1", "W2T", "h1", "h2"):
                grads[k] += 2 * lam * p[k]
        return loss, grads

    def _step(self, step: int, lr: float) -> np.ndarray:
        s = self.settings
        X = self._windows()
        if s.alpha_method == "product_upper_bound" and step % s.alpha_update_interval == 0:
            self._update_alpha(self._infer(X)[1])
        loss, grads = self.gradients(X)
        finite = np.isfinite(loss)
        for g in grads.values():
            finite &= np.isfinite(g.reshape(self.n_models, -1)).all(axis=1)
        self.diverged |= ~finite
        self.optimizer.step(self.params, grads, lr, ~self.diverged)
        return loss

    # -- the schedule --------------------------------------------------------------------
    def learning_rate(self, epoch: int) -> float:
        """Learning rate during ``epoch`` (0-based): exponential decay, per epoch."""
        s = self.settings
        gamma = (s.final_learning_rate / s.learning_rate) ** (1.0 / s.n_epochs)
        return s.learning_rate * gamma**epoch

    def train(self, *, until_epoch: int | None = None, checkpoint: str | Path | None = None,
              checkpoint_every: int = 50, snapshot_every: int = 0, log=None,
              time_budget: float | None = None) -> GTFEnsemble:
        """Run epochs up to ``until_epoch`` (default: the full schedule), resumably.

        Parameters
        ----------
        until_epoch : int, optional
            Stop after this many epochs in total (the schedule keeps its full length).
        checkpoint : path, optional
            Saved (atomically) every ``checkpoint_every`` epochs and at the end;
            :meth:`load` resumes from it.
        snapshot_every : int
            Also keep the parameters every this many epochs in
            ``<checkpoint>.epoch<E>.npz`` (0: never).
        log : callable, optional
            ``log(line)`` after every ``checkpoint_every`` epochs.
        time_budget : float, optional
            Stop (after saving) once this many seconds have passed.
        """
        s = self.settings
        last = s.n_epochs if until_epoch is None else min(int(until_epoch), s.n_epochs)
        start = time.perf_counter()
        while self.epoch < last:
            lr = self.learning_rate(self.epoch)
            t0 = time.perf_counter()
            total = np.zeros(self.n_models)
            for b in range(s.batches_per_epoch):
                total += self._step(b + 1, lr)
            self.train_seconds += time.perf_counter() - t0
            mean = (total / s.batches_per_epoch).astype(_DT)
            mean[self.diverged] = np.nan
            self.loss_history = np.concatenate([self.loss_history, mean[:, None]], axis=1)
            self.alpha_history = np.concatenate([self.alpha_history, self.alpha[:, None]],
                                                axis=1)
            self.epoch += 1
            done = self.epoch >= last
            out_of_time = time_budget is not None and time.perf_counter() - start > time_budget
            if self.epoch % checkpoint_every == 0 or done or out_of_time:
                if checkpoint is not None:
                    self.save(checkpoint)
                    if snapshot_every and self.epoch % snapshot_every == 0:
                        self.save(f"{checkpoint}.epoch{self.epoch}.npz", weights_only=True)
                if log is not None:
                    ok = mean[np.isfinite(mean)]
                    log(f"epoch {self.epoch}/{s.n_epochs} lr {lr:.2e} "
                        f"loss median {np.median(ok) if ok.size else np.nan:.4g} "
                        f"[{ok.min() if ok.size else np.nan:.3g}, "
                        f"{ok.max() if ok.size else np.nan:.3g}] "
                        f"alpha {np.median(self.alpha):.3f} diverged {int(self.diverged.sum())} "
                        f"train {self.train_seconds:.0f}s")
            if out_of_time:
                break
        return self

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | Path, weights_only: bool = False) -> None:
        """Write the parameters (and, unless ``weights_only``, everything needed to resume)."""
        path = Path(path)
        arrays = _seed_arrays(self)
        meta = dict(settings=asdict(self.settings), n_models=self.n_models,
                    random_state=self.random_state, epoch=self.epoch,
                    n_features=int(self.data.shape[1]), train_seconds=self.train_seconds)
        if weights_only:
            arrays = {k: v for k, v in arrays.items() if k.startswith("param_")}
        else:
            meta.update(adam_t=self.optimizer.t,
                        rng_states=[r.bit_generator.state for r in self.rngs])
        arrays["meta"] = np.array(json.dumps(meta, default=int))
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path, data) -> GTFEnsemble:
        """Rebuild an ensemble from :meth:`save` (resumable unless saved weights-only)."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            ens = cls(data, GTFSettings(**meta["settings"]), meta["n_models"],
                      meta["random_state"])
            arrays = {k: f[k].copy() for k in f.files if k != "meta"}
            ens.epoch = int(meta["epoch"])
            ens.train_seconds = float(meta.get("train_seconds", 0.0))
            if "adam_t" not in meta:  # weights only
                ens.params = {k[6:]: v for k, v in arrays.items() if k.startswith("param_")}
                return ens
            _restore_seed_arrays(ens, arrays)
            ens.optimizer.t = int(meta["adam_t"])
            for r, state in zip(ens.rngs, meta["rng_states"], strict=True):
                r.bit_generator.state = state
        return ens

    # -- several processes: split the seeds, train the parts, merge them back -------------
    def split(self, n_parts: int) -> list[GTFEnsemble]:
        """The seeds in ``n_parts`` consecutive groups, each a resumable ensemble.

        Each part keeps its seeds' parameters, optimizer moments, alpha, histories and
        (copies of their) random streams, so training the parts in separate processes
        (one core each) and :meth:`merge` -ing them continues every seed exactly as one
        ensemble would. The training time so far is shared by the number of seeds.
        """
        n_parts = int(n_parts)
        if not 1 <= n_parts <= self.n_models:
            raise ValueError(f"n_parts must be between 1 and n_models = {self.n_models}; "
                             f"got {n_parts}.")
        arrays = _seed_arrays(self)
        return [_with_seeds(self, {k: v[idx].copy() for k, v in arrays.items()},
                            [copy.deepcopy(self.rngs[i]) for i in idx],
                            self.train_seconds * len(idx) / self.n_models)
                for idx in np.array_split(np.arange(self.n_models), n_parts)]

    @classmethod
    def merge(cls, parts: list[GTFEnsemble]) -> GTFEnsemble:
        """One ensemble from :meth:`split`'s parts (in their order) at the same epoch.

        ``train_seconds`` is the sum of the parts' (core-seconds of training).
        """
        if not parts:
            raise ValueError("merge needs at least one part.")
        first = parts[0]
        for p in parts[1:]:
            if p.settings != first.settings or p.data.shape != first.data.shape:
                raise ValueError("the parts were trained with other settings or data.")
            if p.epoch != first.epoch or p.optimizer.t != first.optimizer.t:
                raise ValueError(f"the parts are at different epochs ({first.epoch}, "
                                 f"{p.epoch}): train them to the same epoch first.")
        each = [_seed_arrays(p) for p in parts]
        return _with_seeds(first, {k: np.concatenate([a[k] for a in each]) for k in each[0]},
                           [r for p in parts for r in p.rngs],
                           sum(p.train_seconds for p in parts))

    # -- the trained models as koop estimators -------------------------------------------
    def estimators(self, dt: float | None = None) -> list:
        """One fitted :class:`koop.rnn.ShallowPLRNN` per seed (float64 torch weights).

        ``fit_time_`` of each is the ensemble's training time divided by the number of
        seeds; ``loss_history_`` and ``alpha_history_`` are the seed's per-epoch values.
        A seed whose training diverged keeps its NaN weights (its metrics are NaN).
        """
        from koop.rnn._torch import import_torch
        from koop.rnn.plrnn import ShallowPLRNN

        torch = import_torch()
        s, p = self.settings, self.params
        n_features = self.data.shape[1]
        out = []
        for k in range(self.n_models):
            est = ShallowPLRNN(
                n_latent=s.n_latent, n_hidden=s.n_hidden, clipped=s.clipped,
                observation_model=s.observation_model,
                observation_regularization=s.observation_regularization,
                n_epochs=s.n_epochs, batches_per_epoch=s.batches_per_epoch,
                batch_size=s.batch_size, sequence_length=s.sequence_length,
                learning_rate=s.learning_rate, final_learning_rate=s.final_learning_rate,
                alpha=s.alpha,
                alpha_method=("constant" if s.alpha_method == "constant"
                              else "product_upper_bound"),
                alpha_decay=s.alpha_decay, alpha_update_interval=s.alpha_update_interval,
                latent_regularization=s.latent_regularization)
            est.n_features_in_ = n_features
            est.n_latent_ = s.n_latent
            model = est._build_torch_module("model_")
            weights = {"cell.A": p["A"][k], "cell.W1": p["W1"][k], "cell.W2": p["W2T"][k].T,
                       "cell.h1": p["h1"][k], "cell.h2": p["h2"][k]}
            if s.observation_model == "affine":
                weights["B"] = p["B"][k]
            elif s.n_latent > n_features:
                weights["L"] = p["L"][k]
            model.load_state_dict({name: torch.as_tensor(np.array(w, dtype=np.float64))
                                   for name, w in weights.items()}, strict=True)
            est.model_ = model.eval()
            est.device_ = "cpu"
            est.n_parameters_ = int(sum(t.numel() for t in model.parameters()))
            est.dt_ = dt
            est.loss_history_ = self.loss_history[k].astype(np.float64)
            est.alpha_history_ = self.alpha_history[k].astype(np.float64)
            est.fit_time_ = self.train_seconds / self.n_models
            out.append(est)
        return out


def _seed_arrays(ens: GTFEnsemble) -> dict:
    """Every per-seed array of ``ens`` (first axis: the seed), under the checkpoint's names."""
    arrays = {f"param_{k}": v for k, v in ens.params.items()}
    arrays.update({f"adam_m_{k}": v for k, v in ens.optimizer.m.items()})
    arrays.update({f"adam_v_{k}": v for k, v in ens.optimizer.v.items()})
    arrays.update(alpha=ens.alpha, loss_history=ens.loss_history,
                  alpha_history=ens.alpha_history, diverged=ens.diverged)
    return arrays


def _restore_seed_arrays(ens: GTFEnsemble, arrays: dict) -> None:
    """The inverse of :func:`_seed_arrays` (the arrays are taken, not copied)."""
    ens.params = {k[6:]: v for k, v in arrays.items() if k.startswith("param_")}
    ens.optimizer.m = {k[7:]: v for k, v in arrays.items() if k.startswith("adam_m_")}
    ens.optimizer.v = {k[7:]: v for k, v in arrays.items() if k.startswith("adam_v_")}
    ens.alpha = arrays["alpha"]
    ens.loss_history = arrays["loss_history"]
    # checkpoints written before alpha was recorded per epoch: unknown (NaN)
    ens.alpha_history = arrays.get("alpha_history", np.full_like(ens.loss_history, np.nan))
    ens.diverged = arrays["diverged"]


def _with_seeds(template: GTFEnsemble, arrays: dict, rngs: list,
                train_seconds: float) -> GTFEnsemble:
    """An ensemble at ``template``'s settings, epoch and step holding the given seeds."""
    out = type(template)(template.data, template.settings, len(rngs), template.random_state)
    _restore_seed_arrays(out, arrays)
    out.rngs = rngs
    out.epoch, out.optimizer.t = template.epoch, template.optimizer.t
    out.train_seconds = float(train_seconds)
    return out
