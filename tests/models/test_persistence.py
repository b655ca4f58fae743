"""Model files: round trip, and every damaged or hostile file refused clearly."""

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from alsrec import ALS, Interactions, Popularity, generate, load_model
from alsrec.errors import ModelFileError


@pytest.fixture(scope="module")
def fitted():
    frame_users = ["a", "a", "b", "c", "c", "c"]
    items = ["x", "y", "x", "y", "z", "w"]
    data = Interactions.from_arrays(frame_users, items, [5.0, 3, 4, 2, 5, 1])
    return ALS("explicit", factors=2, iterations=3, random_state=0).fit(data)


def rewrite(path, mutate):
    """Rewrite a model zip after ``mutate(members: dict[str, bytes])``."""
    with zipfile.ZipFile(path) as bundle:
        members = {name: bundle.read(name) for name in bundle.namelist()}
    mutate(members)
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)


def test_round_trip_keeps_everything(fitted, tmp_path):
    path = tmp_path / "model.alsrec"
    fitted.save(path)
    loaded = load_model(path)
    assert type(loaded) is ALS
    assert loaded.get_params() == {**fitted.get_params(), "callback": None}
    np.testing.assert_array_equal(loaded.user_factors_, fitted.user_factors_)
    np.testing.assert_array_equal(loaded.item_bias_, fitted.item_bias_)
    assert loaded.user_ids_.tolist() == ["a", "b", "c"]
    assert loaded.objective_ == fitted.objective_
    assert loaded.loss_history_ == pytest.approx(fitted.loss_history_, nan_ok=True)
    assert loaded.recommend("a", n=2).equals(fitted.recommend("a", n=2))
    assert loaded.predict(["c"], ["x"])[0] == pytest.approx(fitted.predict(["c"], ["x"])[0])


def test_int_ids_titles_and_baselines_round_trip(tmp_path, ml_small):
    model = Popularity().fit(ml_small)
    model.save(tmp_path / "pop.alsrec")
    loaded = load_model(tmp_path / "pop.alsrec")
    assert loaded.item_ids_.dtype.kind == "i"
    assert loaded.recommend(1, n=3).equals(model.recommend(1, n=3))
    assert "title" in loaded.recommend(1, n=3)


def test_truncated_file(fitted, tmp_path):
    path = tmp_path / "m.alsrec"
    fitted.save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="damaged or not an alsrec model.*truncated"):
        load_model(path)


def test_bit_flip_is_caught(fitted, tmp_path):
    path = tmp_path / "m.alsrec"
    fitted.save(path)

    def flip(members):
        data = bytearray(members["arrays/user_factors.npy"])
        data[-3] ^= 0x10
        members["arrays/user_factors.npy"] = bytes(data)

    rewrite(path, flip)
    with pytest.raises(ModelFileError, match="'user_factors' fails its checksum"):
        load_model(path)
    raw = bytearray((tmp_path / "m.alsrec").read_bytes())
    fitted.save(path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # a flip the zip's CRC sees
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError):
        load_model(path)


def test_newer_format_version(fitted, tmp_path):
    path = tmp_path / "m.alsrec"
    fitted.save(path)

    def bump(members):
        manifest = json.loads(members["manifest.json"])
        manifest["format_version"] = 99
        members["manifest.json"] = json.dumps(manifest).encode()

    rewrite(path, bump)
    with pytest.raises(ModelFileError, match="format version 99, newer.*upgrade alsrec"):
        load_model(path)


def test_extra_member_is_refused(fitted, tmp_path):
    path = tmp_path / "m.alsrec"
    fitted.save(path)
    rewrite(path, lambda m: m.update({"arrays/evil.py": b"import os"}))
    with pytest.raises(ModelFileError, match=r"unexpected members \['arrays/evil.py'\]"):
        load_model(path)


def test_pickle_payload_is_never_executed(fitted, tmp_path):
    path = tmp_path / "m.alsrec"
    fitted.save(path)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buffer = io.BytesIO()
    np.save(buffer, np.array([Exploit()], dtype=object), allow_pickle=True)
    payload = buffer.getvalue()

    def inject(members):
        members["arrays/user_ids.npy"] = payload
        manifest = json.loads(members["manifest.json"])
        manifest["arrays"]["user_ids"]["sha256"] = hashlib.sha256(payload).hexdigest()
        members["manifest.json"] = json.dumps(manifest).encode()

    rewrite(path, inject)
    with pytest.raises(ModelFileError, match="'user_ids' is not a plain array"):
        load_model(path)
    assert not marker.exists()


def test_not_a_model_and_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no model file"):
        load_model(tmp_path / "absent.alsrec")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(ModelFileError, match="damaged or not an alsrec model"):
        load_model(other)


def test_interrupted_save_leaves_previous_file(fitted, tmp_path, monkeypatch):
    path = tmp_path / "m.alsrec"
    fitted.save(path)
    before = path.read_bytes()
    calls = {"n": 0}
    original = zipfile.ZipFile.writestr

    def interrupted(self, name, data, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fitted.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.alsrec"]


def test_save_killed_midway_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "big.alsrec"
    data = generate(20_000, 5_000, 200_000, values="implicit", seed=0).interactions
    ALS("implicit", factors=64, iterations=1, random_state=0).fit(data).save(path)
    before = load_model(path)
    script = (
        "import alsrec, sys\n"
        f"m = alsrec.load_model({str(path)!r})\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        f"    m.save({str(path)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.7)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    after = load_model(path)  # whole: the old file or a complete new one, never half
    np.testing.assert_array_equal(after.item_factors_, before.item_factors_)
