"""Peer libraries as alsrec models, so evaluation scores them on the same folds.

Each adapter fits the peer, then hands its factors to alsrec's fitted-model
type: recommend, evaluation and persistence are then alsrec's own.
"""

from __future__ import annotations

import numpy as np

from alsrec.data.interactions import Interactions, require_interactions
from alsrec.errors import AlsrecError
from alsrec.models.base import FactorModel
from alsrec.models.params import Param, check_params, positive_int


class ImplicitALS(
    FactorModel,
    name="ImplicitALS",
    specs={"implicit-lib": {}},
    requires=("implicit", "pip install implicit"),
):
    """The implicit library's CPU ALS (benfred/implicit) behind alsrec's API.

    Its objective weighs observed cells by ``alpha * r`` and the rest by 1,
    targets 1, with plain ``regularization`` (alsrec's ``implicit`` preset
    with ``confidence="scaled"``). Needs ``pip install implicit``.
    """

    parameters = (
        positive_int("factors"),
        Param("regularization", "number", 0.0),
        Param("alpha", "number", 0.0),
        positive_int("iterations"),
        Param("use_cg", "bool"),
        Param("random_state", "int", 0.0, optional=True),
    )

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        use_cg: bool = True,
        random_state: int | None = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.use_cg = use_cg
        self.random_state = random_state

    def fit(self, data: Interactions) -> ImplicitALS:
        """Fit implicit's ALS on ``data``; returns self."""
        try:
            from implicit.cpu.als import AlternatingLeastSquares
            from threadpoolctl import threadpool_limits
        except ImportError:
            raise AlsrecError(
                "ImplicitALS needs the implicit library: pip install implicit"
            ) from None
        require_interactions(data, "fit")
        check_params(self.get_params(), self.parameters)
        with threadpool_limits(1, "blas"):  # implicit's own advice for its CPU solver
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                use_cg=self.use_cg,
                random_state=self.random_state,
            )
            model.fit(data.matrix, show_progress=False)
        self._set_fitted(
            data,
            np.ascontiguousarray(model.user_factors, dtype=np.float32),
            np.ascontiguousarray(model.item_factors, dtype=np.float32),
        )
        return self
