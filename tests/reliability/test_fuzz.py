"""Fuzzing the readers and the model loader: only alsrec's clear errors come out."""

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alsrec import ALS, Interactions, generate, load_model
from alsrec.errors import DataError, ModelFileError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def model_bytes():
    data = generate(30, 20, 200, values="implicit", seed=0).interactions
    model = ALS("implicit", factors=3, iterations=1).fit(data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.alsrec"
        model.save(path)
        return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_mutated_model_files_never_load_wrongly(model_bytes, data):
    raw = bytearray(model_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.alsrec"
        path.write_bytes(bytes(raw[:cut]))
        try:
            model = load_model(path)
        except ModelFileError:
            return
        # a mutation the checks cannot see (zip padding, timestamps) leaves the arrays intact
        assert model.item_factors_.shape == (20, 3)
        assert len(model.recommend(model.user_ids_[0], n=3)) == 3


@FUZZ
@given(blob=st.binary(max_size=2000))
def test_random_bytes_are_not_models(blob):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.alsrec"
        path.write_bytes(blob)
        with pytest.raises(ModelFileError):
            load_model(path)


csv_text = st.text(
    alphabet=st.sampled_from(list('user,itemrating0123456789.-\n"; \tnaNinf')), max_size=300
)


@FUZZ
@given(text=csv_text)
def test_csv_reader_gives_data_or_a_clear_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.csv"
        path.write_text(text)
        try:
            data = Interactions.from_csv(path)
        except DataError:
            return
        assert data.nnz > 0
        assert np.isfinite(data.matrix.data).all()


@FUZZ
@given(blob=st.binary(max_size=500))
def test_parquet_reader_refuses_garbage(blob):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.parquet"
        path.write_bytes(blob)
        with pytest.raises(DataError):
            Interactions.from_parquet(path)


def test_atheris_style_entry_point_is_the_same_check():
    """The loader under a byte-level harness (atheris runs this function when installed)."""

    def harness(payload: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "x.alsrec"
            path.write_bytes(payload)
            with contextlib.suppress(ModelFileError):
                load_model(path)

    for payload in (b"", b"PK\x03\x04", b"PK\x05\x06" + bytes(18), io.BytesIO(b"x" * 99).read()):
        harness(payload)
