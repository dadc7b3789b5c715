"""Forecast and reconstruction metrics for dynamical-systems models.

Two families:

* **Long-term (invariant) statistics** of a generated trajectory against a true one, as in
  the dynamical-systems-reconstruction literature (Hess et al., ICML 2023, the GTF paper):
  the state-space divergence :math:`D_{stsp}` (:func:`state_space_divergence`) and the
  power-spectrum Hellinger distance :math:`D_H` (:func:`power_spectrum_distance`). They
  compare distributions, so the two trajectories need not be aligned in time.
* **The protocol** that runs a model from data, the same everywhere in koop:
  :func:`forecast` (forecasts from chosen start samples), :func:`free_run` (a generated
  trajectory from the first state) and :func:`reconstruction_scores` (the GTF paper's
  evaluation: free run of 1.25 T, 0.25 T dropped, :math:`D_{stsp}`, :math:`D_H`,
  :math:`PE(20)`).
* **Short-term forecast errors**: the n-step prediction error :math:`PE(n)`
  (:func:`prediction_error`), the valid prediction time in Lyapunov times
  (:func:`valid_prediction_time`), sMAPE (:func:`smape`) and RMSE (:func:`rmse`).

Diverged models: a *generated* or *predicted* series that holds NaN or inf (a model that
blew up) is not an input error. :func:`state_space_divergence` and
:func:`power_spectrum_distance` then return NaN (the GTF code returns NaN for such runs
and drops them from its summaries); the forecast errors become inf or NaN. A *true*
series with NaN or inf raises ``ValueError``.

The invariant statistics live in ``koop/metrics/_invariant.py``, the forecast errors in
``koop/metrics/_forecast.py``, the protocol in ``koop/metrics/_protocol.py``; the metrics
validate inputs through ``_check_pair`` (``_checks.py``).
"""

from koop.metrics._forecast import prediction_error, rmse, smape, valid_prediction_time
from koop.metrics._invariant import power_spectrum_distance, state_space_divergence
from koop.metrics._protocol import forecast, free_run, reconstruction_scores

__all__ = [
    "state_space_divergence",
    "power_spectrum_distance",
    "prediction_error",
    "valid_prediction_time",
    "smape",
    "rmse",
    "forecast",
    "free_run",
    "reconstruction_scores",
]
