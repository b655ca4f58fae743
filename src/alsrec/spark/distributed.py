"""alsrec's own objectives trained on Spark executors (``ALS(..., backend="spark")``).

The interactions stay a Spark DataFrame, cut twice into CSR blocks: by user
(each block holds whole user rows) and by item (whole item columns); see
:mod:`alsrec.spark.blocks`. Each half-step

1. broadcasts the fixed side's factors to the executors (``sc.broadcast``);
2. ships the shared ``w0 Y^T Y``, summed on the driver at the end of the
   previous half-step from the blocks' partial Grams;
3. solves every block's rows with alsrec's numba kernels inside
   ``mapInArrow`` (one Arrow row per block: no per-row Python);
4. returns a factor DataFrame (one row per block) holding the new rows, the
   block's partial Gram, its penalty and (item half-step, where the loss is
   read) its observed loss terms, so the exact objective comes from
   distributed partial sums:  L = observed + w0 <X^T X, Y^T Y> + penalties.
   One Spark action (an Arrow collection of one row per block) ends each
   half-step: the factor rows must reach the driver for the next broadcast,
   and the partial sums ride along, so a half-step is one Spark job.

Two routings of the fixed side's factors (``routing=``):

- ``"broadcast"``: the driver and every executor hold one side's factors,
  (n_users + n_items) x k values at most (see the README's memory table).
  Each half-step restarts from a broadcast and nothing is cached per step;
  the fitted factor frames are made once from the factors the driver holds,
  and checkpointed.
- ``"blocks"`` (MLlib-style): factors stay DataFrames of blocks on the
  executors and never reach the driver during training. A routing table,
  built once on the cluster, lists for every (fixed block, solving block)
  pair the fixed rows the solving block's cells touch; each half-step joins
  the fixed factor blocks with it (the table is cached partitioned by fixed
  block, so only the factor blocks move to the join), so each solving block
  receives only the rows it needs, and cogroups those pieces with the block
  (the cached blocks are partitioned by block, one block per partition, so
  the interactions stay put). The driver sums k x k partial Grams and the
  loss terms. Each step's factors are checkpointed locally (the lineage stays
  one step long) and the previous step's released; a local checkpoint lives
  on its executor, so the executors must stay up for the fit (a lost one
  fails it, as with MLlib between its checkpoints).

``"auto"`` broadcasts while both factor matrices together stay under
:data:`BROADCAST_LIMIT_BYTES`. The final factors are checkpointed (reliably
when the context has a checkpoint folder) so outputs written later do not
recompute training. Interactions are never collected: ids are indexed on the
cluster, biases and counts come back as per-row aggregates (one number per
row, broadcast).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from alsrec.data.interactions import (
    ITEM_COLUMN_ALIASES,
    RATING_COLUMN_ALIASES,
    USER_COLUMN_ALIASES,
    Interactions,
)
from alsrec.errors import DataError, NumericalError, ParameterError
from alsrec.models.als import ALS, register_fit_backend
from alsrec.models.objective import Objective
from alsrec.models.training import converged
from alsrec.spark import blocks as B
from alsrec.spark.output import SparkFactors, _gather, place_rows

BIAS_SWEEPS = 3  # as alsrec.models.training.fit_biases
# routing="auto" broadcasts while (n_users + n_items) x k factor values fit in this: above
# it a broadcast copy per executor (and the driver's) costs more than routing pieces
BROADCAST_LIMIT_BYTES = 512 * 2**20
ROUTINGS = ("auto", "broadcast", "blocks")


@dataclass
class _Side:
    """One orientation of the interactions: its persisted CSR blocks and their value dtype."""

    blocks: Any
    dtype: Any


def fit_spark(
    estimator: ALS,
    data: Any,
    spark: Any = None,
    num_blocks: int | None = None,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    routing: str = "auto",
) -> ALS:
    """Fit ``estimator`` (an :class:`alsrec.ALS`) on Spark executors; returns it fitted.

    Parameters
    ----------
    estimator : ALS
        Any preset and settings; ``solver``, ``cg_steps``, ``dtype``,
        ``random_state``, ``callback``, ``tol`` and ``compute_loss`` act as in
        the single-machine fit (no progress bar is drawn).
    data : pyspark.sql.DataFrame or Interactions
        A DataFrame of (user, item[, rating]) rows with ids of any type, or
        alsrec Interactions (sent to the cluster through Arrow).
    spark : SparkSession, optional
        Default: the DataFrame's session, else :func:`~alsrec.spark.local_session`.
    num_blocks : int, optional
        Blocks per orientation (default: the session's default parallelism).
    user_col, item_col, rating_col : str, optional
        Column names of a DataFrame (common names are tried, as in
        ``Interactions.from_dataframe``; no rating column means every value is 1).
    routing : {"auto", "broadcast", "blocks"}
        How the fixed side's factors reach the executors each half-step (see
        the module notes): broadcast whole, or routed in blocks so each block
        gets only the rows it touches and the driver never holds factors
        while training. "auto" broadcasts while both factor matrices fit in
        :data:`BROADCAST_LIMIT_BYTES`.

    Returns
    -------
    ALS
        ``estimator`` with the single-machine fitted attributes (factors and ids
        on the driver, gathered once after training) plus
        ``spark_factors_``, a :class:`~alsrec.spark.output.SparkFactors` for
        outputs written from the executors. With a DataFrame input the items
        each user saw stay on the cluster: ``seen_`` is empty, so use
        ``spark_factors_.recommend_all_to_parquet`` (which removes seen items)
        rather than ``recommend`` with ``filter_seen``.
    """
    objective, k, iterations, dtype, _ = estimator._settings()
    try:
        import pyspark  # noqa: F401  (this package imports it lazily)
    except ImportError:
        raise ParameterError(
            "backend='spark' needs pyspark: pip install 'alsrec[spark]'."
        ) from None
    session = _session(data, spark)
    long, users, items, local = _prepare(session, data, user_col, item_col, rating_col, dtype)
    n_users, n_items = users.n, items.n
    if k > min(n_users, n_items):
        import warnings

        warnings.warn(
            f"factors={k} exceeds min(n_users, n_items)={min(n_users, n_items)}: the extra "
            f"dimensions can only fit noise; regularization keeps the solution defined.",
            stacklevel=2,
        )
    if max(n_users, n_items) > np.iinfo(np.int32).max:
        raise DataError(
            f"{n_users} users and {n_items} items: the Spark blocks index columns with "
            f"32-bit integers, so each side must have fewer than 2^31 ids."
        )
    parts = int(num_blocks or session.sparkContext.defaultParallelism)
    if parts < 1:
        raise ParameterError(f"num_blocks={num_blocks!r} must be a positive whole number.")
    routed = _routed(routing, n_users, n_items, k, dtype)
    keys = _partition_keys(session, parts) if routed else None
    by_user = _blocks(long, "u", "i", parts, dtype, keys)
    by_item = _blocks(long, "i", "u", parts, dtype, keys)
    if objective.confidence != "one" and long.agg({"v": "min"}).first()[0] < 0:
        raise DataError(
            "implicit confidences need values >= 0, but the data holds negative values; "
            "use preset='explicit' for signed ratings."
        )
    sc = session.sparkContext
    mu, user_bias, item_bias = 0.0, None, None
    if objective.use_biases:
        mu, user_bias, item_bias = _fit_biases(
            sc, long, by_user, by_item, n_users, n_items, objective
        )
        by_user = _residual(sc, by_user, dtype, mu, user_bias, item_bias, parts, routed)
        by_item = _residual(sc, by_item, dtype, mu, item_bias, user_bias, parts, routed)
    rng = np.random.default_rng(estimator.random_state)
    y = rng.standard_normal((n_items, k), dtype=dtype)
    y *= 0.01  # as the single-machine fit, so the same seed gives the same factors
    item_gram = B._gram(y)
    history: list[float] = []
    start = time.perf_counter()
    steps = None
    solver, cg_steps = estimator.resolved_solver(), estimator.cg_steps
    if routed:  # the fixed side as a DataFrame of factor blocks; x starts at zero
        user_routes, item_routes = _routes(by_user, by_item), _routes(by_item, by_user)
        y, x = _initial_frame(sc, by_item, y, k, dtype), None
        start_frame = y
    else:
        x = np.zeros((n_users, k), dtype=dtype)
    # as on one machine: the observed loss terms cost a pass over the interactions, so
    # they are computed only where something reads the loss (else after the last iteration)
    every_iteration, at_end = estimator._loss_schedule(draws_progress=False)
    for iteration in range(1, iterations + 1):
        with_loss = every_iteration or (at_end and iteration == iterations)
        if not routed:
            steps = None  # their factors are the arrays this iteration replaces
        if routed:
            user_step = _routed_step(
                by_user, user_routes, y, x, item_gram, objective, n_items, solver, cg_steps, k,
                False,
            )  # fmt: skip
            x, user_gram = user_step.frame, user_step.gram
            item_step = _routed_step(
                by_item, item_routes, x, y, user_gram, objective, n_users, solver, cg_steps, k,
                with_loss,
            )  # fmt: skip
            x, y, item_gram = user_step.frame, item_step.frame, item_step.gram
            finite = np.isfinite([user_step.penalty, item_step.penalty]).all()
        else:
            user_step = _half_step(
                sc, by_user, y, x, item_gram, objective, n_items, solver, cg_steps, dtype, k, False
            )
            x, user_gram = user_step.factors, user_step.gram
            item_step = _half_step(
                sc, by_item, x, y, user_gram, objective, n_users, solver, cg_steps, dtype, k,
                with_loss,
            )  # fmt: skip
            y, item_gram = item_step.factors, item_step.gram
            finite = np.isfinite(x).all() and np.isfinite(y).all()
        failed = user_step.failed + item_step.failed
        if failed or not finite:
            raise NumericalError(
                f"training diverged at iteration {iteration} ({failed} rows could not be "
                f"solved, or factors became NaN/inf); raise regularization or use "
                f"dtype='float64'. The model was left unfitted."
            )
        loss = float("nan")
        if with_loss:
            loss = (
                item_step.observed
                + objective.unobserved_weight * float(np.sum(user_gram * item_gram))
                + user_step.penalty
                + item_step.penalty
            )
        history.append(float(loss))
        if routed:  # the previous step's blocks (or the start) are no longer read
            for frame in (step.frame for step in steps) if steps else (start_frame,):
                _release(frame)
        steps = (user_step, item_step)
        elapsed = time.perf_counter() - start
        if estimator.callback is not None and estimator.callback(iteration, elapsed, loss) is False:
            break
        if converged(history, estimator.tol):
            break
    if routed:
        user_frame, item_frame = (_checkpoint(step.frame) for step in steps)
        # training never needed the factors on the driver; the fitted model does
        for frame in (user_routes, item_routes, *(step.frame for step in steps)):
            _release(frame)
        x = _gather(user_frame, n_users, k, dtype)
        y = _gather(item_frame, n_items, k, dtype)
    else:  # the driver holds the factors: no solve is run again
        user_frame = _local_frame(session, steps[0].rows, x)
        item_frame = _local_frame(session, steps[1].rows, y)
    result = SparkFactors(
        session=session,
        user_blocks=by_user.blocks,
        user_factors=user_frame,
        item_factors=item_frame,
        user_ids=users.frame,
        item_ids=items.frame,
        n_users=n_users,
        n_items=n_items,
        factors=k,
        dtype=np.dtype(dtype),
        objective=objective,
        item_gram=item_gram,
        global_bias=mu,
        user_bias=user_bias,
        item_bias=item_bias,
        loss_history=history,
        params=_plain_params(estimator),
    )
    estimator._clear_fitted()
    installed = local if local is not None else result.id_interactions()
    estimator._set_fitted(
        installed,
        x,
        y,
        global_bias=mu,
        user_bias=user_bias,
        item_bias=item_bias,
        objective=objective,
    )
    estimator.loss_history_ = history
    estimator.n_iter_ = len(history)
    estimator.fit_seconds_ = time.perf_counter() - start
    estimator.spark_factors_ = result
    return estimator


# ---------------------------------------------------------------- input
@dataclass
class _Ids:
    frame: Any  # DataFrame (index long, id <raw type>)
    n: int


def _session(data: Any, spark: Any):
    if spark is not None:
        return spark
    if _is_spark_frame(data):
        return data.sparkSession
    from alsrec.spark.session import local_session

    return local_session()


def _is_spark_frame(data: Any) -> bool:
    return type(data).__module__.startswith("pyspark") and hasattr(data, "mapInArrow")


def _prepare(session, data, user_col, item_col, rating_col, dtype):
    """(long DataFrame u, i, v; user ids; item ids; local Interactions or None)."""
    import pandas as pd
    from pyspark.sql import functions as F

    if isinstance(data, Interactions):
        if data.nnz == 0:
            raise DataError("the training data holds no interactions.")
        frame = pd.DataFrame(
            {
                "u": data.row_indices().astype(np.int64),
                "i": data.matrix.indices.astype(np.int64),
                "v": data.matrix.data.astype(np.float64),
            }
        )
        long = session.createDataFrame(frame)
        users = _Ids(_id_frame(session, data.user_ids), data.n_users)
        items = _Ids(_id_frame(session, data.item_ids), data.n_items)
        return long, users, items, data
    if not _is_spark_frame(data):
        raise DataError(
            f"ALS(backend='spark').fit takes a Spark DataFrame or alsrec Interactions, "
            f"not {type(data).__name__}."
        )
    user_col = _column(data, user_col, USER_COLUMN_ALIASES, "user_col")
    item_col = _column(data, item_col, ITEM_COLUMN_ALIASES, "item_col")
    try:
        rating_col = _column(data, rating_col, RATING_COLUMN_ALIASES, "rating_col")
    except DataError:
        if rating_col is not None:
            raise
        rating_col = None
    # float32 storage, as Interactions keeps values, so both paths see the same numbers
    value = F.lit(1.0) if rating_col is None else F.col(rating_col).cast("float").cast("double")
    raw = data.select(
        F.col(user_col).alias("user"), F.col(item_col).alias("item"), value.alias("v")
    )
    _validate(raw, user_col, item_col, rating_col)
    users = _index_ids(session, raw, "user")
    items = _index_ids(session, raw, "item")
    long = (
        raw.join(F.broadcast(users.frame.withColumnRenamed("id", "user")), "user")
        .withColumnRenamed("index", "u")
        .join(F.broadcast(items.frame.withColumnRenamed("id", "item")), "item")
        .select("u", F.col("index").alias("i"), "v")
    )
    return long, users, items, None


def _column(frame, name, aliases, parameter):
    if name is not None:
        if name not in frame.columns:
            raise DataError(
                f"{parameter}={name!r} is not a column of the DataFrame "
                f"(columns: {', '.join(frame.columns)})."
            )
        return name
    for alias in aliases:
        if alias in frame.columns:
            return alias
    raise DataError(
        f"no {parameter[:-4]} column found among {', '.join(frame.columns)}; "
        f"pass {parameter}= to name it."
    )


def _validate(raw, user_col, item_col, rating_col) -> None:
    """Nulls, non-finite values and repeated pairs, found with cluster aggregations."""
    from pyspark.sql import functions as F

    counts = raw.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col("user").isNull().cast("long")).alias("user_nulls"),
        F.sum(F.col("item").isNull().cast("long")).alias("item_nulls"),
        F.sum(
            (F.col("v").isNull() | F.isnan("v") | (F.abs("v") == float("inf"))).cast("long")
        ).alias("bad"),
    ).first()
    if counts["rows"] == 0:
        raise DataError("the training data holds no interactions.")
    for label, column, nulls in (
        ("user", user_col, counts["user_nulls"]),
        ("item", item_col, counts["item_nulls"]),
    ):
        if nulls:
            raise DataError(
                f"column {column!r} holds {nulls} missing {label} ids; drop those rows."
            )
    if counts["bad"]:
        raise DataError(
            f"column {rating_col!r} holds {counts['bad']} missing or non-finite values; "
            f"drop or fix those rows."
        )
    repeated = raw.groupBy("user", "item").count().where("count > 1").limit(1).collect()
    if repeated:
        row = repeated[0]
        raise DataError(
            f"the pair ({row['user']!r}, {row['item']!r}) appears {row['count']} times; "
            f"aggregate repeated (user, item) pairs before fitting."
        )


def _index_ids(session, raw, column: str) -> _Ids:
    """Raw ids -> 0..n-1 in sorted order (as ``pd.factorize(sort=True)``), on the cluster.

    Integer ids that are already 0..n-1 are used as they are.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegralType, LongType, StructField, StructType

    kind = raw.schema[column].dataType
    if isinstance(kind, IntegralType):
        low, high, count = raw.agg(F.min(column), F.max(column), F.countDistinct(column)).first()
        if low == 0 and high == count - 1:
            frame = session.range(count).select(
                F.col("id").alias("index"), F.col("id").cast(kind).alias("id")
            )
            return _Ids(frame, int(count))
    distinct = raw.select(column).distinct().orderBy(column)
    indexed = distinct.rdd.zipWithIndex().map(lambda pair: (pair[1], pair[0][0]))
    schema = StructType([StructField("index", LongType()), StructField("id", kind)])
    frame = session.createDataFrame(indexed, schema).persist()
    return _Ids(frame, int(frame.count()))


def _id_frame(session, ids: np.ndarray):
    import pandas as pd

    values = ids.astype(str) if ids.dtype == object else ids
    return session.createDataFrame(pd.DataFrame({"index": np.arange(len(ids)), "id": values}))


def _blocks(long, row: str, col: str, parts: int, dtype, keys: np.ndarray | None) -> _Side:
    from pyspark.sql import functions as F

    frame = (
        long.select(F.col(row).alias("r"), F.col(col).alias("c"), "v")
        .repartition(parts, "r")
        .mapInArrow(B.to_blocks(dtype, keys), B.BLOCK_SCHEMA)
    )
    return _Side(_keep(frame, parts, keys is not None), dtype)


def _keep(frame, parts: int, routed: bool):
    """Persist block rows; for routing, partitioned by block so cogroups leave them put."""
    if routed:
        frame = frame.repartition(parts, "block")
    frame = frame.persist()
    frame.count()
    return frame


def _partition_keys(session, parts: int) -> np.ndarray:
    """One block key per partition: keys[p] hashes to partition p under Spark's partitioner.

    Block numbers 0..parts-1 collide under ``repartition(parts, "block")`` (Murmur3
    of 0 and 1 land in one partition of two), which would run several blocks'
    solves in one task; these keys give every block a partition of its own.
    """
    from pyspark.sql import functions as F

    candidates = session.range(0, 64 * parts + 64).select(
        "id", F.pmod(F.hash("id"), F.lit(parts)).alias("p")
    )
    keys = candidates.groupBy("p").agg(F.min("id").alias("key")).collect()  # parts rows
    found = {row["p"]: row["key"] for row in keys}
    if len(found) < parts:  # cannot happen for realistic counts; fall back to collisions
        return np.arange(parts, dtype=np.int64)
    return np.array([found[p] for p in range(parts)], dtype=np.int64)


# ---------------------------------------------------------------- biases
def _fit_biases(sc, long, by_user, by_item, n_users, n_items, objective: Objective):
    """mu + b_u + b_i by damped alternating means, as ``alsrec.models.training.fit_biases``."""
    mu = float(long.agg({"v": "avg"}).first()[0])
    user_bias = np.zeros(n_users)
    item_bias = np.zeros(n_items)
    for _ in range(BIAS_SWEEPS):
        item_bias = _bias_half(sc, by_item, mu, user_bias, n_items, objective.bias_damping)
        user_bias = _bias_half(sc, by_user, mu, item_bias, n_users, objective.bias_damping)
    return mu, user_bias, item_bias


def _bias_half(sc, side: _Side, mu, other_bias, n_rows, damping) -> np.ndarray:
    shared = sc.broadcast(other_bias)
    parts = side.blocks.mapInArrow(
        B.row_biases(side.dtype, mu, shared, damping), B.BIAS_SCHEMA
    ).collect()  # one row per block: one number per matrix row, not interactions
    bias = np.zeros(n_rows)
    for part in parts:
        bias[np.frombuffer(part["rows"], np.int64)] = np.frombuffer(part["bias"], np.float64)
    shared.destroy()
    return bias


def _residual(sc, side: _Side, dtype, mu, row_bias, col_bias, parts: int, routed: bool) -> _Side:
    rows, cols = sc.broadcast(row_bias), sc.broadcast(col_bias)
    frame = side.blocks.mapInArrow(B.rewrite_values(dtype, mu, rows, cols), B.BLOCK_SCHEMA)
    frame = _keep(frame, parts, routed)
    side.blocks.unpersist()
    return _Side(frame, dtype)


# ---------------------------------------------------------------- half-steps
@dataclass
class _Step:
    """A finished half-step: its factors and the partial sums the driver gathered.

    Routed, the factors stay on the executors (``frame``, checkpointed); broadcast,
    the driver collected them (``factors``, and the block rows in ``rows``).
    """

    frame: Any
    factors: np.ndarray | None
    gram: np.ndarray
    failed: int
    observed: float
    penalty: float
    rows: Any = None  # broadcast: the blocks' table as collected, without the factors


def _half_step(
    sc, side, other, warm, other_gram, objective, n_other, solver, cg_steps, dtype, k, with_loss
) -> _Step:
    """Solve one side's rows on the executors against the broadcast ``other``."""
    shared = sc.broadcast(other)
    previous = sc.broadcast(warm) if solver == "cg" else None
    gram = objective.unobserved_weight * other_gram
    frame = side.blocks.mapInArrow(
        B.half_step(dtype, objective, shared, previous, gram, n_other, solver, cg_steps, with_loss),
        B.schema(B.FACTOR_SCHEMA),
    )
    # One action per half-step: each block's row brings its new factor rows (the next
    # broadcast needs them on the driver anyway) with its k x k partial Gram and loss terms,
    # which the driver sums; a separate tree aggregation would be a second Spark job.
    # Nothing is cached on the executors: the fit's factor frames are made from the last
    # steps' rows, which the driver has.
    blocks = frame.toArrow()  # one row per block, never interactions
    factors = np.zeros((len(warm), k), dtype=dtype)
    place_rows(blocks, factors)
    shared.unpersist()
    if previous is not None:
        previous.unpersist()
    # the factors live on in the driver's arrays; the rest is a few numbers per block
    return _Step(None, factors, *_partial_sums(blocks, k), rows=blocks.drop_columns(["factors"]))


def _partial_sums(blocks, k: int) -> tuple[np.ndarray, int, float, float]:
    """(Gram, failed rows, observed loss, penalty) summed over an Arrow table of solved blocks.

    In the table's (block) order, so a fit sums them the same way every time.
    """
    gram = np.zeros(k * k)
    for j in range(blocks.num_rows):
        gram += B.buffer(blocks.column("gram")[j], np.float64)
    failed, observed, penalty = (
        sum(blocks.column(name).to_pylist()) for name in ("failed", "observed", "penalty")
    )
    return gram.reshape(k, k), int(failed), float(observed), float(penalty)


def _local_frame(session, blocks, factors: np.ndarray):
    """The fitted factor DataFrame (FACTOR_SCHEMA, one row per block) of a broadcast fit.

    ``blocks`` is the last half-step's table without its factors, which the
    driver holds in ``factors``; the frame is checkpointed, so the factors move
    to the executors (reliable storage when the context has a checkpoint folder)
    instead of riding inside every task that reads them.
    """
    import pyarrow as pa

    rows = [B.buffer(blocks.column("rows")[j], np.int64) for j in range(blocks.num_rows)]
    column = pa.array([np.ascontiguousarray(factors[r]).tobytes() for r in rows], pa.binary())
    table = blocks.add_column(2, "factors", column)
    return _checkpoint(session.createDataFrame(table, B.schema(B.FACTOR_SCHEMA)))


# ---------------------------------------------------------------- block routing
def _routed(routing: str, n_users: int, n_items: int, k: int, dtype) -> bool:
    """Whether to route factor blocks (True) or broadcast the fixed side (False)."""
    if routing not in ROUTINGS:
        raise ParameterError(f"routing={routing!r} must be one of {', '.join(ROUTINGS)}.")
    if routing == "auto":
        size = (n_users + n_items) * k * np.dtype(dtype).itemsize
        return size > BROADCAST_LIMIT_BYTES
    return routing == "blocks"


def _routes(solving: _Side, fixed: _Side):
    """(src, dst, idx): the rows of fixed block src that solving block dst touches, sorted.

    Built once on the cluster from the blocks (one row per distinct column of a
    block joined with the block owning that row), as MLlib's out-blocks are.
    """
    from pyspark.sql import functions as F

    needs = solving.blocks.mapInArrow(B.needed_columns(), B.NEED_SCHEMA)
    owners = fixed.blocks.mapInArrow(B.row_owners(), B.OWNER_SCHEMA)
    parts = solving.blocks.rdd.getNumPartitions()
    routes = (
        needs.hint("merge")  # a broadcast join would gather the row owners on the driver
        .join(owners, "c")
        .groupBy("src", "dst")
        .agg(F.sort_array(F.collect_list("c")).alias("idx"))
        .repartition(parts, "src")  # cached where each half-step's join needs it
        .persist()
    )
    routes.count()
    return routes


def _initial_frame(sc, side: _Side, start: np.ndarray, k: int, dtype):
    """The driver's random start as factor blocks of ``side`` (one broadcast, once)."""
    shared = sc.broadcast(start)
    frame = side.blocks.mapInArrow(
        B.initial_factors(dtype, k, shared), "block long, rows binary, factors binary"
    ).localCheckpoint(eager=True)
    shared.unpersist()
    return frame


def _pieces(fixed, routes, warm, side: _Side, k: int, solver: str):
    """The routed pieces of ``fixed`` for each solving block (plus CG's own warm rows)."""
    from pyspark.sql import functions as F

    # a sort-merge join: a broadcast join would gather the factor blocks on the driver
    pieces = (
        fixed.select(F.col("block").alias("src"), "rows", "factors")
        .hint("merge")
        .join(routes, "src")
        .mapInArrow(B.route_rows(side.dtype, k), B.schema(B.PIECE_SCHEMA))
    )
    if warm is not None and solver == "cg":
        own = warm.select(F.col("block").alias("dst"), F.lit(True).alias("own"), "rows", "factors")
        pieces = pieces.unionByName(own)
    return pieces


def _routed_step(
    side, routes, fixed, warm, fixed_gram, objective, n_other, solver, cg_steps, k, with_loss
) -> _Step:
    """Solve one side's blocks against routed pieces of the ``fixed`` factor blocks."""
    pieces = _pieces(fixed, routes, warm, side, k, solver)
    gram = objective.unobserved_weight * fixed_gram
    solve = B.solve_routed(side.dtype, objective, gram, n_other, solver, cg_steps, with_loss, k)
    frame = (
        pieces.groupBy("dst")
        .cogroup(side.blocks.groupBy("block"))
        .applyInArrow(solve, B.schema(B.FACTOR_SCHEMA))
        .localCheckpoint(eager=False)
    )
    # the one action: it computes and keeps the blocks, and brings their partial sums
    sums = frame.select("gram", "failed", "observed", "penalty").toArrow()
    return _Step(frame, None, *_partial_sums(sums, k))


def _release(frame) -> None:
    """Free a cached or locally checkpointed DataFrame's blocks now (it is unusable after).

    ``unpersist`` does not reach a local checkpoint, whose blocks would stay
    until the driver's JVM collects the DataFrame; its RDD is freed directly.
    Persisted frames are unpersisted (not their dependants' caches: nothing
    cached is built on a released step).
    """
    plan = frame._jdf.queryExecution().logical()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)
    else:
        frame.unpersist()


def _checkpoint(frame):
    """Cut the final factors off the training lineage (reliably when a folder is set)."""
    if frame.sparkSession.sparkContext.getCheckpointDir():
        return frame.checkpoint(eager=True)
    return frame.localCheckpoint(eager=True)


def _plain_params(estimator: ALS) -> dict:
    """The estimator's JSON-ready parameters (the callback is code, so it is left out)."""
    params = estimator.get_params()
    return {
        key: value
        for key, value in params.items()
        if value is None or isinstance(value, bool | int | float | str)
    }


def _fit_backend(estimator: ALS, data: Any) -> ALS:
    """``ALS(backend="spark").fit(data)``."""
    return fit_spark(estimator, data)


register_fit_backend("spark", _fit_backend)
