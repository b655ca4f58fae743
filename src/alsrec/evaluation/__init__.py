"""Evaluation: protocols, metrics, cross-validation, comparisons, tuning.

Evaluation talks to models only through their public API (``get_params``,
``fit``, ``score_users``), so any estimator can be scored on the same folds.
"""

from alsrec.evaluation.compare import Comparison, bootstrap_mean_interval, paired_comparison
from alsrec.evaluation.metrics import Metric, parse_metric
from alsrec.evaluation.protocols import (
    PROTOCOLS,
    BlogProtocol,
    Fold,
    RandomHoldout,
    TemporalSplit,
    UserCrossFold,
)
from alsrec.evaluation.runner import CVResult, cross_validate
from alsrec.evaluation.tuning import SearchResult, Tuned, search

__all__ = [
    "PROTOCOLS",
    "BlogProtocol",
    "CVResult",
    "Comparison",
    "Fold",
    "Metric",
    "RandomHoldout",
    "SearchResult",
    "TemporalSplit",
    "Tuned",
    "UserCrossFold",
    "bootstrap_mean_interval",
    "cross_validate",
    "paired_comparison",
    "parse_metric",
    "search",
]
