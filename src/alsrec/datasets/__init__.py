"""Public data sets: MovieLens and Last.fm loaders with safe download and extraction."""

from alsrec.datasets.lastfm import LASTFM_NAMES, load_lastfm, locate_lastfm
from alsrec.datasets.movielens import (
    DATA_DIR_ENV,
    VARIANTS,
    default_data_dir,
    load_movielens,
    locate_movielens,
)

__all__ = [
    "DATA_DIR_ENV",
    "LASTFM_NAMES",
    "VARIANTS",
    "default_data_dir",
    "load_lastfm",
    "load_movielens",
    "locate_lastfm",
    "locate_movielens",
]
