"""The model catalog: registration by class keyword, lookups, and lazy optional backends."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from alsrec import ALS, FactorModel, Interactions, RandomModel, load_model
from alsrec.errors import ModelFileError, ParameterError
from alsrec.models import catalog
from alsrec.models.params import Param, positive_int


@pytest.fixture
def tiny():
    return Interactions.from_arrays([1, 1, 2, 3], [10, 20, 10, 30], [1.0, 2.0, 3.0, 1.0])


@pytest.fixture
def scratch_catalog(monkeypatch):
    """Registrations made in a test vanish afterwards."""
    monkeypatch.setattr(catalog, "_ENTRIES", dict(catalog._ENTRIES))
    monkeypatch.setattr(catalog, "_SPECS", dict(catalog._SPECS))


def test_a_class_keyword_registers_a_model_with_its_specs(scratch_catalog, tiny, tmp_path):
    class Constant(FactorModel, name="test-Constant", specs={"constant": {}}):
        parameters = (Param("level", "number", 0.0),)

        def __init__(self, level: float = 1.0) -> None:
            self.level = level

        def fit(self, data):
            self._set_fitted(
                data,
                np.ones((data.n_users, 1), np.float32),
                np.full((data.n_items, 1), self.level, np.float32),
            )
            return self

    assert catalog.model_class("test-Constant") is Constant
    model = catalog.make_model("constant", level=2.0)
    assert model.level == 2.0
    model.fit(tiny).save(tmp_path / "c.alsrec")
    loaded = load_model(tmp_path / "c.alsrec")
    assert type(loaded) is Constant
    assert loaded.predict([1], [30]).tolist() == [2.0]
    with pytest.raises(ParameterError, match=r"model 'constant': level=-1 must be a finite"):
        catalog.make_model("constant", level=-1)
    with pytest.raises(ParameterError, match="unknown parameter 'level'"):
        catalog.make_model("zeros", level=1)  # another model's parameter
    with pytest.raises(ParameterError, match="'zeros' fixes preset='zeros'"):
        catalog.make_model("zeros", preset="implicit")


def test_names_and_specs_cannot_be_taken_twice(scratch_catalog):
    with pytest.raises(ValueError, match="model name 'ALS' is taken"):

        class Impostor(FactorModel, name="ALS"):
            pass

    with pytest.raises(ValueError, match="model spec 'zeros' is taken by ALS"):

        class Other(FactorModel, name="test-Other", specs={"zeros": {}}):
            pass


def test_a_class_outside_the_catalog_is_refused_at_save(tiny, tmp_path):
    class Unregistered(RandomModel):
        pass

    model = Unregistered(factors=2).fit(tiny)
    with pytest.raises(ModelFileError, match="not in the model catalog.*name="):
        model.save(tmp_path / "u.alsrec")


def test_random_model_round_trips_under_its_own_name(tiny, tmp_path):
    # RandomModel was saved as "RandomModel" but registered for loading as "Random"
    model = RandomModel(factors=3, random_state=4).fit(tiny)
    model.save(tmp_path / "r.alsrec")
    loaded = load_model(tmp_path / "r.alsrec")
    assert type(loaded) is RandomModel
    np.testing.assert_array_equal(loaded.item_factors_, model.item_factors_)


def test_spark_file_loads_without_importing_spark_first(tiny, tmp_path):
    from alsrec.spark import SparkALS  # no Spark session: the fitted state is set directly

    model = SparkALS(factors=2)
    model._set_fitted(tiny, np.ones((3, 2), np.float32), np.ones((3, 2), np.float32))
    path = tmp_path / "spark.alsrec"
    model.save(path)
    script = (
        "import sys, alsrec;"
        "before = 'alsrec.spark' in sys.modules;"
        f"m = alsrec.load_model({str(path)!r});"
        "print(before, type(m).__module__, type(m).__name__)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "alsrec.spark.als", "SparkALS"]


def test_missing_optional_dependency_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ParameterError, match=r"needs pyspark: pip install 'alsrec\[spark\]'"):
        catalog.make_model("spark")


def test_one_constraint_table_gives_one_message_everywhere(tiny):
    message = "factors=0 must be a positive whole number."
    with pytest.raises(ParameterError, match=message):
        ALS(factors=0).fit(tiny)
    with pytest.raises(ParameterError, match=f"model 'implicit': {message}"):
        catalog.make_model("implicit", factors=0)
    with pytest.raises(ParameterError, match=message):
        positive_int("factors").check(0)
    with pytest.raises(ParameterError, match="solver='qr' must be 'cholesky' or 'cg'"):
        catalog.make_model("zeros", solver="qr")
    with pytest.raises(ParameterError, match="use_biases=1 must be True or False"):
        ALS(use_biases=1).fit(tiny)
