"""Hyperparameter search scored by cross-validation on the data it is given.

Give it training data only: :class:`Tuned` does exactly that inside each
outer fold of :func:`~alsrec.evaluation.cross_validate` (nested
cross-validation), so the outer test folds never influence the choice.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alsrec.data.interactions import Interactions
from alsrec.errors import ParameterError
from alsrec.evaluation.metrics import parse_metric
from alsrec.evaluation.runner import clone, cross_validate
from alsrec.models.base import FactorModel


@dataclass
class SearchResult:
    """Outcome of :func:`search`.

    Attributes
    ----------
    best_params : dict
        The winning parameter overrides.
    best_score : float
        Its mean metric over validation users.
    table : pandas.DataFrame
        One row per configuration: its parameters, mean, std and fit seconds,
        best first.
    """

    best_params: dict
    best_score: float
    table: pd.DataFrame


def _configurations(
    grid: Mapping[str, Sequence[Any]], mode: str, n_iter: int, random_state: int
) -> list[dict]:
    if not grid:
        raise ParameterError("the grid is empty; give at least one parameter and its values.")
    for name, values in grid.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or len(values) == 0:
            raise ParameterError(f"grid[{name!r}] must be a non-empty list of values.")
    names = list(grid)
    every = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]
    if mode == "grid":
        return every
    if mode == "random":
        rng = np.random.default_rng(random_state)
        picks = rng.choice(len(every), size=min(n_iter, len(every)), replace=False)
        return [every[i] for i in sorted(picks)]
    raise ParameterError(f"mode={mode!r} must be 'grid' or 'random'.")


def search(
    estimator: Any,
    grid: Mapping[str, Sequence[Any]],
    data: Interactions,
    protocol: Any = None,
    metric: str = "ndcg@20",
    seeds: Sequence[int] = (0,),
    mode: str = "grid",
    n_iter: int = 10,
    random_state: int = 0,
    show_progress: bool = False,
) -> SearchResult:
    """Score every configuration of ``grid`` by cross-validation on ``data``.

    Parameters
    ----------
    estimator : model
        The base estimator; each configuration overrides some of its parameters.
    grid : mapping of parameter name to list of values
        The search space.
    data : Interactions
        Training data only (the split inside is the validation split).
    protocol, metric, seeds
        As in :func:`~alsrec.evaluation.cross_validate`.
    mode : {"grid", "random"}
        Every combination, or ``n_iter`` of them drawn without replacement.
    """
    parsed = parse_metric(metric)
    if not parsed.per_user:
        raise ParameterError(f"{parsed.name} cannot rank configurations; use a per-user metric.")
    configurations = _configurations(grid, mode, n_iter, random_state)
    rows = []
    iterator = configurations
    if show_progress:
        from tqdm.auto import tqdm

        iterator = tqdm(configurations, desc="search", unit="config")
    base = estimator.get_params()
    for overrides in iterator:
        unknown = set(overrides) - set(base)
        if unknown:
            raise ParameterError(
                f"{type(estimator).__name__} has no parameter {sorted(unknown)[0]!r}."
            )
        candidate = type(estimator)(**{**base, **overrides})
        result = cross_validate({"candidate": candidate}, data, protocol, [parsed], seeds)
        values = result.user_means(parsed)["candidate"].to_numpy()
        values = values[np.isfinite(values)]
        rows.append(
            {
                **overrides,
                "mean": values.mean(),
                "std": values.std(),
                "fit_seconds": result.per_fold["fit_seconds"].sum(),
            }
        )
    table = pd.DataFrame(rows).sort_values("mean", ascending=not parsed.higher_is_better)
    table = table.reset_index(drop=True)
    best = {name: _plain(table.loc[0, name]) for name in grid}
    return SearchResult(best, float(table.loc[0, "mean"]), table)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class Tuned(FactorModel):
    """An estimator that tunes itself on its training data, then refits the best.

    Use it as a model in :func:`~alsrec.evaluation.cross_validate` for nested
    cross-validation: each outer fold's search sees only that fold's training
    data.

    Parameters
    ----------
    estimator : model
        Base estimator.
    grid : mapping
        Search space (see :func:`search`).
    protocol, metric, seeds, mode, n_iter, random_state
        Passed to :func:`search`.
    """

    def __init__(
        self,
        estimator: Any,
        grid: Mapping[str, Sequence[Any]],
        protocol: Any = None,
        metric: str = "ndcg@20",
        seeds: Sequence[int] = (0,),
        mode: str = "grid",
        n_iter: int = 10,
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.grid = grid
        self.protocol = protocol
        self.metric = metric
        self.seeds = seeds
        self.mode = mode
        self.n_iter = n_iter
        self.random_state = random_state

    def fit(self, data: Interactions) -> Tuned:
        """Search on ``data``, then fit the best configuration on all of it."""
        found = search(
            self.estimator,
            self.grid,
            data,
            self.protocol,
            self.metric,
            self.seeds,
            self.mode,
            self.n_iter,
            self.random_state,
        )
        best = clone(self.estimator).set_params(**found.best_params).fit(data)
        for name in FactorModel._fitted_attributes:
            setattr(self, name, getattr(best, name))
        self.best_params_ = found.best_params
        self.search_table_ = found.table
        self.best_estimator_ = best
        return self
