"""Benchmark suites: Koopman forecasters across the dysts chaotic-systems database.

Needs the optional ``dysts`` package (``pip install koop[bench]``), imported only when a
suite runs. Command line: ``koop benchmark dysts [--quick] [--systems ...]``.

* data: :func:`make_dataset`, :func:`list_systems` (a fixed integrator rule, seeded
  initial conditions);
* protocol: :func:`holdout`, :func:`forecast`, :func:`score` (split, fit, forecast from
  the end of the history, sMAPE and valid prediction times);
* tuning: :func:`tune` (per system, on the train trajectory, a budget of candidates);
* the sweep: :func:`dysts_suite`; summaries: :func:`summarize`, :func:`plot_summary`,
  :func:`write_results`, :func:`published_table`.
"""

from koop.bench._dysts_data import (
    MAX_EXPLICIT_RHS_EVALS,
    DystsData,
    IntegrationError,
    check_systems,
    import_dysts,
    list_systems,
    make_dataset,
)
from koop.bench._dysts_suite import BEST, QUICK_SYSTEMS, chosen_params, dysts_suite
from koop.bench._methods import ForecastMethod, default_methods, tuned_methods
from koop.bench._protocol import (
    SMAPE_SCALE,
    VPT_SMAPE_THRESHOLD,
    VPT_THRESHOLD,
    Forecast,
    forecast,
    holdout,
    mode_forecast,
    score,
)
from koop.bench._report import plot_summary, summarize, summary_statistics, write_results
from koop.bench._tuning import DEFAULT_BUDGET, DEFAULT_ORIGINS, Tuned, TuningError, tune
from koop.bench.baselines import PUBLISHED_MEDIAN_SMAPE, PUBLISHED_SMAPE, published_table

__all__ = [
    "dysts_suite",
    "import_dysts",
    "chosen_params",
    "make_dataset",
    "list_systems",
    "check_systems",
    "DystsData",
    "IntegrationError",
    "MAX_EXPLICIT_RHS_EVALS",
    "ForecastMethod",
    "default_methods",
    "tuned_methods",
    "holdout",
    "forecast",
    "mode_forecast",
    "score",
    "Forecast",
    "tune",
    "Tuned",
    "TuningError",
    "DEFAULT_BUDGET",
    "DEFAULT_ORIGINS",
    "summarize",
    "summary_statistics",
    "plot_summary",
    "write_results",
    "published_table",
    "PUBLISHED_SMAPE",
    "PUBLISHED_MEDIAN_SMAPE",
    "QUICK_SYSTEMS",
    "BEST",
    "SMAPE_SCALE",
    "VPT_THRESHOLD",
    "VPT_SMAPE_THRESHOLD",
]
