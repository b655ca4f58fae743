"""Data layer: interaction matrices, validation, statistics, synthetic data."""

from alsrec.data.interactions import Interactions
from alsrec.data.stats import DataStats, describe
from alsrec.data.synthetic import ML25M_SHAPE, SyntheticData, generate

__all__ = ["ML25M_SHAPE", "DataStats", "Interactions", "SyntheticData", "describe", "generate"]
