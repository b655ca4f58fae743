"""Evaluation protocols: how data is split into training data and what each test user ranks.

Every protocol's ``split(data, seed)`` returns :class:`Fold` objects. A fold's
training data shares the id space of the full data (same users and items), so
a model fitted on it can score every test user; the fold lists, per test user,
either the exact candidates to rank with their gains (the blog's protocol) or
the held-out relevant items, the candidates then being every item the user did
not interact with in training (the other protocols).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alsrec.data.interactions import Interactions
from alsrec.errors import DataError, ParameterError


@dataclass
class Fold:
    """One train/test split.

    Attributes
    ----------
    index : int
        Fold number within its seed.
    train : Interactions
        What the model is fitted on.
    users : numpy.ndarray
        Row indices of the test users.
    indptr, items, gains : numpy.ndarray
        Per test user (CSR over ``users``): item indices and their gains.
    rank_all : bool
        False: ``items`` are the exact candidates (gain 0 = not relevant).
        True: ``items`` are the held-out relevant items; the candidates are all
        items except the user's training items.
    """

    index: int
    train: Interactions
    users: np.ndarray
    indptr: np.ndarray
    items: np.ndarray
    gains: np.ndarray
    rank_all: bool
    info: dict = field(default_factory=dict)

    def complete_users(self) -> np.ndarray | None:
        """Row indices of the users whose training rows this fold left whole.

        None when the split holds out from every user's row alike (random and
        temporal holdouts), so no user's row is complete. A search nested in this
        fold validates only on these users: a test user's hidden items would look
        unrated to it and count as misses (see :class:`~alsrec.evaluation.Tuned`).

        Returns
        -------
        numpy.ndarray or None
            Sorted user row indices, or None for holdouts that cut every row.
        """
        if not self.info.get("by_user"):
            return None
        return np.setdiff1d(np.arange(self.train.n_users), self.users)

    def user_slice(self, position: int) -> slice:
        """Entries of the ``position``-th test user."""
        return slice(int(self.indptr[position]), int(self.indptr[position + 1]))


def _position_within_rows(rows: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For entries grouped by ``rows``, each entry's rank within its row by ascending key."""
    order = np.lexsort((keys, rows))
    sorted_rows = rows[order]
    starts = np.searchsorted(sorted_rows, sorted_rows, side="left")
    position = np.empty(len(rows), dtype=np.int64)
    position[order] = np.arange(len(rows)) - starts
    return position


def _eligible_users(n_users: int, users: np.ndarray | None) -> np.ndarray | None:
    """Row indices of the users a split may test on (None: every user), checked."""
    if users is None:
        return None
    rows = np.asarray(users)
    if rows.dtype == bool:
        raise ParameterError(
            "users= takes user row indices, not a mask; pass np.flatnonzero(mask)."
        )
    if rows.ndim != 1 or (rows.size and not np.issubdtype(rows.dtype, np.integer)):
        raise ParameterError("users= must be a one-dimensional array of user row indices.")
    rows = np.unique(rows.astype(np.int64))
    if rows.size and (rows[0] < 0 or rows[-1] >= n_users):
        raise ParameterError(
            f"users= holds row indices outside 0..{n_users - 1}; pass rows of this data."
        )
    return rows


def _user_folds(
    n_users: int, n_folds: int, rng: np.random.Generator, eligible: np.ndarray | None = None
) -> np.ndarray:
    """Each user's fold; -1 for users outside ``eligible`` (never tested)."""
    if not isinstance(n_folds, int) or n_folds < 2:
        raise ParameterError(f"n_folds={n_folds!r} must be a whole number >= 2.")
    if eligible is None and n_users < n_folds:
        raise DataError(f"{n_users} users cannot be split into {n_folds} folds.")
    if eligible is not None and len(eligible) < n_folds:
        raise DataError(
            f"only {len(eligible)} of {n_users} users may be tested (users=), too few for "
            f"{n_folds} folds; allow more users or use fewer folds."
        )
    n_eligible = n_users if eligible is None else len(eligible)
    assignment = rng.permutation(np.arange(n_eligible) % n_folds)
    if eligible is None:
        return assignment
    every = np.full(n_users, -1, dtype=assignment.dtype)
    every[eligible] = assignment
    return every


def _user_mask(data: Interactions, users: np.ndarray | None) -> np.ndarray | bool:
    """Per interaction (CSR order): whether its user is one of ``users`` (True if None)."""
    eligible = _eligible_users(data.n_users, users)
    if eligible is None:
        return True
    is_eligible = np.zeros(data.n_users, dtype=bool)
    is_eligible[eligible] = True
    return is_eligible[data.row_indices()]


def _held_out_fold(
    index: int, data: Interactions, test_mask: np.ndarray, info: dict | None = None
) -> Fold:
    """A rank-all fold whose test entries are ``test_mask`` (over CSR order)."""
    rows = data.row_indices()[test_mask]
    users, counts = np.unique(rows, return_counts=True)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return Fold(
        index,
        data.filter(~test_mask),
        users,
        indptr,
        data.matrix.indices[test_mask].astype(np.int64),
        data.matrix.data[test_mask].astype(np.float64),
        True,
        info or {},
    )


class BlogProtocol:
    """The blog's protocol: K-fold over users, halves of rated and unrated items hidden.

    For each test user, the rated items and the unrated items are each split
    in half; the first halves are hidden from training; the model ranks the
    hidden rated half together with the hidden unrated half, with the rating as
    gain (0 for unrated). Training data: every other interaction (training
    users complete, test users' other rated half).

    Parameters
    ----------
    n_folds : int
        K (the blog uses 2).
    faithful : bool
        Reproduce the blog's code exactly: halves in column order (each user's
        lowest item ids hidden) instead of shuffled. The blog's comment says the
        halves are shuffled; its code does not, which favours popularity.
    """

    name = "blog"

    def __init__(self, n_folds: int = 2, faithful: bool = False) -> None:
        self.n_folds = n_folds
        self.faithful = faithful

    def split(
        self, data: Interactions, seed: int = 0, users: np.ndarray | None = None
    ) -> list[Fold]:
        """The K folds for ``seed``; test users drawn from ``users`` (row indices) if given."""
        rng = np.random.default_rng(seed)
        eligible = _eligible_users(data.n_users, users)
        assignment = _user_folds(data.n_users, self.n_folds, rng, eligible)
        n_items = data.n_items
        matrix = data.matrix
        hidden_rated = np.zeros(data.nnz, dtype=bool)
        candidates: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for user in range(data.n_users) if eligible is None else eligible.tolist():
            start, end = matrix.indptr[user], matrix.indptr[user + 1]
            rated = matrix.indices[start:end].astype(np.int64)
            unrated_mask = np.ones(n_items, dtype=bool)
            unrated_mask[rated] = False
            unrated = np.flatnonzero(unrated_mask)
            if self.faithful:
                rated_order = np.arange(len(rated))  # column order, as the blog's code
                unrated_order = np.arange(len(unrated))
            else:
                rated_order = rng.permutation(len(rated))
                unrated_order = rng.permutation(len(unrated))
            hide_rated = rated_order[: len(rated) // 2]
            hide_unrated = unrated[unrated_order[: len(unrated) // 2]]
            hidden_rated[start + hide_rated] = True
            items = np.concatenate([rated[hide_rated], hide_unrated])
            gains = np.concatenate(
                [matrix.data[start + hide_rated].astype(np.float64), np.zeros(len(hide_unrated))]
            )
            candidates[user] = (items, gains)
        folds = []
        rows = data.row_indices()
        for index in range(self.n_folds):
            test_users = np.flatnonzero(assignment == index)
            is_test_user = np.zeros(data.n_users, dtype=bool)
            is_test_user[test_users] = True
            train = data.filter(~(hidden_rated & is_test_user[rows]))
            lengths = [len(candidates[u][0]) for u in test_users]
            indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            items = np.concatenate([candidates[u][0] for u in test_users])
            gains = np.concatenate([candidates[u][1] for u in test_users])
            folds.append(
                Fold(
                    index,
                    train,
                    test_users,
                    indptr,
                    items,
                    gains,
                    False,
                    {"protocol": "blog", "faithful": self.faithful, "by_user": True},
                )
            )
        return folds


class UserCrossFold:
    """K-fold over users; each test user holds out some of their items (LensKit style).

    Exactly one of ``holdout`` (a count), ``fraction`` or ``last`` (the last N
    by timestamp) sets what a test user holds out. Candidates are all items
    except the user's training items; held-out items are relevant with their
    value as gain. Users with too few interactions keep at least one in training.
    """

    name = "crossfold"

    def __init__(
        self,
        n_folds: int = 5,
        holdout: int | None = None,
        fraction: float | None = None,
        last: int | None = None,
    ) -> None:
        self.n_folds = n_folds
        self.holdout = holdout
        self.fraction = fraction
        self.last = last

    def split(
        self, data: Interactions, seed: int = 0, users: np.ndarray | None = None
    ) -> list[Fold]:
        """The K folds for ``seed``; test users drawn from ``users`` (row indices) if given."""
        given = [x is not None for x in (self.holdout, self.fraction, self.last)]
        if sum(given) > 1:
            raise ParameterError("give one of holdout=, fraction= or last=, not several.")
        holdout = 5 if sum(given) == 0 else self.holdout
        if self.fraction is not None and not 0 < self.fraction < 1:
            raise ParameterError(f"fraction={self.fraction!r} must be between 0 and 1.")
        rng = np.random.default_rng(seed)
        eligible = _eligible_users(data.n_users, users)
        assignment = _user_folds(data.n_users, self.n_folds, rng, eligible)
        rows = data.row_indices()
        counts = data.user_counts()
        if self.last is not None:
            if data.timestamps is None:
                raise DataError("last= needs timestamps; this data has none.")
            keys = -data.timestamps.astype(np.float64)  # newest first
            per_user = np.full(data.n_users, self.last)
        else:
            keys = rng.random(data.nnz)
            if self.fraction is not None:
                per_user = np.ceil(counts * self.fraction).astype(np.int64)
            else:
                per_user = np.full(data.n_users, holdout)
        per_user = np.minimum(per_user, counts - 1)  # keep one interaction to learn from
        position = _position_within_rows(rows, keys)
        held_out = position < per_user[rows]
        folds = []
        for index in range(self.n_folds):
            test = held_out & (assignment[rows] == index)
            folds.append(
                _held_out_fold(index, data, test, {"protocol": "crossfold", "by_user": True})
            )
        return folds


class RandomHoldout:
    """A random fraction of all interactions is held out (one fold per seed)."""

    name = "holdout"

    def __init__(self, fraction: float = 0.2) -> None:
        self.fraction = fraction

    def split(
        self, data: Interactions, seed: int = 0, users: np.ndarray | None = None
    ) -> list[Fold]:
        """One fold for ``seed``; only ``users``' interactions (row indices) held out if given."""
        if not 0 < self.fraction < 1:
            raise ParameterError(f"fraction={self.fraction!r} must be between 0 and 1.")
        test = np.random.default_rng(seed).random(data.nnz) < self.fraction
        test &= _user_mask(data, users)
        return [_held_out_fold(0, data, test, {"protocol": "holdout"})]


class TemporalSplit:
    """Hold out by time: everything after a global cut, or each user's last N.

    Parameters
    ----------
    cut : float, optional
        A timestamp; interactions at or after it are held out.
    quantile : float, optional
        Place the cut at this quantile of all timestamps (default 0.8).
    last : int, optional
        Per-user leave-last-out: each user's ``last`` newest interactions
        (users keep at least one in training).
    """

    name = "temporal"

    def __init__(
        self, cut: float | None = None, quantile: float | None = None, last: int | None = None
    ) -> None:
        self.cut = cut
        self.quantile = quantile
        self.last = last

    def split(
        self, data: Interactions, seed: int = 0, users: np.ndarray | None = None
    ) -> list[Fold]:
        """One fold (not depending on ``seed``); only ``users``' interactions held out if given."""
        if data.timestamps is None:
            raise DataError("a temporal split needs timestamps; this data has none.")
        allowed = _user_mask(data, users)
        if self.last is not None:
            rows = data.row_indices()
            order = -data.timestamps.astype(np.float64)
            position = _position_within_rows(rows, order)
            per_user = np.minimum(self.last, data.user_counts() - 1)
            test = (position < per_user[rows]) & allowed
            return [_held_out_fold(0, data, test, {"protocol": "leave-last-out"})]
        cut = self.cut
        if cut is None:
            level = 0.8 if self.quantile is None else self.quantile
            cut = float(np.quantile(data.timestamps, level))
        test = (data.timestamps >= cut) & allowed
        if not test.any() or test.all():
            words = "" if users is None else " among the users= given"
            raise DataError(f"the cut {cut} leaves no training or no test data{words}; move it.")
        return [_held_out_fold(0, data, test, {"protocol": "temporal", "cut": cut})]


PROTOCOLS = {
    "blog": BlogProtocol,
    "crossfold": UserCrossFold,
    "holdout": RandomHoldout,
    "temporal": TemporalSplit,
}
