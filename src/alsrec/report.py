"""A self-contained HTML report of a study: figures embedded, no network needed."""

from __future__ import annotations

import base64
import html
import os
import platform
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from alsrec import plots
from alsrec._atomic import atomic_write
from alsrec.evaluation.study import StudyResult

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 980px; color: #222; line-height: 1.5; padding: 0 1rem; }
h1 { font-size: 1.8rem; margin-bottom: .2rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #666; font-size: .9rem; } .sentence { font-size: 1.02rem; margin: .4rem 0; }
code, pre { background: #f6f6f6; padding: .1rem .3rem; border-radius: 3px; font-size: .88rem; }
pre { padding: .6rem; overflow-x: auto; } .muted { color: #777; }
"""


def _figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(frame: pd.DataFrame, floats: str = "{:.4f}") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for value in row:
            if isinstance(value, float | np.floating):
                text = "" if np.isnan(value) else floats.format(value)
            else:
                text = str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


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
    figures = [
        _figure(
            plots.ratings_per_user_histogram(study.user_counts),
            "ratings per user",
            "Ratings per user (log scale): a few heavy users, a long tail of light ones.",
        ),
        _figure(
            plots.metric_histograms({m: per_user[m].to_numpy() for m in per_user.columns}, metric),
            f"per-user {metric}",
            f"Per-user {metric} of every model, averaged over seeds; legend: mean (mu) and "
            f"standard deviation (sigma) over users.",
        ),
        _figure(
            plots.discount_curve(_cutoff(metric)),
            "discount curve",
            "The DCG position discount: rank 1 counts fully, rank 20 about a fifth.",
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
            f"items for user {html.escape(str(study.example_user))}, from the first model "
            f"fitted on all data.</p>" + _table(study.recommendations, "{:.3f}")
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
{sentences}
{figures[1]}
<h2>How NDCG counts ranks</h2>
{figures[2]}
<h2>Fit times</h2>
{_table(fit_times, "{:.2f}")}
{recs}
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
