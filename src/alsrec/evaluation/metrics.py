"""Ranking and rating metrics, each defined exactly.

Conventions shared by every ranking metric
------------------------------------------
- A user's *candidates* are the items the protocol asks the model to rank;
  each has a *gain* (the rating for graded metrics, 1 for binary ones); an item
  is *relevant* when its gain is > 0.
- Ranks start at 1. Ties in predicted score are broken at random with a key
  that depends on the seed, fold and user only, so every model sees the same
  tie-breaks (a stable sort would reward a model that outputs ties, because
  protocols often list relevant candidates first).
- Users with no relevant candidate are excluded from ranking metrics (their
  value is NaN) and counted separately in summaries.
- ``@k`` truncates the ranked list at k (or at the number of candidates).

Definitions, for one user with ranked gains g_1, g_2, ... and relevant set R:

=================  ========================================================================
``ndcg@k``         DCG@k / IDCG@k, DCG@k = sum_{i<=k} g_i / log2(i + 1), graded gain;
                   IDCG@k is the DCG of the user's own gains sorted in decreasing order
``ndcg_binary@k``  the same with g_i = 1 for relevant items
``precision@k``    |relevant in top k| / k
``recall@k``       |relevant in top k| / |R|
``map@k``          (1 / min(|R|, k)) sum_{i<=k, i relevant} precision@i
``mrr@k``          1 / rank of the first relevant item in the top k, 0 if none
``hit@k``          1 if any relevant item is in the top k, else 0
``auc``            fraction of (relevant, non-relevant) candidate pairs ranked correctly,
                   ties counted 1/2 (the expected value under random tie-breaking)
``rmse``, ``mae``  sqrt(mean (r - r_hat)^2) and mean |r - r_hat| over the user's held-out
                   ratings (rating prediction; needs ``predict``)
``coverage@k``     fraction of the catalogue that appears in at least one user's top k
                   (one number per model, not per user)
``ild@k``,         beyond accuracy: intra-list diversity, novelty and average
``novelty@k``,     recommendation popularity of each user's top k, and the Gini index
``arp@k``,         of exposure (one number per model); defined in
``gini@k``         :mod:`alsrec.evaluation.beyond`
=================  ========================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from alsrec.errors import ParameterError

RANKING_METRICS = ("ndcg", "ndcg_binary", "precision", "recall", "map", "mrr", "hit")
LIST_METRICS = ("ild", "novelty", "arp")  # per user, from the top-k list alone
PER_USER_METRICS = (*RANKING_METRICS, "auc", "rmse", "mae", *LIST_METRICS)
MODEL_METRICS = ("coverage", "gini")
LOWER_IS_BETTER = ("rmse", "mae", "arp", "gini")


@dataclass(frozen=True)
class Metric:
    """A parsed metric name such as ``ndcg@20``."""

    kind: str
    k: int | None

    @property
    def name(self) -> str:
        """Canonical label, e.g. ``NDCG@20``."""
        label = {
            "ndcg": "NDCG",
            "ndcg_binary": "NDCG-binary",
            "map": "MAP",
            "mrr": "MRR",
            "auc": "AUC",
            "rmse": "RMSE",
            "mae": "MAE",
            "ild": "ILD",
            "novelty": "Novelty",
            "arp": "ARP",
            "gini": "Gini",
        }.get(self.kind, self.kind)
        return f"{label}@{self.k}" if self.k is not None else label

    @property
    def per_user(self) -> bool:
        """False for model-level metrics (coverage)."""
        return self.kind in PER_USER_METRICS

    @property
    def higher_is_better(self) -> bool:
        """RMSE and MAE are errors, ARP and Gini measure popularity bias; the rest are scores."""
        return self.kind not in LOWER_IS_BETTER


def parse_metric(spec: str | Metric) -> Metric:
    """``"ndcg@20"`` -> Metric("ndcg", 20); clear error on an unknown name."""
    if isinstance(spec, Metric):
        return spec
    match = re.fullmatch(r"\s*([a-z_]+)\s*(?:@\s*(\d+))?\s*", str(spec).lower())
    known = (*PER_USER_METRICS, *MODEL_METRICS)
    if not match or match.group(1) not in known:
        raise ParameterError(
            f"unknown metric {spec!r}; use one of {', '.join(known)}, with @k for ranking "
            f"metrics (e.g. ndcg@20)."
        )
    kind, k = match.group(1), match.group(2)
    needs_k = kind in (*RANKING_METRICS, *LIST_METRICS, *MODEL_METRICS)
    if needs_k and k is None:
        raise ParameterError(f"metric {spec!r} needs a cut-off, e.g. {kind}@20.")
    if not needs_k and k is not None:
        raise ParameterError(f"metric {kind!r} takes no @k.")
    if k is not None and int(k) < 1:
        raise ParameterError(f"metric {spec!r}: k must be at least 1.")
    return Metric(kind, None if k is None else int(k))


def discount(k: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2))


def dcg(gains: np.ndarray) -> float:
    """Discounted cumulative gain of gains in rank order."""
    gains = np.asarray(gains, dtype=np.float64)
    return float(gains @ discount(len(gains))) if len(gains) else 0.0


def ranking_values(
    ranked_gains: np.ndarray, all_gains: np.ndarray, metric: Metric, scores=None, keys=None
) -> float:
    """One user's value of a ranking metric.

    Parameters
    ----------
    ranked_gains : numpy.ndarray
        Gains of the top candidates in rank order (at least ``metric.k`` long
        when there are that many candidates).
    all_gains : numpy.ndarray
        Gains of every candidate (for the ideal ordering and |R|).
    metric : Metric
        What to compute.
    scores, keys : numpy.ndarray, optional
        Scores and tie-break keys of every candidate (AUC only).
    """
    relevant_total = int(np.count_nonzero(all_gains > 0))
    if relevant_total == 0:
        return float("nan")
    kind, k = metric.kind, metric.k
    if kind == "auc":
        return auc(scores, all_gains > 0)
    top = np.asarray(ranked_gains[:k], dtype=np.float64)
    hits = top > 0
    if kind == "ndcg":
        ideal = np.sort(all_gains[all_gains > 0])[::-1][:k]
        return dcg(top) / dcg(ideal)
    if kind == "ndcg_binary":
        return dcg(hits.astype(np.float64)) / dcg(np.ones(min(relevant_total, k)))
    if kind == "precision":
        return float(hits.sum()) / k
    if kind == "recall":
        return float(hits.sum()) / relevant_total
    if kind == "map":
        ranks = np.flatnonzero(hits) + 1
        precision_at = np.arange(1, len(ranks) + 1) / ranks
        return float(precision_at.sum()) / min(relevant_total, k)
    if kind == "mrr":
        first = np.flatnonzero(hits)
        return 1.0 / (first[0] + 1) if len(first) else 0.0
    if kind == "hit":
        return float(hits.any())
    raise ParameterError(f"{metric.name} is not a ranking metric.")


def auc(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the ``relevant`` mask, ties counted 1/2."""
    from scipy.stats import rankdata

    relevant = np.asarray(relevant, dtype=bool)
    n_pos = int(relevant.sum())
    n_neg = len(relevant) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.nan_to_num(scores, nan=-np.inf))  # average ranks: ties count 1/2
    return float((ranks[relevant].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def rating_error(truth: np.ndarray, predicted: np.ndarray, kind: str) -> float:
    """RMSE or MAE of one user's held-out ratings."""
    if len(truth) == 0:
        return float("nan")
    error = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    if kind == "rmse":
        return float(np.sqrt(np.mean(error**2)))
    return float(np.mean(np.abs(error)))


def top_k_order(scores: np.ndarray, keys: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best ``k`` scores, best first, ties broken by ascending ``keys``.

    O(n) selection plus O(k log k) sorting; NaN scores rank last.
    """
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    n = len(scores)
    k = min(k, n)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(scores, n - k)[n - k]  # the k-th largest score
    above = np.flatnonzero(scores > kth)
    tied = np.flatnonzero(scores == kth)
    chosen = tied[np.argsort(keys[tied], kind="stable")[: k - len(above)]]
    top = np.concatenate([above, chosen])
    return top[np.lexsort((keys[top], -scores[top]))]
