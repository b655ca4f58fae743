"""Hostile model files are refused before they cost memory; ids survive save/load exactly."""

import hashlib
import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

from alsrec import ALS, Interactions, load_model
from alsrec.errors import ModelFileError, ParameterError


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    data = Interactions.from_arrays(
        ["a", "a", "b", "c", "c", "c"], ["x", "y", "x", "y", "z", "w"], [5.0, 3, 4, 2, 5, 1]
    )
    model = ALS("explicit", factors=2, iterations=3, random_state=0).fit(data)
    path = tmp_path_factory.mktemp("model") / "good.alsrec"
    model.save(path)
    return path


def members_of(path):
    with zipfile.ZipFile(path) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


def write_members(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)


def tampered(saved, tmp_path, edit_manifest=None, arrays=None):
    """A copy of the model with a changed manifest and/or arrays, hashes recomputed."""
    members = members_of(saved)
    manifest = json.loads(members["manifest.json"])
    for name, array in (arrays or {}).items():
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        members[f"arrays/{name}.npy"] = buffer.getvalue()
        manifest["arrays"][name] = {
            "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
            "dtype": str(array.dtype),
            "shape": list(array.shape),
        }
    if edit_manifest is not None:
        edit_manifest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    path = tmp_path / "tampered.alsrec"
    write_members(path, members)
    return path


def test_a_zip_bomb_member_is_refused_before_it_is_inflated(saved, tmp_path):
    members = members_of(saved)
    huge = np.zeros((3 * 2**20, 64), dtype=np.float32)  # 768 MiB of zeros, ~1 MB deflated
    buffer = io.BytesIO()
    np.save(buffer, huge)
    members["arrays/user_factors.npy"] = buffer.getvalue()
    manifest = json.loads(members["manifest.json"])
    manifest["arrays"]["user_factors"] = {
        "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
        "dtype": "float32",
        "shape": list(huge.shape),
    }
    members["manifest.json"] = json.dumps(manifest).encode()
    del huge, buffer
    path = tmp_path / "bomb.alsrec"
    write_members(path, members, zipfile.ZIP_DEFLATED)
    del members
    assert os.path.getsize(path) < 5 * 2**20
    tracemalloc.start()
    with pytest.raises(ModelFileError, match="compressed"):
        load_model(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20


def test_an_npy_header_declaring_terabytes_is_refused(saved, tmp_path):
    def declare_huge(manifest):
        manifest["arrays"]["user_factors"]["shape"] = [2**40, 3]

    with pytest.raises(ModelFileError, match="declared shape and dtype need"):
        load_model(tampered(saved, tmp_path, declare_huge))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format_version=0), "format_version 0"),
        (lambda m: m.update(format_version=True), "format_version True"),
        (lambda m: m.pop("format_version"), "no format_version"),
        (lambda m: m.update(format_version=99), "newer than this alsrec"),
        (lambda m: m.update({"class": ["ALS"]}), "'class' must be a string"),
        (lambda m: m.update(params=[1, 2]), "'params' must map names"),
        (lambda m: m.update(params={"factors": {"a": 1}}), "'params' must map names"),
        (lambda m: m["scalars"].update(global_bias="high"), "'global_bias'"),
        (lambda m: m["scalars"].update(loss_history=[1, "x"]), "'loss_history'"),
        (lambda m: m["arrays"]["user_factors"].update(dtype="complex64"), "dtype 'complex64'"),
        (lambda m: m["arrays"]["user_factors"].update(shape=[-1, 2]), "not whole numbers"),
        (lambda m: m["arrays"]["user_factors"].update(sha256=5), "no valid sha256"),
        (lambda m: m["params"].update(nested=None) or m.update(deep=[[[[[[[[[[1]]]]]]]]]]), "deep"),
        (lambda m: m.update(objective={"confidence": "psychic"}), "objective entry is malformed"),
    ],
)
def test_manifest_fields_are_type_checked(saved, tmp_path, edit, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(tampered(saved, tmp_path, edit))


def test_deeply_nested_json_is_refused_cleanly(saved, tmp_path):
    members = members_of(saved)
    members["manifest.json"] = b"[" * 100_000 + b"]" * 100_000
    path = tmp_path / "deep.alsrec"
    write_members(path, members)
    with pytest.raises(ModelFileError):
        load_model(path)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"user_bias": np.zeros(7)}, "user_bias has"),
        ({"item_titles": np.array(["one", "two"])}, "item_titles has"),
        ({"user_ids": np.array(["a", "a", "c"])}, "ids repeat"),
        ({"user_factors": np.zeros((3, 2), dtype=np.complex64)}, "dtype 'complex64'"),
        ({"user_factors": np.full((3, 2), np.nan, dtype=np.float32)}, "NaN or inf"),
        ({"seen_indices": np.array([0, 1, 0, 1, 9, 3], dtype=np.int32)}, "inconsistent"),
    ],
)
def test_inconsistent_arrays_are_refused(saved, tmp_path, arrays, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(tampered(saved, tmp_path, arrays=arrays))


def fit_on(users, items):
    data = Interactions.from_arrays(users, items, np.ones(len(users)))
    return ALS("implicit", factors=2, iterations=2, random_state=0).fit(data)


@pytest.mark.parametrize(
    "users",
    [
        np.array([7, 7, 8, 9]),
        np.array(["007", "007", "7", "x"], dtype=object),
    ],
)
def test_ids_survive_save_load_exactly(tmp_path, users):
    model = fit_on(users, ["i", "j", "i", "k"])
    model.save(tmp_path / "m.alsrec")
    loaded = load_model(tmp_path / "m.alsrec")
    assert list(loaded.user_ids_) == list(model.user_ids_)
    assert [type(v) for v in loaded.user_ids_] == [type(v) for v in model.user_ids_]
    first = model.user_ids_[0]
    assert loaded.recommend(first, n=2).equals(model.recommend(first, n=2))


def test_text_ids_added_to_an_integer_model_keep_both_kinds(tmp_path):
    model = fit_on([7, 7, 8, 9], ["i", "j", "i", "k"])
    model.update_users(Interactions.from_arrays(["new"], ["j"], [1.0]))
    model.save(tmp_path / "m.alsrec")
    loaded = load_model(tmp_path / "m.alsrec")
    assert list(loaded.user_ids_) == [7, 8, 9, "new"]
    assert loaded.recommend(7, n=1).equals(model.recommend(7, n=1))
    assert loaded.recommend("new", n=1).equals(model.recommend("new", n=1))


@pytest.mark.parametrize("bad", [b"bytes-id", (1, 2)])
def test_ids_a_file_cannot_keep_are_refused_at_save(tmp_path, bad):
    model = fit_on([7, 7, 8, 9], ["i", "j", "i", "k"])
    model.user_ids_ = np.array([bad, 8, 9], dtype=object)
    with pytest.raises(ParameterError, match="convert the ids to int or str"):
        model.save(tmp_path / "m.alsrec")
    assert not (tmp_path / "m.alsrec").exists()


def test_a_model_fitted_without_losses_saves_and_loads(tmp_path):
    data = Interactions.from_arrays([1, 1, 2], ["a", "b", "b"], [1.0, 1.0, 1.0])
    model = ALS("implicit", factors=2, iterations=2, compute_loss=False, random_state=0)
    model.fit(data).save(tmp_path / "m.alsrec")
    loaded = load_model(tmp_path / "m.alsrec")
    assert len(loaded.loss_history_) == 2
    assert all(np.isnan(v) for v in loaded.loss_history_)


def test_a_malformed_integer_mask_is_a_model_file_error(saved, tmp_path):
    mask = np.array([True, False, False])  # 'a' is not a number
    with pytest.raises(ModelFileError, match="ids are malformed"):
        load_model(tampered(saved, tmp_path, arrays={"user_ids_integer": mask}))
    with pytest.raises(ModelFileError, match="user_ids_integer does not match"):
        load_model(tampered(saved, tmp_path, arrays={"user_ids_integer": np.ones(7, bool)}))
