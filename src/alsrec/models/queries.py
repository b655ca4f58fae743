"""Queries in both directions and in batches, over a fitted model's public arrays.

Every query here is one shape: score a block of *query* rows against every
*target* row with one matrix product, then keep the best ``n`` of each score
row with the parallel top-n kernel (:func:`alsrec.kernels.top_n`), which also
removes per-row exclusions (a CSR) and globally banned targets.

================================  ===========  ===========  ==================================
query                             query rows   target rows  score
================================  ===========  ===========  ==================================
``recommend_users`` (audiences)   items        users        mu + b_u + b_i + x_u . y_i
``similar_users``                 users        users        cos(x_u, x_v)
``similar_items`` (batch)         items        items        cos(y_i, y_j)
``popular_items`` (fallback)      one row      items        n_i / n_users (training share)
================================  ===========  ===========  ==================================

``recommend_users`` is the transpose of ``recommend``: the score of (u, i) is
the same number, ranked over users for a fixed item instead of over items for
a fixed user, and ``filter_seen`` leaves out the users who already
interacted with the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from alsrec.errors import DataError, ParameterError
from alsrec.kernels import top_n
from alsrec.models.params import positive_int

# ``model`` below is a fitted FactorModel, typed Any: base imports this module,
# and the sibling-acyclic import contract forbids the import back.

QUERY_BLOCK = 1024  # query rows scored per matrix product
FALLBACKS = ("popularity",)


def _check_n(n: Any) -> int:
    positive_int("n").check(n)
    return int(n)


def ranked_targets(
    queries: np.ndarray,
    targets: np.ndarray,
    n: int,
    exclude_rows: np.ndarray | None = None,
    exclude: sp.csr_matrix | None = None,
    banned: np.ndarray | None = None,
    threshold: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``n`` target rows for each query row by inner product, best first.

    Parameters
    ----------
    queries : numpy.ndarray
        (b, k) query vectors.
    targets : numpy.ndarray
        (m, k) target vectors.
    n : int
        How many targets per query (at most m).
    exclude_rows : numpy.ndarray, optional
        (b,) row of each query in ``exclude`` (-1: nothing excluded).
    exclude : scipy.sparse.csr_matrix, optional
        Targets to leave out, per exclusion row.
    banned : numpy.ndarray, optional
        Target rows left out for every query.
    threshold : float, optional
        Keep only scores >= threshold.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        (b, n) target rows (-1 where fewer qualify) and scores (NaN there).
    """
    n = min(n, len(targets))
    if exclude is None:
        exclude = sp.csr_matrix((1, len(targets)), dtype=np.float32)
        exclude_rows = np.full(len(queries), -1, np.int64)
    indptr = exclude.indptr.astype(np.int64)
    indices = exclude.indices.astype(np.int64)
    banned = np.zeros(0, np.int64) if banned is None else np.asarray(banned, np.int64)
    limit = -np.inf if threshold is None else float(threshold)
    out_index = np.empty((len(queries), n), dtype=np.int64)
    out_score = np.empty((len(queries), n), dtype=np.float64)
    for start in range(0, len(queries), QUERY_BLOCK):
        stop = min(start + QUERY_BLOCK, len(queries))
        scores = queries[start:stop] @ targets.T
        top_n(
            scores,
            np.asarray(exclude_rows[start:stop], np.int64),
            indptr,
            indices,
            banned,
            n,
            limit,
            out_index[start:stop],
            out_score[start:stop],
        )
    return out_index, out_score


def _unit_rows(factors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; rows of zeros stay zero (they have no direction)."""
    factors = np.asarray(factors, dtype=np.float64)
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    return factors / np.where(norms > 0, norms, 1.0)


def _candidates(
    lookup, count: int, include: Sequence | np.ndarray | None, exclude
) -> tuple[np.ndarray, np.ndarray]:
    """Target rows allowed by an include list, and the banned rows among them."""
    rows = np.arange(count) if include is None else lookup(include)
    banned = np.zeros(0, np.int64)
    if exclude is not None:
        banned = np.flatnonzero(np.isin(rows, lookup(exclude))).astype(np.int64)
    return rows, banned


def _long_frame(
    query_label: str,
    query_ids: np.ndarray,
    target_label: str,
    target_ids: np.ndarray,
    index: np.ndarray,
    scores: np.ndarray,
    score_label: str,
) -> pd.DataFrame:
    valid = index >= 0
    rows, ranks = np.nonzero(valid)
    return pd.DataFrame(
        {
            query_label: query_ids[rows],
            "rank": ranks + 1,
            target_label: target_ids[index[valid]],
            score_label: scores[valid],
        }
    )


def recommend_users(
    model: Any,
    item_ids: Sequence | np.ndarray | None = None,
    n: int = 10,
    filter_seen: bool = True,
    threshold: float | None = None,
    users: Sequence | np.ndarray | None = None,
    exclude: Sequence | np.ndarray | None = None,
) -> pd.DataFrame:
    """The ``n`` users with the highest score for each item (all items when None).

    Returns a long DataFrame ``item``, ``rank``, ``user``, ``score``; see
    :meth:`FactorModel.recommend_users_batch`.
    """
    n = _check_n(n)
    x, y = model._scoring_factors()
    items = np.arange(model.n_items) if item_ids is None else model.item_index(item_ids)
    candidates, banned = _candidates(model.user_index, model.n_users, users, exclude)
    seen_by_item = None
    if filter_seen:
        seen_by_item = sp.csr_matrix(model.seen_.T.tocsr()[:, candidates])
    index, scores = ranked_targets(
        y[items], x[candidates], n, items, seen_by_item, banned, threshold
    )
    valid = index >= 0
    index[valid] = candidates[index[valid]]
    return _long_frame(
        "item", model.item_ids_[items], "user", model.user_ids_, index, scores, "score"
    )


def similar_users(
    model: Any,
    user_ids: Sequence | np.ndarray | None = None,
    n: int = 10,
    users: Sequence | np.ndarray | None = None,
    exclude: Sequence | np.ndarray | None = None,
) -> pd.DataFrame:
    """The ``n`` users whose factors have the highest cosine with each query user's.

    Returns a long DataFrame ``user``, ``rank``, ``similar_user``, ``similarity``;
    a user is never similar to itself, users without factors never qualify.
    """
    n = _check_n(n)
    queries = np.arange(model.n_users) if user_ids is None else model.user_index(user_ids)
    return _similar(
        model.user_factors_, model.user_index, model.user_ids_, queries, n, users, exclude, "user"
    )


def similar_items(
    model: Any,
    item_ids: Sequence | np.ndarray | None = None,
    n: int = 10,
    items: Sequence | np.ndarray | None = None,
    exclude: Sequence | np.ndarray | None = None,
) -> pd.DataFrame:
    """The ``n`` items whose factors have the highest cosine with each query item's.

    Returns a long DataFrame ``item``, ``rank``, ``similar_item``,
    ``similarity`` (and ``title`` of the similar item when known).
    """
    n = _check_n(n)
    queries = np.arange(model.n_items) if item_ids is None else model.item_index(item_ids)
    frame = _similar(
        model.item_factors_, model.item_index, model.item_ids_, queries, n, items, exclude, "item"
    )
    if model.item_titles_ is not None and len(frame):
        frame["title"] = model.item_titles_[model.item_index(frame["similar_item"].to_numpy())]
    return frame


def _similar(factors, lookup, ids, queries, n, include, exclude, label) -> pd.DataFrame:
    if len(ids) < 2:
        raise DataError(f"the model has a single {label}: there is nothing similar to it.")
    unit = _unit_rows(factors)
    candidates, banned = _candidates(lookup, len(ids), include, exclude)
    no_direction = np.flatnonzero(~unit[candidates].any(axis=1))
    banned = np.union1d(banned, no_direction).astype(np.int64)
    # each query row excludes its own position among the candidates (if it is one)
    position = pd.Index(candidates).get_indexer(queries)
    own = sp.csr_matrix(
        (
            np.ones(int((position >= 0).sum()), np.float32),
            position[position >= 0],
            np.concatenate([[0], np.cumsum(position >= 0)]),
        ),
        shape=(len(queries), len(candidates)),
    )
    index, scores = ranked_targets(
        unit[queries], unit[candidates], n, np.arange(len(queries)), own, banned
    )
    valid = index >= 0
    index[valid] = candidates[index[valid]]
    return _long_frame(label, ids[queries], f"similar_{label}", ids, index, scores, "similarity")


def popular_items(
    model: Any,
    n: int = 10,
    threshold: float | None = None,
    items: Sequence | np.ndarray | None = None,
    exclude: Sequence | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Columns and scores of the ``n`` items most users interacted with in training.

    The score is the share of training users who interacted with the item,
    ``n_i / n_users``; ties go to the lower column. This is the fallback
    ranking for users the model does not know.
    """
    n = _check_n(n)
    counts = np.bincount(model.seen_.indices, minlength=model.n_items).astype(np.float64)
    share = counts / max(model.seen_.shape[0], 1)
    candidates, banned = _candidates(model.item_index, model.n_items, items, exclude)
    index, scores = ranked_targets(
        np.ones((1, 1)), share[candidates, None], n, banned=banned, threshold=threshold
    )
    valid = index >= 0
    index[valid] = candidates[index[valid]]
    return index[0], scores[0]


def recommend_with_fallback(
    model: Any,
    user_ids: Sequence | np.ndarray,
    n: int,
    filter_seen: bool,
    threshold: float | None,
    items: Sequence | np.ndarray | None,
    exclude: Sequence | np.ndarray | None,
    fallback: str,
    approximate: Any = False,
) -> pd.DataFrame:
    """``recommend_batch`` where unknown users get the ``fallback`` ranking.

    The frame gains a column ``source``: ``"model"`` for known users, the
    fallback's name (``"popularity"``) for the others.
    """
    if fallback not in FALLBACKS:
        raise ParameterError(
            f"fallback={fallback!r} is not known; use fallback='popularity' or None."
        )
    user_ids = pd.Index(list(np.atleast_1d(user_ids))).to_numpy()  # ints stay ints
    rows = model.user_index(user_ids, missing="ignore")
    known = rows >= 0
    n = _check_n(n)
    index = np.full((len(user_ids), min(n, model.n_items)), -1, np.int64)
    scores = np.full(index.shape, np.nan)
    if known.any():
        found_index, found_scores = model.top_n_indices(
            rows[known], n, filter_seen, threshold, items, exclude, approximate=approximate
        )
        width = found_index.shape[1]
        index[known, :width], scores[known, :width] = found_index, found_scores
    if (~known).any():
        popular_index, popular_scores = popular_items(model, n, threshold, items, exclude)
        width = len(popular_index)
        index[~known, :width], scores[~known, :width] = popular_index, popular_scores
    frame = model._ranking_frame(user_ids, index, scores)
    # _ranking_frame lists the valid cells in row-major order, as np.nonzero does
    frame["source"] = np.where(known[np.nonzero(index >= 0)[0]], "model", fallback)
    return frame
