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
    ax.set_title(title or f"Ratings per user: mean {mean:.1f} +/- {std:.1f}, n = {len(counts)}")
    return _save(fig, path)


def metric_histograms(
    per_user: Mapping[str, np.ndarray],
    metric: str = "NDCG@20",
    path: str | os.PathLike[str] | None = None,
    bins: int = 30,
) -> bytes:
    """Overlaid per-user metric histograms, one per model, legend with mu and sigma.

    This is the blog's figure: the distribution of per-user NDCG for each model.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    edges = np.linspace(0.0, 1.0, bins + 1)
    for name, values in per_user.items():
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        label = f"{name}: $\\mu$ = {values.mean():.3f}, $\\sigma$ = {values.std():.3f}"
        ax.hist(values, bins=edges, alpha=0.45, label=label)
    ax.set_xlabel(f"per-user {metric}")
    ax.set_ylabel("users")
    ax.legend(loc="upper right", fontsize=9)
    ax.set_title(f"Distribution of per-user {metric}")
    return _save(fig, path)


def discount_curve(k: int = 20, path: str | os.PathLike[str] | None = None) -> bytes:
    """The DCG position discount 1 / log2(rank + 1) for ranks 1..k."""
    plt = _pyplot()
    ranks = np.arange(1, k + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(ranks, 1.0 / np.log2(ranks + 1), marker="o", color="#aa3377")
    ax.set_xlabel("rank")
    ax.set_ylabel("discount 1 / log2(rank + 1)")
    ax.set_title(f"DCG discount, ranks 1 to {k}")
    ax.set_ylim(0, 1.05)
    return _save(fig, path)
