"""The ``Interactions`` container: a users x items CSR matrix with its raw ids.

Everything above the data layer (models, evaluation, CLI) works on
``Interactions``: row ``u`` of ``matrix`` is the user ``user_ids[u]``, column
``i`` is the item ``item_ids[i]``. Ids may be integers or strings; the matrix
only ever sees dense indices ``0..n-1``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp

from alsrec._lazy import is_pandas, lazy_module
from alsrec.data.validation import (
    describe_row,
    holds_everywhere,
    id_column,
    ids_from_text,
    numeric_column,
    plain,
    require_columns,
    require_rows,
)
from alsrec.errors import DataError, UnknownIdError
from alsrec.kernels.sparse import PARALLEL_MIN_NNZ, transpose_csr

pd = lazy_module("pandas")  # imported on first use (see alsrec._lazy)

DuplicatePolicy = Literal["error", "sum", "mean", "last"]
UnknownItemPolicy = Literal["drop", "error"]

USER_COLUMN_ALIASES = ("user", "user_id", "userId", "userid", "UserID", "user id")
ITEM_COLUMN_ALIASES = ("item", "item_id", "itemId", "itemid", "movieId", "movie_id", "MovieID")
RATING_COLUMN_ALIASES = ("rating", "ratings", "value", "score", "count", "Rating")
TIMESTAMP_COLUMN_ALIASES = ("timestamp", "time", "ts", "Timestamp")

_INT32_MAX = np.iinfo(np.int32).max


def _pick_column(
    frame: pd.DataFrame, given: str | None, aliases: Sequence[str], required: bool, source: str
) -> str | None:
    """Return the column to use: the one given, else the first known alias present."""
    if given is not None:
        require_columns(frame, [given], source)
        return given
    for alias in aliases:
        if alias in frame.columns:
            return alias
    if required:
        require_columns(frame, [aliases[0]], source)
    return None


def index_dtype(nnz: int, largest_index: int) -> type[np.integer]:
    """int32 indices while they fit (half the memory traffic), int64 beyond."""
    return np.int32 if max(nnz, largest_index) <= _INT32_MAX else np.int64


def build_csr(
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    shape: tuple[int, int],
    extra: np.ndarray | None = None,
) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """Build a CSR matrix with sorted column indices from unique (row, col) pairs.

    ``extra`` (e.g. timestamps) is permuted into the same order as the data.
    """
    # One int64 key sorts as fast as lexsort's two passes, twice over.
    order = np.argsort(rows.astype(np.int64) * shape[1] + cols, kind="stable")
    dtype = index_dtype(len(rows), max(shape))
    indptr = np.zeros(shape[0] + 1, dtype=dtype)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    with np.errstate(over="ignore"):  # overflow becomes inf, which Interactions refuses
        stored = values[order].astype(np.float32)
    matrix = sp.csr_matrix((stored, cols[order].astype(dtype), indptr), shape=shape)
    matrix.has_sorted_indices = True
    return matrix, (None if extra is None else extra[order])


class Interactions:
    """A users x items interaction matrix with raw ids, timestamps and item metadata.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
        Users x items, float32 values. Converted to CSR with sorted indices.
    user_ids, item_ids : array-like
        Raw ids of the rows and columns, unique.
    timestamps : numpy.ndarray, optional
        int64 timestamps aligned with ``matrix.data``.
    item_metadata : pandas.DataFrame, optional
        Extra item columns (e.g. ``title``) indexed by raw item id. May cover
        more items than the matrix has columns (a full catalogue).
    name : str, optional
        A label for messages and reports, e.g. ``"ml-latest-small"``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"user": [1, 1, 2], "item": ["a", "b", "a"], "rating": [5, 3, 4]})
    >>> data = Interactions.from_dataframe(df)
    >>> data.shape
    (2, 2)
    >>> data.user_index([2]).tolist()
    [1]
    """

    def __init__(
        self,
        matrix: sp.spmatrix | sp.sparray,
        user_ids: Sequence | np.ndarray,
        item_ids: Sequence | np.ndarray,
        timestamps: np.ndarray | None = None,
        item_metadata: pd.DataFrame | None = None,
        name: str | None = None,
    ) -> None:
        with np.errstate(over="ignore"):  # overflow becomes inf, refused below
            csr = sp.csr_matrix(matrix, dtype=np.float32)
        if not csr.has_sorted_indices:
            csr = csr.sorted_indices()
        if not holds_everywhere(csr.data, np.isfinite):  # in the dtype the values are kept in
            raise DataError(
                "the interaction values hold NaN, inf, or magnitudes beyond the float32 range "
                "(3.4e38) they are stored in (summed duplicates can overflow); rescale them."
            )
        self.matrix: sp.csr_matrix = csr
        self.user_ids: np.ndarray = np.asarray(user_ids)
        self.item_ids: np.ndarray = np.asarray(item_ids)
        if self.user_ids.shape != (csr.shape[0],) or self.item_ids.shape != (csr.shape[1],):
            raise DataError(
                f"the matrix is {csr.shape[0]} x {csr.shape[1]} but {len(self.user_ids)} user ids "
                f"and {len(self.item_ids)} item ids were given; give one id per row and column."
            )
        for label, ids in (("user", self.user_ids), ("item", self.item_ids)):
            if count_distinct(ids) != len(ids):
                raise DataError(f"{label} ids are not unique; each row/column needs its own id.")
        if timestamps is not None:
            timestamps = np.asarray(timestamps)
            if timestamps.dtype.kind == "M":
                timestamps = timestamps.astype("datetime64[ns]").view(np.int64)
            if timestamps.dtype.kind not in "iu":  # a float would round nanoseconds
                raise DataError(
                    f"timestamps must be int64 or datetime64, not {timestamps.dtype}; "
                    "convert them exactly first."
                )
            timestamps = timestamps.astype(np.int64)
            if timestamps.shape != (csr.nnz,):
                raise DataError("timestamps must have one entry per stored interaction.")
        self.timestamps: np.ndarray | None = timestamps
        self.item_metadata: pd.DataFrame | None = item_metadata
        self.name: str | None = name

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataframe(
        cls,
        frame: pd.DataFrame,
        user_col: str | None = None,
        item_col: str | None = None,
        rating_col: str | None = None,
        timestamp_col: str | None = None,
        *,
        duplicates: DuplicatePolicy = "error",
        items: pd.DataFrame | None = None,
        items_id_col: str | None = None,
        on_unknown_items: UnknownItemPolicy = "drop",
        implicit_if_no_rating: bool = True,
        source: str | None = None,
        name: str | None = None,
    ) -> Interactions:
        """Build from a long table of (user, item[, rating][, timestamp]) rows.

        Parameters
        ----------
        frame : pandas.DataFrame
            One interaction per row.
        user_col, item_col, rating_col, timestamp_col : str, optional
            Column names. When omitted, common names are tried (``user``,
            ``userId``, ``user_id`` ...; ``item``, ``movieId`` ...; ``rating``,
            ``value``, ``count`` ...; ``timestamp``).
        duplicates : {"error", "sum", "mean", "last"}
            What to do with repeated (user, item) pairs. The default refuses
            them, since silently keeping one would change the data.
        items : pandas.DataFrame, optional
            An item catalogue (e.g. MovieLens ``movies.csv``). Its other columns
            become ``item_metadata``; interactions with items absent from it are
            handled by ``on_unknown_items``.
        items_id_col : str, optional
            The id column of ``items``; defaults to ``item_col``'s name.
        on_unknown_items : {"drop", "error"}
            Drop interactions with items missing from ``items`` (with a warning
            that counts them), or fail.
        implicit_if_no_rating : bool
            With no rating column, every interaction gets the value 1.
        source : str, optional
            How to name the input in error messages (a file path).
        name : str, optional
            A label for the data set.
        """
        from_file = source is not None
        source = source or "the DataFrame"
        require_rows(frame, source)
        user_col = _pick_column(frame, user_col, USER_COLUMN_ALIASES, True, source)
        item_col = _pick_column(frame, item_col, ITEM_COLUMN_ALIASES, True, source)
        rating_col = _pick_column(
            frame, rating_col, RATING_COLUMN_ALIASES, not implicit_if_no_rating, source
        )
        timestamp_col = _pick_column(frame, timestamp_col, TIMESTAMP_COLUMN_ALIASES, False, source)
        assert user_col is not None
        assert item_col is not None

        users = id_column(frame, user_col, source, from_file)
        item_series = id_column(frame, item_col, source, from_file)
        if rating_col is None:
            values = np.ones(len(frame), dtype=np.float64)
        else:
            values = numeric_column(frame, rating_col, source, from_file)
        times = (
            None
            if timestamp_col is None
            else numeric_column(frame, timestamp_col, source, from_file, integer=True)
        )

        metadata = None
        keep = None
        if items is not None:
            id_col = items_id_col or item_col
            require_columns(items, [id_col], "the item catalogue")
            metadata = items.drop_duplicates(id_col).set_index(id_col)
            known = item_series.isin(metadata.index).to_numpy()
            if not known.all():
                first = int(np.flatnonzero(~known)[0])
                count = int((~known).sum())
                if on_unknown_items == "error":
                    raise DataError(
                        f"{count} interactions refer to items absent from the item catalogue, "
                        f"the first ({plain(item_series.iloc[first])!r}) at "
                        f"{describe_row(source, first, from_file)}. Add them to the catalogue "
                        f"or pass on_unknown_items='drop'."
                    )
                warnings.warn(
                    f"dropped {count} interactions with items absent from the item catalogue "
                    f"(first: {plain(item_series.iloc[first])!r}).",
                    stacklevel=2,
                )
                keep = known

        if keep is not None:
            users, item_series = users[keep], item_series[keep]
            values = values[keep]
            times = None if times is None else times[keep]
            original_rows = np.flatnonzero(keep)
        else:
            original_rows = np.arange(len(values))
        require_rows(users.to_frame(), source)

        user_codes, user_ids = pd.factorize(users, sort=True)
        item_codes, item_ids = pd.factorize(item_series, sort=True)
        shape = (len(user_ids), len(item_ids))
        user_codes, item_codes, values, times = _resolve_duplicates(
            user_codes,
            item_codes,
            values,
            times,
            shape,
            duplicates,
            source,
            from_file,
            original_rows,
        )
        matrix, times = build_csr(user_codes, item_codes, values, shape, times)
        return cls(
            matrix,
            np.asarray(user_ids),
            np.asarray(item_ids),
            timestamps=times,
            item_metadata=metadata,
            name=name,
        )

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike[str],
        *,
        sep: str = ",",
        encoding: str = "utf-8",
        ids: Literal["auto", "text"] = "auto",
        **kwargs,
    ) -> Interactions:
        """Read a delimited text file with a header row; see :meth:`from_dataframe`.

        Parameters
        ----------
        ids : {"auto", "text"}
            Ids are read as text, exactly as written. ``"auto"`` turns an id column
            into integers when every value is a plain integer (``12``, not ``012``
            or ``+12``), so users ``007`` and ``7`` stay two users; ``"text"``
            keeps every id column as text.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"no such file: {path}. Check the path.")
        if ids not in ("auto", "text"):
            raise DataError(f"ids must be 'auto' or 'text', not {ids!r}.")
        if not isinstance(sep, str) or len(sep) == 0:
            raise DataError("sep must be a non-empty delimiter such as ',' or '\\t'.")
        source = str(path)
        try:
            header = pd.read_csv(path, sep=sep, encoding=encoding, nrows=0)
            picks = (
                (kwargs.get("user_col"), USER_COLUMN_ALIASES),
                (kwargs.get("item_col"), ITEM_COLUMN_ALIASES),
            )
            id_columns = [
                column
                for given, aliases in picks
                if (column := _pick_column(header, given, aliases, False, source)) is not None
            ]
            frame = pd.read_csv(
                path, sep=sep, encoding=encoding, dtype=dict.fromkeys(id_columns, str)
            )
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path} is not valid {encoding} text ({exc.reason} at byte {exc.start}); "
                f"pass the file's encoding, e.g. encoding='latin-1'."
            ) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"{path} could not be read as CSV: {exc}. Check the file.") from None
        if frame.shape[1] == 1 and sep not in ("\t", "|", ";"):
            for other in ("\t", ";", "|"):
                if other in str(frame.columns[0]):
                    label = "tab" if other == "\t" else repr(other)
                    raise DataError(
                        f"{path} has one column named {frame.columns[0]!r}: it looks "
                        f"{label}-separated; pass sep={other!r}."
                    )
        for column in id_columns:
            frame[column] = ids_from_text(frame[column], ids)
        return cls.from_dataframe(frame, source=source, **kwargs)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str], **kwargs) -> Interactions:
        """Read a Parquet file; see :meth:`from_dataframe`."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"no such file: {path}. Check the path.")
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types for bad files
            raise DataError(f"{path} could not be read as Parquet: {exc}") from None
        return cls.from_dataframe(frame, source=str(path), **kwargs)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs) -> Interactions:
        """Read CSV/TSV or Parquet, chosen by the file's suffix."""
        suffix = Path(path).suffix.lower()
        if suffix in (".parquet", ".pq"):
            return cls.from_parquet(path, **kwargs)
        if suffix in (".tsv", ".tab"):
            kwargs.setdefault("sep", "\t")
        return cls.from_csv(path, **kwargs)

    @classmethod
    def from_scipy(
        cls,
        matrix: sp.spmatrix | sp.sparray,
        user_ids: Sequence | np.ndarray | None = None,
        item_ids: Sequence | np.ndarray | None = None,
        name: str | None = None,
    ) -> Interactions:
        """Wrap a scipy sparse matrix; ids default to ``0..n-1``.

        Explicit zeros are dropped and duplicate entries summed (scipy's rule).
        A float32 CSR matrix that is already canonical is used without a copy
        (alsrec never writes into it).
        """
        with np.errstate(over="ignore"):  # overflow becomes inf, refused below
            csr = sp.csr_matrix(matrix, dtype=np.float32)
        canonical = csr.has_canonical_format and holds_everywhere(csr.data, lambda part: part != 0)
        if not canonical:  # fix a private copy; a clean float32 CSR is shared, not copied
            csr = csr.copy()
            csr.sum_duplicates()
            csr.eliminate_zeros()
        if not holds_everywhere(csr.data, np.isfinite):
            raise DataError(
                "the sparse matrix holds NaN, inf, or values beyond the float32 range (3.4e38) "
                "alsrec stores values in; fix them first."
            )
        n_users, n_items = csr.shape
        dtype = index_dtype(csr.nnz, max(csr.shape))
        csr.indices = csr.indices.astype(dtype, copy=False)
        csr.indptr = csr.indptr.astype(dtype, copy=False)
        return cls(
            csr,
            np.arange(n_users) if user_ids is None else user_ids,
            np.arange(n_items) if item_ids is None else item_ids,
            name=name,
        )

    @classmethod
    def from_arrays(
        cls,
        users: Sequence | np.ndarray,
        items: Sequence | np.ndarray,
        values: Sequence | np.ndarray | None = None,
        timestamps: Sequence | np.ndarray | None = None,
        **kwargs,
    ) -> Interactions:
        """Build from parallel arrays of raw user ids, item ids and optional values."""
        columns = {"user": users, "item": items}
        if values is not None:
            columns["rating"] = values
        if timestamps is not None:
            columns["timestamp"] = timestamps
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise DataError(f"arrays differ in length: {lengths}; give one entry per interaction.")
        return cls.from_dataframe(
            pd.DataFrame(columns),
            "user",
            "item",
            "rating" if values is not None else None,
            "timestamp" if timestamps is not None else None,
            **kwargs,
        )

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple[int, int]:
        """(number of users, number of items)."""
        return self.matrix.shape

    @property
    def n_users(self) -> int:
        """Number of users (rows)."""
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        """Number of items (columns)."""
        return self.matrix.shape[1]

    @property
    def nnz(self) -> int:
        """Number of stored interactions."""
        return self.matrix.nnz

    @property
    def density(self) -> float:
        """Fraction of the users x items cells that hold an interaction."""
        cells = self.n_users * self.n_items
        return self.nnz / cells if cells else 0.0

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"Interactions({label}{self.n_users} users x {self.n_items} items, "
            f"{self.nnz} interactions, density {self.density:.4%})"
        )

    # ------------------------------------------------------------------ ids
    @cached_property
    def _user_lookup(self) -> pd.Index:
        return pd.Index(self.user_ids)

    @cached_property
    def _item_lookup(self) -> pd.Index:
        return pd.Index(self.item_ids)

    def user_index(self, ids: Sequence | np.ndarray, missing: Literal["error", "ignore"] = "error"):
        """Map raw user ids to row indices; unknown ids raise or become -1."""
        return _lookup(self._user_lookup, ids, "user", missing)

    def item_index(self, ids: Sequence | np.ndarray, missing: Literal["error", "ignore"] = "error"):
        """Map raw item ids to column indices; unknown ids raise or become -1."""
        return _lookup(self._item_lookup, ids, "item", missing)

    def item_titles(self, indices: np.ndarray | None = None) -> np.ndarray | None:
        """Titles of the items at ``indices`` (all items by default), or None if unknown."""
        if self.item_metadata is None or "title" not in self.item_metadata.columns:
            return None
        ids = self.item_ids if indices is None else self.item_ids[np.asarray(indices)]
        return self.item_metadata["title"].reindex(ids).to_numpy(dtype=object)

    # ------------------------------------------------------------------ structure
    @cached_property
    def item_user(self) -> sp.csr_matrix:
        """The items x users CSR transpose (computed once, then cached)."""
        matrix = self.matrix
        if matrix.nnz >= PARALLEL_MIN_NNZ:
            arrays = transpose_csr(matrix.indptr, matrix.indices, matrix.data, self.n_items)
            transposed = sp.csr_matrix(arrays[::-1], shape=self.shape[::-1])
            transposed.has_sorted_indices = True  # rows are scattered in order
        else:
            transposed = matrix.T.tocsr()
            transposed.sort_indices()
        dtype = index_dtype(self.nnz, max(self.shape))
        transposed.indices = transposed.indices.astype(dtype, copy=False)
        transposed.indptr = transposed.indptr.astype(dtype, copy=False)
        return transposed

    def user_counts(self) -> np.ndarray:
        """Interactions per user (int64, length n_users)."""
        return np.diff(self.matrix.indptr).astype(np.int64)

    def item_counts(self) -> np.ndarray:
        """Interactions per item (int64, length n_items)."""
        if "item_user" in self.__dict__:  # the cached transpose has them for free
            return np.diff(self.item_user.indptr).astype(np.int64)
        counts = np.zeros(self.n_items, dtype=np.int64)
        step = 1 << 22  # bincount widens int32 input to int64: keep that copy small
        for start in range(0, self.nnz, step):
            counts += np.bincount(self.matrix.indices[start : start + step], minlength=self.n_items)
        return counts

    def row_indices(self) -> np.ndarray:
        """The user index of every stored interaction, in CSR order."""
        return np.repeat(np.arange(self.n_users), self.user_counts())

    def filter(self, mask: np.ndarray) -> Interactions:
        """Keep the interactions where ``mask`` (over CSR order) is True; same ids and shape.

        This is what splits need: train and test share one id space, so a
        model fitted on one can score the other.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.nnz,):
            raise DataError(f"the mask must have one entry per interaction ({self.nnz}).")
        rows = self.row_indices()[mask]
        indptr = np.zeros(self.n_users + 1, dtype=self.matrix.indptr.dtype)
        np.cumsum(np.bincount(rows, minlength=self.n_users), out=indptr[1:])
        matrix = sp.csr_matrix(
            (self.matrix.data[mask], self.matrix.indices[mask], indptr), shape=self.shape
        )
        matrix.has_sorted_indices = True
        return self._like(matrix, None if self.timestamps is None else self.timestamps[mask])

    def select_users(self, user_indices: np.ndarray) -> Interactions:
        """A new Interactions holding only the given rows (in the given order)."""
        user_indices = np.asarray(user_indices, dtype=np.int64)
        matrix = self.matrix[user_indices]
        times = None
        if self.timestamps is not None:
            starts, ends = self.matrix.indptr[user_indices], self.matrix.indptr[user_indices + 1]
            times = self.timestamps[_ranges(starts, ends)]
        return Interactions(
            matrix, self.user_ids[user_indices], self.item_ids, times, self.item_metadata, self.name
        )

    def select_items(self, item_indices: np.ndarray) -> Interactions:
        """A new Interactions holding only the given columns (in the given order)."""
        item_indices = np.asarray(item_indices, dtype=np.int64)
        position = np.full(self.n_items, -1, dtype=np.int64)
        position[item_indices] = np.arange(len(item_indices))
        keep = position[self.matrix.indices] >= 0
        rows = self.row_indices()[keep]
        cols = position[self.matrix.indices[keep]]
        shape = (self.n_users, len(item_indices))
        times = None if self.timestamps is None else self.timestamps[keep]
        matrix, times = build_csr(rows, cols, self.matrix.data[keep], shape, times)
        return Interactions(
            matrix, self.user_ids, self.item_ids[item_indices], times, self.item_metadata, self.name
        )

    def _like(self, matrix: sp.csr_matrix, timestamps: np.ndarray | None) -> Interactions:
        return Interactions(
            matrix, self.user_ids, self.item_ids, timestamps, self.item_metadata, self.name
        )

    def to_dataframe(self) -> pd.DataFrame:
        """The interactions as a long table: user, item, rating[, timestamp]."""
        frame = pd.DataFrame(
            {
                "user": self.user_ids[self.row_indices()],
                "item": self.item_ids[self.matrix.indices],
                "rating": self.matrix.data,
            }
        )
        if self.timestamps is not None:
            frame["timestamp"] = self.timestamps
        return frame


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, e)`` for every pair, without a Python loop."""
    lengths = (ends - starts).astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts.astype(np.int64) - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total)


def count_distinct(ids: np.ndarray) -> int:
    """Distinct values in ``ids``: sorted with numpy for numbers, hashed by pandas otherwise
    (object ids may not sort: mixed types), so numeric ids never import pandas."""
    if ids.dtype.kind in "iufb":
        return len(np.unique(ids))
    return len(pd.unique(ids))


def _lookup(index: pd.Index, ids, label: str, missing: str) -> np.ndarray:
    if isinstance(ids, np.ndarray) and ids.dtype != object and index.dtype != object:
        ids_array = np.atleast_1d(ids)  # numeric ids against numeric ids: no conversion
    else:
        # object dtype keeps each id as given (np.asarray would coerce 1 and '1', or
        # fail on bytes); an unhashable id is refused below as an unknown id
        is_many = isinstance(ids, list | tuple | np.ndarray) or is_pandas(ids, "Index", "Series")
        values = list(ids) if is_many else [ids]
        ids_array = np.empty(len(values), dtype=object)
        ids_array[:] = values
    try:
        positions = index.get_indexer(ids_array)
    except TypeError:  # unhashable ids (lists, dicts) cannot be ids at all
        raise UnknownIdError(
            f"{label} ids must be integers or text, not {type(ids_array[0]).__name__}."
        ) from None
    if missing == "error" and (positions < 0).any():
        unknown = ids_array[positions < 0]
        shown = ", ".join(repr(plain(x)) for x in unknown[:5].tolist())
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise UnknownIdError(
            f"unknown {label} id {shown}{more}: not in the training data. "
            + (
                "For a new user, fold in their ratings (recommend with new-user ratings)."
                if label == "user"
                else "Check the id and its type (1 and '1' differ)."
            )
        )
    return positions.astype(np.int64)


def _resolve_duplicates(
    users: np.ndarray,
    items: np.ndarray,
    values: np.ndarray,
    times: np.ndarray | None,
    shape: tuple[int, int],
    policy: DuplicatePolicy,
    source: str,
    from_file: bool,
    original_rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Refuse or aggregate repeated (user, item) pairs."""
    if policy not in ("error", "sum", "mean", "last"):
        raise DataError(f"duplicates={policy!r} is not one of 'error', 'sum', 'mean', 'last'.")
    key = users.astype(np.int64) * shape[1] + items.astype(np.int64)
    unique_keys, first_pos, inverse, counts = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    if len(unique_keys) == len(key):
        return users, items, values, times
    if policy == "error":
        # The first row that repeats a pair seen on an earlier row.
        row = int(np.flatnonzero(first_pos[inverse] != np.arange(len(key)))[0])
        where = describe_row(source, int(original_rows[row]), from_file)
        raise DataError(
            f"(user, item) pair repeated at {where}"
            f" ({len(key) - len(unique_keys)} repeats in all). Pass duplicates='sum', 'mean' or "
            f"'last' to aggregate them on purpose, or remove them."
        )
    n = len(unique_keys)
    if policy == "last":
        last_pos = np.zeros(n, dtype=np.int64)
        np.maximum.at(last_pos, inverse, np.arange(len(key)))
        chosen = last_pos
        new_values = values[chosen]
        new_times = None if times is None else times[chosen]
    else:
        sums = np.bincount(inverse, weights=values, minlength=n)
        new_values = sums if policy == "sum" else sums / counts
        new_times = None
        if times is not None:
            new_times = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
            np.maximum.at(new_times, inverse, times)
    return (
        (unique_keys // shape[1]).astype(np.int64),
        (unique_keys % shape[1]).astype(np.int64),
        new_values,
        new_times,
    )


def require_interactions(data: object, where: str) -> None:
    """Fail unless ``data`` is an ``Interactions``; say how to build one."""
    if not isinstance(data, Interactions):
        raise DataError(
            f"{where} expects alsrec.Interactions, got {type(data).__name__}; build one with "
            f"Interactions.from_dataframe(df) or Interactions.from_scipy(matrix)."
        )
