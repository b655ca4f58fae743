"""Optuna-driven search: finds a planted optimum, prunes, resumes, and stays inside the fold."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from alsrec import ALS, generate
from alsrec.errors import DataError, ParameterError
from alsrec.evaluation import BlogProtocol, Tuned, search
from alsrec.evaluation.tuning import PRESET_SPACES, default_space, distribution

BEST_X = 0.03  # the planted optimum of Planted's only parameter


class Planted:
    """Ranks by the true ratings blurred by noise whose weight grows with |log10(x / 0.03)|.

    Its validation NDCG is therefore (in expectation) highest at x = 0.03 and
    falls monotonically away from it: a search problem with a known best region.
    """

    def __init__(self, truth=None, x: float = 1.0) -> None:
        self.truth = truth
        self.x = x

    def get_params(self):
        return {"truth": self.truth, "x": self.x}

    def set_params(self, **params):
        for name, value in params.items():
            setattr(self, name, value)
        return self

    fits = 0  # every fit of any instance, so a test can see what ran

    def fit(self, data):
        Planted.fits += 1
        self.user_ids_, self.item_ids_ = data.user_ids, data.item_ids
        return self

    def score_users(self, user_ids, item_ids=None):
        rows = np.searchsorted(self.truth.user_ids, user_ids)
        dense = self.truth.matrix[rows].toarray()
        blur = min(1.0, abs(np.log10(self.x / BEST_X)) / 2)
        noise = np.random.default_rng(7).random(dense.shape) * dense.max()
        return (1 - blur) * dense + blur * noise


@pytest.fixture(scope="module")
def ratings():
    return generate(120, 60, 2400, seed=3).interactions


def planted_space():
    return {"x": distribution("log", 1e-4, 1.0)}


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_sampler_finds_the_planted_best_region(ratings, sampler):
    found = search(
        Planted(ratings), planted_space(), ratings, n_trials=30, random_state=1, sampler=sampler
    )
    modelled = [t for t in found.study.trials if t.params]
    assert len(modelled) >= 29  # the first trial of tpe is the model as given
    assert abs(np.log10(found.best_params["x"] / BEST_X)) < 0.3
    # the best trial's score is the table's first row, and every trial is complete
    assert found.table.loc[0, "mean"] == pytest.approx(found.best_score)
    assert (found.table["state"] == "COMPLETE").all()
    # two blog validation folds per trial; a point proposed again is reused, not refitted
    fitted = [t for t in found.study.trials if "duplicate_of" not in t.user_attrs]
    assert found.n_fits == 2 * len(fitted)


def test_racing_scores_trials_on_one_fold_and_finalists_on_all(ratings, tmp_path):
    space = {"x": [1e-3, 0.01, 0.03, 0.1, 1.0]}
    kwargs = {"sampler": "grid", "include_given": False}
    raced = search(Planted(ratings), space, ratings, n_trials=5, finalists=2, **kwargs)
    # one fit per trial on the first blog fold, one more for each finalist's second fold
    assert raced.n_fits == 5 + 2
    finals = raced.table.dropna(subset=["final_mean"])
    assert len(finals) == 2
    assert list(finals.index) == [0, 1]  # finalists first, the winner on top
    # a finalist's score over both folds equals a search that scores every fold
    for _, row in finals.iterrows():
        full = search(Planted(ratings), {"x": [row["x"]]}, ratings, n_trials=1, **kwargs)
        assert row["final_mean"] == pytest.approx(full.best_score)
    assert raced.best_score == pytest.approx(finals["final_mean"].max())
    assert raced.best_params == {"x": finals.iloc[0]["x"]}
    assert abs(np.log10(raced.best_params["x"] / BEST_X)) < 0.6
    # resumed from storage, finalists are not refitted
    storage = f"sqlite:///{tmp_path / 'race.db'}"
    first = search(
        Planted(ratings),
        space,
        ratings,
        n_trials=5,
        finalists=2,
        storage=storage,
        study_name="race",
        **kwargs,
    )
    before = Planted.fits
    again = search(
        Planted(ratings),
        space,
        ratings,
        n_trials=5,
        finalists=2,
        storage=storage,
        study_name="race",
        **kwargs,
    )
    assert Planted.fits == before  # nothing was refitted
    assert again.n_fits == first.n_fits == 7
    assert again.best_score == first.best_score
    with pytest.raises(ParameterError, match="finalists=0"):
        search(Planted(ratings), space, ratings, n_trials=2, finalists=0)


def test_the_estimator_as_given_is_a_trial_and_can_win(ratings):
    # the given x is the planted optimum; the space only holds worse values
    given = Planted(ratings, x=BEST_X)
    found = search(given, {"x": [1e-4, 1.0]}, ratings, n_trials=3, random_state=0)
    assert found.best_params == {}
    first = found.table.set_index("number").loc[0]
    assert first["as_given"]
    assert np.isnan(first["x"])
    assert first["mean"] == pytest.approx(found.best_score)
    assert found.table["as_given"].sum() == 1
    # Tuned refits the estimator as given when it won: lambda = 1e4 leaves ties at random
    base = ALS("zeros", factors=4, iterations=4, random_state=0)
    tuned = Tuned(base, {"regularization": [1e4]}, n_trials=2, pruner="none").fit(ratings)
    assert tuned.best_params_ == {}
    assert tuned.best_estimator_.get_params() == base.get_params()
    # without it, only the space is searched
    alone = search(given, {"x": [1e-4, 1.0]}, ratings, n_trials=3, include_given=False)
    assert alone.best_params["x"] in (1e-4, 1.0)
    assert not alone.table["as_given"].any()


def test_bad_trial_is_pruned_from_the_metric_reported_during_training(ratings):
    protocol = BlogProtocol()
    base = ALS("zeros", factors=4, iterations=6, random_state=0)
    # lambda = 1e4 shrinks the factors to ~0: the validation ranking is ties broken at random
    space = {"regularization": [1e-3, 1e4]}
    probe = search(
        base,
        space,
        ratings,
        protocol,
        "ndcg@10",
        sampler="grid",
        pruner="none",
        include_given=False,
    )
    scores = probe.table.set_index("regularization")["mean"]
    threshold = (scores[1e-3] + scores[1e4]) / 2
    assert scores[1e-3] > scores[1e4] + 0.05
    found = search(
        base,
        space,
        ratings,
        protocol,
        "ndcg@10",
        sampler="grid",
        pruner=optuna.pruners.ThresholdPruner(lower=threshold),
        report_every=2,
        include_given=False,
    )
    table = found.table.set_index("regularization")
    assert table.loc[1e4, "state"] == "PRUNED"
    assert table.loc[1e4, "fits"] == 1  # the second validation fold was never fitted
    assert table.loc[1e-3, "state"] == "COMPLETE"
    assert table.loc[1e-3, "fits"] == 2
    assert found.best_params == {"regularization": 1e-3}
    pruned = [t for t in found.study.trials if t.state == optuna.trial.TrialState.PRUNED]
    steps = list(pruned[0].intermediate_values)
    assert steps in ([2], [2, 4])  # stopped at a report, before the last iteration
    assert pruned[0].intermediate_values[steps[-1]] < threshold
    assert table.loc[1e4, "iterations"] == steps[-1]  # no iteration ran after the prune
    complete = [t for t in found.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert list(complete[0].intermediate_values) == [2, 4, 6]
    # the last report scores the fitted first fold; its value is that fold's mean
    assert np.isfinite(complete[0].intermediate_values[6])


def test_resumed_sqlite_study_continues_where_it_stopped(ratings, tmp_path):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    kwargs = {"storage": storage, "study_name": "planted", "random_state": 0}
    first = search(Planted(ratings), planted_space(), ratings, n_trials=4, **kwargs)
    assert sorted(first.table["number"]) == [0, 1, 2, 3]
    resumed = search(Planted(ratings), planted_space(), ratings, n_trials=9, **kwargs)
    assert sorted(resumed.table["number"]) == list(range(9))  # numbers continue, 5 new trials
    before = first.table.set_index("number")["x"]
    after = resumed.table.set_index("number")["x"]
    # the first run's trials are kept (trial 0 scored the estimator as given: no x)
    assert np.allclose(after[before.index], before, equal_nan=True)
    assert resumed.table.set_index("number")["as_given"].to_dict() == {n: n == 0 for n in range(9)}
    assert resumed.best_score >= first.best_score
    again = search(Planted(ratings), planted_space(), ratings, n_trials=9, **kwargs)
    assert len(again.table) == 9  # the study is complete: nothing new runs
    with pytest.raises(ParameterError, match="was run for NDCG@20"):
        search(Planted(ratings), planted_space(), ratings, metric="recall@10", **kwargs)


SEEN: list[set] = []


class Recording(ALS):
    """ALS that records every (user id, item id) pair it is fitted on (test helper)."""

    def fit(self, data):
        SEEN.append(pairs(data))
        return super().fit(data)


def pairs(data):
    return set(
        zip(
            data.user_ids[data.row_indices()].tolist(),
            data.item_ids[data.matrix.indices].tolist(),
            strict=True,
        )
    )


def test_tuned_never_sees_the_outer_test_entries(ratings):
    everything = pairs(ratings)
    for fold in BlogProtocol().split(ratings, seed=5):
        SEEN.clear()
        tuned = Tuned(
            Recording("zeros", factors=2, iterations=3, random_state=0),
            {"factors": [2, 3]},
            metric="ndcg@10",
            sampler="grid",
            pruner="none",
        ).fit(fold.train)
        held_out = everything - pairs(fold.train)
        assert held_out  # the outer fold hides this fold's test users' rated half
        assert len(SEEN) == 2 * 2 + 1  # two configurations x two inner folds, one refit
        for seen in SEEN:
            assert seen <= pairs(fold.train)
            assert not seen & held_out
        assert SEEN[-1] == pairs(fold.train)  # the refit uses all of the training data
        assert tuned.n_fits_ == 5
        assert tuned.best_params_["factors"] in (2, 3)
        assert (tuned.seen_ != fold.train.matrix).nnz == 0


def test_tuned_studies_are_separate_per_training_set(ratings, tmp_path):
    storage = f"sqlite:///{tmp_path / 'nested.db'}"
    folds = BlogProtocol().split(ratings, seed=0)
    names = []
    for fold in folds:
        base = ALS("zeros", factors=2, iterations=2, random_state=0)
        space = {"factors": [2, 3, 4]}
        tuned = Tuned(base, space, n_trials=3, sampler="grid", storage=storage).fit(fold.train)
        assert len(tuned.study_.trials) == 3  # never the other fold's trials
        names.append(tuned.study_.study_name)
    assert len(set(names)) == 2


def test_preset_spaces_are_declared_on_the_right_scales():
    assert set(PRESET_SPACES) == {"zeros", "implicit", "explicit"}
    zeros = default_space(ALS("zeros"))
    assert zeros["unobserved_weight"].log
    assert zeros["regularization"].log
    assert {"factors", "reg_exponent"} <= set(zeros)
    # nu is fixed at 1 (count-scaled lambda) for every trial, not the blog model's nu = 0
    assert zeros["reg_exponent"].choices == (1.0,)
    assert default_space(ALS("implicit"))["alpha"].log
    assert "iterations" in default_space(ALS("explicit"))


def test_fixed_dimension_is_used_by_every_trial(ratings):
    space = {"factors": distribution("int", 2, 4), "reg_exponent": distribution("fixed", 0.5)}
    base = ALS("zeros", iterations=1, random_state=0)
    found = search(base, space, ratings, n_trials=3, pruner="none", include_given=False)
    assert (found.table["reg_exponent"] == 0.5).all()
    with pytest.raises(ParameterError, match="needs both low and high"):
        distribution("log", 0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"space": {"nonsense": [1, 2]}}, "has no parameter 'nonsense'"),
        ({"space": {"factors": []}}, "non-empty list"),
        ({"n_trials": 0}, "n_trials=0"),
        ({"n_trials": None}, "give n_trials= or timeout="),
        ({"metric": "coverage@10"}, "cannot rank configurations"),
        ({"sampler": "grid"}, "sampler='grid' needs a space of value lists"),
        ({"storage": "nosuchdb://x"}, "could not be opened"),
    ],
)
def test_bad_search_arguments_name_the_fix(ratings, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        search(ALS("zeros", factors=2, iterations=1), data=ratings, **kwargs)


def test_a_study_resumes_only_with_the_same_scoring(ratings, tmp_path):
    storage = f"sqlite:///{tmp_path / 'mode.db'}"
    kwargs = {"storage": storage, "study_name": "mode", "random_state": 0}
    search(Planted(ratings), planted_space(), ratings, n_trials=3, **kwargs)
    with pytest.raises(ParameterError, match="was run with validation .* every fold"):
        search(Planted(ratings), planted_space(), ratings, n_trials=5, finalists=2, **kwargs)
    with pytest.raises(ParameterError, match=r"seeds \[0\]"):
        search(Planted(ratings), planted_space(), ratings, n_trials=5, seeds=(1,), **kwargs)
    with pytest.raises(ParameterError, match="range kind 'fixd'"):
        distribution("fixd", 1.0)
    with pytest.raises(ParameterError, match="finalists=True"):
        search(Planted(ratings), planted_space(), ratings, n_trials=2, finalists=True)


class RecordingProtocol(BlogProtocol):
    """The blog protocol, remembering which users each split was allowed to test."""

    def __init__(self) -> None:
        super().__init__()
        self.allowed: list = []
        self.tested: list = []

    def split(self, data, seed=0, users=None):
        self.allowed.append(None if users is None else np.asarray(users))
        folds = super().split(data, seed, users=users)
        self.tested.append(np.concatenate([fold.users for fold in folds]))
        return folds


def test_nested_search_validates_only_on_the_outer_folds_complete_users(ratings):
    from alsrec.evaluation import cross_validate

    inner = RecordingProtocol()
    outer_folds = BlogProtocol().split(ratings, seed=2)
    tuned = Tuned(
        ALS("zeros", factors=4, iterations=3),
        {"regularization": [0.05, 0.1]},
        protocol=inner,
        n_trials=2,
        sampler="grid",
    )
    cross_validate({"tuned": tuned}, ratings, protocol=BlogProtocol(), seeds=(2,))
    assert len(inner.allowed) == len(outer_folds)  # one inner split per outer fold
    for fold, allowed, tested in zip(outer_folds, inner.allowed, inner.tested, strict=True):
        np.testing.assert_array_equal(allowed, fold.complete_users())
        assert not np.isin(tested, fold.users).any()  # no outer test user is validated on


def test_search_records_the_restriction_and_refuses_protocols_that_cannot_restrict(ratings):
    users = np.arange(0, ratings.n_users, 2)
    found = search(
        Planted(ratings), planted_space(), ratings, n_trials=2, pruner="none",
        validation_users=users,
    )  # fmt: skip
    scoring = found.study.user_attrs["scoring"]
    assert f"validation among 60 of {ratings.n_users} users (" in scoring
    other = search(
        Planted(ratings), planted_space(), ratings, n_trials=1, pruner="none",
        validation_users=users + 1,
    )  # fmt: skip
    assert other.study.user_attrs["scoring"] != scoring  # same count, other users

    class Plain:
        name = "plain"

        def split(self, data, seed=0):
            return BlogProtocol().split(data, seed)

    with pytest.raises(ParameterError, match="cannot restrict its test users"):
        search(
            Planted(ratings), planted_space(), ratings, Plain(), n_trials=1, validation_users=users
        )


def test_too_few_validation_users_names_the_restriction(ratings):
    with pytest.raises(DataError, match="may validate only on 1 of 120 users"):
        search(
            Planted(ratings), planted_space(), ratings, n_trials=1, validation_users=np.array([5])
        )
