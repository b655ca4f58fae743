"""Beyond-accuracy metrics: hand-computed values and their use in cross-validation."""

import numpy as np
import pandas as pd
import pytest

from alsrec import Popularity, RandomModel, generate
from alsrec.errors import ParameterError
from alsrec.evaluation import UserCrossFold, beyond, cross_validate, parse_metric


def test_intra_list_diversity_by_hand():
    vectors = beyond.unit_rows(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.0]]))
    # pairs: (0,1) cos 0, (0,2) cos 1/sqrt2, (1,2) cos 1/sqrt2 -> mean distance 1 - sqrt2/3
    assert beyond.intra_list_diversity(np.array([0, 1, 2]), vectors) == pytest.approx(
        1 - np.sqrt(2) / 3
    )
    assert beyond.intra_list_diversity(np.array([0, 0]), vectors) == pytest.approx(0.0)
    assert beyond.intra_list_diversity(np.array([0, 3]), vectors) == pytest.approx(1.0)
    assert np.isnan(beyond.intra_list_diversity(np.array([1]), vectors))


def test_novelty_and_popularity_by_hand():
    counts = np.array([8, 2, 1, 0])
    # -log2(8/8) = 0, -log2(2/8) = 2, -log2(1/8) = 3; an unseen item counts once: 3
    assert beyond.novelty(np.array([0, 1, 2]), counts, 8) == pytest.approx(5 / 3)
    assert beyond.novelty(np.array([3]), counts, 8) == pytest.approx(3.0)
    assert beyond.average_popularity(np.array([0, 1]), counts, 8) == pytest.approx(0.625)


def test_gini_by_hand():
    assert beyond.gini(np.array([5, 5, 5, 5])) == 0.0
    assert beyond.gini(np.array([0, 0, 0, 4])) == pytest.approx(3 / 4)
    # sorted 1, 2, 3: (-2*1 + 0*2 + 2*3) / (3 * 6) = 4/18
    assert beyond.gini(np.array([3, 1, 2])) == pytest.approx(4 / 18)
    assert beyond.gini(np.zeros(3)) == 0.0


def test_metric_names_and_directions():
    assert parse_metric("ild@10").name == "ILD@10"
    assert parse_metric("novelty@5").per_user
    assert not parse_metric("gini@5").per_user
    assert not parse_metric("arp@5").higher_is_better
    assert parse_metric("novelty@5").higher_is_better
    with pytest.raises(ParameterError, match="needs a cut-off"):
        parse_metric("gini")


@pytest.fixture(scope="module")
def result():
    data = generate(120, 60, 2500, seed=0).interactions
    return cross_validate(
        {"popularity": Popularity(), "random": RandomModel(random_state=0, factors=8)},
        data,
        UserCrossFold(n_folds=2, holdout=3),
        metrics=["ndcg@10", "ild@10", "novelty@10", "arp@10", "gini@10", "coverage@10"],
    )


def test_cross_validation_reports_beyond_accuracy_per_user_with_intervals(result):
    summary = result.summary(n_boot=200).set_index(["model", "metric"])
    # popularity's item factors are 1-d and positive: every pair has cosine 1, ILD = 0
    pop_ild = result.per_user.query("model == 'popularity'")["ILD@10"]
    np.testing.assert_allclose(pop_ild, 0.0, atol=1e-12)
    assert summary.loc[("random", "ILD@10"), "mean"] > 0.5
    for metric in ("ILD@10", "Novelty@10", "ARP@10"):
        row = summary.loc[("random", metric)]
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    assert summary.loc[("popularity", "ARP@10"), "mean"] > summary.loc[("random", "ARP@10"), "mean"]
    pop_novelty = summary.loc[("popularity", "Novelty@10"), "mean"]
    assert pop_novelty < summary.loc[("random", "Novelty@10"), "mean"]
    pop_gini = summary.loc[("popularity", "Gini@10"), "mean"]
    assert pop_gini > summary.loc[("random", "Gini@10"), "mean"]
    assert 0 <= pop_gini < 1
    comparison = result.compare("popularity", "random", "arp@10", n_boot=200)
    assert comparison.difference > 0


def test_ild_by_given_features():
    data = generate(60, 20, 500, seed=1).interactions
    same = pd.DataFrame({"genre": np.ones(data.n_items)}, index=data.item_ids)
    result = cross_validate(
        {"random": RandomModel(random_state=0, factors=4)},
        data,
        UserCrossFold(n_folds=2, holdout=3),
        metrics=["ild@5"],
        item_features=same,
    )
    np.testing.assert_allclose(result.per_user["ILD@5"], 0.0, atol=1e-12)  # one genre for all


def test_tradeoff_table_and_figure(result, tmp_path):
    from alsrec.plots_beyond import tradeoff_figure, tradeoff_table

    summary = result.summary(n_boot=200)
    table = tradeoff_table(summary, "NDCG@10", "ARP@10")
    assert table["model"].tolist() == ["popularity", "random"]
    expected = summary.set_index(["model", "metric"]).loc[("random", "ARP@10"), "mean"]
    assert table.set_index("model").loc["random", "ARP@10 mean"] == expected
    png = tradeoff_figure(summary, "NDCG@10", "Gini@10", tmp_path / "tradeoff.png")
    assert png.startswith(b"\x89PNG")
    assert (tmp_path / "tradeoff.png").read_bytes() == png
    with pytest.raises(ParameterError, match="no MAP@10"):
        tradeoff_table(summary, "MAP@10", "ARP@10")
