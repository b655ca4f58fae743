"""Figures of a tuning study (an Optuna study from ``search``/``Tuned``).

Drawing only: the values come from the study's trials; parameter importances
are Optuna's PED-ANOVA estimate (numpy/scipy only; fANOVA would need
scikit-learn).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from alsrec.plots import _pyplot, _save


def finished_trials(study) -> tuple[list, list]:
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    return complete, pruned


def _maximize(study) -> bool:
    from optuna.study import StudyDirection

    return study.direction == StudyDirection.MAXIMIZE


def optimization_history(study, path: str | os.PathLike[str] | None = None) -> bytes:
    """Each completed trial's validation score, the best so far, and where trials were pruned.

    Parameters
    ----------
    study : optuna.Study
        E.g. ``search(...).study`` or ``Tuned(...).fit(data).study_``.
    path : path-like, optional
        Where to write the PNG.

    Returns
    -------
    bytes
        The PNG.
    """
    plt = _pyplot()
    complete, pruned = finished_trials(study)
    metric = study.user_attrs.get("metric", "objective")
    fig, ax = plt.subplots(figsize=(7, 4))
    if complete:
        numbers = np.array([t.number for t in complete])
        values = np.array([t.value for t in complete])
        best = np.maximum.accumulate(values) if _maximize(study) else np.minimum.accumulate(values)
        ax.scatter(numbers, values, color="#4477aa", s=22, label="completed trial", zorder=3)
        ax.step(numbers, best, where="post", color="#cc6677", label="best so far")
    if pruned:
        # a pruned trial has no final score: mark it at its last reported value
        marks = [(t.number, t.intermediate_values[max(t.intermediate_values)]) for t in pruned]
        marks = [m for m in marks if np.isfinite(m[1])]
        if marks:
            ax.scatter(
                *zip(*marks, strict=True), marker="x", color="#999999", label="pruned (last report)"
            )
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title(f"Optimisation history: {len(complete)} completed, {len(pruned)} pruned")
    ax.legend(frameon=False, fontsize=8)
    return _save(fig, path)


def parameter_importances(study) -> pd.Series:
    """PED-ANOVA importance of each parameter for reaching the best scores (sums to 1).

    Needs at least two completed trials with differing parameters; an empty
    series otherwise.
    """
    import optuna

    complete, _ = finished_trials(study)
    if len(complete) < 2:
        return pd.Series(dtype=float)
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    try:
        with warnings.catch_warnings():
            # PED-ANOVA warns whenever a region holds under 2 trials, i.e. on every small
            # study; the report states the number of trials behind the importances
            warnings.filterwarnings("ignore", message="Some regimes for parameter")
            importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError):  # every trial identical: nothing to attribute
        return pd.Series(dtype=float)
    # a dimension fixed by the space (one value in every trial) has nothing to attribute
    varied = {
        name
        for name in importances
        if len({t.params[name] for t in complete if name in t.params}) > 1
    }
    kept = pd.Series({n: v for n, v in importances.items() if n in varied}, dtype=float)
    if kept.sum() > 0:
        kept = kept / kept.sum()
    return kept.sort_values(ascending=False)


def importance_chart(importances: pd.Series, path: str | os.PathLike[str] | None = None) -> bytes:
    """Horizontal bars of :func:`parameter_importances`, as PNG bytes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 * max(len(importances), 2) + 1.2))
    if len(importances):
        ordered = importances.sort_values()
        ax.barh(ordered.index.astype(str), ordered.to_numpy(), color="#4477aa")
        ax.set_xlim(0, 1)
    else:
        ax.text(0.5, 0.5, "too few completed trials", ha="center", va="center")
    ax.set_xlabel("importance (PED-ANOVA share)")
    ax.set_title("Parameter importances")
    return _save(fig, path)
