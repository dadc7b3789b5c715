"""Forecast and reconstruction metrics for dynamical-systems models.

Two families:

* **Long-term (invariant) statistics** of a generated trajectory against a true one, as in
  the dynamical-systems-reconstruction literature (Hess et al., ICML 2023, the GTF paper):
  the state-space divergence :math:`D_{stsp}` (:func:`state_space_divergence`) and the
  power-spectrum Hellinger distance :math:`D_H` (:func:`power_spectrum_distance`). They
  compare distributions, so the two trajectories need not be aligned in time.
* **Short-term forecast errors**: the n-step prediction error :math:`PE(n)`
  (:func:`prediction_error`), the valid prediction time in Lyapunov times
  (:func:`valid_prediction_time`), sMAPE (:func:`smape`) and RMSE (:func:`rmse`).

Diverged models: a *generated* or *predicted* series that holds NaN or inf (a model that
blew up) is not an input error. :func:`state_space_divergence` and
:func:`power_spectrum_distance` then return NaN (the GTF code returns NaN for such runs
and drops them from its summaries); the forecast errors become inf or NaN. A *true*
series with NaN or inf raises ``ValueError``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.special import logsumexp
from sklearn.utils import check_random_state

from koop.data import check_array

__all__ = [
    "state_space_divergence",
    "power_spectrum_distance",
    "prediction_error",
    "valid_prediction_time",
    "smape",
    "rmse",
]


def _check_pair(true, other, name: str, *, same_length: bool = False, min_samples: int = 1):
    """Validate ``true`` strictly and ``other`` for shape; return ``(true, other, finite)``.

    ``other`` may hold NaN or inf (a diverged model); ``finite`` says whether it does not.
    """
    true = check_array(true, name="true", min_samples=min_samples)
    try:
        raw = np.asarray(other, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a numeric array of shape (n_samples, n_features)."
        ) from None
    if raw.ndim == 1:
        raw = raw.reshape(-1, 1)
    if raw.ndim != 2 or raw.shape[1] != true.shape[1]:
        raise ValueError(
            f"{name} has shape {raw.shape}, but true has {true.shape[1]} feature(s); pass "
            "arrays of shape (n_samples, n_features) with the same features."
        )
    if same_length and raw.shape[0] != true.shape[0]:
        raise ValueError(
            f"true has {true.shape[0]} samples and {name} has {raw.shape[0]}; this metric "
            "compares them sample by sample, so pass series of equal length."
        )
    if raw.shape[0] < 1:
        raise ValueError(f"{name} is empty.")
    return true, raw, bool(np.isfinite(raw).all())


def state_space_divergence(
    true,
    generated,
    *,
    n_bins: int = 30,
    method: str = "auto",
    smoothing: float = 1e-5,
    scaling: float = 1.0,
    n_samples: int = 1000,
    max_points: int = 10_000,
    random_state=0,
) -> float:
    r"""State-space divergence :math:`D_{stsp} = KL(p_{true} \,\|\, p_{gen})`.

    **Binning** (``method="bins"``): per dimension, ``n_bins`` equal bins span
    :math:`[\min x - 0.1\sigma, \max x + 0.1\sigma]` of the *true* data (:math:`\sigma` its
    standard deviation); points outside the box are dropped. With counts :math:`h` and
    :math:`B = n_{bins}^N` bins, Laplace smoothing gives
    :math:`p_k = (h^{true}_k + \alpha)/(\sum h^{true} + \alpha B)` (likewise :math:`q`) and
    :math:`D_{stsp} = \sum_k p_k \log(p_k/q_k)` over *all* :math:`B` bins (the empty ones
    are summed in closed form, so memory does not grow with :math:`B`).

    **Gaussian mixtures** (``method="gmm"``, Hershey & Olsen 2007): :math:`p` and :math:`q`
    are equal-weight mixtures of isotropic Gaussians of variance :math:`s` (``scaling``)
    centred on the first ``max_points`` samples of each series. With ``n_samples`` Monte
    Carlo draws :math:`x_i = x^{true}_{t_i} + \sqrt{s}\,\varepsilon_i` (:math:`t_i` uniform),
    :math:`D_{stsp} \approx \frac1{n}\sum_i [\log p(x_i) - \log q(x_i)]`. Densities are
    evaluated in log space (log-sum-exp); the GTF code evaluates them directly and drops
    draws where one underflows to 0, which only matters far out in the tails.

    Parameters
    ----------
    true, generated : array-like of shape (n_samples, n_features)
        The reference series and the model's series (lengths may differ).
    n_bins : int
        Bins per dimension (the GTF default 30).
    method : {"auto", "bins", "gmm"}
        ``"auto"`` bins when ``n_features < 6`` and uses Gaussian mixtures otherwise, as
        in the GTF repository.
    smoothing : float
        Laplace pseudo-count :math:`\alpha` added to every bin.
    scaling : float
        Variance :math:`s` of each mixture component (GTF ``D_stsp_scaling``).
    n_samples : int
        Monte Carlo draws for the mixture estimate.
    max_points : int
        Number of leading samples of each series used as mixture centres.
    random_state : int, RandomState or None
        Seed for the Monte Carlo draws; the default 0 makes the metric deterministic.

    Returns
    -------
    float
        The divergence (0 for identical data), or NaN when ``generated`` holds NaN/inf or
        (bins) no generated point falls inside the box.

    References
    ----------
    Hess, Monfared, Brenner, Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
    Dynamics", ICML 2023 (code: DurstewitzLab/GTF-shPLRNN, ``src/measures``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2000, 2))
    >>> state_space_divergence(x, x)
    0.0
    """
    true, gen, finite = _check_pair(true, generated, "generated", min_samples=2)
    if method not in ("auto", "bins", "gmm"):
        raise ValueError(f"method must be 'auto', 'bins' or 'gmm', got {method!r}.")
    if not finite:
        return float("nan")
    if method == "auto":
        method = "bins" if true.shape[1] < 6 else "gmm"
    if method == "bins":
        if int(n_bins) != n_bins or n_bins < 1:
            raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
        if smoothing <= 0:
            raise ValueError(f"smoothing must be > 0 (a Laplace pseudo-count), got {smoothing}.")
        return _kl_bins(true, gen, int(n_bins), float(smoothing))
    if scaling <= 0 or n_samples < 1 or max_points < 1:
        raise ValueError("scaling, n_samples and max_points must all be positive.")
    return _kl_gmm(true, gen, float(scaling), int(n_samples), int(max_points), random_state)


def _bin_index(x: np.ndarray, lo: np.ndarray, width: np.ndarray, n_bins: int) -> np.ndarray:
    """Flat bin index of each row inside the box; rows outside are dropped."""
    idx = np.floor((x - lo) / width).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < n_bins), axis=1)
    idx = idx[inside]
    flat = np.zeros(idx.shape[0], dtype=np.int64)
    for j in range(idx.shape[1]):
        flat = flat * n_bins + idx[:, j]
    return flat


def _kl_bins(true: np.ndarray, gen: np.ndarray, n_bins: int, alpha: float) -> float:
    sigma = true.std(axis=0)
    lo = true.min(axis=0) - 0.1 * sigma
    hi = true.max(axis=0) + 0.1 * sigma
    # A constant true dimension has zero width; give it one bin of unit width around it.
    span = np.where(hi > lo, hi - lo, 1.0)
    lo = np.where(hi > lo, lo, lo - 0.5)
    width = span / n_bins
    bt = _bin_index(true, lo, width, n_bins)
    bg = _bin_index(gen, lo, width, n_bins)
    if bg.size == 0:
        return float("nan")
    n_total = float(n_bins) ** true.shape[1]
    keys, inverse = np.unique(np.concatenate([bt, bg]), return_inverse=True)
    ht = np.bincount(inverse[: bt.size], minlength=keys.size).astype(float)
    hg = np.bincount(inverse[bt.size :], minlength=keys.size).astype(float)
    zt = bt.size + alpha * n_total
    zg = bg.size + alpha * n_total
    p = (ht + alpha) / zt
    q = (hg + alpha) / zg
    kl = float(np.sum(p * (np.log(p) - np.log(q))))
    n_empty = n_total - keys.size
    if n_empty > 0:
        p0, q0 = alpha / zt, alpha / zg
        kl += n_empty * p0 * (np.log(p0) - np.log(q0))
    return float(kl)


def _log_mixture(points: np.ndarray, centres: np.ndarray, var: float) -> np.ndarray:
    """Log density of an equal-weight isotropic Gaussian mixture at each point."""
    c2 = np.sum(centres**2, axis=1)
    out = np.empty(points.shape[0])
    block = 256  # bounds the (block, n_centres) distance matrix to a few MB
    for start in range(0, points.shape[0], block):
        x = points[start : start + block]
        d2 = np.maximum(np.sum(x**2, axis=1)[:, None] - 2.0 * x @ centres.T + c2, 0.0)
        out[start : start + block] = logsumexp(-0.5 * d2 / var, axis=1)
    dim = points.shape[1]
    return out - np.log(centres.shape[0]) - 0.5 * dim * np.log(2.0 * np.pi * var)


def _kl_gmm(true, gen, var, n_samples, max_points, random_state) -> float:
    rng = check_random_state(random_state)
    true = true[:max_points]
    gen = gen[:max_points]
    t = rng.randint(0, true.shape[0], size=n_samples)
    x = true[t] + np.sqrt(var) * rng.standard_normal((n_samples, true.shape[1]))
    log_p = _log_mixture(x, true, var)
    log_q = _log_mixture(x, gen, var)
    ok = np.isfinite(log_p) & np.isfinite(log_q)
    if not ok.any():
        return float("nan")
    return float(np.mean(log_p[ok] - log_q[ok]))


def _normalised_spectrum(x: np.ndarray, smoothing: float) -> np.ndarray | None:
    std = x.std()
    if std == 0:
        return None
    ps = np.abs(np.fft.rfft((x - x.mean()) / std)) ** 2
    if smoothing > 0:
        ps = gaussian_filter1d(ps, smoothing, mode="reflect", truncate=4.0)
    ps = np.clip(ps, 0.0, None)
    return ps / ps.sum()


def power_spectrum_distance(true, generated, *, smoothing: float = 20.0) -> float:
    r"""Power-spectrum Hellinger distance :math:`D_H`, averaged over dimensions.

    Per dimension: z-score the series, take :math:`P = |\mathrm{rfft}(x)|^2`, smooth it
    with a Gaussian of standard deviation ``smoothing`` bins (radius :math:`4\sigma`,
    reflecting boundaries, i.e. :func:`scipy.ndimage.gaussian_filter1d`'s defaults),
    clip negatives, normalise to sum 1, and take
    :math:`H = \frac{1}{\sqrt 2}\|\sqrt{P_{true}} - \sqrt{P_{gen}}\|_2 \in [0, 1]`.

    Parameters
    ----------
    true, generated : array-like of shape (n_samples, n_features)
        Series of equal length.
    smoothing : float
        Gaussian smoothing width in frequency bins (GTF ``PSE_smoothing`` = 20; 0 for none).

    Returns
    -------
    float
        Mean over dimensions of :math:`H`; NaN when ``generated`` holds NaN/inf. A
        generated dimension that is constant (a model collapsed onto a fixed point) has no
        fluctuation spectrum and counts as the maximal distance 1, so collapsed models are
        penalised rather than dropped (the GTF code would divide by zero there).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(4096)
    >>> a, b = np.sin(2 * np.pi * 100 * t / 4096), np.sin(2 * np.pi * 400 * t / 4096)
    >>> round(power_spectrum_distance(a, b), 6)  # disjoint smoothed spectra
    1.0
    """
    true, gen, finite = _check_pair(true, generated, "generated", same_length=True, min_samples=2)
    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}.")
    if not finite:
        return float("nan")
    distances = []
    for j in range(true.shape[1]):
        p = _normalised_spectrum(true[:, j], smoothing)
        if p is None:
            raise ValueError(
                f"true feature {j} is constant; its power spectrum after z-scoring is "
                "undefined. Drop constant features before comparing spectra."
            )
        q = _normalised_spectrum(gen[:, j], smoothing)
        if q is None:
            distances.append(1.0)
            continue
        h = np.sqrt(0.5) * np.linalg.norm(np.sqrt(p) - np.sqrt(q))
        distances.append(min(float(h), 1.0))
    return float(np.mean(distances))


def prediction_error(model_or_step_fn, X, n_steps: int = 20, *, stride: int = 1) -> float:
    r"""n-step prediction error :math:`PE(n)`.

    From every test point :math:`t \le T - n` (every ``stride``-th), initialise the model
    at :math:`x_t` from the data, iterate ``n_steps`` steps, and average the squared error
    against :math:`x_{t+n}` over start points and features:
    :math:`PE(n) = \frac{1}{|S| d}\sum_{t\in S} \|\hat x_{t+n} - x_{t+n}\|^2`.

    Parameters
    ----------
    model_or_step_fn : object with ``simulate(x0, n_steps)``, or callable
        A fitted model (``simulate`` returns the ``n_steps`` states after ``x0``), or a
        one-step map applied to a batch: ``f(states (m, d)) -> successors (m, d)``.
        Models that need a history window (delay embeddings) are called with one state,
        so pass them a step function that carries their own window instead.
    X : array-like of shape (n_samples, n_features)
        The test trajectory.
    n_steps : int
        Forecast horizon :math:`n` (the GTF default 20).
    stride : int
        Use every ``stride``-th start point (1 = all, as in the GTF code).

    Returns
    -------
    float
        :math:`PE(n)`; inf or NaN when the model diverges.

    Examples
    --------
    >>> import numpy as np
    >>> X = 0.5 ** np.arange(50.0)
    >>> prediction_error(lambda x: 0.5 * x, X, n_steps=5)  # the exact map: no error
    0.0
    """
    X = check_array(X, name="X", min_samples=2)
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}.")
    n_steps = int(n_steps)
    if X.shape[0] <= n_steps:
        raise ValueError(
            f"X has {X.shape[0]} samples; PE({n_steps}) needs more than {n_steps}."
        )
    starts = np.arange(0, X.shape[0] - n_steps, int(stride))
    target = X[starts + n_steps]
    with np.errstate(all="ignore"):
        if hasattr(model_or_step_fn, "simulate"):
            pred = np.empty_like(target)
            for row, t in enumerate(starts):
                traj = np.asarray(model_or_step_fn.simulate(X[t], n_steps))
                pred[row] = np.real(traj.reshape(n_steps, -1)[-1])
        elif callable(model_or_step_fn):
            pred = X[starts]
            for _ in range(n_steps):
                pred = np.asarray(model_or_step_fn(pred), dtype=float).reshape(target.shape)
        else:
            raise TypeError(
                "model_or_step_fn must have a simulate(x0, n_steps) method or be a callable "
                f"one-step map; got {type(model_or_step_fn).__name__}."
            )
        return float(np.mean((pred - target) ** 2))


def _forecast_error(true, pred, kind: str, scale) -> np.ndarray:
    diff = pred - true
    if kind == "nrmse":
        if scale is None:
            scale = true.std(axis=0)
        scale = np.asarray(scale, dtype=float).reshape(-1)
        if scale.size not in (1, true.shape[1]) or np.any(scale <= 0):
            raise ValueError(
                "scale must be positive, one value per feature; a constant true feature "
                "has std 0, so pass scale= (for example the training data's std)."
            )
        return np.sqrt(np.mean((diff / scale) ** 2, axis=1))
    if kind == "smape":
        return _smape_terms(true, pred, 200.0).mean(axis=1)
    raise ValueError(f"error must be 'nrmse' or 'smape', got {kind!r}.")


def valid_prediction_time(
    true,
    predicted,
    *,
    dt: float,
    lyapunov_exponent: float,
    threshold: float | None = None,
    error: str = "nrmse",
    scale=None,
) -> float:
    r"""Valid prediction time, in Lyapunov times :math:`\lambda_{max} t`.

    ``predicted[k]`` is the forecast ``k + 1`` steps after the initial condition. With a
    pointwise error :math:`e_k`, let :math:`k^*` be the first index with
    :math:`e_k > \varepsilon`; the forecast was valid for :math:`k^*` steps, and
    :math:`VPT = \lambda_{max}\, k^* \Delta t` (the full horizon ``len(predicted) * dt``
    times :math:`\lambda_{max}` if the error never exceeds :math:`\varepsilon`; then the
    value is a lower bound).

    Errors (``error``):

    * ``"nrmse"`` (default, :math:`\varepsilon = 0.4`):
      :math:`e_k = \sqrt{\frac1d\sum_i ((\hat x_{k,i} - x_{k,i})/\sigma_i)^2}` with
      :math:`\sigma_i` the standard deviation of each true feature over the given window
      (or ``scale``). This is the normalised-error criterion of Pathak et al. (PRL 120,
      024102, 2018, :math:`\varepsilon = 0.4`), with per-feature standard deviations in
      place of their RMS state norm, as in Vlachas et al. (Neural Networks 2020, who use
      :math:`\varepsilon = 0.5`).
    * ``"smape"`` (:math:`\varepsilon = 30`): :math:`e_k` is the sMAPE of step :math:`k`
      over features on the 0-200 scale. Gilpin (PRR 2023) reports forecast horizons in
      Lyapunov times with an sMAPE threshold; the exact value of :math:`\varepsilon` in that
      paper could not be checked here, so 30 is this library's choice, not a citation.

    Parameters
    ----------
    true, predicted : array-like of shape (n_steps, n_features)
        Aligned true and forecast trajectories.
    dt : float
        Sampling interval.
    lyapunov_exponent : float
        Largest Lyapunov exponent :math:`\lambda_{max} > 0` (per unit time).
    threshold : float, optional
        :math:`\varepsilon`; the default depends on ``error`` (0.4 or 30).
    error : {"nrmse", "smape"}
        Pointwise error.
    scale : float or array of shape (n_features,), optional
        Per-feature normalisation for ``"nrmse"`` (default: std of ``true``).

    Returns
    -------
    float
        Valid prediction time in Lyapunov times; 0 if the first step already fails (a
        diverged, NaN forecast fails there).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(1, 101) * 0.1  # forecast times (k + 1) dt
    >>> true = np.sin(t)
    >>> pred = true + 1e-3 * np.exp(t)  # error 1e-3 e^t crosses 0.4 at t = ln 400 = 5.99
    >>> round(valid_prediction_time(true, pred, dt=0.1, lyapunov_exponent=1.0, scale=1.0), 6)
    5.9
    """
    true, pred, _ = _check_pair(true, predicted, "predicted", same_length=True)
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number, got {dt!r}.")
    if not (np.isfinite(lyapunov_exponent) and lyapunov_exponent > 0):
        raise ValueError(
            f"lyapunov_exponent must be positive (a chaotic system), got {lyapunov_exponent!r}."
        )
    if error not in ("nrmse", "smape"):
        raise ValueError(f"error must be 'nrmse' or 'smape', got {error!r}.")
    if threshold is None:
        threshold = 0.4 if error == "nrmse" else 30.0
    with np.errstate(all="ignore"):
        e = _forecast_error(true, pred, error, scale)
    # NaN errors (a diverged forecast) count as exceeding the threshold.
    exceeded = np.flatnonzero(~(e <= threshold))
    k_star = int(exceeded[0]) if exceeded.size else e.size
    return float(k_star * dt * lyapunov_exponent)


def _smape_terms(true: np.ndarray, pred: np.ndarray, scale: float) -> np.ndarray:
    num = np.abs(pred - true)
    den = np.abs(pred) + np.abs(true)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    terms[np.isnan(pred)] = np.nan
    return scale * terms


def smape(true, predicted, *, scale: float = 200.0) -> float:
    r"""Symmetric mean absolute percentage error.

    :math:`sMAPE = \frac{c}{n}\sum \frac{|\hat x - x|}{|\hat x| + |x|}`, the mean over all
    time steps and features, with terms where :math:`\hat x = x = 0` counted as 0.

    The factor :math:`c` is the convention to watch: ``scale=200`` (default) is the dysts
    2021 benchmark's (range 0-200; the published baselines use it); ``scale=100`` is dysts
    HEAD's ``smape(scaled=True)`` (range 0-100). Values differ by exactly a factor 2.

    Parameters
    ----------
    true, predicted : array-like of shape (n_samples, n_features) or (n_samples,)
    scale : float
        The factor :math:`c`.

    Returns
    -------
    float
        NaN if ``predicted`` holds NaN; inf values give the maximal term :math:`c`.

    Examples
    --------
    >>> smape([1.0, 2.0], [1.0, 4.0])  # 200 * mean([0, 2/6])
    33.33333333333333
    """
    true, pred, finite = _check_pair(true, predicted, "predicted", same_length=True)
    if not scale > 0:
        raise ValueError(f"scale must be positive (200 or 100), got {scale!r}.")
    if np.isnan(pred).any():
        return float("nan")
    terms = _smape_terms(true, pred, float(scale))
    if not finite:
        # |inf - x| / (|inf| + |x|) -> 1: an infinite forecast gets the largest term.
        terms[np.isinf(pred)] = scale
    return float(terms.mean())


def rmse(true, predicted) -> float:
    r"""Root-mean-square error :math:`\sqrt{\frac1{nd}\sum (\hat x - x)^2}` over all entries.

    Examples
    --------
    >>> rmse([0.0, 0.0], [3.0, 4.0])  # sqrt((9 + 16) / 2)
    3.5355339059327378
    """
    true, pred, _ = _check_pair(true, predicted, "predicted", same_length=True)
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.mean((pred - true) ** 2)))
