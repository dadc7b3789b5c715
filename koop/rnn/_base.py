"""Estimator shell shared by the RNN reconstructions: fit / predict / simulate / score."""

from __future__ import annotations

import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._torch_state import TorchStateMixin
from ..data import as_trajectories, check_array
from ._torch import import_torch, make_generator, resolve_device, torch_threads

COMMON_CONSTRAINTS = {
    "n_epochs": [Interval(Integral, 1, None, closed="left")],
    "batches_per_epoch": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "sequence_length": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "final_learning_rate": [Interval(Real, 0, None, closed="neither")],
    "teacher_forcing": [StrOptions({"gtf", "sparse"})],
    "alpha": [Interval(Real, 0, 1, closed="both")],
    "alpha_method": [
        StrOptions({"constant", "product_upper_bound", "jacobian_upper_bound", "batch_maximum"})
    ],
    "alpha_decay": [Interval(Real, 0, 1, closed="both")],
    "alpha_update_interval": [Interval(Integral, 1, None, closed="left")],
    "forcing_interval": [Interval(Integral, 1, None, closed="left")],
    "latent_regularization": [Interval(Real, 0, None, closed="left")],
    "device": [object],
    "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    "random_state": ["random_state"],
    "verbose": ["boolean"],
}

TRAINING_PARAMS = (
    "n_epochs", "batches_per_epoch", "batch_size", "sequence_length", "learning_rate",
    "final_learning_rate", "teacher_forcing", "alpha", "alpha_method", "alpha_decay",
    "alpha_update_interval", "forcing_interval", "latent_regularization",
    "observation_regularization", "verbose",
)


class RNNReconstruction(TorchStateMixin, BaseEstimator):
    """Base class: subclasses define ``_parameter_constraints``, ``_latent_dim`` and ``_cell``.

    Fitted attributes (all subclasses): ``model_`` (the torch module, on the CPU),
    ``n_features_in_``, ``n_latent_``, ``n_parameters_``, ``dt_``, ``loss_history_``,
    ``alpha_history_``, ``fit_time_``, ``device_``. :func:`koop.io.save` stores
    ``model_`` as its ``state_dict`` arrays; :func:`koop.io.load` rebuilds it.
    """

    _torch_modules = ("model_",)

    def _latent_dim(self, n_features: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _cell(self, n_latent: int, generator):  # pragma: no cover - abstract
        raise NotImplementedError

    def _after_fit(self, data) -> None:
        """Hook for subclass diagnostics computed once the model is trained."""

    def _build_torch_module(self, name: str):
        """An untrained latent model of the fitted shape (koop.io loads weights into it)."""
        from .training import LatentModel

        generator, _ = make_generator(0)  # the initial weights are overwritten
        cell = self._cell(self.n_latent_, generator)
        return LatentModel(cell, self.n_features_in_, self.n_latent_, generator,
                           self._observation())

    def _observation(self) -> str:
        return getattr(self, "observation_model", "identity")

    def fit(self, X, y=None, *, dt: float | None = None, callback=None):
        """Train the RNN on one trajectory or a list of trajectories.

        Parameters
        ----------
        X : array-like (n_samples, n_features), list of such, or xarray.DataArray
            Training trajectories, ideally standardized (zero mean, unit variance).
        y : None
            Snapshot pairs are not supported: teacher forcing needs whole windows.
        dt : float, optional
            Sampling interval, stored as ``dt_``.
        callback : callable, optional
            ``callback(epoch, latent_model, history)`` after every epoch (``latent_model``
            is the torch module being trained, ``history`` the dict of per-epoch ``loss``
            and ``alpha`` lists); returning True stops training early.

        Returns
        -------
        self
        """
        self._validate_params()
        if y is not None:
            raise ValueError(
                f"{type(self).__name__} trains on whole trajectories (windows of "
                "sequence_length samples); pass X only, not snapshot pairs (X, y)."
            )
        torch = import_torch()
        from .training import LatentModel, TrainingConfig, train

        data = as_trajectories(X, dt=dt, name="X")
        n_features = data.n_features
        n_latent = self._latent_dim(n_features)
        if n_latent < n_features:
            raise ValueError(
                f"The latent dimension ({n_latent}) must be at least the number of observed "
                f"features ({n_features}): the observation model reads {n_features} "
                "features from the latent state."
            )
        generator, rng = make_generator(self.random_state)
        device = resolve_device(self.device)
        cell = self._cell(n_latent, generator)
        model = LatentModel(cell, n_features, n_latent, generator, self._observation()).to(device)
        blocks = [torch.as_tensor(np.asarray(b, dtype=np.float64), device=device)
                  for b in data.trajectories]
        config = TrainingConfig(**{k: getattr(self, k) for k in TRAINING_PARAMS
                                   if hasattr(self, k)})
        start = time.perf_counter()
        with torch_threads(self.n_threads):
            history = train(model, blocks, config, rng, callback=callback)
        self.fit_time_ = time.perf_counter() - start
        self.model_ = model.cpu().eval()
        self.device_ = str(device)
        self.n_features_in_ = n_features
        self.n_latent_ = n_latent
        self.n_parameters_ = int(sum(p.numel() for p in model.parameters()))
        self.dt_ = data.dt
        self.loss_history_ = np.asarray(history["loss"])
        self.alpha_history_ = np.asarray(history["alpha"])
        with torch_threads(self.n_threads):
            self._after_fit(data)
        return self

    def _latent_tensor(self, X):
        torch = import_torch()
        X = check_array(X, name="X", n_features=self.n_features_in_)
        with torch.no_grad():
            return self.model_.infer(torch.as_tensor(X, dtype=torch.float64))

    def latent_start(self, X) -> np.ndarray:
        """Data-inferred latent states ``(n, M)`` for observed states ``X`` ``(n, N)``.

        The identity read-out gives ``[x, L x]``, the affine one ``B^+ x``; these are the
        initial states of :meth:`simulate` and :meth:`simulate_batch`.
        """
        check_is_fitted(self, "model_")
        return self._latent_tensor(X).numpy().copy()

    def latent_trajectory(self, x0, n_steps: int) -> np.ndarray:
        """Free-running latent states ``(n_steps, M)`` after ``z_0`` = :meth:`latent_start`."""
        check_is_fitted(self, "model_")
        n_steps = _check_steps(n_steps)
        z0 = self._latent_tensor(np.atleast_2d(np.asarray(x0, dtype=np.float64))[:1])
        return self.model_.generate(z0, n_steps)[0].numpy()

    def simulate(self, x0, n_steps: int) -> np.ndarray:
        """Generate ``n_steps`` observed states after ``x0`` by iterating the latent map.

        Parameters
        ----------
        x0 : array-like of shape (n_features,)
            Initial observed state; the latent state starts at :meth:`latent_start`.
        n_steps : int
            Number of steps.

        Returns
        -------
        ndarray of shape (n_steps, n_features)
        """
        return self.simulate_batch(np.atleast_2d(np.asarray(x0, dtype=np.float64))[:1],
                                   n_steps)[0]

    def simulate_batch(self, X0, n_steps: int) -> np.ndarray:
        """Free runs of ``n_steps`` observed states from every row of ``X0``, in parallel.

        Parameters
        ----------
        X0 : array-like of shape (n_starts, n_features)
        n_steps : int

        Returns
        -------
        ndarray of shape (n_starts, n_steps, n_features)
            ``out[i, k]`` is the state ``k + 1`` steps after ``X0[i]``.
        """
        check_is_fitted(self, "model_")
        n_steps = _check_steps(n_steps)
        torch = import_torch()
        z = self.model_.generate(self._latent_tensor(X0), n_steps)
        with torch.no_grad():
            return self.model_.observe(z).numpy().copy()

    def predict(self, X) -> np.ndarray:
        """One-step-ahead prediction (the observed part of ``F(latent_start(x))``) per row."""
        return self.simulate_batch(X, 1)[:, 0]

    def predict_n_steps(self, X, n_steps: int) -> np.ndarray:
        """``n_steps``-ahead prediction started (in parallel) from every row of ``X``."""
        return self.simulate_batch(X, n_steps)[:, -1]

    def score(self, X, y=None) -> float:
        """R^2 of one-step predictions on a trajectory ``X`` (or on pairs ``(X, y)``)."""
        from sklearn.metrics import r2_score

        data = as_trajectories(X, y, name="X")
        xs, ys = data.pairs()
        return float(r2_score(ys, self.predict(xs)))


def _check_steps(n_steps) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
    return int(n_steps)
