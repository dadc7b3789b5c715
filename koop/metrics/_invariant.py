"""Long-term statistics of a generated trajectory: D_stsp and D_H (Hess et al. 2023)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.special import logsumexp
from sklearn.utils import check_random_state

from koop.metrics._checks import _check_pair

__all__ = ["state_space_divergence", "power_spectrum_distance"]


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
