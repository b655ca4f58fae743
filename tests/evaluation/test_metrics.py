"""Metrics pinned to hand-computed values, plus invariants under hypothesis."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsrec.errors import ParameterError
from alsrec.evaluation.metrics import (
    Metric,
    auc,
    dcg,
    parse_metric,
    ranking_values,
    rating_error,
    top_k_order,
)


def value(kind, k, ranked, all_gains=None, scores=None):
    ranked = np.asarray(ranked, dtype=float)
    all_gains = ranked if all_gains is None else np.asarray(all_gains, dtype=float)
    return ranking_values(ranked, all_gains, Metric(kind, k), scores)


def test_ndcg_hand_computed():
    # ranked gains 3, 0, 2 with one more relevant item (1) ranked beyond k
    ranked = [3, 0, 2, 0, 1]
    dcg3 = 3 / math.log2(2) + 0 + 2 / math.log2(4)
    idcg3 = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert value("ndcg", 3, ranked) == pytest.approx(dcg3 / idcg3)
    binary = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert value("ndcg_binary", 3, ranked) == pytest.approx(binary)


def test_ideal_is_truncated_at_k_over_the_users_relevant_items():
    # two relevant items, k = 1: the ideal list holds only the best one
    assert value("ndcg", 1, [2, 5]) == pytest.approx(2 / 5)


def test_precision_recall_map_mrr_hit_hand_computed():
    ranked = [0, 1, 0, 1, 0]  # relevant at ranks 2 and 4; 3 relevant in all
    all_gains = [0, 1, 0, 1, 0, 1]
    assert value("precision", 4, ranked, all_gains) == pytest.approx(2 / 4)
    assert value("recall", 4, ranked, all_gains) == pytest.approx(2 / 3)
    assert value("map", 4, ranked, all_gains) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert value("mrr", 4, ranked, all_gains) == pytest.approx(1 / 2)
    assert value("mrr", 1, ranked, all_gains) == 0.0
    assert value("hit", 1, ranked, all_gains) == 0.0
    assert value("hit", 2, ranked, all_gains) == 1.0


def test_users_without_relevant_items_are_nan():
    assert math.isnan(value("ndcg", 5, [0, 0, 0]))
    assert math.isnan(value("recall", 5, [0, 0]))


def test_auc_hand_computed_with_ties():
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    relevant = np.array([True, False, True, False])
    # pairs (rel, non-rel): (0.9,0.5) 1, (0.9,0.1) 1, (0.5,0.5) 1/2, (0.5,0.1) 1
    assert auc(scores, relevant) == pytest.approx(3.5 / 4)


def test_rating_errors():
    assert rating_error(np.array([4, 2]), np.array([3, 4]), "rmse") == pytest.approx(
        math.sqrt((1 + 4) / 2)
    )
    assert rating_error(np.array([4, 2]), np.array([3, 4]), "mae") == pytest.approx(1.5)


def test_parse_metric():
    assert parse_metric("NDCG@20") == Metric("ndcg", 20)
    assert parse_metric("auc").name == "AUC"
    assert parse_metric("map@10").name == "MAP@10"
    for bad, message in [
        ("ndcg", "needs a cut-off"),
        ("auc@5", "takes no @k"),
        ("foo@3", "unknown metric"),
        ("ndcg@0", "at least 1"),
    ]:
        with pytest.raises(ParameterError, match=message):
            parse_metric(bad)


def test_top_k_order_breaks_ties_by_key_only():
    scores = np.array([1.0, 2.0, 2.0, 2.0, 0.5])
    keys = np.array([0.1, 0.9, 0.2, 0.5, 0.3])
    assert top_k_order(scores, keys, 3).tolist() == [2, 3, 1]
    assert top_k_order(scores, keys, 10).tolist() == [2, 3, 1, 0, 4]
    assert top_k_order(np.array([np.nan, 1.0]), np.array([0.0, 0.5]), 2).tolist() == [1, 0]


gains_lists = st.lists(st.sampled_from([0.0, 0.0, 1.0, 2.5, 5.0]), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(gains=gains_lists, k=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_bounds_and_perfect_ranking(gains, k, seed):
    gains = np.array(gains)
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=len(gains))
    keys = rng.random(len(gains))
    ranked = gains[top_k_order(scores, keys, k)]
    perfect = gains[top_k_order(gains, keys, k)]
    for kind in ("ndcg", "ndcg_binary", "precision", "recall", "map", "mrr", "hit"):
        got = ranking_values(ranked, gains, Metric(kind, k))
        if not (gains > 0).any():
            assert math.isnan(got)
            continue
        assert 0.0 <= got <= 1.0 + 1e-12
        best = ranking_values(perfect, gains, Metric(kind, k))
        reaches_one = {"ndcg", "ndcg_binary", "mrr", "hit"}
        if k >= (gains > 0).sum():
            reaches_one |= {"recall", "map"}
        if kind in reaches_one:
            assert best == pytest.approx(1.0)
    a = auc(gains + 0.0, gains > 0)
    if 0 < (gains > 0).sum() < len(gains):
        assert a == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(gains=gains_lists, seed=st.integers(0, 10_000))
def test_permuting_candidates_with_their_keys_changes_nothing(gains, seed):
    gains = np.array(gains)
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, len(gains)).astype(float)  # many ties
    keys = rng.random(len(gains))
    perm = rng.permutation(len(gains))
    first = gains[top_k_order(scores, keys, 10)]
    second = gains[perm][top_k_order(scores[perm], keys[perm], 10)]
    np.testing.assert_array_equal(first, second)


def test_expected_ndcg_of_all_tied_scores_matches_analytic_value():
    gains = np.array([5.0, 3.0, 0.0, 0.0, 0.0, 0.0])  # relevant items listed first
    rng = np.random.default_rng(0)
    draws = [
        ranking_values(gains[top_k_order(np.zeros(6), rng.random(6), 6)], gains, Metric("ndcg", 6))
        for _ in range(4000)
    ]
    expected = gains.mean() * sum(1 / math.log2(i + 1) for i in range(1, 7)) / dcg([5.0, 3.0])
    assert np.mean(draws) == pytest.approx(expected, abs=0.01)
