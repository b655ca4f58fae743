"""Checks on raw tabular input that turn bad data into errors a person can act on.

Every check names the source (file or "DataFrame"), the column and the first
offending row, so a user can open the file at that line and fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsrec.errors import DataError


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


def numeric_column(
    frame: pd.DataFrame, column: str, source: str, from_file: bool, *, integer: bool = False
) -> np.ndarray:
    """Return ``frame[column]`` as finite floats (or int64), or fail naming the first bad row."""
    series = frame[column]
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raw = series.iloc[row]
        what = "a missing value (NaN)" if pd.isna(raw) else f"the non-numeric value {plain(raw)!r}"
        raise DataError(
            f"column {column!r} holds {what} at {describe_row(source, row, from_file)}. "
            f"Remove or fix that row."
        )
    array = values.to_numpy(dtype=np.float64)
    not_finite = ~np.isfinite(array)
    if not_finite.any():
        row = int(np.flatnonzero(not_finite)[0])
        raise DataError(
            f"column {column!r} holds the non-finite value {plain(array[row])!r} at "
            f"{describe_row(source, row, from_file)}. Remove or fix that row."
        )
    if integer:
        if not np.all(array == np.round(array)):
            row = int(np.flatnonzero(array != np.round(array))[0])
            raise DataError(
                f"column {column!r} must hold whole numbers but has {plain(array[row])!r} at "
                f"{describe_row(source, row, from_file)}."
            )
        return array.astype(np.int64)
    return array


def id_column(frame: pd.DataFrame, column: str, source: str, from_file: bool) -> pd.Series:
    """Return an id column, checked for missing values and mixed int/str types."""
    series = frame[column]
    missing = series.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"column {column!r} has a missing id at {describe_row(source, row, from_file)}. "
            f"Every interaction needs a user and an item."
        )
    if series.dtype == object:
        kinds = series.map(type)
        if kinds.nunique() > 1:
            # 1 and "1" would silently become two different users.
            first = int(np.flatnonzero((kinds != kinds.iloc[0]).to_numpy())[0])
            raise DataError(
                f"column {column!r} mixes id types ({kinds.iloc[0].__name__} at row 0, "
                f"{kinds.iloc[first].__name__} at {describe_row(source, first, from_file)}). "
                f"Convert the column to one type first, e.g. df[{column!r}].astype(str)."
            )
    return series
