"""Cross-validation: every model on identical folds, per-user results first."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alsrec.data.interactions import Interactions
from alsrec.errors import ParameterError
from alsrec.evaluation import beyond
from alsrec.evaluation.metrics import (
    LIST_METRICS,
    Metric,
    parse_metric,
    ranking_values,
    rating_error,
    top_k_order,
)
from alsrec.evaluation.protocols import BlogProtocol, Fold

SCORE_BLOCK = 256  # test users scored per call to the model


def clone(model):
    """An unfitted copy with the same constructor parameters (scikit-learn style)."""
    return type(model)(**model.get_params())


def tie_break_keys(seed: int, fold: int, user: int, n_items: int) -> np.ndarray:
    """Random keys that break score ties; the same for every model on a (seed, fold, user)."""
    return np.random.default_rng([seed, fold, user]).random(n_items)


def _item_vectors(model, train: Interactions, item_features: pd.DataFrame | None) -> np.ndarray:
    """Unit vectors of the fold's items for ILD: given features, else the model's item factors."""
    if item_features is not None:
        vectors = item_features.reindex(train.item_ids).fillna(0.0).to_numpy(dtype=np.float64)
    else:
        factors = getattr(model, "item_factors_", None)
        if factors is None:
            raise ParameterError(
                f"ild@k needs item vectors: {type(model).__name__} has no item_factors_; "
                f"pass item_features to cross_validate."
            )
        vectors = np.asarray(factors)[model.item_index(train.item_ids)]
    return beyond.unit_rows(vectors)


def fit_on_fold(model: Any, fold: Fold) -> Any:
    """Fit ``model`` on the fold's training data and return it.

    A model that tunes itself while fitting (it sets ``searches_on_fit``, as
    :class:`~alsrec.evaluation.Tuned` does) is also given the fold's complete
    users: it validates only on them, because a test user's training row lacks
    the held-out items, which an inner split would count as unrated misses.

    Parameters
    ----------
    model : model
        An unfitted model (``fit(data)``).
    fold : Fold
        The split whose training data ``model`` is fitted on.

    Returns
    -------
    model
        ``model``, fitted.
    """
    if getattr(model, "searches_on_fit", False):
        return model.fit(fold.train, validation_users=fold.complete_users())
    return model.fit(fold.train)


def evaluate_fold(
    model,
    fold: Fold,
    metrics: Sequence[Metric],
    seed: int,
    item_features: pd.DataFrame | None = None,
) -> tuple[dict, dict]:
    """Score a fitted ``model`` on one fold through its public API.

    Returns per-metric arrays over the fold's test users, and model-level values.
    """
    train = fold.train
    n_items = train.n_items
    same_space = len(model.item_ids_) == n_items and np.array_equal(model.item_ids_, train.item_ids)
    columns = None if same_space else train.item_ids
    ranking = [m for m in metrics if m.kind not in ("rmse", "mae", "coverage", "gini")]
    ranking, lists = (
        [m for m in ranking if m.kind not in LIST_METRICS],
        [m for m in ranking if m.kind in LIST_METRICS],
    )
    rating = [m for m in metrics if m.kind in ("rmse", "mae")]
    coverage = [m for m in metrics if m.kind in ("coverage", "gini")]
    k_max = max([m.k for m in ranking + lists + coverage if m.k is not None] or [1])
    values = {m.name: np.full(len(fold.users), np.nan) for m in ranking + rating + lists}
    exposure = {m.name: np.zeros(n_items, dtype=np.int64) for m in coverage}
    counts, n_train_users = train.item_counts(), train.n_users
    if any(m.kind == "ild" for m in lists):
        unit = _item_vectors(model, train, item_features)
    user_ids = train.user_ids[fold.users]
    for block_start in range(0, len(fold.users), SCORE_BLOCK):
        block = slice(block_start, block_start + SCORE_BLOCK)
        scores = np.asarray(model.score_users(user_ids[block], columns), dtype=np.float64)
        for offset, user in enumerate(fold.users[block]):
            position = block_start + offset
            entries = fold.user_slice(position)
            items, gains = fold.items[entries], fold.gains[entries]
            row = scores[offset]
            keys = tie_break_keys(seed, fold.index, int(user), n_items)
            if fold.rank_all:
                candidate_mask = np.ones(n_items, dtype=bool)
                seen = train.matrix.indices[
                    train.matrix.indptr[user] : train.matrix.indptr[user + 1]
                ]
                candidate_mask[seen] = False
                candidates = np.flatnonzero(candidate_mask)
                candidate_gains = np.zeros(n_items)
                candidate_gains[items] = gains
                candidate_gains = candidate_gains[candidates]
            else:
                candidates, candidate_gains = items, gains
            candidate_scores, candidate_keys = row[candidates], keys[candidates]
            order = top_k_order(candidate_scores, candidate_keys, k_max)
            ranked_gains = candidate_gains[order]
            for metric in ranking:
                values[metric.name][position] = ranking_values(
                    ranked_gains, candidate_gains, metric, candidate_scores, candidate_keys
                )
            for metric in lists:
                top = candidates[order[: metric.k]]
                if metric.kind == "ild":
                    value = beyond.intra_list_diversity(top, unit)
                elif metric.kind == "novelty":
                    value = beyond.novelty(top, counts, n_train_users)
                else:
                    value = beyond.average_popularity(top, counts, n_train_users)
                values[metric.name][position] = value
            for metric in coverage:
                exposure[metric.name][candidates[order[: metric.k]]] += 1
            if rating:
                relevant = gains != 0
                predicted = row[items[relevant]]
                for metric in rating:
                    values[metric.name][position] = rating_error(
                        gains[relevant], predicted, metric.kind
                    )
    model_level = {
        m.name: float((exposure[m.name] > 0).mean())
        if m.kind == "coverage"
        else beyond.gini(exposure[m.name])
        for m in coverage
    }
    return values, model_level


class SummaryTable(pd.DataFrame):
    """The DataFrame :meth:`CVResult.summary` returns; its text form shows every column.

    ``print(result.summary())`` would otherwise elide the interval columns
    (``...``) at pandas' default display width.
    """

    def __repr__(self) -> str:
        return self.to_string()


@dataclass
class CVResult:
    """Results of :func:`cross_validate`.

    Attributes
    ----------
    per_user : pandas.DataFrame
        One row per (model, seed, fold, user) with a column per metric.
    per_fold : pandas.DataFrame
        One row per (model, seed, fold): fit seconds and model-level metrics.
    metrics : list of Metric
        The metrics computed.
    """

    per_user: pd.DataFrame
    per_fold: pd.DataFrame
    metrics: list[Metric]

    @property
    def models(self) -> list[str]:
        """Model names in the order given."""
        return list(dict.fromkeys(self.per_user["model"]))

    def user_means(self, metric: str | Metric) -> pd.DataFrame:
        """Users x models table of the metric, averaged over seeds."""
        name = parse_metric(metric).name
        table = self.per_user.pivot_table(
            index="user", columns="model", values=name, aggfunc="mean", dropna=False
        )
        return table[[m for m in self.models if m in table.columns]]

    def summary(self, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0) -> SummaryTable:
        """Mean, std and bootstrap confidence interval of every metric for every model.

        Per-user values are averaged over seeds first; the interval resamples
        users (percentile bootstrap). Users with no relevant item are excluded
        and counted in ``n_excluded``.
        """
        from alsrec.evaluation.compare import bootstrap_mean_interval

        rows = []
        for metric in self.metrics:
            if not metric.per_user:
                folds = self.per_fold.groupby("model", sort=False)[metric.name]
                for model, series in folds:
                    rows.append(
                        {
                            "model": model,
                            "metric": metric.name,
                            "mean": series.mean(),
                            "std": series.std(ddof=0),
                            "ci_low": np.nan,
                            "ci_high": np.nan,
                            "n_users": np.nan,
                            "n_excluded": np.nan,
                        }
                    )
                continue
            table = self.user_means(metric)
            for model in table.columns:
                values = table[model].to_numpy()
                kept = values[np.isfinite(values)]
                low, high = bootstrap_mean_interval(kept, confidence, n_boot, seed)
                rows.append(
                    {
                        "model": model,
                        "metric": metric.name,
                        "mean": kept.mean() if len(kept) else np.nan,
                        "std": kept.std() if len(kept) else np.nan,
                        "ci_low": low,
                        "ci_high": high,
                        "n_users": len(kept),
                        "n_excluded": len(values) - len(kept),
                    }
                )
        return SummaryTable(rows)

    def compare(self, model_a: str, model_b: str, metric: str | Metric | None = None, **kwargs):
        """Paired comparison of two models on the same users; see :func:`paired_comparison`."""
        from alsrec.evaluation.compare import paired_comparison

        metric = parse_metric(metric) if metric is not None else self.metrics[0]
        return paired_comparison(self, model_a, model_b, metric, **kwargs)


def cross_validate(
    models: Mapping[str, object],
    data: Interactions,
    protocol=None,
    metrics: Sequence[str | Metric] = ("ndcg@20",),
    seeds: Sequence[int] = (0,),
    show_progress: bool = False,
    item_features: pd.DataFrame | None = None,
) -> CVResult:
    """Fit and score every model on identical folds.

    Parameters
    ----------
    models : mapping of name to estimator
        Unfitted estimators (anything with ``get_params``, ``fit`` and
        ``score_users``: alsrec models, baselines, peers, Spark). Each fold gets
        a fresh clone.
    data : Interactions
        The full data.
    protocol : object with ``split(data, seed)``, optional
        Defaults to the blog's protocol (:class:`BlogProtocol`).
    metrics : sequence of str
        e.g. ``["ndcg@20", "precision@10", "auc"]``; see :mod:`.metrics`.
    seeds : sequence of int
        Each seed gives a new split (and new tie-breaks); every model sees it.
    show_progress : bool
        Progress bar over folds and models.
    item_features : pandas.DataFrame, optional
        Item vectors indexed by item id (e.g. one-hot genres) for ``ild@k``;
        by default ILD uses each model's item factors.

    Returns
    -------
    CVResult
    """
    if not models:
        raise ParameterError("give at least one model to evaluate.")
    protocol = protocol or BlogProtocol()
    parsed = [parse_metric(m) for m in metrics]
    names = [m.name for m in parsed]
    if len(set(names)) != len(names):
        raise ParameterError("a metric is listed twice.")
    user_frames, fold_rows = [], []
    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc="cross-validation", unit="fit")
    try:
        for seed in seeds:
            folds = protocol.split(data, seed)
            if bar is not None:
                bar.total = len(seeds) * len(folds) * len(models)
                bar.refresh()
            for fold in folds:
                for name, estimator in models.items():
                    if bar is not None:
                        bar.set_postfix_str(f"seed {seed} fold {fold.index} {name}")
                    model = clone(estimator)
                    started = time.perf_counter()
                    fit_on_fold(model, fold)
                    fit_seconds = time.perf_counter() - started
                    values, model_level = evaluate_fold(model, fold, parsed, seed, item_features)
                    frame = pd.DataFrame(values)
                    frame.insert(0, "user", fold.train.user_ids[fold.users])
                    frame.insert(0, "fold", fold.index)
                    frame.insert(0, "seed", seed)
                    frame.insert(0, "model", name)
                    user_frames.append(frame)
                    fold_rows.append(
                        {
                            "model": name,
                            "seed": seed,
                            "fold": fold.index,
                            "fit_seconds": fit_seconds,
                            **model_level,
                        }
                    )
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return CVResult(pd.concat(user_frames, ignore_index=True), pd.DataFrame(fold_rows), parsed)
