"""What every command shares: loading DATA, error reporting, JSON output."""

from __future__ import annotations

import json
import re
import shlex
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer

from alsrec.data import Interactions
from alsrec.datasets import LASTFM_NAMES, VARIANTS, load_lastfm, load_movielens
from alsrec.errors import AlsrecError

F = TypeVar("F", bound=Callable[..., Any])

STATE: dict[str, bool] = {"debug": False}


def fail(message: str) -> typer.Exit:
    """Print a one-line error on stderr and return the exit to raise (code 1)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def note(message: str) -> None:
    """Print a one-line note on stderr: something the user should know, not an error."""
    typer.echo(f"note: {message}", err=True)


# Python keyword arguments that the CLI exposes as flags: messages written for
# Python callers ("pass sep=';'") are re-worded with the flag ("pass --sep ';'").
FLAGS = {
    name: "--" + name.replace("_", "-")
    for name in (
        "alpha",
        "duplicates",
        "factors",
        "item_col",
        "iterations",
        "reg_exponent",
        "regularization",
        "rating_col",
        "sep",
        "solver",
        "threshold",
        "timestamp_col",
        "unobserved_weight",
        "user_col",
    )
}
FLAGS["n_folds"] = "--folds"
_QUOTED = r"'(?:[^'\\]|\\.)*'"
_KEYWORD = re.compile(rf"\b({'|'.join(FLAGS)})=((?:{_QUOTED})(?:(?:, | or ){_QUOTED})*|[\w.+-]+)")


def _shell_value(python_value: str) -> str:
    """``'sum'`` -> ``sum``; ``';'`` -> ``';'`` (quoted for the shell); ``'\\t'`` -> ``$'\\t'``."""
    if not python_value.startswith("'"):
        return python_value
    text = python_value[1:-1]
    if "\\" in text:
        return f"$'{text}'"
    return shlex.quote(text)


def cli_words(message: str) -> str:
    """Re-word ``name=value`` keyword arguments in ``message`` as command-line flags.

    ``"Pass duplicates='sum', 'mean' or 'last'"`` becomes
    ``"Pass --duplicates sum, mean or last"``. Errors about a ``-m`` model spec
    are left as they are: there ``key=value`` is the command line's own syntax.
    """
    if message.startswith("model spec "):
        return message

    def flag(match: re.Match[str]) -> str:
        values = re.sub(_QUOTED, lambda v: _shell_value(v.group(0)), match.group(2))
        return f"{FLAGS[match.group(1)]} {values}"

    return _KEYWORD.sub(flag, message)


def handle_errors(command: F) -> F:
    """Turn alsrec's deliberate errors and OS errors into one line and exit code 1.

    Warnings become one ``warning:`` line each, in the CLI's words, instead of
    Python's two-line format with a source path.
    """

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                return command(*args, **kwargs)
            except (AlsrecError, OSError) as exc:
                if STATE["debug"]:
                    raise
                message = cli_words(" ".join(str(exc).split()))
                raise fail(message) from None
            finally:
                for item in caught:
                    if not issubclass(item.category, DeprecationWarning):
                        text = cli_words(" ".join(str(item.message).split()))
                        typer.echo(f"warning: {text}", err=True)

    return wrapper  # type: ignore[return-value]


def is_movielens_name(data: str) -> bool:
    """True when DATA names a MovieLens variant rather than a file."""
    key = data.lower()
    return (key if key.startswith("ml-") else f"ml-{key}") in VARIANTS and not Path(data).exists()


def load_data(
    data: str,
    data_dir: Path | None,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    timestamp_col: str | None = None,
    sep: str | None = None,
    duplicates: str | None = None,
) -> Interactions:
    """DATA is a data set name (``ml-latest-small``, ``lastfm``) or a CSV/TSV/Parquet path."""
    file_options = {
        "--user-col": user_col,
        "--item-col": item_col,
        "--rating-col": rating_col,
        "--timestamp-col": timestamp_col,
        "--sep": sep,
        "--duplicates": duplicates,
    }
    if is_movielens_name(data):
        given = [flag for flag, value in file_options.items() if value is not None]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise fail(
                f"{', '.join(given)} only {verb} to CSV/TSV/Parquet files; {data} is a MovieLens "
                f"name with fixed columns. Drop {', '.join(given)}, or give a file path."
            )
        return load_movielens(data, data_dir, progress=sys.stderr.isatty())
    if data.lower() in LASTFM_NAMES and not Path(data).exists():
        return load_lastfm(data_dir, progress=sys.stderr.isatty())
    path = Path(data)
    if not path.exists():
        names = ", ".join(VARIANTS)
        raise fail(
            f"{data} is neither a file nor a MovieLens name ({names}) nor lastfm. Check the path."
        )
    kwargs: dict[str, Any] = {
        "user_col": user_col,
        "item_col": item_col,
        "rating_col": rating_col,
        "timestamp_col": timestamp_col,
    }
    if sep is not None:
        kwargs["sep"] = sep
    if duplicates is not None:
        kwargs["duplicates"] = duplicates
    interactions = Interactions.from_file(path, **kwargs)
    if rating_col is None:
        _note_if_binary(path, sep)
    return interactions


def _note_if_binary(path: Path, sep: str | None) -> None:
    """Say so when no rating column was found: every interaction then counts as 1."""
    from alsrec.data.interactions import RATING_COLUMN_ALIASES

    columns = _column_names(path, sep)
    if any(alias in columns for alias in RATING_COLUMN_ALIASES):
        return
    note(
        f"{path.name} has no rating column ({', '.join(RATING_COLUMN_ALIASES)}), so every "
        f"interaction counts as 1; to use ratings, name their column with --rating-col "
        f"(columns found: {', '.join(map(str, columns))})."
    )


def _column_names(path: Path, sep: str | None) -> list[str]:
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import pandas as pd

    default = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    return list(pd.read_csv(path, sep=sep or default, nrows=0).columns)


def emit_json(payload: Any) -> None:
    """Write machine-readable output on stdout (strict JSON: NaN and infinities are null)."""
    typer.echo(json.dumps(_strict(payload), indent=2, default=_json_default, allow_nan=False))


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float (plain or numpy) replaced by None."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(item) for item in value]
    if isinstance(value, np.ndarray):
        return _strict(value.tolist())
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def parse_value(text: str) -> Any:
    """A CLI value as int, float, bool, None or string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_model_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``"zeros:factors=48,unobserved_weight=0.2"`` -> (label, name, params).

    A label may be given as ``label=name:...``; it defaults to the spec itself.
    """
    label, _, rest = spec.partition("=") if "=" in spec.split(":")[0] else ("", "", spec)
    name, _, params_text = rest.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in params_text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise fail(f"model option {item!r} in {spec!r} needs the form key=value.")
        params[key.strip()] = parse_value(value)
    return label or spec, name.strip(), params


def parse_grid(text: str) -> dict[str, list[Any]]:
    """``"factors=32,64;regularization=0.01,0.1"`` -> {"factors": [32, 64], ...}."""
    grid: dict[str, list[Any]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, values = part.partition("=")
        if not sep or not values.strip():
            raise fail(f"grid entry {part!r} needs the form name=v1,v2,...")
        grid[key.strip()] = [parse_value(v) for v in values.split(",")]
    if not grid:
        raise fail("--grid is empty; e.g. --grid 'factors=32,64;regularization=0.01,0.1'.")
    return grid


def coerce_id(value: str, ids) -> Any:
    """A command-line id in the type of the model's ids (1 and "1" differ)."""
    import numpy as np

    if np.asarray(ids).dtype.kind in "iu":
        try:
            return int(value)
        except ValueError:
            raise fail(f"id {value!r} is not a whole number, but this model's ids are.") from None
    return value


def with_seed(model: Any, seed: int) -> Any:
    """``model`` rebuilt with ``random_state=seed`` when it takes a random_state at all."""
    params = model.get_params()
    if "random_state" not in params:
        return model
    return type(model)(**{**params, "random_state": seed})


def require_pyspark(flag: str) -> None:
    """Fail fast, before any work, when ``flag`` needs pyspark and it is not installed."""
    import importlib

    try:
        importlib.import_module("pyspark")
    except ImportError:
        raise fail(f"{flag} needs pyspark: pip install 'alsrec[spark]'") from None
