"""A self-contained HTML report of a study: figures embedded, no network needed."""

from __future__ import annotations

import base64
import html
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsrec import plots
from alsrec._atomic import atomic_write
from alsrec.evaluation.study import StudyResult
from alsrec.evaluation.tuning import AS_GIVEN, winner
from alsrec.plots_tuning import (
    finished_trials,
    importance_chart,
    optimization_history,
    parameter_importances,
)

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 980px; color: #222; line-height: 1.5; padding: 0 1rem; }
h1 { font-size: 1.8rem; margin-bottom: .2rem; text-align: left; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; text-align: left; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #666; font-size: .9rem; } .sentence { font-size: 1.02rem; margin: .4rem 0; }
code, pre { background: #f6f6f6; padding: .1rem .3rem; border-radius: 3px; font-size: .88rem; }
pre { padding: .6rem; overflow-x: auto; } .muted { color: #777; }
th.text, td.text { text-align: left; } td:first-child { white-space: nowrap; }
td.params { text-align: left; font-family: ui-monospace, Menlo, Consolas, monospace;
            font-size: .82rem; white-space: normal; }
"""


def _figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(frame: pd.DataFrame, floats: str = "{:.4f}") -> str:
    # Text columns read left-aligned, numbers right-aligned.
    text = [not pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    align = [' class="text"' if t else "" for t in text]
    head = "".join(
        f"<th{a}>{html.escape(str(c))}</th>" for c, a in zip(frame.columns, align, strict=True)
    )
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for value, a in zip(row, align, strict=True):
            if isinstance(value, float | np.floating):
                shown = "" if np.isnan(value) else floats.format(value)
            else:
                shown = str(value)
            cells.append(f"<td{a}>{html.escape(shown)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _params_table(params: dict[str, dict]) -> str:
    """One row per model: every parameter that has a value (None ones are left out)."""
    rows = []
    for model, values in params.items():
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items() if v is not None)
        rows.append(
            f"<tr><td>{html.escape(model)}</td>"
            f'<td class="params">{html.escape(shown or "(no parameters)")}</td></tr>'
        )
    return (
        '<table><thead><tr><th>model</th><th class="text">parameters (get_params)</th></tr>'
        "</thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _versions() -> str:
    import matplotlib
    import numba
    import scipy

    from alsrec import __version__

    parts = [
        f"alsrec {__version__}",
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"scipy {scipy.__version__}",
        f"pandas {pd.__version__}",
        f"numba {numba.__version__}",
        f"matplotlib {matplotlib.__version__}",
    ]
    return ", ".join(parts)


def render(study: StudyResult, command: list[str] | None = None) -> str:
    """The report as one HTML string."""
    stats = study.stats
    metric = study.metrics[0]
    per_user = study.cv.user_means(metric)
    first = study.summary[study.summary["metric"] == metric]
    intervals = {
        row.model: (row.mean, row.ci_low, row.ci_high) for row in first.itertuples(index=False)
    }
    figures = [
        _figure(
            plots.ratings_per_user_histogram(study.user_counts),
            "ratings per user",
            "Ratings per user (log scale): a few heavy users, a long tail of light ones.",
        ),
        _figure(
            plots.metric_histograms({m: per_user[m].to_numpy() for m in per_user.columns}, metric),
            f"per-user {metric}",
            f"Per-user {metric} of every model (averaged over seeds), one panel per model with "
            f"its own count axis; the dashed line is the model's mean.",
        ),
        _figure(
            plots.discount_curve(_cutoff(metric)),
            "discount curve",
            "The DCG position discount: rank 1 counts fully, rank 20 about a fifth.",
        ),
        _figure(
            plots.mean_intervals(intervals, metric),
            f"mean {metric} with confidence intervals",
            f"Mean {metric} of every model with its 95% bootstrap confidence interval over "
            f"users; intervals that do not overlap are clearly different, and the paired "
            f"comparisons below are sharper still.",
        ),
    ]
    summary = study.summary.copy()
    summary = summary[["model", "metric", "mean", "std", "ci_low", "ci_high", "n_users"]]
    summary.columns = ["model", "metric", "mean", "std", "95% CI low", "95% CI high", "users"]
    fit_times = study.cv.per_fold.groupby("model", sort=False)["fit_seconds"].mean().reset_index()
    fit_times.columns = ["model", "mean fit seconds"]
    sentences = "".join(
        f'<p class="sentence">{html.escape(c.sentence)}</p>' for c in study.comparisons
    )
    recs = ""
    if study.recommendations is not None:
        recs = (
            f"<h2>Example recommendations</h2><p>Top {len(study.recommendations)} unseen "
            f"items for user {html.escape(str(study.example_user))}, from "
            f"<b>{html.escape(str(study.recommender))}</b> fitted on all data.</p>"
            + _table(study.recommendations, "{:.3f}")
        )
    if study.extra.get("reasons") is not None:
        recs += (
            "<h3>Because you rated</h3><p>The interactions of the user that contribute most "
            "to the top items' scores (the exact decomposition of each score: contributions "
            "over all of the user's items, plus biases, sum to it).</p>"
            + _table(study.extra["reasons"], "{:.3f}")
        )
    tuning = ""
    if study.extra.get("study") is not None:
        tuning = tuning_section(study.extra["study"]) + (
            f'<p class="muted">This search tuned <b>{html.escape(str(study.recommender))}</b> '
            "on all the data for the example recommendations; the cross-validated score above "
            "tuned it again inside every training fold (nested), never on test users.</p>"
        )
    tradeoff = ""
    labels = set(study.summary["metric"])
    popularity = next((m for m in study.metrics if m.startswith("ARP")), None)
    if popularity is not None and metric in labels:
        from alsrec.plots_beyond import tradeoff_figure

        tradeoff = "<h2>Accuracy and popularity</h2>" + _figure(
            tradeoff_figure(study.summary, metric, popularity),
            "accuracy against popularity",
            f"Each model's mean {metric} against the mean popularity of what it recommends "
            f"({popularity}: the share of training users who had each recommended item); "
            "up is more accurate, left recommends less popular items.",
        )
    command_text = shlex.join(command if command is not None else ["alsrec", *sys.argv[1:]])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>alsrec report: {html.escape(study.data_name)}</title><style>{STYLE}</style></head>
<body>
<h1>alsrec report: {html.escape(study.data_name)}</h1>
<p class="muted">Protocol <b>{html.escape(study.protocol)}</b>, metrics
{html.escape(", ".join(study.metrics))}, seeds {html.escape(str(study.seeds))};
computed in {study.seconds:.1f} s.</p>
<h2>The data</h2>
<pre>{html.escape(stats.to_text())}</pre>
{figures[0]}
<h2>Results</h2>
{_table(summary)}
{figures[3]}
{sentences}
{figures[1]}
{tradeoff}
<h2>The models</h2>
{_params_table(study.params)}
<h2>How NDCG counts ranks</h2>
{figures[2]}
<h2>Fit times</h2>
{_table(fit_times, "{:.2f}")}
{recs}
{tuning}
<h2>Reproduce</h2>
<pre>{html.escape(command_text)}</pre>
<p class="muted">{html.escape(_versions())}</p>
</body></html>
"""


def _cutoff(metric: str) -> int:
    return int(metric.split("@")[1]) if "@" in metric else 20


def write_report(
    study: StudyResult, folder: str | os.PathLike[str], command: list[str] | None = None
) -> Path:
    """Write ``report.html`` into ``folder`` atomically; returns its path."""
    path = Path(folder) / "report.html"
    with atomic_write(path, "w") as handle:
        handle.write(render(study, command))
    return path


def tuning_section(study: Any) -> str:
    """The HTML report section of a study: best parameters, history and importances."""
    complete, pruned = finished_trials(study)
    metric = study.user_attrs.get("metric", "objective")
    # Optuna names a study kept in memory "no-name-<uuid>": say what it is instead
    name = study.study_name
    if name.startswith("no-name-"):
        label = "An in-memory Optuna study"
    else:
        label = f"Optuna study <b>{html.escape(name)}</b>"
    scoring = study.user_attrs.get("scoring")
    parts = [
        "<h2>Tuning</h2>",
        f"<p>{label}: {len(study.trials)} trial{'' if len(study.trials) == 1 else 's'} "
        f"({len(complete)} completed, {len(pruned)} pruned), sampler "
        f"{html.escape(type(study.sampler).__name__)}, pruner "
        f"{html.escape(type(study.pruner).__name__)}."
        + (f" Validation: {html.escape(scoring)}." if scoring else "")
        + "</p>",
    ]
    given = [t.number for t in study.trials if t.user_attrs.get(AS_GIVEN)]
    if given:
        parts.append(
            f"<p>Trial {given[0]} scored the model as given (its own parameters, outside "
            f"the search space if need be).</p>"
        )
    if complete:
        best, score = winner(study)
        table = pd.DataFrame(
            {"parameter": list(best.params), "value": [best.params[p] for p in best.params]}
        )
        parts.append(
            f"<p>Best: trial {best.number}, validation {html.escape(metric)} {score:.4f}.</p>"
        )
        parts.append(_table(table, floats="{:.4g}"))
    parts.append(
        _figure(
            optimization_history(study),
            "optimisation history",
            f"Validation {metric} of every trial and the best so far; crosses are pruned trials.",
        )
    )
    parts.append(
        _figure(
            importance_chart(parameter_importances(study)),
            "parameter importances",
            "How much each parameter decides whether a trial lands among the best (PED-ANOVA).",
        )
    )
    return "\n".join(parts)
