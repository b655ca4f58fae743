"""Estimators: ALS for every preset, baselines, persistence."""

from alsrec.models.als import ALS
from alsrec.models.base import FactorModel
from alsrec.models.baselines import Popularity, RandomModel
from alsrec.models.bayesian import BayesianALS
from alsrec.models.objective import PRESETS, Objective
from alsrec.models.persistence import load_model

__all__ = [
    "ALS",
    "PRESETS",
    "BayesianALS",
    "FactorModel",
    "Objective",
    "Popularity",
    "RandomModel",
    "load_model",
]
