"""cross_validate through public model APIs, comparisons, and the blog's known answers."""

import numpy as np
import pytest

from alsrec import ALS, Popularity, RandomModel, generate
from alsrec.errors import ParameterError
from alsrec.evaluation import BlogProtocol, UserCrossFold, cross_validate


class Oracle:
    """Scores items by the true full-data ratings: a perfect ranker (test helper)."""

    def __init__(self, truth=None, constant=False):
        self.truth = truth
        self.constant = constant

    def get_params(self):
        return {"truth": self.truth, "constant": self.constant}

    def fit(self, data):
        self.item_ids_ = data.item_ids
        self.user_ids_ = data.user_ids
        return self

    def score_users(self, user_ids, item_ids=None):
        rows = np.searchsorted(self.user_ids_, user_ids)
        dense = self.truth.matrix.toarray()[rows]
        return np.zeros_like(dense) if self.constant else dense


@pytest.fixture(scope="module")
def data():
    return generate(150, 60, 2500, values="implicit", seed=4).interactions


def test_perfect_ranker_scores_one_and_constant_scores_like_random(data):
    result = cross_validate(
        {
            "oracle": Oracle(data),
            "constant": Oracle(data, constant=True),
            "random": RandomModel(random_state=0),
        },
        data,
        BlogProtocol(),
        ["ndcg@10", "auc"],
        seeds=[0, 1],
    )
    summary = result.summary().set_index(["model", "metric"])["mean"]
    assert summary["oracle", "NDCG@10"] == pytest.approx(1.0)
    assert summary["oracle", "AUC"] == pytest.approx(1.0)
    # candidates list the relevant items first: a stable sort would give "constant" a
    # near-perfect score; random tie-breaking gives it a random ranker's score
    assert abs(summary["constant", "NDCG@10"] - summary["random", "NDCG@10"]) < 0.05
    assert summary["constant", "AUC"] == pytest.approx(0.5)


def test_every_model_sees_identical_folds_and_tables_are_complete(data):
    result = cross_validate(
        {"pop": Popularity(), "als": ALS("implicit", factors=4, iterations=3, random_state=0)},
        data,
        UserCrossFold(n_folds=3, holdout=2),
        ["ndcg@5", "precision@5", "recall@5", "map@5", "mrr@5", "hit@5", "coverage@5"],
        seeds=[0, 1],
    )
    table = result.per_user
    assert set(table["model"]) == {"pop", "als"}
    pop = table[table["model"] == "pop"].reset_index(drop=True)
    als = table[table["model"] == "als"].reset_index(drop=True)
    assert pop[["seed", "fold", "user"]].equals(als[["seed", "fold", "user"]])
    assert len(pop) == 2 * data.n_users  # every user tested once per seed
    assert set(result.per_fold.columns) >= {"fit_seconds", "coverage@5"}
    summary = result.summary()
    row = summary[(summary["model"] == "als") & (summary["metric"] == "NDCG@5")].iloc[0]
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    assert 0 < result.per_fold["coverage@5"].min() <= 1


def test_rating_metrics_for_explicit_models():
    truth = generate(200, 80, 6000, rank=3, noise_std=0.1, seed=0).interactions
    model = ALS(
        "explicit", factors=3, iterations=10, random_state=0, use_biases=False, regularization=0.01
    )
    result = cross_validate(
        {"als": model}, truth, UserCrossFold(n_folds=2, fraction=0.2), ["rmse", "mae"]
    )
    means = result.summary().set_index("metric")["mean"]
    assert means["RMSE"] < 0.3
    assert means["MAE"] <= means["RMSE"]


def test_paired_comparison_sentence(data):
    result = cross_validate(
        {"oracle": Oracle(data), "random": RandomModel(random_state=0)},
        data,
        BlogProtocol(),
        ["ndcg@10"],
    )
    comparison = result.compare("oracle", "random")
    assert comparison.difference > 0.5
    assert comparison.ci_low > 0
    assert comparison.p_value < 0.001
    assert comparison.sentence.startswith("oracle beats random by ")
    assert "95% CI" in comparison.sentence
    same = result.compare("oracle", "oracle")
    assert same.sentence.startswith("No clear difference")
    with pytest.raises(ParameterError, match="no results for model 'nope'"):
        result.compare("oracle", "nope")


def test_runner_input_errors(data):
    with pytest.raises(ParameterError, match="at least one model"):
        cross_validate({}, data)
    with pytest.raises(ParameterError, match="unknown metric"):
        cross_validate({"p": Popularity()}, data, metrics=["bleu@3"])


@pytest.mark.slow
def test_blog_known_answers_on_ml_latest_small(ml_small):
    """Figures measured with an independent implementation of the protocol (issue 4)."""
    models = {
        "zeros": ALS("zeros", random_state=0),
        "popularity": Popularity(),
        "random": RandomModel(random_state=0),
    }
    result = cross_validate(models, ml_small, BlogProtocol(), ["ndcg@20"], seeds=[0, 1, 2])
    by_seed = result.per_user.groupby(["model", "seed"])["NDCG@20"].mean()
    assert by_seed["zeros"].mean() == pytest.approx(0.485, abs=0.01)
    assert by_seed["popularity", 0] == pytest.approx(0.336, abs=0.01)
    assert by_seed["random", 0] == pytest.approx(0.014, abs=0.005)
    assert (result.per_user.groupby("model")["user"].nunique() == 610).all()
    faithful = cross_validate(
        {"zeros": ALS("zeros", random_state=0), "popularity": Popularity()},
        ml_small,
        BlogProtocol(faithful=True),
        ["ndcg@20"],
    )
    means = faithful.per_user.groupby("model")["NDCG@20"].mean()
    assert means["popularity"] == pytest.approx(0.287, abs=0.01)
    assert means["zeros"] == pytest.approx(0.227, abs=0.01)
