"""Checks on raw tabular input that turn bad data into errors a person can act on.

Every check names the source (file or "DataFrame"), the column and the first
offending row, so a user can open the file at that line and fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alsrec._lazy import lazy_module
from alsrec.errors import DataError

pd = lazy_module("pandas")  # imported on first use (see alsrec._lazy)


def plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, so messages read 3 and not np.int64(3)."""
    return value.item() if isinstance(value, np.generic) else value


def describe_row(source: str, row: int, from_file: bool) -> str:
    """Name a data row; in a file with a header, data row 0 is line 2."""
    if from_file:
        return f"row {row} (line {row + 2}) of {source}"
    return f"row {row} of {source}"


def require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    """Fail unless every column in ``columns`` is present."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        available = ", ".join(repr(str(c)) for c in frame.columns) or "none"
        raise DataError(
            f"{source} has no column {', '.join(repr(c) for c in missing)} "
            f"(columns found: {available}). Name the right columns with "
            f"user_col=, item_col=, rating_col= (CLI: --user-col, --item-col, --rating-col), "
            f"or check the delimiter."
        )


def require_rows(frame: pd.DataFrame, source: str) -> None:
    """Fail on an input with no data rows."""
    if len(frame) == 0:
        raise DataError(f"{source} has no data rows: there is nothing to train or evaluate on.")


FLOAT32_MAX = float(np.finfo(np.float32).max)
INT64_RANGE = (-(2**63), 2**63 - 1)


def numeric_column(
    frame: pd.DataFrame, column: str, source: str, from_file: bool, *, integer: bool = False
) -> np.ndarray:
    """Return ``frame[column]`` as finite floats (or exact int64), or fail naming the first bad row.

    Floats must fit float32, the dtype alsrec stores values in, so nothing becomes inf
    after conversion. With ``integer=True`` (timestamps) integer and datetime columns
    are taken exactly, never through float64 (which would round nanoseconds).
    """
    series = frame[column]
    if integer:
        return _integer_column(series, column, source, from_file)
    values = pd.to_numeric(series, errors="coerce")
    _refuse_missing(series, values.isna().to_numpy(), column, source, from_file)
    array = values.to_numpy(dtype=np.float64)
    not_finite = ~np.isfinite(array)
    if not_finite.any():
        row = int(np.flatnonzero(not_finite)[0])
        raise DataError(
            f"column {column!r} holds the non-finite value {plain(array[row])!r} at "
            f"{describe_row(source, row, from_file)}. Remove or fix that row."
        )
    too_large = np.abs(array) > FLOAT32_MAX
    if too_large.any():
        row = int(np.flatnonzero(too_large)[0])
        raise DataError(
            f"column {column!r} holds {plain(array[row])!r} at "
            f"{describe_row(source, row, from_file)}, beyond the float32 range (3.4e38) "
            f"alsrec stores values in. Rescale the column."
        )
    return array


def _refuse_missing(
    series: pd.Series, bad: np.ndarray, column: str, source: str, from_file: bool
) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raw = series.iloc[row]
        what = "a missing value (NaN)" if pd.isna(raw) else f"the non-numeric value {plain(raw)!r}"
        raise DataError(
            f"column {column!r} holds {what} at {describe_row(source, row, from_file)}. "
            f"Remove or fix that row."
        )


def _integer_column(series: pd.Series, column: str, source: str, from_file: bool) -> np.ndarray:
    """Whole numbers as exact int64 (datetimes as nanoseconds since the epoch)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        _refuse_missing(series, series.isna().to_numpy(), column, source, from_file)
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return series.to_numpy(dtype="datetime64[ns]").view(np.int64)
    if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series
    else:
        values = pd.to_numeric(series, errors="coerce")
    _refuse_missing(series, values.isna().to_numpy(), column, source, from_file)
    if pd.api.types.is_integer_dtype(values):
        array = values.to_numpy()
        outside = (
            (array > INT64_RANGE[1]) if array.dtype.kind == "u" else np.zeros(len(array), bool)
        )
    else:
        array = values.to_numpy(dtype=np.float64)
        fraction = ~np.isfinite(array) | (array != np.round(array))
        if fraction.any():
            row = int(np.flatnonzero(fraction)[0])
            raise DataError(
                f"column {column!r} must hold whole numbers but has {plain(array[row])!r} at "
                f"{describe_row(source, row, from_file)}."
            )
        outside = (array < INT64_RANGE[0]) | (array >= 2.0**63)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"column {column!r} holds {plain(array[row])!r} at "
            f"{describe_row(source, row, from_file)}, outside the int64 range of timestamps "
            f"(nanoseconds since 1970 reach the year 2262). Fix that row."
        )
    return array.astype(np.int64)


CHECK_CHUNK = 1 << 18  # elements per temporary of holds_everywhere


def holds_everywhere(values: np.ndarray, test) -> bool:
    """Whether ``test(part)`` is true for every element of the 1-D ``values``.

    Checked a chunk at a time: a full-size boolean temporary (25 MB at 25M
    interactions) raises glibc's allocation thresholds, after which freed
    medium-sized arrays stay resident, and the peak memory of a fit grew by it.
    """
    return all(test(values[s : s + CHECK_CHUNK]).all() for s in range(0, len(values), CHECK_CHUNK))


def finite_float32(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` as float32, refusing NaN, inf and magnitudes beyond float32's range."""
    array = np.asarray(values)
    if array.dtype.kind not in "iuf" or array.dtype == np.bool_:
        raise DataError(f"{what} must be numbers, not {array.dtype} values.")
    wide = array.astype(np.float64)
    bad = ~np.isfinite(wide) | (np.abs(wide) > FLOAT32_MAX)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{what}: {plain(wide[first])!r} at position {first} is not a finite number "
            f"within the float32 range (3.4e38) alsrec stores values in."
        )
    return wide.astype(np.float32)


def id_column(frame: pd.DataFrame, column: str, source: str, from_file: bool) -> pd.Series:
    """Return an id column, checked for missing values, supported and unmixed types.

    Ids are kept exactly as given: integers (any integer dtype) or text. Other
    types (floats, bools, bytes, decimals, tuples, dates) are refused, since they
    cannot be matched exactly later (a CLI cannot type ``1.5`` back as the same
    float) or written to a model file unchanged.
    """
    series = frame[column]
    missing = series.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"column {column!r} has a missing id at {describe_row(source, row, from_file)}. "
            f"Every interaction needs a user and an item."
        )
    if pd.api.types.is_bool_dtype(series) or not (
        pd.api.types.is_integer_dtype(series)
        or pd.api.types.is_string_dtype(series)
        or series.dtype == object
    ):
        raise DataError(
            f"column {column!r} holds {series.dtype} ids; ids must be integers or text. "
            f"Convert the column first, e.g. df[{column!r}].astype(int) or .astype(str)."
        )
    if series.dtype == object:
        kinds = series.map(type)
        supported = kinds.map(
            lambda t: t is str or (issubclass(t, (int, np.integer)) and t is not bool)
        )
        if not supported.all():
            row = int(np.flatnonzero(~supported.to_numpy())[0])
            raise DataError(
                f"column {column!r} holds the id {plain(series.iloc[row])!r} of type "
                f"{kinds.iloc[row].__name__} at {describe_row(source, row, from_file)}; ids must "
                f"be integers or text. Convert the column, e.g. df[{column!r}].astype(str)."
            )
        if kinds.nunique() > 1:
            # 1 and "1" would silently become two different users.
            first = int(np.flatnonzero((kinds != kinds.iloc[0]).to_numpy())[0])
            raise DataError(
                f"column {column!r} mixes id types ({kinds.iloc[0].__name__} at row 0, "
                f"{kinds.iloc[first].__name__} at {describe_row(source, first, from_file)}). "
                f"Convert the column to one type first, e.g. df[{column!r}].astype(str)."
            )
    return series


def _supported_id_type(kind: type) -> bool:
    return kind is str or (issubclass(kind, int | np.integer) and kind is not bool)


_CANONICAL_INTEGER = r"^(?:0|-?[1-9][0-9]{0,18})$"


def ids_from_text(series: pd.Series, ids: str) -> pd.Series:
    """A text id column read from a file: kept as text unless every value is a plain integer.

    ``ids="auto"`` turns the column into int64 only when every value is written as a
    canonical integer (no sign but minus, no leading zeros, fits int64), so ``007`` and
    ``7`` stay two different text ids; ``ids="text"`` always keeps text.
    """
    if ids == "text" or series.isna().any():
        return series
    if series.str.fullmatch(_CANONICAL_INTEGER).all():
        as_int = pd.to_numeric(series, errors="coerce")
        if as_int.notna().all() and as_int.dtype == np.int64:  # uint64 would wrap around
            return as_int
    return series
