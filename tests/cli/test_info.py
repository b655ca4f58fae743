"""The CLI is tested by running it, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run_cli(*args: str, env_dir=None, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if env_dir is not None:
        env["ALSREC_DATA_DIR"] = str(env_dir)
    return subprocess.run(
        [sys.executable, "-m", "alsrec", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def test_info_on_movielens_prints_blog_statistics(ml_dir, tmp_path):
    png = tmp_path / "users.png"
    result = run_cli(
        "info", "ml-latest-small", "--histogram", str(png), env_dir=ml_dir, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "610 users x 9,724 items" in result.stdout
    assert "100,836" in result.stdout
    assert "density            1.7000%" in result.stdout
    assert png.stat().st_size > 5000
    assert [p.name for p in tmp_path.iterdir()] == ["users.png"]


def test_info_json_on_csv(tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("uid,sku,stars\na,x,5\na,y,3\nb,x,4\n")
    png = tmp_path / "h.png"
    result = run_cli(
        "info",
        str(csv),
        "--user-col",
        "uid",
        "--item-col",
        "sku",
        "--rating-col",
        "stars",
        "--histogram",
        str(png),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["statistics"]["n_users"] == 2
    assert payload["statistics"]["n_interactions"] == 3
    assert png.is_file()


def test_info_bad_input_is_one_line_exit_1(tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("uid,sku,stars\na,x,5\n")
    result = run_cli("info", str(csv))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no column 'user'" in result.stderr
    assert "--user-col" in result.stderr
    missing = run_cli("info", str(tmp_path / "absent.csv"))
    assert missing.returncode == 1
    assert "neither a file nor a MovieLens name" in missing.stderr
