"""Beyond-accuracy metrics of recommendation lists: diversity, novelty, popularity bias.

For one user's top-k list L = (i_1, ..., i_k) (the first k of the ranked
candidates), with training popularity n_i (users who interacted with item i)
among n_users training users:

=================  ========================================================================
``ild@k``          intra-list diversity: mean over the k(k-1)/2 pairs a < b of L of
                   1 - cos(v_a, v_b), with v the item factors (or given item features);
                   a zero vector has cosine 0 with everything; NaN when k < 2
``novelty@k``      mean self-information: (1/k) sum_{i in L} -log2(max(n_i, 1) / n_users)
                   (an item unseen in training counts as seen once)
``arp@k``          average recommendation popularity: (1/k) sum_{i in L} n_i / n_users
``gini@k``         Gini index of exposure over the catalogue (one number per model):
                   with e_i the number of users whose top k holds i, sorted ascending
                   e_(1) <= ... <= e_(n), G = sum_j (2j - n - 1) e_(j) / (n sum_j e_(j));
                   0 = every item equally exposed, (n - 1)/n = one item gets all exposure
``coverage@k``     fraction of the catalogue in at least one top k (see :mod:`.metrics`)
=================  ========================================================================

Higher ILD and novelty mean more diverse and less obvious lists; higher ARP
and Gini mean more popularity bias.

Examples
--------
>>> import numpy as np
>>> novelty(np.array([0, 1]), np.array([4, 1, 2]), n_users=4)
1.0
>>> gini(np.array([0, 0, 6]))  # one item takes all exposure
0.6666666666666666
"""

from __future__ import annotations

import numpy as np


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; zero rows stay zero (cosine 0 with everything)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def intra_list_diversity(items: np.ndarray, unit_vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance 1 - cos(v_a, v_b) of a list's items.

    Parameters
    ----------
    items : numpy.ndarray
        Rows of ``unit_vectors`` in the list.
    unit_vectors : numpy.ndarray
        Item vectors already scaled by :func:`unit_rows`.
    """
    k = len(items)
    if k < 2:
        return float("nan")
    v = unit_vectors[items]
    cos = v @ v.T
    pairs = (cos.sum() - np.trace(cos)) / 2
    return float(1.0 - pairs / (k * (k - 1) / 2))


def novelty(items: np.ndarray, counts: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2(max(n_i, 1) / n_users) of a list's items."""
    if len(items) == 0:
        return float("nan")
    share = np.maximum(counts[items], 1) / n_users
    return float(np.mean(-np.log2(share)))


def average_popularity(items: np.ndarray, counts: np.ndarray, n_users: int) -> float:
    """Mean share n_i / n_users of training users who interacted with a list's items."""
    if len(items) == 0:
        return float("nan")
    return float(np.mean(counts[items] / n_users))


def gini(exposure: np.ndarray) -> float:
    """Gini index of exposure counts (0: equal; (n - 1)/n: all on one item)."""
    e = np.sort(np.asarray(exposure, dtype=np.float64))
    n, total = len(e), e.sum()
    if n == 0 or total == 0:
        return 0.0
    j = np.arange(1, n + 1)
    return float(((2 * j - n - 1) @ e) / (n * total))
