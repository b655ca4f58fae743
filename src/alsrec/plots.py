"""Figures: drawing only, from numbers computed elsewhere.

matplotlib is imported lazily with the non-interactive Agg backend, so importing
alsrec never opens a window or slows down; every ``save_*`` writes its PNG
atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping

import numpy as np

from alsrec._atomic import atomic_write

# Paul Tol's colour-blind-safe qualitative palette.
PALETTE = ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike[str] | None) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    png = buffer.getvalue()
    if path is not None:
        with atomic_write(path) as handle:
            handle.write(png)
    return png


def ratings_per_user_histogram(
    counts: np.ndarray, path: str | os.PathLike[str] | None = None, title: str | None = None
) -> bytes:
    """Histogram of the number of ratings per user (log-spaced bins), as PNG bytes.

    Parameters
    ----------
    counts : numpy.ndarray
        Ratings per user, e.g. ``Interactions.user_counts()``.
    path : path-like, optional
        Where to write the PNG.
    title : str, optional
        Figure title.
    """
    plt = _pyplot()
    counts = np.asarray(counts)
    fig, ax = plt.subplots(figsize=(7, 4))
    positive = counts[counts > 0]
    if len(positive):
        bins = np.unique(np.geomspace(positive.min(), positive.max() + 1, 40).round())
        ax.hist(positive, bins=bins, color="#4477aa", edgecolor="white")
        ax.set_xscale("log")
    ax.set_xlabel("ratings per user (log scale)")
    ax.set_ylabel("users")
    mean, std = (counts.mean(), counts.std()) if len(counts) else (0.0, 0.0)
    ax.set_title(
        title or f"Ratings per user: mean {mean:.1f} +/- {std:.1f}, n = {len(counts)}", loc="left"
    )
    return _save(fig, path)


def metric_histograms(
    per_user: Mapping[str, np.ndarray],
    metric: str = "NDCG@20",
    path: str | os.PathLike[str] | None = None,
    bins: int = 30,
) -> bytes:
    """Per-user metric histograms as small multiples: one panel per model, shared x axis.

    This is the blog's figure (the distribution of per-user NDCG per model),
    drawn one model per panel with its own y axis, so a model whose users pile
    up in one bar (the random baseline) cannot flatten the others. Each panel
    marks the model's mean with a line and gives mu and sigma in its title.
    """
    plt = _pyplot()
    names = list(per_user)
    fig, axes = plt.subplots(
        len(names), 1, figsize=(8, 1.0 + 1.55 * len(names)), sharex=True, squeeze=False
    )
    edges = np.linspace(0.0, 1.0, bins + 1)
    for index, (ax, name) in enumerate(zip(axes[:, 0], names, strict=True)):
        values = np.asarray(per_user[name], dtype=np.float64)
        values = values[np.isfinite(values)]
        color = PALETTE[index % len(PALETTE)]
        ax.hist(values, bins=edges, color=color, edgecolor="white")
        mean = values.mean() if len(values) else np.nan
        ax.axvline(mean, color="#222222", linewidth=1.2, linestyle="--")
        ax.set_title(
            f"{name}: mean {mean:.3f}, sd {values.std():.3f}, {len(values)} users",
            loc="left",
            fontsize=10,
        )
        ax.set_ylabel("users")
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel(f"per-user {metric} (dashed line: the model's mean)")
    axes[-1, 0].set_xlim(0, 1)
    fig.suptitle(f"Distribution of per-user {metric}, one panel per model", x=0.01, ha="left")
    fig.tight_layout()
    return _save(fig, path)


def mean_intervals(
    means: Mapping[str, tuple[float, float, float]],
    metric: str = "NDCG@20",
    path: str | os.PathLike[str] | None = None,
) -> bytes:
    """Each model's mean with its confidence interval, one row per model.

    Parameters
    ----------
    means : mapping of model name to (mean, ci_low, ci_high)
        In the order to draw them, top to bottom.
    metric : str
        Axis label.
    path : path-like, optional
        Where to write the PNG.
    """
    plt = _pyplot()
    names = list(means)
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.55 * len(names)))
    rows = np.arange(len(names))[::-1]
    for row, name, index in zip(rows, names, range(len(names)), strict=True):
        mean, low, high = means[name]
        color = PALETTE[index % len(PALETTE)]
        ax.errorbar(
            mean,
            row,
            xerr=[[mean - low], [high - mean]],
            fmt="o",
            color=color,
            capsize=5,
            markersize=7,
        )
        ax.annotate(
            f"{mean:.3f} [{low:.3f}, {high:.3f}]",
            (high, row),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    ax.set_yticks(rows, names)
    ax.set_ylim(-0.6, len(names) - 0.4)
    low_all = min(v[1] for v in means.values())
    high_all = max(v[2] for v in means.values())
    span = max(high_all - low_all, 1e-3)
    ax.set_xlim(max(0.0, low_all - 0.05 * span), high_all + 0.35 * span)
    ax.set_xlabel(f"mean {metric} with its 95% bootstrap confidence interval")
    ax.grid(axis="x", color="#eeeeee")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(f"Mean {metric} per model", loc="left")
    fig.tight_layout()
    return _save(fig, path)


def discount_curve(k: int = 20, path: str | os.PathLike[str] | None = None) -> bytes:
    """The DCG position discount 1 / log2(rank + 1) for ranks 1..k."""
    plt = _pyplot()
    ranks = np.arange(1, k + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(ranks, 1.0 / np.log2(ranks + 1), marker="o", color="#aa3377")
    ax.set_xlabel("rank")
    ax.set_ylabel("discount 1 / log2(rank + 1)")
    ax.set_title(f"DCG discount, ranks 1 to {k}", loc="left")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(sorted({1, *range(5, k + 1, 5), k}))
    return _save(fig, path)
