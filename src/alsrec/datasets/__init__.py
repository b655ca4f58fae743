"""Public data sets: MovieLens loaders with safe download and extraction."""

from alsrec.datasets.movielens import (
    DATA_DIR_ENV,
    VARIANTS,
    default_data_dir,
    load_movielens,
    locate_movielens,
)

__all__ = ["DATA_DIR_ENV", "VARIANTS", "default_data_dir", "load_movielens", "locate_movielens"]
