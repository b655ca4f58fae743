"""Figures and report section of a tuning study, on studies with known contents."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from alsrec.plots_tuning import (
    importance_chart,
    optimization_history,
    parameter_importances,
)
from alsrec.report import tuning_section

PNG = b"\x89PNG\r\n\x1a\n"
SPACE = {"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)}


@pytest.fixture
def study():
    """Score = x exactly (y is irrelevant); trial 3 is pruned."""
    made = optuna.create_study(direction="maximize", study_name="known")
    made.set_user_attr("metric", "NDCG@20")
    rng = np.random.default_rng(0)
    for number in range(12):
        x, y = rng.random(2)
        if number == 3:
            made.add_trial(
                create_trial(
                    state=TrialState.PRUNED,
                    params={"x": x, "y": y},
                    distributions=SPACE,
                    intermediate_values={5: 0.05},
                )
            )
        else:
            made.add_trial(create_trial(value=x, params={"x": x, "y": y}, distributions=SPACE))
    return made


def test_importance_goes_to_the_parameter_the_score_depends_on(study):
    importances = parameter_importances(study)
    assert list(importances.index) == ["x", "y"]
    assert importances.sum() == pytest.approx(1.0)
    assert importances["x"] > 0.9


def test_importances_need_two_completed_trials():
    empty = optuna.create_study()
    assert parameter_importances(empty).empty
    assert importance_chart(parameter_importances(empty)).startswith(PNG)


def test_figures_are_pngs_and_written_atomically(study, tmp_path):
    history = optimization_history(study, tmp_path / "history.png")
    assert history.startswith(PNG)
    assert (tmp_path / "history.png").read_bytes() == history
    assert importance_chart(parameter_importances(study)).startswith(PNG)


def test_report_section_names_the_study_and_its_best_trial(study):
    section = tuning_section(study)
    best = study.best_trial
    assert "<h2>Tuning</h2>" in section
    assert "Optuna study <b>known</b>: 12 trials (11 completed, 1 pruned)" in section
    assert f"trial {best.number}, validation NDCG@20 {best.value:.4f}" in section
    assert section.count("<img") == 2


def test_a_fixed_dimension_and_the_as_given_trial_get_no_importance():
    from optuna.distributions import CategoricalDistribution

    space = {**SPACE, "z": CategoricalDistribution([1.0])}
    made = optuna.create_study(direction="maximize")
    made.add_trial(create_trial(value=0.2, params={}, distributions={}))  # the model as given
    rng = np.random.default_rng(1)
    for _ in range(10):
        x, y = rng.random(2)
        made.add_trial(
            create_trial(value=x, params={"x": x, "y": y, "z": 1.0}, distributions=space)
        )
    importances = parameter_importances(made)
    assert set(importances.index) == {"x", "y"}
    assert importances.sum() == pytest.approx(1.0)
    assert importances["x"] > 2 * importances["y"]


def test_section_names_the_raced_winner_and_the_model_as_given():
    made = optuna.create_study(direction="maximize", study_name="raced")
    made.set_user_attr("metric", "NDCG@20")
    made.add_trial(
        create_trial(value=0.50, params={}, distributions={}, user_attrs={"as_given": True})
    )
    for x, value in ((0.1, 0.60), (0.2, 0.55)):
        made.add_trial(create_trial(value=value, params={"x": x}, distributions={"x": SPACE["x"]}))
    # scored on every fold, the first-fold runner-up (trial 2) wins
    made.set_user_attr("final:1", {"mean": 0.40})
    made.set_user_attr("final:2", {"mean": 0.45})
    section = tuning_section(made)
    assert "Best: trial 2, validation NDCG@20 0.4500." in section
    assert "Trial 0 scored the model as given" in section


def test_section_says_how_trials_were_validated_and_does_not_print_optuna_s_random_name():
    made = optuna.create_study(direction="maximize")  # in memory: "no-name-<uuid>"
    made.set_user_attr("scoring", "2 folds of protocol blog (seeds [0]), every fold")
    made.add_trial(create_trial(value=0.5, params={"x": 0.5, "y": 0.5}, distributions=SPACE))
    section = tuning_section(made)
    assert "no-name-" not in section
    assert "An in-memory Optuna study: 1 trial (1 completed" in section
    assert "Validation: 2 folds of protocol blog (seeds [0]), every fold." in section
