"""The pieces the report is made of: summary text, effective parameters, figures."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from alsrec import plots
from alsrec.evaluation.metrics import parse_metric
from alsrec.evaluation.runner import CVResult, SummaryTable
from alsrec.evaluation.study import effective_params
from alsrec.models import ALS, Popularity, RandomModel


def planted_result() -> CVResult:
    """Two models, 40 users, per-user NDCG known by construction."""
    users = np.arange(40)
    per_user = pd.concat(
        [
            pd.DataFrame({"model": name, "seed": 0, "fold": 0, "user": users, "NDCG@20": values})
            for name, values in (("a-model-with-a-long-name", users / 40), ("b", users * 0 + 0.5))
        ],
        ignore_index=True,
    )
    per_fold = pd.DataFrame({"model": ["a-model-with-a-long-name", "b"], "fit_seconds": 0.0})
    return CVResult(per_user, per_fold, [parse_metric("ndcg@20")])


def test_printed_summary_shows_every_column():
    summary = planted_result().summary()
    assert isinstance(summary, SummaryTable)
    text = repr(summary)
    assert "..." not in text
    for column in ("mean", "std", "ci_low", "ci_high", "n_users", "n_excluded"):
        assert column in text
    assert summary.loc[summary["model"] == "b", "ci_low"].item() == pytest.approx(0.5)
    assert summary.loc[0, "mean"] == pytest.approx(np.arange(40).mean() / 40)


def test_effective_params_fill_in_the_preset():
    params = effective_params(ALS("zeros", factors=7))
    assert params["factors"] == 7  # given
    assert params["regularization"] == pytest.approx(0.001)  # the blog's lambda
    assert params["unobserved_weight"] == 1.0
    assert effective_params(RandomModel(random_state=4)) == {"random_state": 4, "factors": 64}
    assert effective_params(Popularity()) == {}


def png_size(png: bytes) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(png)).size


def test_one_panel_per_model():
    rng = np.random.default_rng(0)
    two = plots.metric_histograms({m: rng.random(50) for m in "ab"})
    four = plots.metric_histograms({m: rng.random(50) for m in "abcd"})
    width2, height2 = png_size(two)
    width4, height4 = png_size(four)
    assert width2 == pytest.approx(width4, abs=10)
    assert height4 > 1.6 * height2  # two more panels, each as tall as the first ones


def test_mean_interval_chart_has_a_row_per_model():
    three = plots.mean_intervals(
        {"x": (0.5, 0.4, 0.6), "y": (0.3, 0.2, 0.35), "z": (0.01, 0, 0.02)}
    )
    one = plots.mean_intervals({"x": (0.5, 0.4, 0.6)})
    assert png_size(three)[1] > png_size(one)[1]


def test_a_nested_tuned_model_brings_its_search_into_the_report():
    from alsrec import generate
    from alsrec.evaluation import BlogProtocol
    from alsrec.evaluation.study import run_study
    from alsrec.evaluation.tuning import Tuned
    from alsrec.report import render

    data = generate(120, 80, 2500, values="explicit", seed=0).interactions
    models = {
        "nested-tuned": Tuned(ALS("zeros", iterations=3), n_trials=3, random_state=0),
        "popularity": Popularity(),
    }
    study = run_study(data, models, BlogProtocol(), ["ndcg@20", "arp@20"], seeds=[0])
    assert study.extra["study"] is not None
    reasons = study.extra["reasons"]
    assert set(reasons["item"]) <= set(study.recommendations["item"].head(3))
    html_text = render(study, ["alsrec", "test"])
    assert "<h2>Tuning</h2>" in html_text
    assert "optimisation history" in html_text
    assert "nested" in html_text
    assert "Because you rated" in html_text
    assert "<h2>Accuracy and popularity</h2>" in html_text
