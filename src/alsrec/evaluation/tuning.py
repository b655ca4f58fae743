"""Hyperparameter search on Optuna, scored by cross-validation on the data it is given.

Give it training data only: :class:`Tuned` does exactly that inside each
outer fold of :func:`~alsrec.evaluation.cross_validate` (nested
cross-validation), so the outer test folds never influence the choice.

A search is an Optuna study: a seeded TPE sampler proposes parameters from a
declared space (:data:`PRESET_SPACES`, or one given by the caller), each trial
is scored by the protocol's validation folds, and a pruner stops a trial early
when the validation metric it reports during training (through the ALS
``callback``) is worse than its peers' at the same iteration. A study can live
in any Optuna RDB storage (``sqlite:///tune.db``): running the same search
again resumes it. Optuna is imported inside the functions, so ``import alsrec``
stays fast.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alsrec.data.interactions import Interactions
from alsrec.errors import AlsrecError, DataError, NumericalError, ParameterError
from alsrec.evaluation.metrics import Metric, parse_metric
from alsrec.evaluation.protocols import BlogProtocol, Fold
from alsrec.evaluation.runner import clone, evaluate_fold, fit_on_fold
from alsrec.models.base import FactorModel

if TYPE_CHECKING:
    import optuna

# A space maps a parameter name to a list of values (categorical) or an Optuna
# distribution; or it is a function ``trial -> {name: value}`` (define-by-run).
Space = Mapping[str, Any] | Callable[[Any], dict]

# Declared per preset as (kind, low, high[, step]); kind "log" is a log-uniform float,
# "float" a uniform float, "int" a whole number on a grid of ``step``, and ("fixed", value)
# a value every trial uses (so a trial never inherits the estimator's own).
# zeros: w0 is the weight of a missing cell relative to an observed one, and lambda is
# count-scaled (lambda_u = lambda (n_u + w0 n_items), nu fixed at 1 as in ALS-WR and
# Spark), so both ranges are relative and carry across data sets. Developed on outer seed
# 0 of ml-latest-small and Last.fm (blog protocol) and reported on seed 1
# (benchmarks/bench_tuning.py): searching nu as well (0.5-1) lost to the fixed nu on both,
# because 8 trials cover a fourth dimension too thinly; k up to 192 because held-out NDCG
# on ml-latest-small kept rising with k (Last.fm prefers k = 32).
PRESET_SPACES: dict[str, dict[str, tuple]] = {
    "zeros": {
        "unobserved_weight": ("log", 0.02, 0.5),
        "regularization": ("log", 0.01, 0.3),
        "factors": ("int", 32, 192, 32),
        "reg_exponent": ("fixed", 1.0),
    },
    "implicit": {
        "alpha": ("log", 0.1, 100.0),
        "regularization": ("log", 1e-3, 10.0),
        "factors": ("int", 16, 128, 16),
        "iterations": ("int", 5, 25, 5),
    },
    "explicit": {
        "regularization": ("log", 5e-3, 0.5),
        "factors": ("int", 8, 128, 8),
        "iterations": ("int", 5, 25, 5),
    },
}


def distribution(kind: str, low: float, high: float | None = None, step: float | None = None):
    """The Optuna distribution of a declared dimension.

    Parameters
    ----------
    kind : {"log", "float", "int", "fixed"}
        Log-uniform float, uniform float, whole number (``step`` apart), or one
        value (``low``) that every trial uses.
    low, high : float
        Bounds (both included); ``high`` is not given for "fixed".
    step : float, optional
        Grid spacing (int: default 1).
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if kind not in ("log", "float", "int", "fixed"):
        raise ParameterError(f"range kind {kind!r} must be 'log', 'float', 'int' or 'fixed'.")
    if kind == "fixed":
        return CategoricalDistribution([low])
    if high is None:
        raise ParameterError(f"a {kind} range needs both low and high.")

    if not low < high:
        raise ParameterError(f"a {kind} range needs low < high; got {low} and {high}.")
    if kind == "log":
        if low <= 0:
            raise ParameterError(f"a log range needs low > 0; got {low}.")
        return FloatDistribution(float(low), float(high), log=True)
    if kind == "float":
        return FloatDistribution(float(low), float(high), step=step)
    if kind == "int":
        return IntDistribution(int(low), int(high), step=int(step or 1))
    raise ParameterError(f"range kind {kind!r} must be 'log', 'float' or 'int'.")


def default_space(estimator: Any) -> dict[str, Any]:
    """The declared search space of ``estimator``'s preset, as Optuna distributions."""
    preset = estimator.get_params().get("preset")
    if preset not in PRESET_SPACES:
        raise ParameterError(
            f"{type(estimator).__name__} has no declared search space; give space= "
            f"(e.g. {{'factors': [32, 64]}})."
        )
    return {name: distribution(*spec) for name, spec in PRESET_SPACES[preset].items()}


def _check_space(space: Space, estimator: Any) -> Space:
    if callable(space):
        return space
    from optuna.distributions import BaseDistribution, CategoricalDistribution

    if not space:
        raise ParameterError("the search space is empty; give at least one parameter.")
    known = estimator.get_params()
    checked: dict[str, Any] = {}
    for name, values in space.items():
        if name not in known:
            raise ParameterError(f"{type(estimator).__name__} has no parameter {name!r}.")
        if isinstance(values, BaseDistribution):
            checked[name] = values
        elif isinstance(values, Sequence) and not isinstance(values, str) and len(values):
            checked[name] = CategoricalDistribution(list(values))
        else:
            raise ParameterError(
                f"space[{name!r}] must be a non-empty list of values or an Optuna distribution."
            )
    return checked


def _suggest(trial: optuna.Trial, space: Space) -> dict:
    if callable(space):
        return dict(space(trial))
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    params = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, FloatDistribution):
            params[name] = trial.suggest_float(
                name, dist.low, dist.high, log=dist.log, step=dist.step
            )
        else:
            params[name] = trial.suggest_int(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
    return params


def _sampler(sampler: Any, space: Space, n_trials: int | None, seed: int):
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    # few random start-up trials when the budget is small, so the sampler gets to model
    startup = max(2, min(10, (n_trials or 20) // 2))
    if sampler == "tpe":
        # Univariate: the first trial (the model as given) has no parameters, which
        # would leave a multivariate sampler's shared search space empty.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    if sampler == "gp":
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            raise ParameterError("sampler='gp' needs PyTorch: pip install 'alsrec[gpu]'.")
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if sampler == "grid":
        from optuna.distributions import CategoricalDistribution

        if callable(space) or not all(
            isinstance(d, CategoricalDistribution) for d in space.values()
        ):
            raise ParameterError("sampler='grid' needs a space of value lists only.")
        return optuna.samplers.GridSampler(
            {name: list(d.choices) for name, d in space.items()}, seed=seed
        )
    raise ParameterError(f"sampler={sampler!r} must be 'tpe', 'gp', 'grid' or an Optuna sampler.")


def _pruner(pruner: Any, report_every: int | None):
    import optuna

    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "median":
        # spare each trial's first report: early iterates rank configurations poorly
        warmup = 2 * report_every if report_every else 0
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=warmup)
    if pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    raise ParameterError(
        f"pruner={pruner!r} must be 'median', 'halving', 'none' or an Optuna pruner."
    )


def _open_study(storage, study_name, sampler, pruner, metric: Metric, scoring: str):
    import optuna

    direction = "maximize" if metric.higher_is_better else "minimize"
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            load_if_exists=storage is not None,
            sampler=sampler,
            pruner=pruner,
            direction=direction,
        )
    except ParameterError:
        raise
    except Exception as error:  # storage URLs fail in many driver-specific ways
        raise ParameterError(
            f"storage={storage!r} could not be opened ({error}); give an Optuna RDB URL "
            f"such as 'sqlite:///tune.db'."
        ) from error
    # a resumed study must score new trials as it scored the old ones
    for key, value in (("metric", metric.name), ("scoring", scoring)):
        stored = study.user_attrs.get(key)
        if stored is None and not study.trials:
            study.set_user_attr(key, value)
        elif stored is not None and stored != value:
            words = "for" if key == "metric" else "with validation"
            raise ParameterError(
                f"study {study.study_name!r} was run {words} {stored}, not {value}; give "
                f"another study_name."
            )
    return study


# user attribute of the trial that scores the estimator with its own parameters
AS_GIVEN = "as_given"
# racing (finalists=): a trial's per-user values on the first fold, and the study's
# record of a finalist scored on every fold ("final:<trial number>")
FIRST_VALUES = "first_fold_values"
FINAL = "final"


@dataclass
class SearchResult:
    """Outcome of :func:`search`.

    Attributes
    ----------
    best_params : dict
        The winning parameter overrides (empty: the estimator as given won).
    best_score : float
        Its mean metric over validation users.
    table : pandas.DataFrame
        One row per trial: number, state (COMPLETE, PRUNED, FAIL), ``as_given``
        (the trial that scored the estimator's own parameters), parameters,
        ``final_mean`` when racing (the finalists' mean over every fold; then
        ``mean`` and ``std`` are over the first fold only, and finalists come
        first),
        ``mean`` and ``std`` of the metric over validation users, ``fits``
        (model fits started), ``iterations`` (ALS iterations run) and
        ``fit_seconds``; completed trials first, best first.
    study : optuna.Study
        The study itself (history, storage, importances).
    """

    best_params: dict
    best_score: float
    table: pd.DataFrame
    study: Any

    @property
    def n_fits(self) -> int:
        """Model fits started by every trial of the study (pruned ones included)."""
        return int(self.table["fits"].sum())


@contextmanager
def _quiet_optuna():
    """Optuna logs every trial at INFO; alsrec reports trials itself (callbacks)."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


class _Counter:
    """What a trial spent: fits started, iterations run, fit seconds."""

    def __init__(self) -> None:
        self.fits = 0
        self.iterations = 0
        self.seconds = 0.0


def _fold_scores(model, fold: Fold, metric: Metric, seed: int) -> np.ndarray:
    values, _ = evaluate_fold(model, fold, [metric], seed)
    return values[metric.name]


def _reporter(trial, model, fold: Fold, metric: Metric, seed: int, every: int, counter: _Counter):
    """ALS callback: report the validation metric every ``every`` iterations; prune if told."""
    import optuna

    def callback(iteration: int, elapsed: float, loss: float) -> None:
        counter.iterations += 1
        if iteration % every:
            return
        trial.report(float(np.nanmean(_fold_scores(model, fold, metric, seed))), iteration)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at iteration {iteration}")

    callback.needs_loss = False  # the fit then skips computing the loss every iteration
    return callback


def _duplicate(study, params: dict, number: int):
    import optuna

    for other in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if other.number != number and other.params == params:
            return other
    return None


def _score_folds(
    candidate: Any,
    folds: list[tuple[int, Fold]],
    metric: Metric,
    counter: _Counter,
    first_callback: Callable | None = None,
) -> list[pd.DataFrame]:
    """Fit ``candidate`` on each fold's training data; per fold, (user, value) of the metric.

    ``first_callback(model, fold, seed)`` makes the callback of the first fold's fit
    (the pruning reporter); its iterations are counted by the callback itself.
    """
    frames = []
    for position, (seed, fold) in enumerate(folds):
        model = clone(candidate)
        reporting = first_callback is not None and position == 0
        if reporting:
            model.set_params(callback=first_callback(model, fold, seed))
        counter.fits += 1
        started = time.perf_counter()
        try:
            fit_on_fold(model, fold)
        finally:
            counter.seconds += time.perf_counter() - started
        if not reporting:
            counter.iterations += int(getattr(model, "n_iter_", 0))
        frames.append(
            pd.DataFrame({"user": fold.users, "value": _fold_scores(model, fold, metric, seed)})
        )
    return frames


def _pooled(frames: list[pd.DataFrame], metric: Metric) -> np.ndarray:
    """Per-user values, each user's mean over seeds first (as cross_validate's summaries)."""
    per_user = pd.concat(frames).groupby("user")["value"].mean().to_numpy()
    per_user = per_user[np.isfinite(per_user)]
    if len(per_user) == 0:
        raise ParameterError(f"no validation user has a defined {metric.name}.")
    return per_user


def _objective(
    estimator: Any,
    space: Space,
    folds: list[tuple[int, Fold]],
    metric: Metric,
    report_every: int | None,
    first_fold_only: bool,
) -> Callable:
    base = estimator.get_params()
    can_report = "callback" in base and report_every is not None
    scored = folds[:1] if first_fold_only else folds

    def objective(trial) -> float:
        # the enqueued first trial scores the estimator as given, inside the space or not
        params = {} if trial.user_attrs.get(AS_GIVEN) else _suggest(trial, space)
        unknown = set(params) - set(base)
        if unknown:
            raise ParameterError(
                f"{type(estimator).__name__} has no parameter {sorted(unknown)[0]!r}."
            )
        same = _duplicate(trial.study, params, trial.number)
        if same is not None:  # TPE can propose a point already scored: reuse, do not refit
            for key in ("std", "fits", "iterations", "fit_seconds"):
                trial.set_user_attr(key, 0 if key != "std" else same.user_attrs.get("std"))
            trial.set_user_attr("duplicate_of", same.number)
            return float(same.value)
        counter = _Counter()
        reporter = None
        if can_report:  # prune on the first validation fold

            def reporter(model, fold, seed):
                return _reporter(trial, model, fold, metric, seed, report_every, counter)

        try:
            frames = _score_folds(
                type(estimator)(**{**base, **params}), scored, metric, counter, reporter
            )
        finally:
            trial.set_user_attr("fits", counter.fits)
            trial.set_user_attr("iterations", counter.iterations)
            trial.set_user_attr("fit_seconds", counter.seconds)
        if first_fold_only:  # kept so a finalist's other folds add to them (_race)
            trial.set_user_attr(FIRST_VALUES, frames[0]["value"].tolist())
        per_user = _pooled(frames, metric)
        trial.set_user_attr("std", float(per_user.std()))
        return float(per_user.mean())

    return objective


def _race(study, estimator: Any, folds: list[tuple[int, Fold]], metric: Metric, finalists: int):
    """Score the ``finalists`` best trials (by their first fold) on the other folds too.

    Each finalist's result (mean and std over every validation user, and what the
    extra fits cost) is kept in the study's user attributes as ``final:<number>``,
    so a resumed study does not refit it.
    """
    import optuna

    complete = [
        trial
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if "duplicate_of" not in trial.user_attrs and FIRST_VALUES in trial.user_attrs
    ]
    sign = -1.0 if metric.higher_is_better else 1.0
    base = estimator.get_params()
    first_fold = folds[0][1]
    for trial in sorted(complete, key=lambda t: (sign * t.value, t.number))[:finalists]:
        key = f"{FINAL}:{trial.number}"
        if key in study.user_attrs:
            continue
        counter = _Counter()
        candidate = type(estimator)(**{**base, **trial.params})
        rest = _score_folds(candidate, folds[1:], metric, counter)
        first = pd.DataFrame({"user": first_fold.users, "value": trial.user_attrs[FIRST_VALUES]})
        per_user = _pooled([first, *rest], metric)
        study.set_user_attr(
            key,
            {
                "mean": float(per_user.mean()),
                "std": float(per_user.std()),
                "fits": counter.fits,
                "iterations": counter.iterations,
                "fit_seconds": counter.seconds,
            },
        )


def winner(study) -> tuple[Any, float]:
    """The winning trial of a finished study and its score.

    Without racing, Optuna's best trial; with racing (``finalists=``), the
    finalist with the best mean over every validation fold (ties: the earlier).
    """
    import optuna

    finals = {number: final["mean"] for number, final in _finals(study).items()}
    if not finals:
        best = study.best_trial
        return best, float(best.value)
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
    number = max(finals, key=lambda n: (sign * finals[n], -n))
    return study.trials[number], float(finals[number])


def _finals(study) -> dict[int, dict]:
    """Trial number -> the finalist record ``_race`` kept for it (empty without racing)."""
    return {
        int(key.split(":", 1)[1]): value
        for key, value in study.user_attrs.items()
        if key.startswith(f"{FINAL}:")
    }


def _table(study, metric: Metric) -> pd.DataFrame:
    rows = []
    finals = _finals(study)
    for trial in study.get_trials(deepcopy=False):
        final = finals.get(trial.number, {})
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                AS_GIVEN: bool(trial.user_attrs.get(AS_GIVEN, False)),
                **trial.params,
                "mean": np.nan if trial.value is None else trial.value,
                "std": trial.user_attrs.get("std", np.nan),
                "final_mean": final.get("mean", np.nan),
                "fits": trial.user_attrs.get("fits", 0) + final.get("fits", 0),
                "iterations": trial.user_attrs.get("iterations", 0) + final.get("iterations", 0),
                "fit_seconds": trial.user_attrs.get("fit_seconds", 0.0)
                + final.get("fit_seconds", 0.0),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    if not finals:
        table = table.drop(columns="final_mean")
    complete = table["state"] == "COMPLETE"
    finalist = table["number"].isin(list(finals))
    score = table["final_mean"].where(finalist, table["mean"]) if finals else table["mean"]
    key = score if metric.higher_is_better else -score
    table = table.assign(_complete=complete, _finalist=finalist, _key=key.fillna(-np.inf))
    table = table.sort_values(
        ["_complete", "_finalist", "_key", "number"], ascending=[False, False, False, True]
    )
    return table.drop(columns=["_complete", "_finalist", "_key"]).reset_index(drop=True)


def _validation_folds(
    protocol: Any, data: Interactions, seeds: Sequence[int], users: np.ndarray | None
) -> list[tuple[int, Fold]]:
    """Every (seed, fold) of the validation split; test users drawn from ``users``."""
    if users is None:
        return [(seed, fold) for seed in seeds for fold in protocol.split(data, seed)]
    if "users" not in inspect.signature(protocol.split).parameters:
        raise ParameterError(
            f"protocol {type(protocol).__name__} cannot restrict its test users "
            f"(split(data, seed, users=) is missing); give validation_users=None or a "
            f"protocol of alsrec.evaluation."
        )
    try:
        return [(seed, fold) for seed in seeds for fold in protocol.split(data, seed, users=users)]
    except DataError as error:
        raise DataError(
            f"the search may validate only on {len(np.unique(users))} of {data.n_users} users "
            f"(validation_users=: in nested evaluation, the outer fold's complete users), too "
            f"few for its protocol: give the protocol fewer folds or the outer split more "
            f"users. ({error})"
        ) from error


def search(
    estimator: Any,
    space: Space | None = None,
    data: Interactions | None = None,
    protocol: Any = None,
    metric: str = "ndcg@20",
    seeds: Sequence[int] = (0,),
    n_trials: int | None = 20,
    timeout: float | None = None,
    random_state: int = 0,
    sampler: Any = "tpe",
    pruner: Any = "median",
    report_every: int | None = 5,
    storage: str | None = None,
    study_name: str | None = None,
    callbacks: Sequence[Callable] = (),
    show_progress: bool = False,
    include_given: bool | None = None,
    finalists: int | None = None,
    validation_users: np.ndarray | None = None,
) -> SearchResult:
    """Search hyperparameters with an Optuna study scored by cross-validation on ``data``.

    Parameters
    ----------
    estimator : model
        The base estimator; each trial overrides some of its parameters.
    space : mapping or callable, optional
        Parameter name -> list of values (categorical) or Optuna distribution
        (see :func:`distribution`), or a function ``trial -> params``. Default:
        the estimator preset's declared space (:data:`PRESET_SPACES`).
    data : Interactions
        Training data only (the protocol's split inside is the validation split).
    protocol, metric, seeds
        As in :func:`~alsrec.evaluation.cross_validate` (default: the blog's protocol).
    n_trials : int, optional
        Trials the study should hold when this call returns (complete and
        pruned; a resumed study only runs the missing ones). None: until ``timeout``.
    timeout : float, optional
        Stop starting trials after this many seconds.
    random_state : int
        Seed of the sampler (TPE, or the grid's order).
    sampler : {"tpe", "gp", "grid"} or optuna sampler
        TPE (default), Gaussian-process Bayesian optimisation (needs torch), or
        "grid": every combination of an all-list space.
    pruner : {"median", "halving", "none"} or optuna pruner
        Stops trials whose reported validation metric trails the others'.
    report_every : int, optional
        Report the validation metric every this many ALS iterations of the
        first validation fold (None: never, so nothing is pruned).
    storage : str, optional
        Optuna RDB URL (``"sqlite:///tune.db"``, ``"postgresql://..."``); the
        study is created or, if it exists, resumed. Several processes or
        machines may share one.
    study_name : str, optional
        Name of the study in ``storage`` (default ``"alsrec-<preset>-<metric>"``).
    callbacks : sequence of callable
        Optuna callbacks ``(study, frozen_trial)`` after each trial (progress).
    show_progress : bool
        Optuna's progress bar.
    include_given : bool, optional
        Make the first trial of a new study score ``estimator`` with its own
        parameters (one of the ``n_trials``), so the search never returns a
        configuration that validated worse than the model it was given.
        Default: yes, except with ``sampler="grid"`` (a grid tries exactly its
        combinations) and ``sampler="gp"`` (it models only trials that share all
        parameters). When racing, "validated" means on the first fold.
    finalists : int, optional
        Race the trials over the validation folds: each trial is scored on the
        first fold only (the study optimises that score), then the
        ``finalists`` best are scored on the other folds too and the best mean
        over every validation user wins. A trial then costs one fit instead
        of one per fold, so the same fits buy more trials. None: every trial
        is scored on every fold.
    validation_users : array of int, optional
        Row indices of the users the protocol may test on; every other user's
        row stays whole in each validation fold's training data. Nested
        evaluation passes the outer fold's complete users (see
        :meth:`~alsrec.evaluation.Fold.complete_users`), so the search never
        scores a user whose outer held-out items it would count as misses.
        None: any user.

    Returns
    -------
    SearchResult
    """
    import optuna

    if data is None:
        raise ParameterError("give data= (training data only) to search on.")
    parsed = parse_metric(metric)
    if not parsed.per_user:
        raise ParameterError(f"{parsed.name} cannot rank configurations; use a per-user metric.")
    if n_trials is None and timeout is None:
        raise ParameterError("give n_trials= or timeout=, or the search would never stop.")
    if n_trials is not None and (not isinstance(n_trials, int) or n_trials < 1):
        raise ParameterError(f"n_trials={n_trials!r} must be a positive whole number.")
    if finalists is not None and (
        isinstance(finalists, bool) or not isinstance(finalists, int) or finalists < 1
    ):
        raise ParameterError(f"finalists={finalists!r} must be a positive whole number or None.")
    if report_every is not None and (not isinstance(report_every, int) or report_every < 1):
        raise ParameterError(f"report_every={report_every!r} must be a positive whole number.")
    space = _check_space(default_space(estimator) if space is None else space, estimator)
    protocol = protocol or BlogProtocol()
    if storage is not None and study_name is None:
        preset = estimator.get_params().get("preset", type(estimator).__name__)
        study_name = f"alsrec-{preset}-{parsed.name}"
    # the same validation folds for every trial, split once
    folds = _validation_folds(protocol, data, seeds, validation_users)
    scoring = (
        f"{len(folds)} folds of protocol {getattr(protocol, 'name', type(protocol).__name__)} "
        f"(seeds {list(seeds)}), "
        + ("first fold, finalists on all" if finalists is not None else "every fold")
    )
    if validation_users is not None:
        chosen = np.unique(np.asarray(validation_users, dtype=np.int64))
        digest = hashlib.sha256(chosen.tobytes()).hexdigest()[:12]
        scoring += f", validation among {len(chosen)} of {data.n_users} users ({digest})"
    with _quiet_optuna():
        study = _open_study(
            storage,
            study_name,
            _sampler(sampler, space, n_trials, random_state),
            _pruner(pruner, report_every),
            parsed,
            scoring,
        )
        if include_given is None:
            # a grid tries exactly its combinations; GP models only trials that share
            # every parameter, so a trial without any would leave it sampling at random
            include_given = not (isinstance(sampler, str) and sampler in ("grid", "gp"))
        if include_given and not study.get_trials(deepcopy=False):
            study.enqueue_trial({}, user_attrs={AS_GIVEN: True})
        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        remaining = None
        extra = list(callbacks)
        if n_trials is not None:
            remaining = max(0, n_trials - len(study.get_trials(deepcopy=False, states=finished)))
            extra.append(optuna.study.MaxTrialsCallback(n_trials, states=finished))
        if remaining != 0:
            study.optimize(
                _objective(estimator, space, folds, parsed, report_every, finalists is not None),
                n_trials=remaining,
                timeout=timeout,
                callbacks=extra,
                catch=(NumericalError,),  # a diverging configuration is a failed trial, not fatal
                show_progress_bar=show_progress,
            )
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not complete:
            raise AlsrecError(
                f"no trial of study {study.study_name!r} completed; widen the space, raise "
                f"n_trials or timeout, or use pruner='none'."
            )
        if finalists is not None and len(folds) > 1:
            _race(study, estimator, folds, parsed, finalists)
        best, score = winner(study)
        return SearchResult(dict(best.params), score, _table(study, parsed), study)


def fingerprint(data: Interactions) -> str:
    """A short hash of the interactions (pattern and values), naming a study per data."""
    digest = hashlib.sha1(usedforsecurity=False)
    for array in (data.matrix.indptr, data.matrix.indices, data.matrix.data):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:12]


class Tuned(FactorModel):
    """An estimator that tunes itself on its training data, then refits the best.

    Use it as a model in :func:`~alsrec.evaluation.cross_validate` for nested
    cross-validation: each outer fold's search sees only that fold's training
    data, and its validation split is drawn from that data alone.

    Parameters
    ----------
    estimator : model
        Base estimator.
    space : mapping or callable, optional
        Search space (see :func:`search`; default: the preset's declared space).
    protocol, metric, seeds, n_trials, timeout, random_state, sampler, pruner
        Passed to :func:`search`.
    report_every, include_given, finalists
        Passed to :func:`search`.
    storage : str, optional
        Optuna RDB URL. Each training set gets its own study, named
        ``"<study_name>-<fingerprint of the data>"``, so outer folds never
        share trials and rerunning on the same data resumes.
    study_name : str, optional
        Prefix of the study names (default ``"alsrec-tuned"``).

    Inside :func:`~alsrec.evaluation.cross_validate` the search validates only
    on the outer fold's complete users (``validation_users``), as textbook
    nested cross-validation splits only the outer training users: an outer
    test user's row lacks its held-out items, which the inner split would
    count as unrated misses. On ml-latest-small that bias made the inner
    score blind to the number of factors (benchmarks/bench_tuning.py).

    Attributes
    ----------
    best_params_, best_score_, search_table_, study_, best_estimator_
        The search's outcome and the refitted best model.
    n_fits_ : int
        Fits started by the search plus the final refit.
    """

    def __init__(
        self,
        estimator: Any,
        space: Space | None = None,
        protocol: Any = None,
        metric: str = "ndcg@20",
        seeds: Sequence[int] = (0,),
        n_trials: int | None = 20,
        timeout: float | None = None,
        random_state: int = 0,
        sampler: Any = "tpe",
        pruner: Any = "median",
        report_every: int | None = 5,
        storage: str | None = None,
        study_name: str | None = None,
        include_given: bool | None = None,
        finalists: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.space = space
        self.protocol = protocol
        self.metric = metric
        self.seeds = seeds
        self.n_trials = n_trials
        self.timeout = timeout
        self.random_state = random_state
        self.sampler = sampler
        self.pruner = pruner
        self.report_every = report_every
        self.storage = storage
        self.study_name = study_name
        self.include_given = include_given
        self.finalists = finalists

    # cross_validate passes validation_users= to models that search while fitting
    searches_on_fit = True

    def fit(self, data: Interactions, validation_users: np.ndarray | None = None) -> Tuned:
        """Search on ``data``, then fit the best configuration on all of it.

        Parameters
        ----------
        data : Interactions
            Training data.
        validation_users : array of int, optional
            Row indices of the users the search may validate on (see
            :func:`search`); None: any user.
        """
        name = None
        if self.storage is not None:
            name = f"{self.study_name or 'alsrec-tuned'}-{fingerprint(data)}"
        found = search(
            self.estimator,
            self.space,
            data,
            self.protocol,
            self.metric,
            self.seeds,
            n_trials=self.n_trials,
            timeout=self.timeout,
            random_state=self.random_state,
            sampler=self.sampler,
            pruner=self.pruner,
            report_every=self.report_every,
            storage=self.storage,
            study_name=name,
            include_given=self.include_given,
            finalists=self.finalists,
            validation_users=validation_users,
        )
        best = clone(self.estimator).set_params(**found.best_params).fit(data)
        for attribute in FactorModel._fitted_attributes:
            setattr(self, attribute, getattr(best, attribute))
        self.best_params_ = found.best_params
        self.best_score_ = found.best_score
        self.search_table_ = found.table
        self.study_ = found.study
        self.n_fits_ = found.n_fits + 1
        self.best_estimator_ = best
        return self
