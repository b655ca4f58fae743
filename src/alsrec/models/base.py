"""The fitted-model type every backend produces, and everything users do with it.

A fitted model is user and item factors, optional biases, the raw ids, the
training interactions (to filter what a user has seen) and item titles. Scores
are ``mu + b_u + b_i + x_u . y_i``. ALS (CPU or GPU), Spark and the baselines
all fill the same attributes, so recommend, predict, similar items, fold-in,
evaluation and persistence are written once, here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from alsrec._lazy import lazy_module
from alsrec.data.interactions import Interactions, _lookup, require_interactions
from alsrec.data.validation import finite_float32
from alsrec.errors import DataError, NotFittedError, ParameterError
from alsrec.kernels import top_n
from alsrec.models import catalog
from alsrec.models.ann import AnnSettings, approximate_top_n, settings_from
from alsrec.models.objective import Objective
from alsrec.models.params import Param, positive_int
from alsrec.models.updates import solve_rows

pd = lazy_module("pandas")  # imported on first use (see alsrec._lazy)

SCORE_BLOCK = 1024  # users scored per GEMM in batch recommendation


class FactorModel:
    """Base class of every alsrec model; holds the fitted state and the query API.

    Fitted attributes (set by ``fit`` of a subclass, or by :func:`load_model`):

    user_factors_, item_factors_ : numpy.ndarray
        (n_users, k) and (n_items, k).
    user_ids_, item_ids_ : numpy.ndarray
        Raw ids of the rows of the factor matrices.
    global_bias_ : float
        mu (0 without biases).
    user_bias_, item_bias_ : numpy.ndarray or None
        b_u and b_i, when the model has biases.
    objective_ : Objective or None
        The objective the factors minimise; fold-in solves it for new rows.
    seen_ : scipy.sparse.csr_matrix
        Training interactions, users x items, used by ``filter_seen``.
    item_titles_ : numpy.ndarray or None
        Item titles aligned with ``item_ids_``.

    A subclass joins the model catalog (persistence, ``make_model``, the CLI's
    ``-m`` and the contract tests find it there) with class keywords::

        class MyModel(FactorModel, name="MyModel", specs={"mine": {}}): ...

    See :mod:`alsrec.models.catalog`.
    """

    #: Constraints of the constructor parameters, checked by ``fit`` and the CLI.
    parameters: ClassVar[tuple[Param, ...]] = ()

    user_factors_: np.ndarray
    item_factors_: np.ndarray
    user_ids_: np.ndarray
    item_ids_: np.ndarray
    global_bias_: float
    user_bias_: np.ndarray | None
    item_bias_: np.ndarray | None
    objective_: Objective | None
    seen_: sp.csr_matrix
    item_titles_: np.ndarray | None

    _fitted_attributes = (
        "user_factors_",
        "item_factors_",
        "user_ids_",
        "item_ids_",
        "global_bias_",
        "user_bias_",
        "item_bias_",
        "objective_",
        "seen_",
        "item_titles_",
    )

    def __init_subclass__(
        cls,
        name: str | None = None,
        specs: Mapping[str, Mapping[str, Any]] | None = None,
        requires: tuple[str, str] | None = None,
        aliases: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        """Register the subclass in the model catalog when it gives a ``name``."""
        super().__init_subclass__(**kwargs)
        if name is not None:
            catalog.register(cls, name, specs, requires, aliases)

    # ------------------------------------------------------------------ params
    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (scikit-learn convention)."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p not in ("self",)]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> FactorModel:
        """Set constructor parameters; returns self."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ParameterError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {', '.join(valid)}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v is not None)
        return f"{type(self).__name__}({params})"

    # ------------------------------------------------------------------ state
    @property
    def is_fitted(self) -> bool:
        """True once the model holds factors."""
        return getattr(self, "user_factors_", None) is not None

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(data) first "
                f"or load one with alsrec.load_model(path)."
            )

    def _clear_fitted(self) -> None:
        for name in self._fitted_attributes:
            if name in self.__dict__:
                delattr(self, name)
        self.__dict__.pop("_scoring_cache", None)
        self.__dict__.pop("_ann_index", None)

    def _set_fitted(
        self,
        data: Interactions,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        *,
        global_bias: float = 0.0,
        user_bias: np.ndarray | None = None,
        item_bias: np.ndarray | None = None,
        objective: Objective | None = None,
    ) -> None:
        """Install a complete fitted state at once (so a failed fit leaves none)."""
        self.user_factors_ = user_factors
        self.item_factors_ = item_factors
        self.user_ids_ = data.user_ids
        self.item_ids_ = data.item_ids
        self.global_bias_ = float(global_bias)
        self.user_bias_ = user_bias
        self.item_bias_ = item_bias
        self.objective_ = objective
        self.seen_ = data.matrix
        self.item_titles_ = data.item_titles()
        self.__dict__.pop("_scoring_cache", None)
        self.__dict__.pop("_ann_index", None)

    @property
    def n_users(self) -> int:
        """Users known to the fitted model."""
        self._require_fitted()
        return len(self.user_ids_)

    @property
    def n_items(self) -> int:
        """Items known to the fitted model."""
        self._require_fitted()
        return len(self.item_ids_)

    def user_index(self, user_ids: Sequence | np.ndarray, missing: str = "error") -> np.ndarray:
        """Rows of raw user ids (-1 for unknown ids when ``missing="ignore"``)."""
        self._require_fitted()
        return _lookup(pd.Index(self.user_ids_), user_ids, "user", missing)

    def item_index(self, item_ids: Sequence | np.ndarray, missing: str = "error") -> np.ndarray:
        """Columns of raw item ids (-1 for unknown ids when ``missing="ignore"``)."""
        self._require_fitted()
        return _lookup(pd.Index(self.item_ids_), item_ids, "item", missing)

    # ------------------------------------------------------------------ scoring
    def _scoring_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """Factors augmented so one product gives mu + b_u + b_i + x . y."""
        cache = self.__dict__.get("_scoring_cache")
        if cache is not None:
            return cache
        x, y = self.user_factors_, self.item_factors_
        if self.user_bias_ is not None or self.item_bias_ is not None or self.global_bias_:
            user_bias = 0.0 if self.user_bias_ is None else self.user_bias_
            item_bias = 0.0 if self.item_bias_ is None else self.item_bias_
            user_column = np.broadcast_to(self.global_bias_ + user_bias, (len(x),))
            item_column = np.broadcast_to(item_bias, (len(y),))
            # [x, mu + b_u, 1] . [y, 1, b_i] = x . y + mu + b_u + b_i
            x = np.column_stack([x, user_column, np.ones(len(x))]).astype(x.dtype)
            y = np.column_stack([y, np.ones(len(y)), item_column]).astype(y.dtype)
        cache = (np.ascontiguousarray(x), np.ascontiguousarray(y))
        self.__dict__["_scoring_cache"] = cache
        return cache

    def score_users(
        self, user_ids: Sequence | np.ndarray, item_ids: Sequence | np.ndarray | None = None
    ) -> np.ndarray:
        """Dense scores of the given users for the given items (all items by default).

        Returns an array of shape (len(user_ids), len(item_ids)); this is what
        evaluation protocols rank.
        """
        users = self.user_index(user_ids)
        return self._score_rows(users, None if item_ids is None else self.item_index(item_ids))

    def _score_rows(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        x, y = self._scoring_factors()
        y = y if items is None else y[items]
        return x[users] @ y.T

    def predict(
        self,
        user_ids: Sequence | np.ndarray,
        item_ids: Sequence | np.ndarray,
        unknown: Literal["error", "bias"] = "error",
    ) -> np.ndarray:
        """Predicted scores (ratings, for the explicit preset) of (user, item) pairs.

        Parameters
        ----------
        user_ids, item_ids : array-like of equal length
            The pairs.
        unknown : {"error", "bias"}
            For users or items the model has not seen: raise
            :class:`~alsrec.UnknownIdError`, or predict from the biases alone
            (mu, plus b_u or b_i where known).
        """
        self._require_fitted()
        user_ids, item_ids = np.atleast_1d(user_ids), np.atleast_1d(item_ids)
        if len(user_ids) != len(item_ids):
            raise DataError("user_ids and item_ids must have the same length (one per pair).")
        missing = "error" if unknown == "error" else "ignore"
        if unknown not in ("error", "bias"):
            raise ParameterError("unknown must be 'error' or 'bias'.")
        users = self.user_index(user_ids, missing)
        items = self.item_index(item_ids, missing)
        known = (users >= 0) & (items >= 0)
        out = np.full(len(users), self.global_bias_, dtype=np.float64)
        if self.user_bias_ is not None:
            out[users >= 0] += self.user_bias_[users[users >= 0]]
        if self.item_bias_ is not None:
            out[items >= 0] += self.item_bias_[items[items >= 0]]
        u, i = users[known], items[known]
        out[known] += np.einsum(
            "ij,ij->i", self.user_factors_[u], self.item_factors_[i], dtype=np.float64
        )
        return out

    # ------------------------------------------------------------------ ranking
    def recommend(
        self,
        user_id: Any,
        n: int = 10,
        filter_seen: bool = True,
        threshold: float | None = None,
        items: Sequence | np.ndarray | None = None,
        exclude: Sequence | np.ndarray | None = None,
        fallback: str | None = None,
        approximate: bool | AnnSettings = False,
    ) -> pd.DataFrame:
        """Top-``n`` items for one user.

        Parameters
        ----------
        user_id : id
            A raw user id from the training data.
        n : int
            How many items at most.
        filter_seen : bool
            Leave out the items the user interacted with in training.
        threshold : float, optional
            Keep only items whose score is at least this (so fewer than ``n``
            may come back), as the blog proposes.
        items : array-like, optional
            Rank only these item ids.
        exclude : array-like, optional
            Never return these item ids.
        fallback : {None, "popularity"}
            For a user the model does not know: raise
            :class:`~alsrec.UnknownIdError` (None), or rank by training
            popularity; the frame then has a column ``source`` saying which.
        approximate : bool or AnnSettings
            Find the top items with an approximate index instead of scoring
            every item; see :meth:`recommend_batch`.

        Returns
        -------
        pandas.DataFrame
            Columns ``item``, ``score`` and ``title`` (when titles are known),
            best first.
        """
        frame = self.recommend_batch(
            [user_id], n, filter_seen, threshold, items, exclude, fallback, approximate
        )
        return frame.drop(columns=["user", "rank"]).reset_index(drop=True)

    def recommend_batch(
        self,
        user_ids: Sequence | np.ndarray | None = None,
        n: int = 10,
        filter_seen: bool = True,
        threshold: float | None = None,
        items: Sequence | np.ndarray | None = None,
        exclude: Sequence | np.ndarray | None = None,
        fallback: str | None = None,
        approximate: bool | AnnSettings = False,
    ) -> pd.DataFrame:
        """Top-``n`` items for many users at once (all users when ``user_ids`` is None).

        Scores are computed a block of users at a time with one matrix
        product, then a parallel partial sort keeps the best ``n`` of each row.
        ``fallback="popularity"`` ranks unknown users by training popularity
        and adds a column ``source`` (``"model"`` or ``"popularity"``).

        ``approximate=True`` (or an :class:`~alsrec.models.ann.AnnSettings`)
        finds each user's top items with a faiss index over the item factors
        (``pip install 'alsrec[ann]'``) instead of scoring every item: for
        large catalogues. The index is built on first use and kept until the
        items change; the filters mean the same, and every returned score is
        the exact one, but an item may be missed; see :mod:`alsrec.models.ann`.

        Returns
        -------
        pandas.DataFrame
            Long format: ``user``, ``rank`` (1 = best), ``item``, ``score`` and
            ``title`` when known.
        """
        self._require_fitted()
        if fallback is not None:
            from alsrec.models.queries import recommend_with_fallback

            everyone = self.user_ids_ if user_ids is None else user_ids
            return recommend_with_fallback(
                self, everyone, n, filter_seen, threshold, items, exclude, fallback, approximate
            )
        users = np.arange(self.n_users) if user_ids is None else self.user_index(user_ids)
        index, scores = self.top_n_indices(
            users, n, filter_seen, threshold, items, exclude, approximate=approximate
        )
        return self._ranking_frame(self.user_ids_[users], index, scores)

    def top_n_indices(
        self,
        users: np.ndarray,
        n: int = 10,
        filter_seen: bool = True,
        threshold: float | None = None,
        items: Sequence | np.ndarray | None = None,
        exclude: Sequence | np.ndarray | None = None,
        user_factors: np.ndarray | None = None,
        approximate: bool | AnnSettings = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` item columns and scores for user rows (-1 / NaN pad short lists).

        ``user_factors`` (already augmented for biases) replaces the stored
        rows, for folded-in users; then ``users`` rows index ``seen_`` only
        for filtering (-1: nothing to filter). ``approximate`` searches an
        index of the items instead (stored rows only); see :mod:`alsrec.models.ann`.
        """
        self._require_fitted()
        positive_int("n").check(n)
        settings = settings_from(approximate)
        if settings is not None:
            if user_factors is not None:
                raise ParameterError(
                    "approximate ranking works for the model's own users; "
                    "rank folded-in users exactly (approximate=False)."
                )
            return approximate_top_n(
                self, users, int(n), filter_seen, threshold, items, exclude, settings
            )
        n = int(min(n, self.n_items))
        x, y = self._scoring_factors()
        candidates = None if items is None else self.item_index(items)
        y_used = y if candidates is None else y[candidates]
        n = min(n, len(y_used))
        banned = np.zeros(0, np.int64) if exclude is None else self.item_index(exclude)
        if candidates is not None:
            seen = sp.csr_matrix(self.seen_[:, candidates])
            banned = np.flatnonzero(np.isin(candidates, banned)).astype(np.int64)
        else:
            seen = self.seen_
        if not filter_seen:
            seen = sp.csr_matrix((self.n_users, len(y_used)), dtype=np.float32)
        limit = -np.inf if threshold is None else float(threshold)
        all_index = np.empty((len(users), n), dtype=np.int64)
        all_scores = np.empty((len(users), n), dtype=np.float64)
        rows_source = x if user_factors is None else user_factors
        for start in range(0, len(users), SCORE_BLOCK):
            stop = min(start + SCORE_BLOCK, len(users))
            block_rows = (
                rows_source[users[start:stop]] if user_factors is None else rows_source[start:stop]
            )
            scores = block_rows @ y_used.T
            top_n(
                scores,
                users[start:stop].astype(np.int64),
                seen.indptr,
                seen.indices,
                banned,
                n,
                limit,
                all_index[start:stop],
                all_scores[start:stop],
            )
        if candidates is not None:
            valid = all_index >= 0
            all_index[valid] = candidates[all_index[valid]]
        return all_index, all_scores

    def _ranking_frame(self, user_ids: np.ndarray, index: np.ndarray, scores: np.ndarray):
        valid = index >= 0
        rows, ranks = np.nonzero(valid)
        columns = index[valid]
        frame = pd.DataFrame(
            {
                "user": user_ids[rows],
                "rank": ranks + 1,
                "item": self.item_ids_[columns],
                "score": scores[valid],
            }
        )
        if self.item_titles_ is not None:
            frame["title"] = self.item_titles_[columns]
        return frame

    def similar_items(self, item_id: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` items whose factors have the highest cosine with ``item_id``'s.

        Returns
        -------
        pandas.DataFrame
            ``item``, ``similarity`` and ``title`` (when known), best first;
            the item itself is left out.
        """
        from alsrec.models.queries import similar_items

        self._require_fitted()
        frame = similar_items(self, [item_id], n)
        return frame.drop(columns=["item", "rank"]).rename(columns={"similar_item": "item"})

    # ------------------------------------------------------------------ fold-in
    @property
    def can_fold_in(self) -> bool:
        """True when :meth:`fold_in`, :meth:`recommend_new_user` and :meth:`update_users`
        can place new users in this fitted model (it has an objective to solve)."""
        return self.is_fitted and self.objective_ is not None

    def _require_objective(self) -> Objective:
        self._require_fitted()
        if self.objective_ is None:
            raise ParameterError(
                f"{type(self).__name__} has no objective to fold new users into; "
                f"fold-in works for ALS, BayesianALS and Spark models."
            )
        return self.objective_

    def _solve_user_rows(self, rows: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Factors and biases of users with these rating rows (model item columns), items fixed.

        One ridge solve per row of the model's own objective: exactly the
        user half-step of training, so a training user's own ratings give back
        the factors one more half-step would.
        """
        return solve_rows(
            self._require_objective(), rows, self.item_factors_, self.item_bias_, self.global_bias_
        )

    def fold_in(
        self, item_ids: Sequence | np.ndarray, ratings: Sequence | np.ndarray | None = None
    ) -> tuple[np.ndarray, float]:
        """Factors (and bias) of a new user from their ratings, items held fixed.

        One ridge solve of the model's own objective against the fixed item
        factors: for a training user with the same ratings this reproduces
        their factors exactly when the model was fitted with exact solves
        (``solver="cholesky"``; CG, the implicit preset's default, stops a few
        steps short of the exact solution).

        Returns
        -------
        (numpy.ndarray, float)
            The user's factor vector and user bias (0 without biases).
        """
        self._require_objective()
        items = self.item_index(item_ids)
        values = np.ones(len(items)) if ratings is None else np.asarray(ratings)
        if values.shape != (len(items),):
            raise DataError("give one rating per item id.")
        values = finite_float32(values, "ratings").astype(np.float64)
        if len(np.unique(items)) != len(items):
            raise DataError("each item may appear once in a user's ratings.")
        row = sp.csr_matrix(
            (values, (np.zeros(len(items), dtype=np.int64), items)), shape=(1, self.n_items)
        )
        factors, biases = self._solve_user_rows(row)
        return factors[0], float(biases[0])

    def update_users(self, data: Interactions) -> FactorModel:
        """Refresh known users and add new ones from ``data``, without refitting items.

        Each user in ``data`` gets the factors (and bias) of one ridge solve
        against the fixed item factors from their interactions in ``data``,
        which replace their training interactions for ``filter_seen``. Items
        must be known to the model. Returns self.
        """
        self._require_objective()
        require_interactions(data, "update_users")
        columns = self.item_index(data.item_ids)
        coo = data.matrix.tocoo()
        rows = sp.csr_matrix(
            (coo.data, (coo.row, columns[coo.col])), shape=(data.n_users, self.n_items)
        )
        factors, biases = self._solve_user_rows(rows)
        known = self.user_index(data.user_ids, missing="ignore")
        new = known < 0
        user_ids = np.concatenate([self.user_ids_, data.user_ids[new]])
        targets = known.copy()
        targets[new] = len(self.user_ids_) + np.arange(int(new.sum()))
        user_factors = np.vstack(
            [
                self.user_factors_,
                np.zeros((int(new.sum()), self.user_factors_.shape[1]), self.user_factors_.dtype),
            ]
        )
        user_factors[targets] = factors
        if self.user_bias_ is not None:
            user_bias = np.concatenate([self.user_bias_, np.zeros(int(new.sum()))])
            user_bias[targets] = biases
            self.user_bias_ = user_bias
        seen = sp.vstack([self.seen_, sp.csr_matrix((int(new.sum()), self.n_items))]).tolil()
        for position, target in enumerate(targets):
            seen.rows[target] = rows.indices[
                rows.indptr[position] : rows.indptr[position + 1]
            ].tolist()
            seen.data[target] = rows.data[
                rows.indptr[position] : rows.indptr[position + 1]
            ].tolist()
        self.seen_ = sp.csr_matrix(seen, dtype=np.float32)
        self.user_factors_ = user_factors
        self.user_ids_ = user_ids
        self.__dict__.pop("_scoring_cache", None)
        return self

    def recommend_new_user(
        self,
        item_ids: Sequence | np.ndarray,
        ratings: Sequence | np.ndarray | None = None,
        n: int = 10,
        filter_seen: bool = True,
        threshold: float | None = None,
        items: Sequence | np.ndarray | None = None,
        exclude: Sequence | np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Recommendations for a user who is not in the training data, from their ratings.

        Their factors come from :meth:`fold_in`; the items they rated are
        left out when ``filter_seen``.
        """
        vector, bias = self.fold_in(item_ids, ratings)
        row = vector[None, :]
        x, _ = self._scoring_factors()
        if x.shape[1] != row.shape[1]:  # augmented for biases: [x, mu + b_u, 1]
            row = np.hstack([row, [[self.global_bias_ + bias, 1.0]]]).astype(x.dtype)
        rated = np.asarray(item_ids)
        banned = rated if filter_seen else None
        if exclude is not None:
            banned = (
                np.asarray(exclude)
                if banned is None
                else np.concatenate([banned, np.asarray(exclude)])
            )
        index, scores = self.top_n_indices(
            np.array([-1]), n, False, threshold, items, banned, user_factors=row
        )
        frame = self._ranking_frame(np.array([None], dtype=object), index, scores)
        return frame.drop(columns=["user", "rank"]).reset_index(drop=True)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to ``path`` atomically; see :mod:`alsrec.models.persistence`."""
        from alsrec.models.persistence import save_model

        save_model(self, path)

    # ------------------------------------------------------------------ more queries
    # Thin entry points; the logic lives in alsrec.models.queries / explain / updates.
    def recommend_users(
        self,
        item_id: Any,
        n: int = 10,
        filter_seen: bool = True,
        threshold: float | None = None,
        users: Sequence | np.ndarray | None = None,
        exclude: Sequence | np.ndarray | None = None,
    ) -> pd.DataFrame:
        """The audience of an item: the ``n`` users who score it highest.

        The transpose of :meth:`recommend`: the same scores, ranked over users.
        ``filter_seen`` leaves out users who interacted with the item;
        ``users`` ranks only these user ids, ``exclude`` never returns these.

        Returns
        -------
        pandas.DataFrame
            ``user`` and ``score``, best first.

        Examples
        --------
        >>> import alsrec
        >>> data = alsrec.generate(200, 100, 3000, seed=0).interactions
        >>> model = alsrec.ALS("implicit", factors=8, iterations=5, random_state=0).fit(data)
        >>> model.recommend_users(data.item_ids[0], n=3).shape[0]
        3
        """
        frame = self.recommend_users_batch([item_id], n, filter_seen, threshold, users, exclude)
        return frame.drop(columns=["item", "rank"]).reset_index(drop=True)

    def recommend_users_batch(
        self,
        item_ids: Sequence | np.ndarray | None = None,
        n: int = 10,
        filter_seen: bool = True,
        threshold: float | None = None,
        users: Sequence | np.ndarray | None = None,
        exclude: Sequence | np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Audiences of many items (all items when None): long ``item, rank, user, score``."""
        from alsrec.models.queries import recommend_users

        self._require_fitted()
        return recommend_users(self, item_ids, n, filter_seen, threshold, users, exclude)

    def similar_users(
        self,
        user_id: Any,
        n: int = 10,
        users: Sequence | np.ndarray | None = None,
        exclude: Sequence | np.ndarray | None = None,
    ) -> pd.DataFrame:
        """The ``n`` users whose factors have the highest cosine with ``user_id``'s.

        Returns
        -------
        pandas.DataFrame
            ``user`` and ``similarity``, best first; the user itself is left out.
        """
        from alsrec.models.queries import similar_users

        self._require_fitted()
        frame = similar_users(self, [user_id], n, users, exclude)
        return frame.drop(columns=["user", "rank"]).rename(columns={"similar_user": "user"})

    def similar_items_batch(
        self,
        item_ids: Sequence | np.ndarray | None = None,
        n: int = 10,
        items: Sequence | np.ndarray | None = None,
        exclude: Sequence | np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Similar items of many items (the whole catalogue when None), with filters.

        Returns
        -------
        pandas.DataFrame
            Long format ``item``, ``rank``, ``similar_item``, ``similarity``
            (and ``title`` of the similar item when known).
        """
        from alsrec.models.queries import similar_items

        self._require_fitted()
        return similar_items(self, item_ids, n, items, exclude)

    def explain(self, user_id: Any, item_id: Any) -> pd.DataFrame:
        """The score of an item for a user, split exactly over the user's interactions.

        score = mu + b_u + b_i + sum over the user's items j of
        ``(c_uj p_uj) * (y_j^T A_u^-1 y_i)``, from the same ridge solve as
        :meth:`fold_in`; see :mod:`alsrec.models.explain`.

        Returns
        -------
        pandas.DataFrame
            One row per interacted item, sorted by ``contribution``, then the
            bias terms; ``contribution`` sums to ``frame.attrs["score"]``.

        Examples
        --------
        >>> import alsrec
        >>> data = alsrec.generate(200, 100, 3000, seed=0).interactions
        >>> model = alsrec.ALS("implicit", factors=8, iterations=5, random_state=0).fit(data)
        >>> why = model.explain(data.user_ids[0], data.item_ids[1])
        >>> bool(abs(why["contribution"].sum() - why.attrs["score"]) < 1e-9)
        True
        """
        from alsrec.models.explain import explain

        return explain(self, user_id, item_id)

    def update_items(self, data: Interactions) -> FactorModel:
        """Refresh known items and add new ones from ``data``, without refitting users.

        The mirror of :meth:`update_users`: each item in ``data`` gets the
        factors (and bias) of one ridge solve of the model's objective against
        the fixed user factors, from its interactions in ``data`` (which
        replace its training ones for ``filter_seen``). Users must be known.
        Recommendations and ``similar_items`` see new items at once. Returns self.

        Examples
        --------
        >>> import alsrec
        >>> data = alsrec.generate(200, 100, 3000, seed=0).interactions
        >>> model = alsrec.ALS("implicit", factors=8, iterations=5, random_state=0).fit(data)
        >>> new = alsrec.Interactions.from_arrays([0, 1, 2], [999, 999, 999])
        >>> model.update_items(new).n_items
        101
        """
        from alsrec.models.updates import update_items

        update_items(self, data)
        return self


catalog.register(FactorModel, "FactorModel")  # fitted state only: files of any factor model
