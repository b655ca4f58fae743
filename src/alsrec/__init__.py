"""alsrec: recommendation by matrix factorization trained with alternating least squares."""

from alsrec._version import __version__
from alsrec.data import Interactions, describe, generate
from alsrec.datasets import load_lastfm, load_movielens
from alsrec.errors import (
    AlsrecError,
    DataError,
    DownloadError,
    ModelFileError,
    NotFittedError,
    ParameterError,
    UnknownIdError,
)
from alsrec.models import ALS, FactorModel, Popularity, RandomModel, load_model

__all__ = [
    "ALS",
    "AlsrecError",
    "DataError",
    "DownloadError",
    "FactorModel",
    "Interactions",
    "ModelFileError",
    "NotFittedError",
    "ParameterError",
    "Popularity",
    "RandomModel",
    "UnknownIdError",
    "__version__",
    "describe",
    "generate",
    "load_lastfm",
    "load_model",
    "load_movielens",
]
