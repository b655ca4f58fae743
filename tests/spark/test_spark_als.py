"""Spark MLlib ALS behind alsrec's API, against a real local SparkSession."""

import numpy as np
import pandas as pd
import pytest

from alsrec import Interactions, generate, load_model
from alsrec.evaluation import BlogProtocol, RandomHoldout, cross_validate

pytestmark = pytest.mark.spark


def test_explicit_spark_and_alsrec_counterpart_agree_on_rmse(spark, ml_small):
    from alsrec.spark import SparkALS, spark_counterpart

    fold = RandomHoldout(0.2).split(ml_small, seed=0)[0]
    test = pd.DataFrame(
        {
            "user": fold.train.user_ids[np.repeat(fold.users, np.diff(fold.indptr))],
            "item": fold.train.item_ids[fold.items],
            "rating": fold.gains,
        }
    )
    spark_model = SparkALS(factors=10, regularization=0.1, iterations=10, spark=spark)
    spark_model.fit(fold.train)
    ours = spark_counterpart(spark_model).fit(fold.train)
    rmse = {}
    for name, model in (("spark", spark_model), ("alsrec", ours)):
        predicted = model.predict(test["user"], test["item"])
        rmse[name] = float(np.sqrt(np.mean((predicted - test["rating"]) ** 2)))
    # no biases: unrated items predict 0, so the level is high; the two must agree
    assert rmse["spark"] < 1.3
    assert abs(rmse["spark"] - rmse["alsrec"]) < 0.02, rmse


@pytest.fixture(scope="module")
def fitted(spark):
    from alsrec.spark import SparkALS

    data = generate(80, 50, 1500, values="implicit", seed=1).interactions
    return data, SparkALS(factors=6, iterations=5, implicit=True, spark=spark).fit(data)


def test_recommendations_exclude_seen_items(fitted):
    data, model = fitted
    for user in (0, 5, 33):
        recs = model.recommend(user, n=10)
        seen = set(data.item_ids[data.matrix[user].indices])
        assert len(recs) == 10
        assert not seen & set(recs["item"])


def test_spark_model_saves_and_loads_through_alsrec_format(fitted, tmp_path):
    _, model = fitted
    model.save(tmp_path / "spark.alsrec")
    loaded = load_model(tmp_path / "spark.alsrec")
    assert type(loaded).__name__ == "MLlibALS"
    np.testing.assert_array_equal(loaded.item_factors_, model.item_factors_)
    assert loaded.recommend(3, n=5).equals(model.recommend(3, n=5))
    assert loaded.objective_ == model.objective_


def test_spark_dataframe_input_round_trips_string_ids(spark):
    from alsrec.spark import SparkALS

    pdf = pd.DataFrame(
        {
            "user": ["ann", "ann", "bob", "cy", "cy", "bob"],
            "item": ["x", "y", "x", "z", "y", "w"],
            "rating": [5.0, 3.0, 4.0, 2.0, 5.0, 1.0],
        }
    )
    model = SparkALS(factors=2, iterations=3, spark=spark).fit(spark.createDataFrame(pdf))
    assert sorted(model.user_ids_.tolist()) == ["ann", "bob", "cy"]
    assert sorted(model.item_ids_.tolist()) == ["w", "x", "y", "z"]
    recs = model.recommend("ann", n=2)
    assert set(recs["item"]) == {"w", "z"}


def test_all_user_recommendations_inside_spark_match_local(fitted, tmp_path):
    _, model = fitted
    path = model.recommend_all_to_parquet(tmp_path / "recs.parquet", n=5)
    from_spark = pd.read_parquet(path).sort_values(["user", "rank"]).reset_index(drop=True)
    local = model.recommend_batch(n=5)
    assert len(from_spark) == len(local)
    merged = from_spark.merge(local, on=["user", "rank"], suffixes=("_spark", "_local"))
    # scores agree to float32 rounding; items agree except where two scores tie at that rounding
    np.testing.assert_allclose(merged["score_spark"], merged["score_local"], rtol=1e-4, atol=1e-5)
    assert (merged["item_spark"] == merged["item_local"]).mean() > 0.98


def test_spark_is_scored_on_the_same_folds_as_everyone(spark):
    from alsrec import ALS
    from alsrec.spark import SparkALS

    data = generate(60, 30, 600, values="implicit", seed=2).interactions
    models = {
        "zeros": ALS("zeros", factors=4, random_state=0),
        "spark-dense": SparkALS(factors=4, iterations=5, dense=True, spark=spark),
        "spark": SparkALS(factors=4, iterations=5, spark=spark),
    }
    result = cross_validate(models, data, BlogProtocol(), ["ndcg@10"])
    table = result.per_user
    keys = [table[table["model"] == m][["seed", "fold", "user"]].to_numpy() for m in models]
    np.testing.assert_array_equal(keys[0], keys[1])
    np.testing.assert_array_equal(keys[0], keys[2])
    means = table.groupby("model")["NDCG@10"].mean()
    assert means["spark-dense"] > means["spark"]  # explicit ALS cannot tell unrated from rated


def test_bad_input_is_refused(spark):
    from alsrec.errors import DataError, ParameterError
    from alsrec.spark import SparkALS

    with pytest.raises(DataError, match="takes alsrec Interactions"):
        SparkALS(spark=spark).fit([1, 2, 3])
    with pytest.raises(ParameterError, match="factors=0"):
        SparkALS(factors=0, spark=spark).fit(Interactions.from_arrays([1], [1], [1.0]))


def test_blog_comparison_in_one_call(spark):
    from alsrec.spark import compare_with_spark

    data = generate(50, 30, 500, values="implicit", seed=5).interactions
    study = compare_with_spark(data, spark=spark)
    assert list(study.summary["model"]) == [
        "alsrec-zeros",
        "spark-dense",
        "spark-ratings",
        "popularity",
    ]
    fit_times = study.cv.per_fold.set_index(["model", "fold"])["fit_seconds"]
    assert (fit_times > 0).all()
    assert len(study.comparisons) == 3
