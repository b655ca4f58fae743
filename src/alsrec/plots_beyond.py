"""The accuracy / popularity trade-off across models: a table and a figure for the report.

Drawing only, from a cross-validation summary computed elsewhere
(:meth:`alsrec.evaluation.CVResult.summary`); the report wires these in.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from alsrec.errors import ParameterError
from alsrec.plots import _pyplot, _save


def tradeoff_table(summary: pd.DataFrame, accuracy: str, popularity: str) -> pd.DataFrame:
    """One row per model: mean and interval of an accuracy and a popularity metric.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``CVResult.summary()`` (columns model, metric, mean, ci_low, ci_high).
    accuracy, popularity : str
        Metric labels as in the summary, e.g. ``"NDCG@20"`` and ``"ARP@20"``.
    """
    missing = {accuracy, popularity} - set(summary["metric"])
    if missing:
        raise ParameterError(
            f"the summary has no {', '.join(sorted(missing))}; cross-validate with that metric "
            f"(e.g. metrics=['ndcg@20', 'arp@20'])."
        )
    wide = summary.set_index(["model", "metric"])[["mean", "ci_low", "ci_high"]].unstack("metric")
    table = pd.DataFrame(index=wide.index)
    for metric in (accuracy, popularity):
        for column in ("mean", "ci_low", "ci_high"):
            table[f"{metric} {column}"] = wide[(column, metric)]
    order = list(dict.fromkeys(summary["model"]))
    return table.loc[order].reset_index()


def tradeoff_figure(
    summary: pd.DataFrame,
    accuracy: str,
    popularity: str,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> bytes:
    """Scatter of each model's popularity metric (x) against its accuracy (y), with CIs.

    Returns the PNG bytes (and writes them atomically to ``path`` when given).
    """
    table = tradeoff_table(summary, accuracy, popularity)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    x, y = table[f"{popularity} mean"].to_numpy(), table[f"{accuracy} mean"].to_numpy()

    def spread(metric: str, centre: np.ndarray) -> np.ndarray | None:
        low, high = table[f"{metric} ci_low"].to_numpy(), table[f"{metric} ci_high"].to_numpy()
        if not np.isfinite(low).all():
            return None  # a model-level metric has no per-user interval
        return np.vstack([centre - low, high - centre])

    ax.errorbar(
        x, y, xerr=spread(popularity, x), yerr=spread(accuracy, y), fmt="o", color="#4477aa"
    )
    for label, xi, yi in zip(table["model"], x, y, strict=True):
        ax.annotate(str(label), (xi, yi), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel(f"{popularity} (higher = more popularity bias)")
    ax.set_ylabel(accuracy)
    ax.set_title(title or f"{accuracy} against {popularity} (95% CI over users)")
    ax.grid(alpha=0.3)
    return _save(fig, path)
