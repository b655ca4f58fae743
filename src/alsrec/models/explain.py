"""Exact explanations of a score by the user's own interactions.

Holding the item factors Y fixed, a user's factors are one ridge solve of the
model's objective (the solve :meth:`FactorModel.fold_in` makes):

    x_u = A_u^-1 b_u,   A_u = w0 Y^T Y + sum_{j in S_u} (c_uj - w0) y_j y_j^T + lambda_u I,
                        b_u = sum_{j in S_u} c_uj p_uj y_j

so the score of item i splits exactly over the items j the user interacted with:

    score(u, i) = mu + b_u + b_i + sum_{j in S_u} (c_uj p_uj) * (y_j^T A_u^-1 y_i)

``weight`` is c_uj p_uj (the confidence times the target: the rating residual
for explicit models, the confidence for implicit ones), ``similarity`` is
y_j^T A_u^-1 y_i (the item-item similarity in the user's own metric), and
their product is the item's ``contribution``. The contributions plus the bias
terms add up to the score of the user's refolded factors, which is the score
``recommend`` gives up to the last ALS half-step (exactly, for users added by
fold-in or ``update_users``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alsrec.errors import DataError
from alsrec.kernels.weights import cell_weights

# ``model`` below is a fitted FactorModel, typed Any: base imports this module,
# and the sibling-acyclic import contract forbids the import back.


def _user_row(model: Any, user_id: Any) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of a known user's interactions (those ``filter_seen`` uses)."""
    row = model.user_index([user_id])[0]
    start, stop = model.seen_.indptr[row], model.seen_.indptr[row + 1]
    columns = model.seen_.indices[start:stop].astype(np.int64)
    if len(columns) == 0:
        raise DataError(f"user {user_id!r} has no interactions in the model to explain with.")
    return columns, model.seen_.data[start:stop].astype(np.float64)


def _decompose(
    model: Any, user_id: Any, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Columns, ratings, weights c p, similarities (|S_u| x len(targets)) and the user bias."""
    objective = model._require_objective()
    columns, values = _user_row(model, user_id)
    _vector, user_bias = model.fold_in(model.item_ids_[columns], values)
    residual = values  # the values the ridge solve sees, as in fold_in
    if objective.use_biases:
        item_bias = model.item_bias_[columns] if model.item_bias_ is not None else 0.0
        residual = values - model.global_bias_ - user_bias - item_bias
    c, p = cell_weights(residual, objective.weights)  # the kernels' own formulas
    y = model.item_factors_.astype(np.float64)
    ys = y[columns]
    w0 = objective.unobserved_weight
    reg = objective.row_regularization(np.array([len(columns)]), model.n_items)[0]
    a = w0 * (y.T @ y) + (ys.T * (c - w0)) @ ys + reg * np.eye(y.shape[1])
    similarity = ys @ np.linalg.solve(a, y[targets].T)
    return columns, values, c * p, similarity, user_bias


def _bias_terms(model: Any, user_bias: float, column: int) -> list[tuple[str, float]]:
    terms = []
    if model.global_bias_ or model.user_bias_ is not None or model.item_bias_ is not None:
        terms.append(("global bias", float(model.global_bias_)))
    if model.user_bias_ is not None:
        terms.append(("user bias", float(user_bias)))
    if model.item_bias_ is not None:
        terms.append(("item bias", float(model.item_bias_[column])))
    return terms


def explain(model: Any, user_id: Any, item_id: Any) -> pd.DataFrame:
    """The score of ``item_id`` for ``user_id`` as a sum over the user's interactions.

    Returns
    -------
    pandas.DataFrame
        One row per interacted item (``source="item"``: ``item``, ``title``
        when known, ``rating``, ``weight``, ``similarity``, ``contribution``)
        sorted by contribution, then one row per bias term (``source`` is
        ``"global bias"``, ``"user bias"`` or ``"item bias"``). The
        ``contribution`` column sums to ``frame.attrs["score"]``.
    """
    column = int(model.item_index([item_id])[0])
    columns, values, weight, similarity, user_bias = _decompose(model, user_id, np.array([column]))
    frame = pd.DataFrame(
        {
            "source": "item",
            "item": model.item_ids_[columns],
            "rating": values,
            "weight": weight,
            "similarity": similarity[:, 0],
            "contribution": weight * similarity[:, 0],
        }
    )
    if model.item_titles_ is not None:
        frame.insert(2, "title", model.item_titles_[columns])
    frame = frame.sort_values("contribution", ascending=False, kind="stable")
    terms = _bias_terms(model, user_bias, column)
    if terms:
        frame["item"] = frame["item"].astype(object)  # bias rows have no item: keep ids intact
        bias_rows = pd.DataFrame(terms, columns=["source", "contribution"])
        frame = pd.concat([frame, bias_rows], ignore_index=True)
    frame = frame.reset_index(drop=True)
    frame.attrs["score"] = float(frame["contribution"].sum())
    return frame


def reasons(model: Any, user_id: Any, item_ids: Any, top: int = 3) -> pd.DataFrame:
    """The ``top`` interactions that contribute most to each item's score ("because you rated").

    One solve of the user's system serves every item.

    Returns
    -------
    pandas.DataFrame
        Long format ``item``, ``because``, ``because_title`` (when titles are
        known) and ``contribution``, largest first within each item.
    """
    targets = model.item_index(item_ids)
    columns, _values, weight, similarity, _bias = _decompose(model, user_id, targets)
    contribution = weight[:, None] * similarity  # |S_u| x items
    keep = min(top, len(columns))
    order = np.argsort(-contribution, axis=0, kind="stable")[:keep]  # per item, best first
    picked = columns[order]
    frame = pd.DataFrame(
        {
            "item": np.repeat(model.item_ids_[targets], keep),
            "because": model.item_ids_[picked.T.ravel()],
            "contribution": np.take_along_axis(contribution, order, axis=0).T.ravel(),
        }
    )
    if model.item_titles_ is not None:
        frame.insert(2, "because_title", model.item_titles_[picked.T.ravel()])
    return frame
