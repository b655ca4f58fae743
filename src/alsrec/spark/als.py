"""``MLlibALS`` (alias ``SparkALS``): Spark MLlib ALS behind alsrec's API and model type.

Parameter mapping (alsrec -> ``pyspark.ml.recommendation.ALS``)::

    factors -> rank              regularization -> regParam     iterations -> maxIter
    alpha -> alpha               implicit -> implicitPrefs      nonnegative -> nonnegative
    random_state -> seed         num_blocks -> numUserBlocks = numItemBlocks

Spark regularises each row by ``regParam * n_u`` (n_u = the row's observed
ratings; in implicit mode, its positive ratings). So:

- explicit MLlibALS(regularization=l) is exactly
  ``ALS("explicit", regularization=l, use_biases=False)`` (reg_exponent 1, w0 0);
- implicit MLlibALS(regularization=l, alpha=a) is exactly
  ``ALS("implicit", regularization=l, alpha=a, reg_exponent=1, count_unobserved=...)``
  with c = 1 + a r, which :func:`spark_counterpart` builds.

``dense=True`` feeds Spark every cell of the users x items matrix with missing
ratings as 0.0, as the blog does (n_users * n_items rows).
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from alsrec.data.interactions import Interactions
from alsrec.errors import AlsrecError, DataError, ParameterError
from alsrec.models.base import FactorModel
from alsrec.models.objective import Objective
from alsrec.models.params import Param, check_params, positive_int


@contextmanager
def _quiet_pandas_check():
    """pyspark warns that it does not yet support pandas 3; the columns alsrec sends are
    plain int32/float32 numbers, which it handles, so that warning only adds noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        yield


def spark_objective(implicit: bool, regularization: float, alpha: float, dense: bool) -> Objective:
    """The alsrec objective that Spark's ALS minimises for these settings."""
    if implicit:
        return Objective(
            1.0, "linear", alpha, "one", regularization, 1.0, False, count_unobserved=False
        )
    if dense:  # every cell is an explicit rating: the zeros model with lambda * n_items
        return Objective(
            1.0, "one", 0.0, "value", regularization, 1.0, False, count_unobserved=False
        )
    return Objective(0.0, "one", 0.0, "value", regularization, 1.0, False, count_unobserved=False)


def spark_counterpart(model: MLlibALS, **overrides: Any):
    """The ``alsrec.ALS`` that minimises exactly what ``model`` asks Spark to minimise."""
    from alsrec.models.als import ALS

    if model.dense:
        raise ParameterError("dense Spark models have no exact alsrec counterpart; use 'zeros'.")
    objective = spark_objective(model.implicit, model.regularization, model.alpha, False)
    preset = "implicit" if model.implicit else "explicit"
    params = {
        "factors": model.factors,
        "regularization": model.regularization,
        "alpha": objective.alpha if model.implicit else None,
        "confidence": objective.confidence,
        "unobserved_weight": objective.unobserved_weight,
        "target": objective.target,
        "reg_exponent": 1.0,
        "use_biases": False,
        "count_unobserved": False,
        "iterations": model.iterations,
        "random_state": model.random_state,
        "solver": "cholesky",  # Spark solves every row exactly
    }
    return ALS(preset, **{**params, **overrides})


# Catalog name "SparkALS": model files carry it (files exist, so it never changes);
# "MLlibALS" is accepted from files too.
class MLlibALS(
    FactorModel,
    name="SparkALS",
    aliases=("MLlibALS",),
    specs={"spark": {"dense": False}, "spark-dense": {"dense": True}},
    requires=("pyspark", "pip install 'alsrec[spark]'"),
):
    """Spark MLlib ALS behind alsrec's estimator API.

    Parameters
    ----------
    factors, regularization, iterations, alpha : as in :class:`alsrec.ALS`
    implicit : bool
        Spark's ``implicitPrefs`` (Hu et al. with c = 1 + alpha |r|).
    nonnegative : bool
        Non-negative least squares.
    random_state : int
        Spark's seed.
    dense : bool
        Feed every cell with missing ratings as 0.0 (the blog's way).
    num_blocks : int, optional
        User and item blocks (Spark's default: 10).
    spark : SparkSession, optional
        The session to use; default :func:`~alsrec.spark.local_session`.
    """

    parameters = (
        positive_int("factors"),
        Param("regularization", "number", 0.0),
        positive_int("iterations"),
        Param("alpha", "number", 0.0),
        Param("implicit", "bool"),
        Param("nonnegative", "bool"),
        Param("random_state", "int", 0.0),
        Param("dense", "bool"),
        Param("num_blocks", "int", 1.0, optional=True),
    )

    def __init__(
        self,
        factors: int = 10,
        regularization: float = 0.1,
        iterations: int = 10,
        alpha: float = 1.0,
        implicit: bool = False,
        nonnegative: bool = False,
        random_state: int = 0,
        dense: bool = False,
        num_blocks: int | None = None,
        spark: Any = None,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.implicit = implicit
        self.nonnegative = nonnegative
        self.random_state = random_state
        self.dense = dense
        self.num_blocks = num_blocks
        self.spark = spark

    # ------------------------------------------------------------------ input
    def _session(self):
        from alsrec.spark.session import local_session

        return self.spark if self.spark is not None else local_session()

    @staticmethod
    def _to_interactions(data: Any) -> Interactions:
        if isinstance(data, Interactions):
            return data
        if isinstance(data, pd.DataFrame):
            return Interactions.from_dataframe(data)
        if type(data).__module__.startswith("pyspark"):
            return _from_spark_frame(data)
        raise DataError(
            f"MLlibALS.fit takes alsrec Interactions, a pandas DataFrame or a Spark DataFrame, "
            f"not {type(data).__name__}."
        )

    def _spark_frame(self, session, data: Interactions):
        """Index-coded (user, item, rating) rows as a Spark DataFrame, sent through Arrow."""
        if self.dense:
            users = np.repeat(np.arange(data.n_users, dtype=np.int32), data.n_items)
            items = np.tile(np.arange(data.n_items, dtype=np.int32), data.n_users)
            ratings = data.matrix.toarray().astype(np.float32).ravel()
        else:
            users = data.row_indices().astype(np.int32)
            items = data.matrix.indices.astype(np.int32)
            ratings = data.matrix.data.astype(np.float32)
        frame = pd.DataFrame({"user": users, "item": items, "rating": ratings})
        with _quiet_pandas_check():
            return session.createDataFrame(frame)

    # ------------------------------------------------------------------ fit
    def fit(self, data: Any) -> MLlibALS:
        """Train on Spark; the factors come back into this alsrec model. Returns self."""
        check_params(self.get_params(), self.parameters)
        try:
            from pyspark.ml.recommendation import ALS as SparkMLALS
        except ImportError:
            raise AlsrecError("MLlibALS needs pyspark: pip install 'alsrec[spark]'") from None
        interactions = self._to_interactions(data)
        if max(interactions.shape) > np.iinfo(np.int32).max:
            raise DataError("Spark ALS needs user and item counts that fit in int32.")
        session = self._session()
        frame = self._spark_frame(session, interactions)
        blocks = self.num_blocks or 10
        estimator = SparkMLALS(
            rank=int(self.factors),
            maxIter=int(self.iterations),
            regParam=float(self.regularization),
            alpha=float(self.alpha),
            implicitPrefs=bool(self.implicit),
            nonnegative=bool(self.nonnegative),
            seed=int(self.random_state),
            userCol="user",
            itemCol="item",
            ratingCol="rating",
            numUserBlocks=blocks,
            numItemBlocks=blocks,
            checkpointInterval=10,
            coldStartStrategy="nan",
        )
        spark_model = estimator.fit(frame)
        with _quiet_pandas_check():
            user_factors = _collect_factors(
                spark_model.userFactors, interactions.n_users, self.factors
            )
            item_factors = _collect_factors(
                spark_model.itemFactors, interactions.n_items, self.factors
            )
        self._clear_fitted()
        self._set_fitted(
            interactions,
            user_factors,
            item_factors,
            objective=spark_objective(self.implicit, self.regularization, self.alpha, self.dense),
        )
        self.spark_model_ = spark_model
        return self

    # ------------------------------------------------------------------ at scale
    def recommend_all_to_parquet(
        self, path: str | os.PathLike[str], n: int = 10, filter_seen: bool = True
    ) -> str:
        """Top-``n`` items for every user computed inside Spark, written as Parquet.

        For data too large to collect. Spark's ``recommendForAllUsers`` does not
        remove seen items; this asks it for ``n`` plus the largest number of
        items any user has seen, removes the seen ones, and keeps the best
        ``n``: exact, since no user can lose more than that many. Columns:
        ``user``, ``rank``, ``item``, ``score`` (raw ids).
        """
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        self._require_fitted()
        model = getattr(self, "spark_model_", None)
        if model is None:
            raise ParameterError("this model was loaded from a file; refit it on Spark first.")
        session = self._session()
        extra = int(np.diff(self.seen_.indptr).max()) if filter_seen else 0
        exploded = (
            model.recommendForAllUsers(n + extra)
            .select("user", F.explode("recommendations").alias("r"))
            .select("user", F.col("r.item").alias("item"), F.col("r.rating").alias("score"))
        )
        if filter_seen:
            seen = self.seen_.tocoo()
            seen_frame = session.createDataFrame(
                pd.DataFrame({"user": seen.row.astype(np.int32), "item": seen.col.astype(np.int32)})
            )
            exploded = exploded.join(seen_frame, ["user", "item"], "left_anti")
        window = Window.partitionBy("user").orderBy(F.desc("score"), F.asc("item"))
        ranked = exploded.withColumn("rank", F.row_number().over(window)).where(F.col("rank") <= n)
        users = session.createDataFrame(
            pd.DataFrame(
                {
                    "user": np.arange(self.n_users, dtype=np.int32),
                    "user_id": self.user_ids_.astype(str)
                    if self.user_ids_.dtype == object
                    else self.user_ids_,
                }
            )
        )
        items = session.createDataFrame(
            pd.DataFrame(
                {
                    "item": np.arange(self.n_items, dtype=np.int32),
                    "item_id": self.item_ids_.astype(str)
                    if self.item_ids_.dtype == object
                    else self.item_ids_,
                }
            )
        )
        result = (
            ranked.join(users, "user")
            .join(items, "item")
            .select(F.col("user_id").alias("user"), "rank", F.col("item_id").alias("item"), "score")
        )
        result.write.mode("overwrite").parquet(str(path))
        return str(path)


# The historical name: tests, the CLI and saved files use it.
SparkALS = MLlibALS


def _collect_factors(frame, count: int, rank: int) -> np.ndarray:
    """Spark's (id, features) rows as a dense float32 array indexed by id."""
    pdf = frame.toPandas()
    out = np.zeros((count, rank), dtype=np.float32)
    if len(pdf):
        out[pdf["id"].to_numpy()] = np.stack(pdf["features"].to_numpy()).astype(np.float32)
    return out


def _from_spark_frame(frame) -> Interactions:
    """Collect a Spark DataFrame of (user, item[, rating]) into Interactions, ids kept raw."""
    with _quiet_pandas_check():
        return Interactions.from_dataframe(frame.toPandas())
