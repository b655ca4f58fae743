"""ALS(backend="spark"): alsrec's objectives on Spark executors equal the single-machine fit.

Every test runs on the real local[2] session with several blocks, so rows are
solved in separate tasks against broadcast factors and a tree-aggregated Gram.
"""

import json

import numpy as np
import pandas as pd
import pytest

from alsrec import ALS, Interactions, generate

pytestmark = pytest.mark.spark

RTOL, ATOL = 1e-5, 1e-6  # float32 factors


@pytest.fixture(scope="module")
def planted():
    # non-negative counts on a 70 x 45 matrix: nnz (1400) >> users and items
    return generate(70, 45, 1400, values="implicit", seed=3).interactions


@pytest.mark.parametrize(
    ("preset", "settings"),
    [
        ("explicit", {}),
        ("implicit", {"solver": "cholesky"}),
        ("implicit", {"solver": "cg", "cg_steps": 3}),
        ("zeros", {"unobserved_weight": 0.3}),
    ],
    ids=["explicit-biases", "implicit", "implicit-cg", "zeros-w0-0.3"],
)
@pytest.mark.parametrize("routing", ["broadcast", "blocks"])
def test_spark_factors_and_losses_equal_single_machine(spark, planted, preset, settings, routing):
    import alsrec.spark
    from alsrec.spark import fit_spark

    common = {"factors": 6, "iterations": 3, "random_state": 7, "compute_loss": True, **settings}
    local = ALS(preset, **common).fit(planted)
    distributed = fit_spark(
        ALS(preset, backend="spark", **common), planted, spark, num_blocks=3, routing=routing
    )
    np.testing.assert_allclose(distributed.user_factors_, local.user_factors_, RTOL, ATOL)
    np.testing.assert_allclose(distributed.item_factors_, local.item_factors_, RTOL, ATOL)
    np.testing.assert_allclose(distributed.loss_history_, local.loss_history_, rtol=1e-9)
    assert np.all(np.diff(distributed.loss_history_) <= 1e-9 * distributed.loss_history_[0])
    if local.user_bias_ is not None:
        np.testing.assert_allclose(distributed.user_bias_, local.user_bias_, rtol=1e-9)
        np.testing.assert_allclose(distributed.item_bias_, local.item_bias_, rtol=1e-9)
    assert isinstance(distributed.spark_factors_, alsrec.spark.SparkFactors)


@pytest.mark.parametrize("routing", ["broadcast", "blocks"])
def test_spark_computes_the_loss_only_where_it_is_read_as_one_machine_does(spark, planted, routing):
    from alsrec.spark import fit_spark

    common = {"factors": 6, "iterations": 3, "random_state": 7}
    # nothing reads the loss: it is computed after the last iteration only
    local = ALS("implicit", **common).fit(planted)
    distributed = fit_spark(
        ALS("implicit", backend="spark", **common), planted, spark, num_blocks=3, routing=routing
    )
    assert np.isnan(distributed.loss_history_[:-1]).all()
    assert distributed.loss_history_[-1] == pytest.approx(local.loss_history_[-1], rel=1e-9)
    # a callback that reads it gets it every iteration; one that says it does not, NaN
    seen, blind = [], []

    def reads(iteration, elapsed, loss):
        seen.append(loss)

    def ignores(iteration, elapsed, loss):
        blind.append(loss)

    ignores.needs_loss = False
    for callback in (reads, ignores):
        fit_spark(
            ALS("implicit", backend="spark", callback=callback, **common),
            planted,
            spark,
            num_blocks=3,
            routing=routing,
        )
    assert np.isfinite(seen).all()
    assert np.isnan(blind[:-1]).all()
    assert np.isfinite(blind[-1])
    # never: every entry NaN; tol: every loss, and training stops where one machine stops
    never = ALS("implicit", backend="spark", compute_loss=False, **common)
    assert np.isnan(fit_spark(never, planted, spark, routing=routing).loss_history_).all()
    settings = {**common, "iterations": 30, "tol": 1e-3}
    stopped = ALS("implicit", backend="spark", **settings)
    fit_spark(stopped, planted, spark, routing=routing)
    alone = ALS("implicit", **settings).fit(planted)
    assert stopped.n_iter_ == alone.n_iter_ < 30
    np.testing.assert_allclose(stopped.loss_history_, alone.loss_history_, rtol=1e-9)


class _Refused(AssertionError):
    pass


@pytest.fixture
def collection_guard(monkeypatch):
    """Record the rows of every driver-side collection; refuse pandas and row iterators."""
    from pyspark import RDD
    from pyspark.sql.classic.dataframe import DataFrame

    sizes: list[int] = []

    def counting(original):
        def wrapper(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            result = list(result)
            sizes.append(len(result))
            return result

        return wrapper

    def counting_arrow(original):
        def wrapper(self, *args, **kwargs):
            table = original(self, *args, **kwargs)
            sizes.append(table.num_rows)
            return table

        return wrapper

    def refuse(self, *args, **kwargs):
        raise _Refused("the training path collected a DataFrame to pandas or row by row")

    monkeypatch.setattr(DataFrame, "collect", counting(DataFrame.collect))
    monkeypatch.setattr(DataFrame, "toArrow", counting_arrow(DataFrame.toArrow))
    monkeypatch.setattr(DataFrame, "toLocalIterator", refuse)
    monkeypatch.setattr(DataFrame, "toPandas", refuse)
    monkeypatch.setattr(RDD, "collect", counting(RDD.collect))
    monkeypatch.setattr(RDD, "toLocalIterator", refuse)
    return sizes


@pytest.mark.parametrize("routing", ["broadcast", "blocks"])
def test_raw_ids_are_indexed_on_the_cluster_and_interactions_never_collected(
    spark, planted, tmp_path, collection_guard, routing
):
    # string users and sparse integer items, read from Parquet: the indexing path runs
    frame = pd.DataFrame(
        {
            "customer": np.char.add("c", planted.user_ids[planted.row_indices()].astype(str)),
            "sku": 1000 + 7 * planted.item_ids[planted.matrix.indices].astype(np.int64),
            "stars": planted.matrix.data.astype(np.float64),
        }
    )
    frame.to_parquet(tmp_path / "ratings.parquet")
    source = spark.read.parquet(str(tmp_path / "ratings.parquet"))
    model = ALS(
        "implicit", factors=5, iterations=2, random_state=1, compute_loss=True, backend="spark"
    )
    from alsrec.spark import fit_spark

    fit_spark(
        model, source, num_blocks=3, user_col="customer", item_col="sku", rating_col="stars",
        routing=routing,
    )  # fmt: skip
    # only per-block rows, aggregates and id maps came back: never nnz rows
    assert collection_guard, "the guard saw no collection at all"
    assert max(collection_guard) <= max(planted.shape) < planted.nnz
    local = ALS("implicit", factors=5, iterations=2, random_state=1, compute_loss=True).fit(
        Interactions.from_dataframe(frame, "customer", "sku", "stars")
    )
    np.testing.assert_array_equal(model.user_ids_, local.user_ids_)
    np.testing.assert_array_equal(model.item_ids_, local.item_ids_)
    np.testing.assert_allclose(model.item_factors_, local.item_factors_, RTOL, ATOL)
    np.testing.assert_allclose(model.loss_history_, local.loss_history_, rtol=1e-9)


@pytest.fixture(scope="module", params=["broadcast", "blocks"])
def fitted(spark, planted, request):
    """An explicit fit with biases; outputs are written from either routing's factor blocks."""
    from alsrec.spark import fit_spark

    settings = {"factors": 5, "iterations": 2, "random_state": 0}
    model = fit_spark(
        ALS("explicit", backend="spark", **settings), planted, spark, num_blocks=2,
        routing=request.param,
    )  # fmt: skip
    return planted, model


def test_top_n_parquet_from_executors_matches_recommend_batch(fitted, tmp_path):
    _, model = fitted
    path = model.spark_factors_.recommend_all_to_parquet(tmp_path / "recs", n=4)
    written = pd.read_parquet(path).sort_values(["user", "rank"]).reset_index(drop=True)
    expected = model.recommend_batch(n=4)
    assert len(written) == len(expected) == 4 * model.n_users
    merged = written.merge(expected, on=["user", "rank"], suffixes=("_spark", "_local"))
    np.testing.assert_allclose(merged["score_spark"], merged["score_local"], rtol=1e-5, atol=1e-5)
    assert (merged["item_spark"] == merged["item_local"]).all()


def test_saved_factors_load_into_the_local_model_and_fold_in_agrees(fitted, tmp_path):
    from alsrec.spark import load_factors

    data, model = fitted
    model.spark_factors_.save(tmp_path / "factors")
    # strict JSON: the iterations whose loss nobody read are NaN, stored as null
    meta = (tmp_path / "factors" / "alsrec-factors.json").read_text()
    json.loads(meta, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    loaded = load_factors(tmp_path / "factors", data)
    np.testing.assert_array_equal(loaded.loss_history_, model.loss_history_)  # NaN == NaN here
    assert np.isnan(model.loss_history_[0])
    np.testing.assert_array_equal(loaded.user_factors_, model.user_factors_)
    np.testing.assert_array_equal(loaded.item_factors_, model.item_factors_)
    np.testing.assert_allclose(loaded.user_bias_, model.user_bias_)
    assert loaded.objective_ == model.objective_
    assert loaded.recommend(data.user_ids[3], n=5).equals(model.recommend(data.user_ids[3], n=5))
    items, ratings = data.item_ids[[1, 4, 9]], [5.0, 1.0, 3.5]
    vector, bias = model.spark_factors_.fold_in(items, ratings)
    expected_vector, expected_bias = model.fold_in(items, ratings)
    np.testing.assert_allclose(vector, expected_vector, rtol=1e-5, atol=1e-6)
    assert bias == pytest.approx(expected_bias)


def test_block_routing_keeps_factors_off_the_driver_while_training(spark, planted, monkeypatch):
    from pyspark import SparkContext
    from pyspark.sql.classic.dataframe import DataFrame

    from alsrec.spark import distributed, fit_spark

    broadcasts, factor_collects = [], []
    broadcast = SparkContext.broadcast

    def recording_broadcast(self, value):
        broadcasts.append(np.shape(value))
        return broadcast(self, value)

    def recording(original):
        def collection(self, *args, **kwargs):
            if "factors" in self.columns:
                factor_collects.append(self.columns)
            return original(self, *args, **kwargs)

        return collection

    monkeypatch.setattr(SparkContext, "broadcast", recording_broadcast)
    monkeypatch.setattr(DataFrame, "collect", recording(DataFrame.collect))
    monkeypatch.setattr(DataFrame, "toArrow", recording(DataFrame.toArrow))
    monkeypatch.setattr(distributed, "BROADCAST_LIMIT_BYTES", 0)  # "auto" must route now
    model = ALS("implicit", backend="spark", factors=6, iterations=4, solver="cg", random_state=7)
    fit_spark(model, planted, spark, num_blocks=3)
    # the random start of the item factors once; never a factor matrix after that
    assert [shape for shape in broadcasts if len(shape) == 2] == [(planted.n_items, 6)]
    # the factors reach the driver once per side, after the last iteration
    assert len(factor_collects) == 2
    local = ALS("implicit", factors=6, iterations=4, solver="cg", random_state=7).fit(planted)
    np.testing.assert_allclose(model.user_factors_, local.user_factors_, RTOL, ATOL)


def test_routing_is_checked_and_auto_broadcasts_small_factors(spark, planted):
    from alsrec.errors import ParameterError
    from alsrec.spark import distributed, fit_spark

    assert not distributed._routed("auto", 10**6, 10**5, 64, np.float32)  # 282 MB
    assert distributed._routed("auto", 10**7, 10**6, 64, np.float32)  # 2.8 GB
    with pytest.raises(ParameterError, match="routing='mlib' must be one of auto, broadcast"):
        fit_spark(ALS("implicit", backend="spark"), planted, spark, routing="mlib")


def test_routed_pieces_never_take_a_broadcast_join_and_blocks_get_partitions_of_their_own(
    spark, planted
):
    from alsrec.spark import distributed

    n_items, k, parts = planted.n_items, 6, 4
    local, *_ = distributed._prepare(spark, planted, None, None, None, np.float32)
    keys = distributed._partition_keys(spark, parts)
    by_user = distributed._blocks(local, "u", "i", parts, np.float32, keys)
    by_item = distributed._blocks(local, "i", "u", parts, np.float32, keys)
    # every block alone in its partition: the solves of different blocks run as parallel tasks
    per_partition = by_user.blocks.rdd.glom().map(len).collect()
    assert sorted(per_partition) == [1] * parts
    start = np.random.default_rng(0).standard_normal((n_items, k)).astype(np.float32)
    fixed = distributed._initial_frame(spark.sparkContext, by_item, start, k, np.float32)
    previous = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", str(2**40))  # anything would fit
    try:
        routes = distributed._routes(by_user, by_item)
        pieces = distributed._pieces(fixed, routes, None, by_user, k, "cholesky")
        assert pieces.count() > 0
        plan = pieces._jdf.queryExecution().executedPlan().toString()
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", previous)
    assert "Broadcast" not in plan, plan
    assert "SortMergeJoin" in plan, plan
