"""Benchmark suites: Koopman forecasters across the dysts chaotic-systems database.

Needs the optional ``dysts`` package (``pip install koop[bench]``), imported only when a
suite runs. Command line: ``koop benchmark dysts [--quick] [--systems ...]``.
"""

from koop.bench._dysts_data import DystsData, IntegrationError, list_systems, make_dataset
from koop.bench._dysts_suite import QUICK_SYSTEMS, SMAPE_SCALE, VPT_THRESHOLD, dysts_suite
from koop.bench._methods import ForecastMethod, default_methods
from koop.bench._report import plot_summary, summarize, summary_statistics, write_results
from koop.bench.baselines import PUBLISHED_MEDIAN_SMAPE, PUBLISHED_SMAPE, published_table

__all__ = [
    "dysts_suite",
    "make_dataset",
    "list_systems",
    "DystsData",
    "IntegrationError",
    "ForecastMethod",
    "default_methods",
    "summarize",
    "summary_statistics",
    "plot_summary",
    "write_results",
    "published_table",
    "PUBLISHED_SMAPE",
    "PUBLISHED_MEDIAN_SMAPE",
    "QUICK_SYSTEMS",
    "SMAPE_SCALE",
    "VPT_THRESHOLD",
]
