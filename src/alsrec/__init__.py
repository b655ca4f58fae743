"""alsrec: recommendation by matrix factorization trained with alternating least squares."""

from alsrec.data import Interactions, describe, generate
from alsrec.datasets import load_movielens
from alsrec.errors import (
    AlsrecError,
    DataError,
    DownloadError,
    ModelFileError,
    NotFittedError,
    ParameterError,
    UnknownIdError,
)

__version__ = "0.1.0"

__all__ = [
    "AlsrecError",
    "DataError",
    "DownloadError",
    "Interactions",
    "ModelFileError",
    "NotFittedError",
    "ParameterError",
    "UnknownIdError",
    "__version__",
    "describe",
    "generate",
    "load_movielens",
]
