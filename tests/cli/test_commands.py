"""Every command run as a subprocess: happy paths, --json, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_info import run_cli


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = []
    for u in range(60):
        for i in rng.choice(40, size=rng.integers(5, 15), replace=False):
            rows.append((f"user{u}", f"sku{i}", int(rng.integers(1, 6)), 1_000_000 + len(rows)))
    path = tmp_path_factory.mktemp("cli") / "ratings.csv"
    pd.DataFrame(rows, columns=["uid", "sku", "stars", "when"]).to_csv(path, index=False)
    return path


COLUMNS = ["--user-col", "uid", "--item-col", "sku", "--rating-col", "stars"]


@pytest.fixture(scope="module")
def model_file(ratings_csv):
    path = ratings_csv.parent / "model.alsrec"
    result = run_cli(
        "train",
        str(ratings_csv),
        "-o",
        str(path),
        "--preset",
        "implicit",
        "--factors",
        "8",
        "--iterations",
        "5",
        *COLUMNS,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["users"] == 60
    assert payload["iterations"] == 5
    assert np.isfinite(payload["final_loss"])
    return path


def test_train_human_output(ratings_csv, tmp_path):
    result = run_cli(
        "train", str(ratings_csv), "-o", str(tmp_path / "m.alsrec"), "--preset", "zeros", *COLUMNS
    )
    assert result.returncode == 0, result.stderr
    assert "trained zeros ALS on 60 users" in result.stdout
    assert (tmp_path / "m.alsrec").is_file()


def test_recommend_known_user_json_and_threshold(model_file, ratings_csv):
    result = run_cli("recommend", str(model_file), "--user", "user3", "-n", "4", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    items = [r["item"] for r in payload["results"]]
    assert len(items) == 4
    seen = pd.read_csv(ratings_csv).query("uid == 'user3'")["sku"].tolist()
    assert not set(items) & set(seen)
    scores = [r["score"] for r in payload["results"]]
    assert scores == sorted(scores, reverse=True)
    cut = run_cli(
        "recommend",
        str(model_file),
        "--user",
        "user3",
        "-n",
        "4",
        "--threshold",
        str(scores[1]),
        "--json",
    )
    assert len(json.loads(cut.stdout)["results"]) == 2
    human = run_cli("recommend", str(model_file), "--user", "user3", "-n", "2")
    assert "item" in human.stdout
    assert "score" in human.stdout


def test_recommend_new_user_and_similar(model_file, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("item,rating\nsku1,5\nsku2,4\n")
    result = run_cli(
        "recommend", str(model_file), "--new-user-ratings", str(mine), "-n", "3", "--json"
    )
    assert result.returncode == 0, result.stderr
    items = [r["item"] for r in json.loads(result.stdout)["results"]]
    assert len(items) == 3
    assert not {"sku1", "sku2"} & set(items)
    similar = run_cli("similar", str(model_file), "--item", "sku1", "-n", "3", "--json")
    assert similar.returncode == 0, similar.stderr
    assert "sku1" not in [r["item"] for r in json.loads(similar.stdout)["results"]]


def test_evaluate_writes_results_and_json(ratings_csv, tmp_path):
    out = tmp_path / "results"
    result = run_cli(
        "evaluate",
        str(ratings_csv),
        *COLUMNS,
        "--protocol",
        "crossfold",
        "--holdout",
        "2",
        "--folds",
        "3",
        "-m",
        "popularity",
        "-m",
        "als=implicit:factors=4,iterations=3",
        "--metrics",
        "ndcg@5,recall@5,coverage@5",
        "--seeds",
        "0,1",
        "--out",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    models = {row["model"] for row in payload["summary"]}
    assert models == {"popularity", "als"}
    assert payload["comparisons"][0]["sentence"]
    per_user = pd.read_csv(out / "per_user.csv")
    assert set(per_user["seed"]) == {0, 1}
    assert (out / "NDCG_at_5_histograms.png").stat().st_size > 5000


def test_tune_grid_json(ratings_csv):
    result = run_cli(
        "tune",
        str(ratings_csv),
        *COLUMNS,
        "-m",
        "zeros:iterations=4",
        "--grid",
        "factors=2,4;unobserved_weight=0.5,1.0",
        "--metric",
        "ndcg@5",
        "--pruner",
        "none",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert len(payload["table"]) == 4  # every combination, once
    combos = {(row["factors"], row["unobserved_weight"]) for row in payload["table"]}
    assert combos == {(2, 0.5), (2, 1.0), (4, 0.5), (4, 1.0)}
    assert set(payload["best_params"]) == {"factors", "unobserved_weight"}
    assert payload["fits"] == 4 * 2  # two blog validation folds per trial
    best = max(payload["table"], key=lambda row: row["mean"])
    assert payload["best_score"] == pytest.approx(best["mean"])


def test_tune_races_with_finalists(ratings_csv):
    result = run_cli(
        "tune",
        str(ratings_csv),
        *COLUMNS,
        "-m",
        "zeros:iterations=3",
        "--grid",
        "factors=2,3,4",
        "--metric",
        "ndcg@5",
        "--pruner",
        "none",
        "--finalists",
        "2",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["fits"] == 3 + 2  # one fold per trial, the second fold for 2 finalists
    finals = [row for row in payload["table"] if row["final_mean"] is not None]
    assert len(finals) == 2
    assert payload["best_score"] == pytest.approx(max(row["final_mean"] for row in finals))
    bad = run_cli("tune", str(ratings_csv), *COLUMNS, "--finalists", "0")
    assert bad.returncode != 0
    assert "--finalists 0 must be at least 1" in bad.stderr


def test_tune_space_with_storage_resumes_and_prints_progress(ratings_csv, tmp_path):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    args = [
        "tune",
        str(ratings_csv),
        *COLUMNS,
        "-m",
        "zeros:iterations=4",
        "--space",
        "unobserved_weight=log:0.01:1;factors=int:2:6:2;regularization=0.001,0.1",
        "--metric",
        "ndcg@5",
        "--storage",
        storage,
        "--study-name",
        "cli",
    ]
    first = run_cli(*args, "--trials", "3")
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("trial ") == 3  # one progress line per trial
    assert "rerun to resume it" in first.stdout
    resumed = run_cli(*args, "--trials", "5", "--json")
    assert resumed.returncode == 0, resumed.stderr
    payload = json.loads(resumed.stdout)
    assert sorted(row["number"] for row in payload["table"]) == [0, 1, 2, 3, 4]
    assert payload["study_name"] == "cli"
    given = [row for row in payload["table"] if row["as_given"]]
    assert [row["number"] for row in given] == [0]  # the model as given, scored first
    for row in payload["table"]:
        if row["as_given"]:
            continue
        assert 0.01 <= row["unobserved_weight"] <= 1
        assert row["factors"] in (2, 4, 6)
        assert row["regularization"] in (0.001, 0.1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "missing.csv"], "neither a file nor a MovieLens name"),
        (["recommend", "missing.alsrec", "--user", "1"], "no model file"),
        (["evaluate", "ml-latest-small", "--protocol", "magic"], "unknown protocol"),
        (["evaluate", "ml-latest-small", "-m", "nonsense"], "unknown model 'nonsense'"),
        (
            ["evaluate", "ml-latest-small", "-m", "zeros:foo=1"],
            "model spec 'zeros:foo=1': unknown parameter 'foo'; known: factors, regularization,",
        ),
        (
            ["evaluate", "ml-latest-small", "-m", "zeros:factors=0"],
            "model spec 'zeros:factors=0': factors=0 must be a positive whole number.",
        ),
        (["evaluate", "ml-latest-small", "--metrics", "bleu@3"], "unknown metric"),
        (["tune", "ml-latest-small", "--grid", "factors"], "needs the form name=v1,v2"),
        (["tune", "ml-latest-small", "--space", "factors=int:a:b"], "needs numbers"),
        (["tune", "ml-latest-small", "--space", "w=log:0:1"], "a log range needs low > 0"),
        (["tune", "ml-latest-small", "--grid", "factors=2", "--space", "x=1"], "not both"),
    ],
)
def test_bad_input_exits_1_with_one_line(args, message, ml_dir, tmp_path):
    result = run_cli(*args, env_dir=ml_dir, cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_spark_model_without_pyspark_names_the_install_command(ml_dir, tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['pyspark'] = None\n")
    env = {**os.environ, "ALSREC_DATA_DIR": str(ml_dir)}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "alsrec", "evaluate", "ml-latest-small", "-m", "spark"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: model spec 'spark': needs pyspark: pip install 'alsrec[spark]'"
    ]


def test_wrong_columns_unknown_user_and_corrupted_model(ratings_csv, model_file, tmp_path):
    wrong = run_cli("train", str(ratings_csv), "-o", str(tmp_path / "x.alsrec"))
    assert wrong.returncode == 1
    assert "no column 'user'" in wrong.stderr
    assert "--user-col" in wrong.stderr
    unknown = run_cli("recommend", str(model_file), "--user", "nobody")
    assert unknown.returncode == 1
    assert "unknown user id 'nobody'" in unknown.stderr
    broken = tmp_path / "broken.alsrec"
    broken.write_bytes(model_file.read_bytes()[:200])
    corrupted = run_cli("recommend", str(broken), "--user", "user1")
    assert corrupted.returncode == 1
    assert "damaged" in corrupted.stderr
    assert "Traceback" not in corrupted.stderr
    debug = run_cli("--debug", "recommend", str(broken), "--user", "user1")
    assert "Traceback" in debug.stderr


def test_help_has_examples():
    for command in ("info", "train", "recommend", "similar", "evaluate", "tune", "demo"):
        result = run_cli(command, "--help")
        assert result.returncode == 0
        assert "Example" in result.stdout
