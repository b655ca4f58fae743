"""The CLI as a new user meets it: reproducible, in its own words, nothing ignored or unasked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from alsrec import __version__
from alsrec.cli.common import cli_words, with_seed
from alsrec.models import ALS, Popularity
from tests.cli.test_commands import COLUMNS, ratings_csv  # noqa: F401  (fixture)
from tests.cli.test_info import run_cli


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# ---------------------------------------------------------------- reproducible by default
def test_evaluate_prints_the_same_numbers_every_run(ratings_csv):  # noqa: F811
    args = [
        "evaluate",
        str(ratings_csv),
        *COLUMNS,
        "-m",
        "zeros:factors=4,iterations=3",
        "-m",
        "implicit:factors=4,iterations=3",
        "-m",
        "random",
        "--metrics",
        "ndcg@5",
        "--seeds",
        "3",
        "--json",
    ]
    first, second = run_cli(*args), run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["summary"] == json.loads(second.stdout)["summary"]


def test_models_take_the_seed_unless_the_spec_sets_one():
    assert with_seed(ALS("zeros"), 7).get_params()["random_state"] == 7
    assert with_seed(ALS("zeros", factors=5), 7).get_params()["factors"] == 5
    popularity = Popularity()
    assert with_seed(popularity, 7) is popularity  # nothing random to seed
    from alsrec.cli.main import _models

    models = _models(["a=zeros", "b=zeros:random_state=11", "popularity"], [], seed=3)
    assert models["a"].random_state == 3
    assert models["b"].random_state == 11


# ---------------------------------------------------------------- the CLI's own words
def test_python_keywords_become_flags():
    assert (
        cli_words("Pass duplicates='sum', 'mean' or 'last' to aggregate them.")
        == "Pass --duplicates sum, mean or last to aggregate them."
    )
    assert cli_words("it looks ';'-separated; pass sep=';'.") == (
        "it looks ';'-separated; pass --sep ';'."
    )
    assert cli_words("factors=20 exceeds min(n_users, n_items)=3") == (
        "--factors 20 exceeds min(n_users, n_items)=3"
    )
    assert cli_words("keep preset='zeros'") == "keep preset='zeros'"  # no such flag


def test_duplicates_are_refused_with_the_flag_and_the_flag_works(tmp_path):
    csv = tmp_path / "dup.csv"
    csv.write_text("user,item,rating\n1,a,5\n1,a,3\n2,b,4\n")
    refused = run_cli("info", str(csv))
    assert refused.returncode == 1
    line = one_line(refused.stderr)
    assert "row 1 (line 3) of" in line
    assert "--duplicates sum, mean or last" in line
    assert "duplicates='sum'" not in line
    summed = run_cli("info", str(csv), "--duplicates", "sum", "--json")
    assert summed.returncode == 0, summed.stderr
    statistics = json.loads(summed.stdout)["statistics"]
    assert statistics["n_interactions"] == 2  # (1, a) summed into one


def test_semicolon_file_names_the_sep_flag(tmp_path):
    csv = tmp_path / "semi.csv"
    csv.write_text("user;item;rating\n1;a;5\n2;b;4\n")
    refused = run_cli("info", str(csv))
    assert refused.returncode == 1
    assert "pass --sep ';'" in one_line(refused.stderr)
    read = run_cli("info", str(csv), "--sep", ";", "--json")
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["statistics"]["n_users"] == 2


def test_training_warnings_are_one_line_in_flag_words_and_binary_input_is_noted(tmp_path):
    csv = tmp_path / "norating.csv"
    csv.write_text("user,item\n1,a\n1,b\n2,a\n2,c\n3,b\n")
    result = run_cli("train", str(csv), "--preset", "zeros", "-o", str(tmp_path / "m.alsrec"))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("note: norating.csv has no rating column")
    assert "every interaction counts as 1" in lines[0]
    assert "--rating-col" in lines[0]
    assert lines[1].startswith("warning: --factors 20 exceeds min(n_users, n_items)=3")
    assert ".py:" not in result.stderr  # no Python source path


def test_parquet_without_rating_col_says_its_ratings_are_unused(tmp_path):
    path = tmp_path / "r.parquet"
    pd.DataFrame({"uid": [1, 1, 2], "sku": ["a", "b", "a"], "stars": [5, 1, 4]}).to_parquet(path)
    result = run_cli("info", str(path), "--user-col", "uid", "--item-col", "sku")
    assert result.returncode == 0, result.stderr
    line = one_line(result.stderr)
    assert line.startswith("note: r.parquet has no rating column")
    assert "--rating-col" in line
    assert "stars" in line
    quiet = run_cli(
        "info", str(path), "--user-col", "uid", "--item-col", "sku", "--rating-col", "stars"
    )
    assert quiet.stderr == ""


def test_file_options_on_a_movielens_name_are_refused(ml_dir, tmp_path):
    result = run_cli("info", "ml-latest-small", "--user-col", "foo", env_dir=ml_dir, cwd=tmp_path)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "--user-col only applies to CSV/TSV/Parquet files" in line


def test_unknown_user_names_new_user_ratings_and_unknown_items_are_skipped(tmp_path):
    csv = tmp_path / "r.csv"
    csv.write_text("user,item,rating\n1,a,5\n1,b,3\n2,a,4\n2,c,2\n3,b,1\n3,c,5\n")
    model = tmp_path / "m.alsrec"
    trained = run_cli("train", str(csv), "-o", str(model), "--factors", "2", "--iterations", "3")
    assert trained.returncode == 0, trained.stderr
    unknown = run_cli("recommend", str(model), "--user", "99999")
    assert unknown.returncode == 1
    assert "--new-user-ratings" in one_line(unknown.stderr)
    mine = tmp_path / "mine.csv"
    mine.write_text("item,rating\na,5\nzz,3\n")
    result = run_cli("recommend", str(model), "--new-user-ratings", str(mine), "--json")
    assert result.returncode == 0, result.stderr
    line = one_line(result.stderr)
    assert (
        line == "note: skipped 1 of the 2 rows of mine.csv: items the model does not know ('zz')."
    )
    payload = json.loads(result.stdout)
    assert payload["new_user_items"] == 1
    assert {r["item"] for r in payload["results"]} == {"b", "c"}  # 'a' was rated, so filtered
    nothing = tmp_path / "none.csv"
    nothing.write_text("item\nzz\nyy\n")
    refused = run_cli("recommend", str(model), "--new-user-ratings", str(nothing))
    assert refused.returncode == 1
    assert "none of the 2 items" in one_line(refused.stderr)


def test_demo_with_spark_without_pyspark_fails_before_any_work(tmp_path):
    fake = tmp_path / "no_pyspark" / "pyspark"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named pyspark')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(fake.parent), env.get("PYTHONPATH", "")])
    env["ALSREC_DATA_DIR"] = str(tmp_path / "empty")  # a study would have to download first
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "alsrec", "demo", "--with-spark", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1
    assert (
        one_line(result.stderr) == "error: --with-spark needs pyspark: pip install 'alsrec[spark]'"
    )
    assert time.perf_counter() - started < 60
    assert not (tmp_path / "r").exists()
    assert not (tmp_path / "empty").exists()


# ---------------------------------------------------------------- nothing unasked, --version, help
def test_info_writes_nothing_unless_asked(ml_dir, tmp_path):
    result = run_cli("info", "ml-latest-small", "--json", env_dir=ml_dir, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["histogram"] is None
    assert list(tmp_path.iterdir()) == []


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"alsrec {__version__}"


@pytest.mark.parametrize(
    "command", ["info", "train", "recommend", "similar", "evaluate", "demo", "audience", "update"]
)
def test_help_reads_cleanly(command):
    text = run_cli(command, "--help").stdout
    assert "\\ " not in text
    assert not any(line.rstrip().endswith("\\") for line in text.splitlines())
    assert "{" not in text.splitlines()[0]  # usage: DATA, not {data}
    assert "<list[str]>" not in text
    assert "<str>  " not in text.split("Options:")[1]  # every option has a metavar
