"""``alsrec`` commands. Each is a few lines of public API; no math lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from alsrec import plots
from alsrec.cli.common import (
    STATE,
    coerce_id,
    emit_json,
    fail,
    handle_errors,
    load_data,
    parse_grid,
    parse_model_spec,
)
from alsrec.data import describe

app = typer.Typer(
    name="alsrec",
    help="Recommendations by matrix factorization trained with alternating least squares.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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
TimeColOpt = Annotated[str | None, typer.Option(help="Timestamp column of a CSV/Parquet file.")]
SepOpt = Annotated[str | None, typer.Option(help="Field separator of a text file.")]
ModelsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="A model to evaluate, repeatable: zeros, implicit, explicit, popularity, random, "
        "implicit-lib, spark, spark-dense; options after a colon "
        "(zeros:factors=48,unobserved_weight=0.2); a label before '=' (best=zeros:...).",
    ),
]
ProtocolOpt = Annotated[
    str, typer.Option(help="blog, crossfold, holdout or temporal.", show_default=True)
]


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    """alsrec: ALS recommenders with honest evaluation."""
    STATE["debug"] = debug


# ---------------------------------------------------------------------------- info
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


# ---------------------------------------------------------------------------- train
@app.command()
@handle_errors
def train(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model.")],
    preset: Annotated[str, typer.Option(help="implicit, explicit or zeros.")] = "implicit",
    factors: Annotated[int | None, typer.Option(help="Latent dimension k.")] = None,
    regularization: Annotated[float | None, typer.Option(help="lambda.")] = None,
    alpha: Annotated[float | None, typer.Option(help="Confidence scale (implicit).")] = None,
    unobserved_weight: Annotated[float | None, typer.Option(help="w0 of missing cells.")] = None,
    reg_exponent: Annotated[float | None, typer.Option(help="Count scaling nu.")] = None,
    iterations: Annotated[int | None, typer.Option(help="ALS iterations.")] = None,
    solver: Annotated[str, typer.Option(help="cholesky or cg.")] = "cholesky",
    seed: Annotated[int, typer.Option(help="random_state.")] = 0,
    threads: Annotated[int, typer.Option(help="0 = all cores.")] = 0,
    data_dir: DataDirOpt = None,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    rating_col: RatingColOpt = None,
    sep: SepOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Fit an ALS model (progress bar with the loss) and save it.

    Examples:

        alsrec train ml-latest-small -o zeros.alsrec --preset zeros

        alsrec train clicks.csv -o model.alsrec --preset implicit --factors 64 --alpha 10
    """
    from alsrec.models import ALS

    interactions = load_data(data, data_dir, user_col, item_col, rating_col, sep=sep)
    model = ALS(
        preset,
        factors=factors,
        regularization=regularization,
        alpha=alpha,
        unobserved_weight=unobserved_weight,
        reg_exponent=reg_exponent,
        iterations=iterations,
        solver=solver,
        random_state=seed,
        num_threads=threads,
        show_progress=not json_output and sys.stderr.isatty(),
    ).fit(interactions)
    model.save(output)
    summary = {
        "model": str(output),
        "preset": preset,
        "users": model.n_users,
        "items": model.n_items,
        "iterations": model.n_iter_,
        "final_loss": model.loss_history_[-1],
        "fit_seconds": model.fit_seconds_,
    }
    if json_output:
        emit_json(summary)
        return
    typer.echo(
        f"trained {preset} ALS on {model.n_users:,} users x {model.n_items:,} items in "
        f"{model.fit_seconds_:.2f} s ({model.n_iter_} iterations, final loss "
        f"{model.loss_history_[-1]:.6g}); saved to {output}"
    )


# ---------------------------------------------------------------------------- recommend
def _print_table(frame, json_output: bool, header: dict) -> None:
    if json_output:
        emit_json({**header, "results": frame.to_dict(orient="records")})
        return
    if frame.empty:
        typer.echo("no items qualify (lower --threshold or check the filters).")
        return
    typer.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


@app.command()
@handle_errors
def recommend(
    model_path: Annotated[Path, typer.Argument(help="A model saved by `alsrec train`.")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="A known user id.")] = None,
    n: Annotated[int, typer.Option("-n", help="How many items.")] = 10,
    threshold: Annotated[
        float | None, typer.Option(help="Only items scoring at least this.")
    ] = None,
    new_user_ratings: Annotated[
        Path | None,
        typer.Option(help="CSV of item,rating for a user not in the model (fold-in)."),
    ] = None,
    include_seen: Annotated[bool, typer.Option(help="Keep items the user has seen.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Top-n items for a user, with titles when known.

    Examples:

        alsrec recommend zeros.alsrec --user 1 -n 10

        alsrec recommend zeros.alsrec --new-user-ratings my_ratings.csv --threshold 3.5
    """
    import pandas as pd

    from alsrec.models import load_model

    model = load_model(model_path)
    if (user is None) == (new_user_ratings is None):
        raise fail("give either --user ID or --new-user-ratings FILE.")
    if new_user_ratings is not None:
        if not new_user_ratings.is_file():
            raise fail(f"no such file: {new_user_ratings}. Check the path.")
        ratings = pd.read_csv(new_user_ratings)
        item_col = next((c for c in ("item", "movieId", "item_id") if c in ratings.columns), None)
        if item_col is None:
            raise fail(f"{new_user_ratings} needs an 'item' column (and optionally 'rating').")
        items = [coerce_id(str(x), model.item_ids_) for x in ratings[item_col]]
        values = ratings["rating"].to_numpy() if "rating" in ratings.columns else None
        frame = model.recommend_new_user(
            items, values, n=n, threshold=threshold, filter_seen=not include_seen
        )
        header = {"user": None, "new_user_items": len(items)}
    else:
        user_id = coerce_id(user, model.user_ids_)
        frame = model.recommend(user_id, n=n, threshold=threshold, filter_seen=not include_seen)
        header = {"user": user_id}
    _print_table(frame, json_output, header)


@app.command()
@handle_errors
def similar(
    model_path: Annotated[Path, typer.Argument(help="A model saved by `alsrec train`.")],
    item: Annotated[str, typer.Option("--item", "-i", help="An item id.")],
    n: Annotated[int, typer.Option("-n", help="How many items.")] = 10,
    json_output: JsonOpt = False,
) -> None:
    """Items most similar to an item (cosine of item factors).

    Example:

        alsrec similar zeros.alsrec --item 1 -n 5
    """
    from alsrec.models import load_model

    model = load_model(model_path)
    item_id = coerce_id(item, model.item_ids_)
    _print_table(model.similar_items(item_id, n), json_output, {"item": item_id})


# ---------------------------------------------------------------------------- evaluate
def _protocol(
    name: str,
    folds: int | None,
    faithful: bool,
    holdout: int | None,
    fraction: float | None,
    last: int | None,
):
    from alsrec.evaluation import BlogProtocol, RandomHoldout, TemporalSplit, UserCrossFold

    if name == "blog":
        return BlogProtocol(n_folds=folds or 2, faithful=faithful)
    if name == "crossfold":
        return UserCrossFold(n_folds=folds or 5, holdout=holdout, fraction=fraction, last=last)
    if name == "holdout":
        return RandomHoldout(fraction=fraction or 0.2)
    if name == "temporal":
        return TemporalSplit(last=last) if last else TemporalSplit()
    raise fail(f"unknown protocol {name!r}; choose blog, crossfold, holdout or temporal.")


def _models(specs: list[str] | None, default: list[str]) -> dict:
    from alsrec.models.registry import make_model

    models = {}
    for spec in specs or default:
        label, name, params = parse_model_spec(spec)
        models[label] = make_model(name, **params)
    return models


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise fail(f"--seeds {text!r} must be whole numbers separated by commas.") from None


@app.command()
@handle_errors
def evaluate(
    data: DataArg,
    models: ModelsOpt = None,
    protocol: ProtocolOpt = "blog",
    metrics: Annotated[
        str,
        typer.Option(
            help="Comma-separated: ndcg@20,precision@10,recall@10,map@10,"
            "mrr@10,hit@10,auc,rmse,mae,coverage@20."
        ),
    ] = "ndcg@20",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0",
    folds: Annotated[
        int | None, typer.Option(help="Number of folds (blog 2, crossfold 5).")
    ] = None,
    faithful: Annotated[bool, typer.Option(help="Blog protocol without shuffling.")] = False,
    holdout: Annotated[int | None, typer.Option(help="crossfold: items held out per user.")] = None,
    fraction: Annotated[float | None, typer.Option(help="Fraction held out.")] = None,
    last: Annotated[int | None, typer.Option(help="Hold out each user's last N by time.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for per-user results and figures.")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Folder for an HTML report.")] = None,
    data_dir: DataDirOpt = None,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    rating_col: RatingColOpt = None,
    timestamp_col: TimeColOpt = None,
    sep: SepOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Cross-validate models on identical folds; summary with CIs and paired comparisons.

    Examples:

        alsrec evaluate ml-latest-small -m zeros -m popularity -m random --seeds 0,1,2

        alsrec evaluate ml-latest-small --protocol crossfold --holdout 5 -m implicit \\
            -m popularity --metrics ndcg@10,recall@10,auc --out results/ --report results/
    """
    from alsrec.evaluation.study import run_study

    interactions = load_data(data, data_dir, user_col, item_col, rating_col, timestamp_col, sep)
    chosen = _models(models, ["zeros", "popularity", "random"])
    split = _protocol(protocol, folds, faithful, holdout, fraction, last)
    metric_list = [m.strip() for m in metrics.split(",") if m.strip()]
    study = run_study(
        interactions,
        chosen,
        split,
        metric_list,
        _seeds(seeds),
        show_progress=not json_output and sys.stderr.isatty(),
    )
    _finish_study(study, out, report, json_output)


def _finish_study(study, out: Path | None, report: Path | None, json_output: bool) -> None:
    from alsrec.report import write_report

    written = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        per_user = out / "per_user.csv"
        study.cv.per_user.to_csv(per_user, index=False)
        study.summary.to_csv(out / "summary.csv", index=False)
        metric = study.metrics[0]
        table = study.cv.user_means(metric)
        figure = out / f"{metric.replace('@', '_at_')}_histograms.png"
        plots.metric_histograms({m: table[m].to_numpy() for m in table.columns}, metric, figure)
        written.update(per_user=str(per_user), summary=str(out / "summary.csv"), figure=str(figure))
    if report is not None:
        written["report"] = str(write_report(study, report))
    if json_output:
        emit_json(
            {
                "data": study.data_name,
                "protocol": study.protocol,
                "seeds": study.seeds,
                "summary": study.summary.to_dict(orient="records"),
                "comparisons": [c.to_dict() for c in study.comparisons],
                "fit_seconds": study.cv.per_fold.groupby("model")["fit_seconds"].mean().to_dict(),
                "files": written,
            }
        )
        return
    shown = study.summary[["model", "metric", "mean", "std", "ci_low", "ci_high", "n_users"]]
    typer.echo(f"{study.data_name}: protocol {study.protocol}, seeds {study.seeds}\n")
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    typer.echo("")
    for comparison in study.comparisons:
        typer.echo(comparison.sentence)
    for label, path in written.items():
        typer.echo(f"{label}: {path}")


# ---------------------------------------------------------------------------- tune
def _parse_space(text: str) -> dict:
    """``"unobserved_weight=log:0.01:1;factors=int:16:128:16;k=32,64"`` -> a search space.

    ``log:LOW:HIGH`` (log-uniform), ``float:LOW:HIGH[:STEP]``, ``int:LOW:HIGH[:STEP]``,
    or a comma-separated list of values (categorical).
    """
    from alsrec.cli.common import parse_value
    from alsrec.evaluation.tuning import distribution

    space: dict = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, value = part.partition("=")
        kind, colon, bounds = value.partition(":")
        if not sep or not value.strip():
            raise fail(f"space entry {part!r} needs the form name=log:LOW:HIGH or name=v1,v2,...")
        if colon and kind.strip() in ("log", "float", "int"):
            numbers = [parse_value(b) for b in bounds.split(":")]
            if len(numbers) not in (2, 3) or not all(isinstance(n, int | float) for n in numbers):
                raise fail(f"space entry {part!r} needs numbers: {kind}:LOW:HIGH[:STEP].")
            space[key.strip()] = distribution(kind.strip(), *numbers)
        else:
            space[key.strip()] = [parse_value(v) for v in value.split(",")]
    if not space:
        raise fail("--space is empty; e.g. --space 'unobserved_weight=log:0.01:1;factors=32,64'.")
    return space


def _trial_printer(metric: str):
    """Optuna callback: one line per finished trial on stderr."""

    def show(study, trial) -> None:
        value = "" if trial.value is None else f" {metric} {trial.value:.4f}"
        try:
            best = f" (best {study.best_value:.4f})"
        except ValueError:  # no completed trial yet
            best = ""
        params = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
        )
        typer.echo(
            f"trial {trial.number} {trial.state.name.lower()}{value}{best}: {params}", err=True
        )

    return show


@app.command()
@handle_errors
def tune(
    data: DataArg,
    model: Annotated[str, typer.Option("--model", "-m", help="Base model spec.")] = "zeros",
    space: Annotated[
        str | None,
        typer.Option(
            help="Search space, e.g. 'unobserved_weight=log:0.01:1;factors=int:16:128:16;"
            "reg_exponent=float:0:1;k=32,64' (default: the preset's declared space)."
        ),
    ] = None,
    grid: Annotated[
        str | None,
        typer.Option(help="Try every combination, e.g. 'factors=32,64;regularization=0.01,0.1'."),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(help="Trials in the study (default 20; a grid: all of it).")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop starting trials after S.")] = None,
    storage: Annotated[
        str | None,
        typer.Option(help="Optuna RDB URL, e.g. sqlite:///tune.db (resumable, shareable)."),
    ] = None,
    study_name: Annotated[str | None, typer.Option(help="Study name in --storage.")] = None,
    pruner: Annotated[str, typer.Option(help="median, halving or none.")] = "median",
    protocol: ProtocolOpt = "blog",
    metric: Annotated[str, typer.Option(help="What to optimise.")] = "ndcg@20",
    seeds: Annotated[str, typer.Option(help="Validation split seeds.")] = "0",
    random_state: Annotated[int, typer.Option(help="Seed of the sampler.")] = 0,
    data_dir: DataDirOpt = None,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    rating_col: RatingColOpt = None,
    sep: SepOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Hyperparameter search (Optuna TPE, pruned) by cross-validation on DATA.

    Give it training data only. Examples:

        alsrec tune ml-latest-small -m zeros --trials 30 --storage sqlite:///tune.db

        alsrec tune ml-latest-small -m zeros --grid 'unobserved_weight=0.1,0.2;factors=32,48'
    """
    import math

    from alsrec.evaluation import search

    if space is not None and grid is not None:
        raise fail("give --space or --grid, not both.")
    if trials is not None and trials < 1:
        raise fail(f"--trials {trials} must be at least 1.")
    chosen = _parse_space(space) if space is not None else None
    sampler = "tpe"
    if grid is not None:
        chosen, sampler = parse_grid(grid), "grid"
        size = math.prod(len(values) for values in chosen.values())
        trials = size if trials is None else min(trials, size)
    if trials is None and timeout is None:
        trials = 20
    interactions = load_data(data, data_dir, user_col, item_col, rating_col, sep=sep)
    base = _models([model], [])
    result = search(
        next(iter(base.values())),
        chosen,
        interactions,
        _protocol(protocol, None, False, None, None, None),
        metric,
        _seeds(seeds),
        n_trials=trials,
        timeout=timeout,
        random_state=random_state,
        sampler=sampler,
        pruner=pruner,
        storage=storage,
        study_name=study_name,
        callbacks=() if json_output else (_trial_printer(metric),),
    )
    states = result.table["state"].value_counts().to_dict()
    if json_output:
        emit_json(
            {
                "best_params": result.best_params,
                "best_score": result.best_score,
                "study_name": result.study.study_name,
                "storage": storage,
                "trials": len(result.table),
                "states": states,
                "fits": result.n_fits,
                "table": result.table.to_dict(orient="records"),
            }
        )
        return
    typer.echo(result.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    counts = ", ".join(f"{n} {state.lower()}" for state, n in states.items())
    typer.echo(f"\n{len(result.table)} trials ({counts}), {result.n_fits} fits")
    typer.echo(f"best: {result.best_params} ({metric} {result.best_score:.4f})")
    if storage is not None:
        typer.echo(f"study {result.study.study_name!r} in {storage}: rerun to resume it")


# ---------------------------------------------------------------------------- demo
@app.command()
@handle_errors
def demo(
    report: Annotated[Path, typer.Option(help="Folder for the HTML report.")] = Path(
        "alsrec-report"
    ),
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0",
    with_spark: Annotated[bool, typer.Option(help="Add Spark ALS (slow; needs pyspark).")] = False,
    data_dir: DataDirOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """The blog end to end on ml-latest-small: statistics, models, NDCG@20, figures, report.

    Example:

        alsrec demo --report my-report/ --seeds 0,1,2
    """
    from alsrec.datasets import load_movielens
    from alsrec.evaluation import BlogProtocol
    from alsrec.evaluation.study import BEST_BLOG_PARAMS, run_study
    from alsrec.models.objective import BLOG_PARAMS
    from alsrec.models.registry import make_model

    data = load_movielens("ml-latest-small", data_dir, progress=sys.stderr.isatty())
    if not json_output:
        typer.echo(f"{data.name}\n{describe(data).to_text()}\n")
    models = {
        "alsrec-best": make_model("zeros", random_state=0, **BEST_BLOG_PARAMS),
        "blog-zeros": make_model("zeros", random_state=0),
        "popularity": make_model("popularity"),
        "random": make_model("random"),
    }
    if with_spark:  # the blog's hyperparameters, as alsrec.spark.compare_with_spark uses
        models["spark-dense"] = make_model("spark-dense", random_state=0, **BLOG_PARAMS)
        models["spark"] = make_model("spark", random_state=0, **BLOG_PARAMS)
    study = run_study(
        data,
        models,
        BlogProtocol(),
        ["ndcg@20"],
        _seeds(seeds),
        example_user=data.user_ids[0],
        show_progress=not json_output and sys.stderr.isatty(),
    )
    _finish_study(study, None, report, json_output)
    if not json_output and study.recommendations is not None:
        typer.echo(f"\nrecommendations for user {study.example_user}:")
        typer.echo(study.recommendations.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main() -> None:
    """Entry point of the ``alsrec`` script."""
    app()
