"""Models by name, so configuration files and the CLI can name them.

=================  =============================================================
name               model
=================  =============================================================
``zeros``          ``ALS("zeros")``: the blog's missing-as-zero model
``implicit``       ``ALS("implicit")``: Hu, Koren & Volinsky
``explicit``       ``ALS("explicit")``: ratings with biases (ALS-WR)
``bayesian``       :class:`~alsrec.models.bayesian.BayesianALS`: Gibbs-sampled BPMF with biases
``popularity``     :class:`~alsrec.models.baselines.Popularity`
``random``         :class:`~alsrec.models.baselines.RandomModel`
``implicit-lib``   the implicit library's ALS (:class:`~alsrec.evaluation.peers.ImplicitALS`)
``spark``          Spark MLlib ALS on observed ratings (``alsrec.spark.SparkALS``)
``spark-dense``    Spark MLlib ALS fed every cell, missing = 0, as the blog does
=================  =============================================================
"""

from __future__ import annotations

from typing import Any

from alsrec.errors import ParameterError

MODEL_NAMES = (
    "zeros",
    "implicit",
    "explicit",
    "bayesian",
    "popularity",
    "random",
    "implicit-lib",
    "spark",
    "spark-dense",
)


def make_model(name: str, **params: Any):
    """A fresh, unfitted model called ``name`` with parameter overrides."""
    from alsrec.models.als import ALS
    from alsrec.models.baselines import Popularity, RandomModel

    try:
        if name in ("zeros", "implicit", "explicit"):
            return ALS(name, **params)
        if name == "bayesian":
            from alsrec.models.bayesian import BayesianALS

            return BayesianALS(**params)
        if name == "popularity":
            return Popularity(**params)
        if name == "random":
            return RandomModel(**params)
        if name == "implicit-lib":
            from alsrec.evaluation.peers import ImplicitALS

            return ImplicitALS(**params)
        if name in ("spark", "spark-dense"):
            try:
                from alsrec.spark import SparkALS
            except ImportError:
                raise ParameterError(
                    f"model {name!r} needs pyspark: pip install 'alsrec[spark]'"
                ) from None
            return SparkALS(dense=name == "spark-dense", **params)
    except TypeError as exc:
        raise ParameterError(f"model {name!r}: {exc}") from None
    raise ParameterError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}.")
