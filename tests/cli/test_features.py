"""The commands of alsrec.cli.features, run as a user would."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from alsrec import Interactions, load_model
from tests.cli.test_info import run_cli


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("features")
    rng = np.random.default_rng(0)
    rows = []
    for u in range(50):
        for i in rng.choice(30, size=rng.integers(4, 12), replace=False):
            rows.append((f"user{u}", f"sku{i}", int(rng.integers(1, 6))))
    ratings = folder / "ratings.csv"
    pd.DataFrame(rows, columns=["user", "item", "rating"]).to_csv(ratings, index=False)
    model = folder / "model.alsrec"
    result = run_cli("train", str(ratings), "-o", str(model), "--factors", "6", "--iterations", "4")
    assert result.returncode == 0, result.stderr
    return folder, ratings, model


def test_recommend_batch_to_parquet_with_fallback(files):
    folder, _ratings, model_path = files
    ids = folder / "ids.txt"
    ids.write_text("user1\nuser7\n\nnewcomer\n")
    out = folder / "recs.parquet"
    result = run_cli(
        "recommend", str(model_path), "--users-file", str(ids), "-o", str(out),
        "-n", "3", "--fallback", "popularity", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"output": str(out), "users": 3, "rows": 9}
    frame = pd.read_parquet(out)
    model = load_model(model_path)
    expected = model.recommend_batch(["user1", "user7", "newcomer"], n=3, fallback="popularity")
    assert frame["item"].tolist() == expected["item"].tolist()
    assert frame.groupby("user", sort=False)["source"].first().to_dict() == {
        "user1": "model",
        "user7": "model",
        "newcomer": "popularity",
    }
    failed = run_cli("recommend", str(model_path), "--users-file", str(ids), "-n", "3")
    assert failed.returncode == 1
    assert "unknown user id 'newcomer'" in failed.stderr


def test_recommend_explain_and_the_unchanged_path(files):
    _folder, _ratings, model_path = files
    plain = run_cli("recommend", str(model_path), "--user", "user2", "-n", "3", "--json")
    assert plain.returncode == 0, plain.stderr
    explained = run_cli(
        "recommend", str(model_path), "--user", "user2", "-n", "3", "--explain", "--json"
    )
    assert explained.returncode == 0, explained.stderr
    rows = json.loads(explained.stdout)["results"]
    assert [r["item"] for r in rows] == [r["item"] for r in json.loads(plain.stdout)["results"]]
    model = load_model(model_path)
    for row in rows:
        why = model.explain("user2", row["item"])
        assert row["because"] == str(why["item"][0])
    bad = run_cli("recommend", str(model_path), "--user", "user2", "-o", str(_folder / "x.txt"))
    assert bad.returncode == 1
    assert "must end in .parquet or .csv" in bad.stderr


def test_audience_is_recommend_users(files):
    _folder, _ratings, model_path = files
    result = run_cli("audience", str(model_path), "--item", "sku4", "-n", "5", "--json")
    assert result.returncode == 0, result.stderr
    users = [r["user"] for r in json.loads(result.stdout)["results"]]
    model = load_model(model_path)
    assert users == model.recommend_users("sku4", n=5)["user"].tolist()
    unknown = run_cli("audience", str(model_path), "--item", "nothing")
    assert unknown.returncode == 1
    assert "unknown item id 'nothing'" in unknown.stderr


def test_update_adds_items_and_saves(files):
    folder, _ratings, model_path = files
    new = folder / "new.csv"
    new.write_text("user,item,rating\nuser1,skuNEW,5\nuser2,skuNEW,4\nuser3,sku0,2\n")
    out = folder / "model2.alsrec"
    result = run_cli(
        "update", str(model_path), "--interactions", str(new), "-o", str(out), "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["new_items"] == 1
    assert summary["updated"] == 2
    before, after = load_model(model_path), load_model(out)
    assert after.n_items == before.n_items + 1
    reference = load_model(model_path).update_items(Interactions.from_file(new))
    np.testing.assert_allclose(after.item_factors_, reference.item_factors_, rtol=1e-6)
    np.testing.assert_array_equal(after.user_factors_, before.user_factors_)
    bad = run_cli(
        "update", str(model_path), "--interactions", str(new), "-o", str(out), "--side", "x"
    )
    assert bad.returncode == 1
    assert "--side 'x'" in bad.stderr


def test_recommend_batch_approximate(files):
    """30 items and ef_search 256: the HNSW search visits every item, so it is exact here."""
    folder, _ratings, model_path = files
    ids = folder / "ids_ann.txt"
    ids.write_text("user1\nuser7\nuser9\n")
    out = folder / "recs_ann.csv"
    result = run_cli(
        "recommend", str(model_path), "--users-file", str(ids), "-o", str(out),
        "-n", "4", "--approximate",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out, dtype={"user": str, "item": str})
    expected = load_model(model_path).recommend_batch(["user1", "user7", "user9"], n=4)
    assert frame["item"].tolist() == expected["item"].tolist()
    np.testing.assert_allclose(frame["score"], expected["score"], rtol=1e-5)
    # without faiss (a faiss.py that fails to import shadows it) the flag says what to install
    shadow = folder / "no_faiss"
    shadow.mkdir()
    (shadow / "faiss.py").write_text("raise ImportError('simulated: faiss is not installed')\n")
    missing = run_cli(
        "recommend", str(model_path), "--users-file", str(ids), "-n", "4", "--approximate",
        cwd=shadow,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "pip install 'alsrec[ann]'" in missing.stderr
    assert "Traceback" not in missing.stderr
