"""Rows of one side solved against the other side's fixed factors: fold-in and updates.

Holding one side's factors fixed, each row of the other side is one ridge
solve of the model's own objective (DESIGN.md section 1): exactly a training
half-step. Users (``fold_in``, ``update_users``) and items (``update_items``)
share :func:`solve_rows`; with biases, a row's bias is first the damped mean
of its residuals ``r - mu - b_other`` (as in training), and the factors fit
what remains.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from alsrec.data.interactions import Interactions, require_interactions
from alsrec.errors import DataError
from alsrec.kernels import solve_cholesky
from alsrec.models.objective import Objective, damped_means

# ``model`` below is a fitted FactorModel, typed Any: base imports this module,
# and the sibling-acyclic import contract forbids the import back.


def solve_rows(
    objective: Objective,
    rows: sp.csr_matrix,
    fixed: np.ndarray,
    fixed_bias: np.ndarray | None,
    global_bias: float,
    label: str = "user",
) -> tuple[np.ndarray, np.ndarray]:
    """Factors and biases of ``rows`` (values over the fixed side's rows) against ``fixed``.

    Parameters
    ----------
    objective : Objective
        The model's objective.
    rows : scipy.sparse.csr_matrix
        One row per solved row, one column per row of ``fixed``, raw values.
    fixed : numpy.ndarray
        The other side's factors, held fixed.
    fixed_bias : numpy.ndarray or None
        The other side's biases.
    global_bias : float
        mu.
    label : str
        "user" or "item", for the error message.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Factors (len(rows), k) in ``fixed``'s dtype, and biases (zeros without biases).
    """
    rows = sp.csr_matrix(rows, dtype=np.float64)
    objective.check_values(rows.data, f"the new {label} ratings")
    rows.sort_indices()
    counts = np.diff(rows.indptr)
    values = rows.data.copy()
    biases = np.zeros(rows.shape[0])
    if objective.use_biases:
        other_bias = fixed_bias if fixed_bias is not None else np.zeros(len(fixed))
        residual = values - global_bias - other_bias[rows.indices]
        owner = np.repeat(np.arange(rows.shape[0]), counts)
        biases = damped_means(owner, residual, counts, objective.bias_damping)
        values = residual - biases[owner]
    out = np.zeros((rows.shape[0], fixed.shape[1]), dtype=fixed.dtype)
    failed = solve_cholesky(
        rows.indptr.astype(np.int64),
        rows.indices.astype(np.int64),
        values.astype(fixed.dtype),
        fixed,
        objective.row_regularization(counts, len(fixed)),
        objective.weights,
        np.array([0, rows.shape[0]], dtype=np.int64),
        out,
    )
    if failed:
        raise DataError(
            f"{failed} {label} ridge systems are singular (too few ratings with "
            f"regularization 0); raise regularization."
        )
    return out, biases


def update_items(model: Any, data: Interactions) -> None:
    """Refresh the items in ``data`` and add new ones, user factors held fixed.

    Each item's factors (and bias) become one ridge solve against the fixed
    user factors from its interactions in ``data``; those interactions
    replace the item's training ones for ``filter_seen``. Every user in
    ``data`` must be known to the model.
    """
    objective = model._require_objective()
    require_interactions(data, "update_items")
    users = model.user_index(data.user_ids)
    coo = data.item_user.tocoo()  # items x users of data
    rows = sp.csr_matrix((coo.data, (coo.row, users[coo.col])), shape=(data.n_items, model.n_users))
    factors, biases = solve_rows(
        objective, rows, model.user_factors_, model.user_bias_, model.global_bias_, "item"
    )
    known = model.item_index(data.item_ids, missing="ignore")
    new = known < 0
    n_new = int(new.sum())
    targets = known.copy()
    targets[new] = model.n_items + np.arange(n_new)
    k = model.item_factors_.shape[1]
    item_factors = np.vstack([model.item_factors_, np.zeros((n_new, k), model.item_factors_.dtype)])
    item_factors[targets] = factors
    # Every new array is built first and all are installed together at the end, so a
    # query running meanwhile sees the old model or the new one, never a mix.
    item_bias = model.item_bias_
    if item_bias is not None:
        item_bias = np.concatenate([model.item_bias_, np.zeros(n_new)])
        item_bias[targets] = biases
    item_titles = model.item_titles_
    new_titles = data.item_titles()
    if item_titles is not None or new_titles is not None:
        old = item_titles if item_titles is not None else np.full(model.n_items, None, object)
        added = new_titles[new] if new_titles is not None else np.full(n_new, None, dtype=object)
        item_titles = np.concatenate([old.astype(object), added.astype(object)])
        if new_titles is not None:
            item_titles[targets[~new]] = new_titles[~new]
    # seen_: drop the updated items' old columns, add their new interactions
    old = model.seen_.tocoo()
    keep = ~np.isin(old.col, targets[~new])
    seen = sp.csr_matrix(
        (
            np.concatenate([old.data[keep], coo.data]),
            (
                np.concatenate([old.row[keep], users[coo.col]]),
                np.concatenate([old.col[keep], targets[coo.row]]),
            ),
        ),
        shape=(model.n_users, model.n_items + n_new),
        dtype=np.float32,
    )
    seen.sort_indices()
    item_ids = np.concatenate([model.item_ids_, data.item_ids[new]])
    model.__dict__.update(
        item_bias_=item_bias,
        item_titles_=item_titles,
        seen_=seen,
        item_factors_=item_factors,
        item_ids_=item_ids,
    )
    model.__dict__.pop("_scoring_cache", None)
    model.__dict__.pop("_ann_index", None)  # the approximate index knows the old items only
