"""``alsrec`` commands. Each is a few lines of public API; no math lives here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alsrec import plots
from alsrec.cli.common import STATE, emit_json, handle_errors, load_data
from alsrec.data import describe

app = typer.Typer(
    name="alsrec",
    help="Recommendations by matrix factorization trained with alternating least squares.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DataArg = Annotated[
    str,
    typer.Argument(
        help="A MovieLens name (ml-latest-small, ml-1m, ...) or a CSV/TSV/Parquet file."
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="ALSREC_DATA_DIR",
        help="Folder holding (or receiving) MovieLens data. Env: ALSREC_DATA_DIR.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
UserColOpt = Annotated[str | None, typer.Option(help="User id column of a CSV/Parquet file.")]
ItemColOpt = Annotated[str | None, typer.Option(help="Item id column of a CSV/Parquet file.")]
RatingColOpt = Annotated[str | None, typer.Option(help="Rating column of a CSV/Parquet file.")]
SepOpt = Annotated[str | None, typer.Option(help="Field separator of a text file.")]


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    """alsrec: ALS recommenders with honest evaluation."""
    STATE["debug"] = debug


@app.command()
@handle_errors
def info(
    data: DataArg,
    data_dir: DataDirOpt = None,
    histogram: Annotated[
        Path | None,
        typer.Option(help="Where to write the ratings-per-user histogram PNG."),
    ] = None,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    rating_col: RatingColOpt = None,
    sep: SepOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Print the data set's statistics and write its ratings-per-user histogram.

    Examples:

        alsrec info ml-latest-small

        alsrec info ratings.csv --user-col uid --item-col sku --histogram users.png
    """
    interactions = load_data(data, data_dir, user_col, item_col, rating_col, sep=sep)
    stats = describe(interactions)
    label = interactions.name or Path(data).stem
    histogram = histogram or Path(f"{label}-ratings-per-user.png")
    plots.ratings_per_user_histogram(interactions.user_counts(), histogram)
    if json_output:
        emit_json({"data": label, "statistics": stats.to_dict(), "histogram": str(histogram)})
        return
    typer.echo(f"{label}\n{stats.to_text()}\nhistogram of ratings per user: {histogram}")


def main() -> None:
    """Entry point of the ``alsrec`` script."""
    app()
