"""Commands for what users do once a model exists: batches, audiences, explanations, updates.

``register(app)`` adds ``alsrec audience`` and ``alsrec update``, and extends
``alsrec recommend`` with ``--users-file``, ``--output``, ``--explain``,
``--fallback`` and ``--approximate`` while keeping every option it already has (the
original command still runs whenever none of the new options is given). Each command
is a few lines of public API.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from alsrec.cli.common import coerce_id, emit_json, fail, handle_errors

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
ModelArg = Annotated[Path, typer.Argument(help="A model saved by `alsrec train`.")]

# The options added to `recommend`: name -> (annotation, default).
RECOMMEND_EXTRAS: dict[str, tuple[Any, Any]] = {
    "users_file": (
        Annotated[
            Path | None,
            typer.Option(
                "--users-file",
                metavar="FILE",
                help="Text file of user ids, one per line: recommend for all.",
            ),
        ],
        None,
    ),
    "output": (
        Annotated[
            Path | None,
            typer.Option(
                "--output",
                "-o",
                metavar="FILE",
                help="Write the recommendations to a .parquet or .csv file.",
            ),
        ],
        None,
    ),
    "explain": (
        Annotated[
            bool,
            typer.Option(
                "--explain", help="Show the user's items that contribute most to each score."
            ),
        ],
        False,
    ),
    "fallback": (
        Annotated[
            str | None,
            typer.Option(
                metavar="METHOD", help="Rank unknown users by this instead of failing: popularity."
            ),
        ],
        None,
    ),
    "approximate": (
        Annotated[
            bool,
            typer.Option(
                "--approximate",
                help="Find top items with a faiss index (large catalogues; "
                "pip install 'alsrec[ann]'): exact scores, an item may be missed.",
            ),
        ],
        False,
    ),
}


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` and extend its ``recommend`` command."""
    app.command()(handle_errors(audience))
    app.command()(handle_errors(update))
    for info in app.registered_commands:
        if (info.name or info.callback.__name__) == "recommend":
            info.callback = extend(info.callback, RECOMMEND_EXTRAS, recommend_more)
            return
    raise RuntimeError("alsrec.cli.features.register: the app has no `recommend` command.")


def extend(
    command: Callable[..., Any],
    extras: dict[str, tuple[Any, Any]],
    handler: Callable[[dict[str, Any], dict[str, Any]], None],
) -> Callable[..., Any]:
    """``command`` with more options: ``handler(options, extras)`` runs when any is set.

    The new callback's signature is the command's own plus ``extras``, so
    typer shows and parses both; with every extra at its default the original
    command runs unchanged.
    """
    original = inspect.signature(command, eval_str=True)
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=hint, default=default)
        for name, (hint, default) in extras.items()
    ]
    parameters = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in original.parameters.values()
    ]

    @handle_errors
    def extended(**kwargs: Any) -> Any:
        chosen = {name: kwargs.pop(name) for name in extras}
        if all(chosen[name] == default for name, (_hint, default) in extras.items()):
            return command(**kwargs)
        return handler(kwargs, chosen)

    extended.__signature__ = original.replace(parameters=[*parameters, *added])  # type: ignore[attr-defined]
    extended.__annotations__ = {
        **typing.get_type_hints(command, include_extras=True),
        **{name: hint for name, (hint, _default) in extras.items()},
    }
    docs = [inspect.cleandoc(doc) for doc in (command.__doc__, handler.__doc__) if doc]
    extended.__doc__ = "\n\n".join(docs)
    extended.__name__ = command.__name__
    del extended.__wrapped__  # type: ignore[attr-defined]  # typer must read the new signature
    return extended


def _print(frame, json_output: bool, header: dict) -> None:
    if json_output:
        emit_json({**header, "results": frame.to_dict(orient="records")})
        return
    if frame.empty:
        typer.echo("no results qualify (check the filters).")
        return
    typer.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def _write(frame, output: Path) -> None:
    from alsrec._atomic import atomic_write

    suffix = output.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise fail(f"--output {output} must end in .parquet or .csv.")
    if suffix == ".parquet":
        with atomic_write(output, "wb") as handle:
            frame.to_parquet(handle, index=False)
    else:
        with atomic_write(output, "w") as handle:
            frame.to_csv(handle, index=False)


def _read_ids(path: Path, ids) -> list[Any]:
    if not path.is_file():
        raise fail(f"no such file: {path}. Check the --users-file path.")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    values = [line for line in lines if line]
    if not values:
        raise fail(f"--users-file {path} lists no user ids (one per line).")
    return [coerce_id(value, ids) for value in values]


def recommend_more(options: dict[str, Any], extras: dict[str, Any]) -> None:
    """Also: a batch of users, a file output, explanations, a fallback for unknown users.

    Examples:

        alsrec recommend model.alsrec --users-file ids.txt -o recs.parquet

        alsrec recommend model.alsrec --user 1 --explain

        alsrec recommend model.alsrec --user newcomer --fallback popularity

        alsrec recommend model.alsrec --users-file ids.txt -o recs.parquet --approximate
    """
    from alsrec.models import load_model
    from alsrec.models.explain import reasons

    if options.get("new_user_ratings") is not None:
        raise fail(
            "--new-user-ratings works alone; drop --users-file/--output/--explain/--fallback/"
            "--approximate."
        )
    user, users_file = options["user"], extras["users_file"]
    if (user is None) == (users_file is None):
        raise fail("give either --user ID or --users-file FILE.")
    model = load_model(options["model_path"])
    users = (
        [coerce_id(user, model.user_ids_)]
        if user is not None
        else _read_ids(users_file, model.user_ids_)
    )
    frame = model.recommend_batch(
        users,
        n=options["n"],
        filter_seen=not options["include_seen"],
        threshold=options["threshold"],
        fallback=extras["fallback"],
        approximate=extras["approximate"],
    )
    if extras["explain"]:
        if "source" in frame and (frame["source"] != "model").any():
            raise fail("--explain needs users the model knows; unknown users have no interactions.")
        parts = []
        for user_id, part in frame.groupby("user", sort=False):
            why = reasons(model, user_id, part["item"].to_numpy(), top=1)
            label = why["because_title"] if "because_title" in why else why["because"]
            parts.append(label.astype(str).to_numpy())
        if parts:
            import numpy as np

            frame["because"] = np.concatenate(parts)
    if extras["output"] is not None:
        _write(frame, extras["output"])
        summary = {"output": str(extras["output"]), "users": len(users), "rows": len(frame)}
        if options["json_output"]:
            emit_json(summary)
        else:
            typer.echo(f"wrote {len(frame):,} recommendations for {len(users):,} users")
        return
    if user is not None:
        frame = frame.drop(columns=["user", "rank"])
    _print(frame, options["json_output"], {"user": users[0] if user is not None else None})


def audience(
    model_path: ModelArg,
    item: Annotated[str, typer.Option("--item", "-i", metavar="ID", help="An item id.")],
    n: Annotated[int, typer.Option("-n", metavar="N", help="How many users.")] = 10,
    include_seen: Annotated[
        bool, typer.Option(help="Keep users who already interacted with the item.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """The users who score an item highest (its audience).

    Example:

        alsrec audience model.alsrec --item 1 -n 20
    """
    from alsrec.models import load_model

    model = load_model(model_path)
    item_id = coerce_id(item, model.item_ids_)
    frame = model.recommend_users(item_id, n=n, filter_seen=not include_seen)
    _print(frame, json_output, {"item": item_id})


def update(
    model_path: ModelArg,
    interactions: Annotated[
        Path,
        typer.Option("--interactions", metavar="FILE", help="CSV/TSV/Parquet of new interactions."),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="FILE", help="Where to save the updated model."),
    ],
    side: Annotated[
        str,
        typer.Option(
            metavar="SIDE", help="items: refresh and add items (users fixed); users: the mirror."
        ),
    ] = "items",
    user_col: Annotated[str | None, typer.Option(metavar="COLUMN", help="User id column.")] = None,
    item_col: Annotated[str | None, typer.Option(metavar="COLUMN", help="Item id column.")] = None,
    rating_col: Annotated[str | None, typer.Option(metavar="COLUMN", help="Rating column.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Refresh known items (or users) and add new ones without refitting the other side.

    Example:

        alsrec update model.alsrec --interactions new.csv -o model2.alsrec
    """
    from alsrec.cli.common import load_data
    from alsrec.models import load_model

    if side not in ("items", "users"):
        raise fail(f"--side {side!r} must be 'items' or 'users'.")
    if not interactions.is_file():
        raise fail(f"no such file: {interactions}. Check the --interactions path.")
    model = load_model(model_path)
    data = load_data(str(interactions), None, user_col, item_col, rating_col)
    before = (model.n_users, model.n_items)
    if side == "items":
        model.update_items(data)
    else:
        model.update_users(data)
    model.save(output)
    summary = {
        "model": str(output),
        "side": side,
        "updated": data.n_items if side == "items" else data.n_users,
        "new_users": model.n_users - before[0],
        "new_items": model.n_items - before[1],
    }
    if json_output:
        emit_json(summary)
        return
    typer.echo(
        f"updated {summary['updated']:,} {side} ({summary['new_users']:,} new users, "
        f"{summary['new_items']:,} new items); saved to {output}"
    )
