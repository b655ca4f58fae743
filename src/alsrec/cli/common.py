"""What every command shares: loading DATA, error reporting, JSON output."""

from __future__ import annotations

import json
import sys
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


def handle_errors(command: F) -> F:
    """Turn alsrec's deliberate errors and OS errors into one line and exit code 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (AlsrecError, OSError) as exc:
            if STATE["debug"]:
                raise
            message = " ".join(str(exc).split())
            raise fail(message) from None

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
) -> Interactions:
    """DATA is a data set name (``ml-latest-small``, ``lastfm``) or a CSV/TSV/Parquet path."""
    if is_movielens_name(data):
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
    return Interactions.from_file(path, **kwargs)


def emit_json(payload: Any) -> None:
    """Write machine-readable output on stdout."""
    typer.echo(json.dumps(payload, indent=2, default=_json_default))


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
