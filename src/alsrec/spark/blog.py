"""The blog's comparison: its ALS against Spark's, on the blog's protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alsrec.data.interactions import Interactions
from alsrec.evaluation.protocols import BlogProtocol
from alsrec.evaluation.study import StudyResult, run_study
from alsrec.models.als import ALS
from alsrec.models.baselines import Popularity
from alsrec.models.objective import BLOG_PARAMS
from alsrec.spark.als import MLlibALS


def compare_with_spark(
    data: Interactions,
    seeds: Sequence[int] = (0,),
    spark: Any = None,
    include_dense: bool = True,
    show_progress: bool = False,
) -> StudyResult:
    """alsrec's ``zeros`` preset vs Spark fed every cell vs Spark on ratings vs popularity.

    Every model is scored on the same folds of the blog's protocol (NDCG@20);
    the result's ``cv.per_fold`` holds fit times, and
    ``alsrec.report.write_report`` draws the blog's overlaid histograms.

    Parameters
    ----------
    data : Interactions
        e.g. ``load_movielens("ml-latest-small")``.
    seeds : sequence of int
        Splits to average over.
    spark : SparkSession, optional
        Default: a local session.
    include_dense : bool
        Spark on every cell takes minutes on one machine (n_users * n_items rows).
    """
    # the blog's hyperparameters for every model, so the comparison is like for like
    common = {**BLOG_PARAMS, "random_state": 0, "spark": spark}
    models: dict[str, Any] = {"alsrec-zeros": ALS("zeros", random_state=0)}
    if include_dense:
        models["spark-dense"] = MLlibALS(dense=True, **common)
    models["spark-ratings"] = MLlibALS(dense=False, **common)
    models["popularity"] = Popularity()
    return run_study(data, models, BlogProtocol(), ["ndcg@20"], seeds, show_progress=show_progress)
