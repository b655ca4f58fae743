"""Uncertainty: bootstrap intervals and paired comparisons stated as sentences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alsrec.errors import ParameterError
from alsrec.evaluation.metrics import Metric


def bootstrap_mean_interval(
    values: np.ndarray, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence={confidence!r} must be between 0 and 1.")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    step = max(1, 2_000_000 // max(len(values), 1))  # bounded memory for large user counts
    for start in range(0, n_boot, step):
        stop = min(start + step, n_boot)
        picks = rng.integers(0, len(values), size=(stop - start, len(values)))
        means[start:stop] = values[picks].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of model A against model B on the same users.

    Attributes
    ----------
    difference : float
        mean(A - B) over users with a value for both.
    ci_low, ci_high : float
        Bootstrap interval of that mean difference.
    p_value : float
        Two-sided Wilcoxon signed-rank test of the per-user differences.
    n_users : int
        Users compared.
    """

    model_a: str
    model_b: str
    metric: str
    higher_is_better: bool
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    n_users: int

    @property
    def sentence(self) -> str:
        """The result in words a person can act on."""
        pct = f"{self.confidence:.0%}"
        interval = f"{pct} CI [{self.ci_low:+.3f}, {self.ci_high:+.3f}]"
        p = "p < 0.001" if self.p_value < 0.001 else f"p = {self.p_value:.3f}"
        tail = f"(Wilcoxon {p}, {self.n_users} users)"
        if self.ci_low <= 0 <= self.ci_high:
            return (
                f"No clear difference between {self.model_a} and {self.model_b} on "
                f"{self.metric}: {self.difference:+.3f}, {interval} {tail}."
            )
        a_better = (self.difference > 0) == self.higher_is_better
        winner, loser = (self.model_a, self.model_b) if a_better else (self.model_b, self.model_a)
        size = abs(self.difference)
        low, high = sorted((abs(self.ci_low), abs(self.ci_high)))
        return (
            f"{winner} beats {loser} by {size:.3f} {self.metric}, {pct} CI "
            f"[{low:.3f}, {high:.3f}] {tail}."
        )

    def to_dict(self) -> dict:
        """JSON-ready form, sentence included."""
        out = dict(self.__dict__)
        out["sentence"] = self.sentence
        return out


def paired_comparison(
    result,
    model_a: str,
    model_b: str,
    metric: Metric,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare two models of a :class:`~alsrec.evaluation.runner.CVResult` user by user."""
    from scipy.stats import wilcoxon

    if not metric.per_user:
        raise ParameterError(f"{metric.name} is one number per model; it cannot be paired.")
    table = result.user_means(metric)
    for model in (model_a, model_b):
        if model not in table.columns:
            raise ParameterError(f"no results for model {model!r}; have {list(table.columns)}.")
    a, b = table[model_a].to_numpy(), table[model_b].to_numpy()
    both = np.isfinite(a) & np.isfinite(b)  # users scored by both models
    differences = a[both] - b[both]
    low, high = bootstrap_mean_interval(differences, confidence, n_boot, seed)
    if len(differences) == 0 or np.all(differences == 0):
        p_value = 1.0
    else:
        p_value = float(wilcoxon(differences, zero_method="wilcox").pvalue)
    return Comparison(
        model_a,
        model_b,
        metric.name,
        metric.higher_is_better,
        float(differences.mean()) if len(differences) else float("nan"),
        low,
        high,
        confidence,
        p_value,
        len(differences),
    )
