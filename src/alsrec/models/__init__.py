"""Estimators: ALS for every preset, baselines, peers, persistence, the model catalog.

Every model class registers itself in :mod:`alsrec.models.catalog` when its
module is imported; import a new model's module here so it registers with the
package.
"""

from alsrec.models import catalog
from alsrec.models.als import ALS
from alsrec.models.base import FactorModel
from alsrec.models.baselines import Popularity, RandomModel
from alsrec.models.catalog import make_model
from alsrec.models.objective import PRESETS, Objective
from alsrec.models.peers import ImplicitALS
from alsrec.models.persistence import load_model

__all__ = [
    "ALS",
    "PRESETS",
    "FactorModel",
    "ImplicitALS",
    "Objective",
    "Popularity",
    "RandomModel",
    "catalog",
    "load_model",
    "make_model",
]
