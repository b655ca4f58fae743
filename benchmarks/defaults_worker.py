"""One cross-validation per process: ``python -m benchmarks.defaults_worker '<json task>'``.

The task names a data set, a protocol, seeds and models (``label -> [registry name,
params]``); the worker runs :func:`alsrec.evaluation.cross_validate` on them and
prints one JSON line with the per-user values and per-fold fit times, which the
parent assembles into one :class:`~alsrec.evaluation.runner.CVResult`. Folds
depend only on the data and the seed, so models run in different processes see
identical folds and tie-breaks.
"""

from __future__ import annotations

import json
import sys

# What each evaluation setting measures: (data set, protocol, metrics).
SETTINGS: dict[str, tuple[str, str, list[str]]] = {
    "ml-latest-small blog": ("ml-latest-small", "blog", ["ndcg@20"]),
    "ml-latest-small holdout": ("ml-latest-small", "crossfold", ["recall@20", "ndcg_binary@20"]),
    "lastfm holdout": ("lastfm", "crossfold", ["recall@20", "ndcg_binary@20"]),
    "synthetic holdout": ("synthetic", "crossfold", ["recall@20", "ndcg_binary@20"]),
}
HOLDOUT = 5  # items each test user holds out in the cross-fold protocol


def planted_implicit():
    """Planted implicit data: exposure by (flat) popularity, consumption by a rank-8 taste.

    ``generate`` draws which pairs are seen by popularity alone and puts the
    planted preference in the counts (1 + Poisson(exp(preference))); keeping the
    pairs with a count of at least 4 makes *which* items a user consumed depend
    on the planted low-rank preference, so a ranking model can recover it.
    2,000 users x 1,000 items, about 63,000 interactions.
    """
    import alsrec

    draws = alsrec.generate(
        2000, 1000, 300_000, rank=8, values="implicit", popularity_exponent=0.3, seed=0
    ).interactions
    return draws.filter(draws.matrix.data >= 4)


def load(name: str):
    """A data set by name (the real ones from ``$ALSREC_DATA_DIR`` or the cache)."""
    import alsrec

    if name == "ml-latest-small":
        return alsrec.load_movielens("ml-latest-small", progress=False)
    if name == "lastfm":
        return alsrec.load_lastfm(progress=False)
    return planted_implicit()


def protocol(name: str, n_folds: int | None):
    """The blog's protocol (2 folds) or user cross-fold with ``HOLDOUT`` items held out."""
    from alsrec.evaluation.protocols import BlogProtocol, UserCrossFold

    if name == "blog":
        return BlogProtocol()
    return UserCrossFold(n_folds or 5, holdout=HOLDOUT)


def warm_up(models: dict) -> None:
    """Load every compiled kernel a model will use, so fit times exclude JIT loading."""
    import alsrec

    tiny = alsrec.generate(60, 40, 600, values="implicit", seed=0).interactions
    for model in models.values():
        if isinstance(model, alsrec.ALS):
            params = {**model.get_params(), "iterations": 1, "factors": 4, "show_progress": False}
            type(model)(**params).fit(tiny)


def build(name: str, params: dict):
    """A model from the catalog, or ``"tuned"``: a nested Optuna search of ``params["preset"]``
    (an alsrec preset over its declared space, or ``"implicit-lib"`` over the same ranges of
    the parameters it has) scored on its training data by a 2-fold cross-fold split with
    ``HOLDOUT`` items held out and ``params["metric"]``, ``n_trials`` TPE trials, the first
    one the estimator's defaults."""
    from alsrec.models.catalog import make_model

    if name != "tuned":
        return make_model(name, **params)
    from alsrec import ALS
    from alsrec.evaluation import Tuned
    from alsrec.evaluation.protocols import UserCrossFold
    from alsrec.evaluation.tuning import PRESET_SPACES, distribution

    if params["preset"] == "implicit-lib":
        # the implicit library's own parameters, over the ranges of alsrec's implicit space
        estimator = make_model("implicit-lib", random_state=0)
        space = {
            name: distribution(*spec)
            for name, spec in PRESET_SPACES["implicit"].items()
            if name in estimator.get_params()
        }
    else:
        estimator, space = ALS(params["preset"], random_state=0), None
    return Tuned(
        estimator,
        space,
        protocol=UserCrossFold(2, holdout=HOLDOUT),
        metric=params["metric"],
        n_trials=params["n_trials"],
    )


def run(task: dict) -> dict:
    from alsrec.evaluation import cross_validate

    data_name, protocol_name, metrics = SETTINGS[task["setting"]]
    data = load(data_name)
    models = {label: build(name, params) for label, (name, params) in task["models"].items()}
    warm_up(models)
    result = cross_validate(
        models, data, protocol(protocol_name, task.get("n_folds")), metrics, seeds=task["seeds"]
    )
    return {
        "per_user": result.per_user.to_dict(orient="list"),
        "per_fold": result.per_fold.to_dict(orient="list"),
        "metrics": metrics,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1])), default=lambda v: v.item()))
