"""Approximate top-n: a faiss index over the item factors for maximum-inner-product search.

Exact top-n scores every item for every user; for catalogues of millions of
items an index answers "which items have the largest ``x_u . y_i``" without
scoring them all. This module (the optional extra ``ann``: ``pip install
'alsrec[ann]'``, which brings faiss-cpu) indexes the *bias-augmented* item
vectors ``[y_i, 1, b_i]`` that exact ranking uses, so the inner product with
the user's ``[x_u, mu + b_u, 1]`` is the full score.

Two kinds of index (:class:`AnnSettings`):

``"hnsw"`` (default)
    A faiss HNSW graph searched by inner product directly (``ip-NSW``,
    Morozov and Babenko, NeurIPS 2018). The other usual route, reducing
    inner product to L2 by one extra coordinate ``sqrt(M^2 - |y_i|^2)``
    (Bachrach et al., 2014), found far fewer of the true top 20 on fitted
    ALS factors at the same search effort: recall@20 at ``ef_search`` = 32
    (m = 16) on MovieLens latest-small explicit 0.89 against 0.11, implicit
    0.93 against 0.94, Last.fm implicit 0.97 against 0.87
    (``python -m benchmarks.bench_ann --fitted``). Its weak case is tight
    clusters of items of equal norm, unlike fitted factors, whose norms grow
    with popularity; raise ``ef_search`` or ``m`` there.
``"flat"``
    faiss ``IndexFlatIP``: every item scored, exact (a reference, and the
    known-answer check of the rest of the pipeline).

Filters keep exact ranking's meaning. ``items`` and ``exclude`` are the same
for every user, so the search itself skips what they rule out (a faiss ID
selector; a graph search restricted to a small share of the items may find
fewer than ``n``: rank a short ``items`` list exactly). ``filter_seen``
differs per user, so the search over-fetches ``n + (most items seen by a
user of the block)`` candidates, then the seen ones are dropped. The
candidates' scores are recomputed from the same vectors, in the same
precision, as exact ranking (equal to its scores up to float rounding), the
threshold applied to them, and the best ``n`` kept with the same top-n
kernel (ties to the lower item column): only *which* items come back is
approximate.

The index is built on the first approximate query and kept on the model
(never saved into model files); it is rebuilt when the item factors or
biases change (``update_items``, a new fit, a load).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from alsrec.errors import ParameterError
from alsrec.kernels import top_n
from alsrec.models.params import Param, check_params

# ``model`` below is a fitted FactorModel, typed Any: base imports this module,
# and the sibling-acyclic import contract forbids the import back.

SEARCH_BLOCK = 1024  # users searched per faiss call
CANDIDATE_VALUES = 1 << 22  # gathered candidate factor values held at once when rescoring
INSTALL_HINT = "pip install 'alsrec[ann]'"


@dataclass(frozen=True)
class AnnSettings:
    """How to build and search the approximate index.

    Parameters
    ----------
    kind : {"hnsw", "flat"}
        ``"hnsw"``: a graph index (fast, approximate); ``"flat"``: exact
        inner product over every item (a reference).
    m : int
        HNSW: neighbours per node; more gives higher recall, more memory.
    ef_construction : int
        HNSW: candidate list size while building; more gives a better graph,
        slower build.
    ef_search : int
        HNSW: candidate list size while searching (at least the number of
        candidates fetched); more gives higher recall, fewer queries per
        second. Changing it does not rebuild the index.

    Examples
    --------
    >>> import alsrec
    >>> from alsrec.models.ann import AnnSettings
    >>> data = alsrec.generate(200, 100, 3000, values="implicit", seed=0).interactions
    >>> model = alsrec.ALS("implicit", factors=8, iterations=5, random_state=0).fit(data)
    >>> exact = model.recommend_batch(n=5)
    >>> same = model.recommend_batch(n=5, approximate=AnnSettings(kind="flat"))
    >>> bool((exact["item"].to_numpy() == same["item"].to_numpy()).all())
    True
    """

    kind: Literal["hnsw", "flat"] = "hnsw"
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 256

    parameters: ClassVar[tuple[Param, ...]] = (
        Param("kind", "choice", choices=("hnsw", "flat")),
        Param("m", "int", minimum=2),
        Param("ef_construction", "int", minimum=1),
        Param("ef_search", "int", minimum=1),
    )

    def __post_init__(self) -> None:
        check_params(self.__dict__, self.parameters)

    def build_key(self) -> tuple:
        """What the built index depends on (``ef_search`` is a search-time choice)."""
        return (self.kind, self.m, self.ef_construction) if self.kind == "hnsw" else (self.kind,)


def settings_from(approximate: bool | AnnSettings) -> AnnSettings | None:
    """The settings an ``approximate=`` argument asks for (None: exact ranking)."""
    if isinstance(approximate, AnnSettings):
        return approximate
    if isinstance(approximate, bool | np.bool_):
        return AnnSettings() if approximate else None
    raise ParameterError(
        f"approximate={approximate!r} must be True, False or an alsrec.models.ann.AnnSettings(...)."
    )


def import_faiss() -> Any:
    """The faiss module, or a ParameterError saying how to install it."""
    try:
        import faiss
    except ImportError as error:
        raise ParameterError(
            f"approximate ranking (approximate=True, --approximate) needs faiss, which is "
            f"not installed: run {INSTALL_HINT} "
            f"(or pip install faiss-cpu), or use exact ranking (approximate=False)."
        ) from error
    return faiss


class ItemIndex:
    """A faiss index over bias-augmented item vectors, for maximum inner product.

    Parameters
    ----------
    vectors : numpy.ndarray
        (n_items, d) item vectors; the score of query ``q`` is ``q . vectors[i]``.
    settings : AnnSettings
        The kind of index and its parameters.
    """

    def __init__(self, vectors: np.ndarray, settings: AnnSettings) -> None:
        faiss = import_faiss()
        self.faiss = faiss
        self.settings = settings
        self.n_items, dim = vectors.shape
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if settings.kind == "flat":
            self.index = faiss.IndexFlatIP(dim)
        else:
            self.index = faiss.IndexHNSWFlat(dim, settings.m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = settings.ef_construction
        self.index.add(vectors)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        ef_search: int | None = None,
    ) -> np.ndarray:
        """Rows of the ``k`` items with the largest inner product per query (-1 pads).

        ``allowed`` (a boolean mask over items) restricts the search to those
        items; ``ef_search`` (HNSW only) replaces the one the index was built with.
        """
        faiss = self.faiss
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        # ``bits`` and ``selector`` stay referenced until the search returns: faiss keeps
        # raw pointers to them
        bits = selector = None
        if allowed is not None:
            bits = np.packbits(allowed.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(self.n_items, faiss.swig_ptr(bits))
        if self.settings.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(ef_search or self.settings.ef_search, k)  # faiss needs >= k
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
        _distances, labels = self.index.search(queries, k, params=params)
        return labels.astype(np.int64, copy=False)


def item_index(model: Any, settings: AnnSettings) -> ItemIndex:
    """The model's index for ``settings``: built on first use, rebuilt when items change.

    The index is cached on the model with the item arrays it was built from;
    any new ``item_factors_`` or ``item_bias_`` array (``update_items``, a
    refit, a load) makes it stale.
    """
    _, y = model._scoring_factors()
    source = (model.item_factors_, model.item_bias_, y.shape[1], settings.build_key())
    cached = model.__dict__.get("_ann_index")
    if cached is not None:
        built_from, index = cached
        if all(a is b for a, b in zip(built_from[:2], source[:2], strict=True)) and (
            built_from[2:] == source[2:]
        ):
            return index
    index = ItemIndex(y, settings)
    model.__dict__["_ann_index"] = (source, index)
    return index


def approximate_top_n(
    model: Any,
    users: np.ndarray,
    n: int,
    filter_seen: bool,
    threshold: float | None,
    items: Sequence | np.ndarray | None,
    exclude: Sequence | np.ndarray | None,
    settings: AnnSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-``n`` item columns and exact scores for user rows.

    The same contract as :meth:`FactorModel.top_n_indices` (-1 / NaN pad
    short lists), with the candidates found by the index of :func:`item_index`.
    """
    x, y = model._scoring_factors()
    n_items = model.n_items
    allowed = None
    if items is not None or exclude is not None:
        allowed = np.zeros(n_items, bool) if items is not None else np.ones(n_items, bool)
        if items is not None:
            allowed[model.item_index(items)] = True
        if exclude is not None:
            allowed[model.item_index(exclude)] = False
    # the output width exact ranking gives: n, at most the candidate items
    width = min(n, n_items if items is None else len(model.item_index(items)))
    n_allowed = n_items if allowed is None else int(allowed.sum())
    index = item_index(model, settings)
    limit = -np.inf if threshold is None else float(threshold)
    seen = model.seen_
    seen_counts = np.diff(seen.indptr)
    out_index = np.full((len(users), width), -1, np.int64)
    out_score = np.full((len(users), width), np.nan)
    if n_allowed == 0 or width == 0:
        return out_index, out_score
    # users in blocks of similar history length, so one heavy user does not make a
    # whole block over-fetch
    order = np.argsort(seen_counts[users], kind="stable") if filter_seen else np.arange(len(users))
    for start in range(0, len(users), SEARCH_BLOCK):
        positions = order[start : start + SEARCH_BLOCK]
        rows = users[positions]
        extra = int(seen_counts[rows].max()) if filter_seen else 0
        fetch = min(width + extra, n_allowed)
        labels = index.search(x[rows], fetch, allowed, settings.ef_search)
        # ascending columns, so the kernel's "ties go to the lower position" means lower column
        labels = np.sort(labels, axis=1)
        found = labels >= 0
        safe = np.where(found, labels, 0)
        scores = _candidate_scores(x[rows], y, safe)
        scores[~found] = -np.inf
        if filter_seen:
            scores[_is_seen(seen, rows, safe) & found] = -np.inf
        block_index = np.empty((len(rows), width), np.int64)
        block_score = np.empty((len(rows), width), np.float64)
        top_n(
            scores,
            np.full(len(rows), -1, np.int64),
            np.zeros(1, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            width,
            limit,
            block_index,
            block_score,
        )
        kept = block_index >= 0
        picked = np.take_along_axis(labels, np.where(kept, block_index, 0), axis=1)
        out_index[positions] = np.where(kept, picked, -1)
        out_score[positions] = block_score
    return out_index, out_score


def _candidate_scores(queries: np.ndarray, targets: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``queries[r] . targets[columns[r, j]]`` as float64, in the factors' own precision.

    Computed in the dtype exact ranking multiplies in, a few rows at a time so
    the gathered candidate vectors stay small.
    """
    out = np.empty(columns.shape, np.float64)
    step = max(1, CANDIDATE_VALUES // max(1, columns.shape[1] * targets.shape[1]))
    for start in range(0, len(queries), step):
        stop = start + step
        out[start:stop] = np.einsum("bk,bmk->bm", queries[start:stop], targets[columns[start:stop]])
    return out


def _is_seen(seen, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``seen[rows[r], columns[r, j]] != 0`` as a boolean (b, m) array, by sorted-key lookup."""
    block = seen[rows]
    block.sort_indices()
    width = seen.shape[1]
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(block.indptr))
    keys = owner * width + block.indices.astype(np.int64)  # sorted: rows, then columns
    wanted = np.arange(len(rows), dtype=np.int64)[:, None] * width + columns
    if len(keys) == 0:
        return np.zeros(columns.shape, bool)
    position = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return keys[position] == wanted
