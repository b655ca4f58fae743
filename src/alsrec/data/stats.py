"""Descriptive statistics of an interaction matrix, as the blog reports them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from alsrec.data.interactions import Interactions


@dataclass(frozen=True)
class DataStats:
    """The blog's description of a rating matrix.

    Attributes
    ----------
    n_users, n_items, n_interactions : int
        Matrix size and number of stored ratings.
    n_catalogue_items : int or None
        Items in the item catalogue (e.g. ``movies.csv``), rated or not.
    density, sparsity : float
        ``n_interactions / (n_users * n_items)`` and ``1 - density``.
    ratings_per_user_mean, ratings_per_user_std : float
        Mean and population standard deviation of the per-user counts.
    ratings_per_user_min, ratings_per_user_median, ratings_per_user_max : float
    ratings_per_item_mean, ratings_per_item_median : float
    users_with_more_than : dict[int, int]
        For each threshold N, the number of users with more than N ratings.
    rating_distribution : dict[float, int]
        How many ratings hold each distinct value (empty when more than 50 values).
    """

    n_users: int
    n_items: int
    n_interactions: int
    n_catalogue_items: int | None
    density: float
    sparsity: float
    ratings_per_user_mean: float
    ratings_per_user_std: float
    ratings_per_user_min: float
    ratings_per_user_median: float
    ratings_per_user_max: float
    ratings_per_item_mean: float
    ratings_per_item_median: float
    users_with_more_than: dict[int, int] = field(default_factory=dict)
    rating_distribution: dict[float, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dictionary (keys of nested dicts become strings)."""
        out = asdict(self)
        out["users_with_more_than"] = {str(k): v for k, v in self.users_with_more_than.items()}
        out["rating_distribution"] = {str(k): v for k, v in self.rating_distribution.items()}
        return out

    def to_text(self) -> str:
        """The statistics as lines a person reads."""
        lines = [
            f"matrix size        {self.n_users:,} users x {self.n_items:,} items",
            f"ratings            {self.n_interactions:,}",
        ]
        if self.n_catalogue_items is not None:
            lines.append(
                f"catalogue          {self.n_catalogue_items:,} items, "
                f"{self.n_items:,} of them rated"
            )
        lines += [
            f"density            {self.density:.4%}",
            f"sparsity           {self.sparsity:.4%}",
            f"ratings per user   {self.ratings_per_user_mean:.1f} +/- "
            f"{self.ratings_per_user_std:.1f} (min {self.ratings_per_user_min:g}, "
            f"median {self.ratings_per_user_median:g}, max {self.ratings_per_user_max:g})",
            f"ratings per item   mean {self.ratings_per_item_mean:.1f}, "
            f"median {self.ratings_per_item_median:g}",
        ]
        for threshold, count in self.users_with_more_than.items():
            lines.append(
                f"users with > {threshold:<5} {count:,} ({count / max(self.n_users, 1):.1%})"
            )
        if self.rating_distribution:
            pairs = [f"{value:g}: {count:,}" for value, count in self.rating_distribution.items()]
            for start in range(0, len(pairs), 5):  # five values a line keeps it readable
                label = "rating values" if start == 0 else ""
                lines.append(f"{label:<19}" + ", ".join(pairs[start : start + 5]))
        return "\n".join(lines)


def describe(data: Interactions, thresholds: Sequence[int] = (20, 50, 100, 500, 1000)) -> DataStats:
    """Compute the blog's descriptive statistics of ``data``.

    Parameters
    ----------
    data : Interactions
        The rating matrix.
    thresholds : sequence of int
        Report how many users have more than each of these numbers of ratings.
    """
    per_user = data.user_counts().astype(np.float64)
    per_item = data.item_counts().astype(np.float64)
    values, counts = np.unique(data.matrix.data, return_counts=True)
    distribution = (
        {float(v): int(c) for v, c in zip(values, counts, strict=True)} if len(values) <= 50 else {}
    )
    empty = len(per_user) == 0
    return DataStats(
        n_users=data.n_users,
        n_items=data.n_items,
        n_interactions=data.nnz,
        n_catalogue_items=None if data.item_metadata is None else len(data.item_metadata),
        density=data.density,
        sparsity=1.0 - data.density,
        ratings_per_user_mean=0.0 if empty else float(per_user.mean()),
        ratings_per_user_std=0.0 if empty else float(per_user.std()),
        ratings_per_user_min=0.0 if empty else float(per_user.min()),
        ratings_per_user_median=0.0 if empty else float(np.median(per_user)),
        ratings_per_user_max=0.0 if empty else float(per_user.max()),
        ratings_per_item_mean=float(per_item.mean()) if len(per_item) else 0.0,
        ratings_per_item_median=float(np.median(per_item)) if len(per_item) else 0.0,
        users_with_more_than={int(t): int((per_user > t).sum()) for t in thresholds},
        rating_distribution=distribution,
    )
