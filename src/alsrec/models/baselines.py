"""Baselines with the same API as ALS: popularity and random.

Both are factor models (k = 1), so recommend, evaluation and persistence treat
them exactly like ALS.
"""

from __future__ import annotations

import numpy as np

from alsrec.data.interactions import Interactions, require_interactions
from alsrec.models.base import FactorModel
from alsrec.models.params import Param, check_params, positive_int


class Popularity(FactorModel, name="Popularity", specs={"popularity": {}}):
    """Scores every item by how many training users interacted with it.

    The score of item i for any user is ``n_i / max_j n_j`` (in [0, 1]);
    ties go to the lower item index.
    """

    def __init__(self) -> None:
        pass

    def fit(self, data: Interactions) -> Popularity:
        """Count interactions per item; returns self."""
        require_interactions(data, "fit")
        counts = data.item_counts().astype(np.float32)
        top = counts.max() if len(counts) and counts.max() > 0 else 1.0
        self._set_fitted(data, np.ones((data.n_users, 1), np.float32), (counts / top)[:, None])
        return self


class RandomModel(FactorModel, name="RandomModel", specs={"random": {}}):
    """Ranks items in a random order per user (seeded): the floor any model must clear.

    Scores are ``x_u . y_i`` with independent standard normal factors of
    dimension ``factors``: for each user an independent random ranking.
    """

    parameters = (Param("random_state", "int", 0.0, optional=True), positive_int("factors"))

    def __init__(self, random_state: int | None = 0, factors: int = 64) -> None:
        self.random_state = random_state
        self.factors = factors

    def fit(self, data: Interactions) -> RandomModel:
        """Draw random factors; returns self."""
        require_interactions(data, "fit")
        check_params(self.get_params(), self.parameters)
        rng = np.random.default_rng(self.random_state)
        x = rng.standard_normal((data.n_users, self.factors)).astype(np.float32)
        y = rng.standard_normal((data.n_items, self.factors)).astype(np.float32)
        self._set_fitted(data, x, y)
        return self
