"""The blog's study in one call: statistics, models, cross-validated NDCG, comparisons.

:func:`run_study` is what ``alsrec demo`` and ``alsrec evaluate`` run; it only
composes the public pieces (``describe``, ``cross_validate``, ``compare``,
``recommend``), and returns everything a report needs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from alsrec.data.interactions import Interactions
from alsrec.data.stats import DataStats, describe
from alsrec.evaluation.compare import Comparison
from alsrec.evaluation.metrics import parse_metric
from alsrec.evaluation.runner import CVResult, clone, cross_validate
from alsrec.models.explain import reasons

# A fixed zeros configuration TUNED ON ml-latest-small's blog protocol (seeds 100 and 101,
# never the reported seeds 0-2). It does not transfer to other data (Last.fm, ml-100k:
# see the README); its name says where it comes from.
ZEROS_TUNED_ON_ML_LATEST_SMALL = {
    "unobserved_weight": 0.1,
    "factors": 64,
    "regularization": 0.05,
    "reg_exponent": 1.0,
}


@dataclass
class StudyResult:
    """Everything the study computed.

    ``params`` holds every model's constructor parameters (``get_params()``,
    with a preset's defaults in place of None), by model name; ``recommender``
    names the model whose ``recommendations`` (fitted on all data) are shown.
    """

    data_name: str
    stats: DataStats
    user_counts: Any
    protocol: str
    metrics: list[str]
    seeds: list[int]
    cv: CVResult
    summary: pd.DataFrame
    comparisons: list[Comparison]
    recommendations: pd.DataFrame | None
    example_user: Any
    seconds: float
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    recommender: str | None = None
    extra: dict = field(default_factory=dict)


def run_study(
    data: Interactions,
    models: Mapping[str, Any],
    protocol: Any,
    metrics: Sequence[str] = ("ndcg@20",),
    seeds: Sequence[int] = (0,),
    reference: str | None = None,
    example_user: Any = None,
    n_recommendations: int = 10,
    show_progress: bool = False,
) -> StudyResult:
    """Cross-validate ``models`` and compare each with ``reference``.

    Parameters
    ----------
    data : Interactions
        The data set.
    models : mapping of name to estimator
        What to evaluate (the first is the one whose recommendations are shown).
    protocol : protocol object
        See :mod:`alsrec.evaluation.protocols`.
    metrics, seeds
        As in :func:`cross_validate`; the first metric drives comparisons.
    reference : str, optional
        Compare every other model with this one (default: the first model).
    example_user : id, optional
        Whose recommendations to show (default: the first user).
    n_recommendations : int
        How many.
    """
    started = time.perf_counter()
    cv = cross_validate(models, data, protocol, metrics, seeds, show_progress)
    names = list(models)
    reference = reference or names[0]
    metric = parse_metric(metrics[0])
    comparisons = [cv.compare(reference, other, metric) for other in names if other != reference]
    user = data.user_ids[0] if example_user is None else example_user
    shown = clone(models[names[0]]).fit(data)
    recommendations = shown.recommend(user, n=n_recommendations)
    extra: dict[str, Any] = {}
    if getattr(shown, "can_fold_in", False) and len(recommendations):
        # "because you rated": the exact decomposition of the top items' scores
        extra["reasons"] = reasons(shown, user, recommendations["item"].head(3), top=3)
    if getattr(shown, "study_", None) is not None:  # a tuned model: its search on all data
        extra["study"] = shown.study_
    return StudyResult(
        data_name=data.name or "data",
        stats=describe(data),
        user_counts=data.user_counts(),
        protocol=getattr(protocol, "name", type(protocol).__name__),
        metrics=[parse_metric(m).name for m in metrics],
        seeds=list(seeds),
        cv=cv,
        summary=cv.summary(),
        comparisons=comparisons,
        recommendations=recommendations,
        example_user=user,
        seconds=time.perf_counter() - started,
        params={name: effective_params(model) for name, model in models.items()},
        recommender=names[0],
        extra=extra,
    )


def effective_params(model: Any) -> dict[str, Any]:
    """``model.get_params()`` with the preset's defaults in place of None, where known.

    An ALS built as ``ALS("zeros")`` stores ``factors=None`` meaning "the
    preset's value"; a reader of a report wants the number (20).
    """
    params = dict(model.get_params())
    preset = params.get("preset")
    if isinstance(preset, str):
        from alsrec.models.objective import preset_defaults

        for key, value in preset_defaults(preset).items():
            if key in params and params[key] is None:
                params[key] = value
    return params
