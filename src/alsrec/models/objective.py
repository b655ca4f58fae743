"""The weighted ALS objective's settings, and the presets that name common settings.

One objective (DESIGN.md section 1) covers every model alsrec trains:

    L = sum_{(u,i) in S} c_ui (p_ui - x_u . y_i)^2 + w0 sum_{(u,i) not in S} (x_u . y_i)^2
        + sum_u lambda_u |x_u|^2 + sum_i lambda_i |y_i|^2,
    lambda_u = lambda * (n_u + w0 * n_items) ** nu

==========  =====================  ======================  ====  ==========================
preset      p_ui                   c_ui                    w0    regularisation
==========  =====================  ======================  ====  ==========================
explicit    r_ui - mu - b_u - b_i  1                       0     lambda * n_u (nu = 1)
implicit    1                      1 + alpha * f(r_ui)     1     lambda (nu = 0)
zeros       r_ui                   1                       1     lambda (nu = 0)
==========  =====================  ======================  ====  ==========================

``zeros`` is the blog's CustomALS: every missing rating is a 0 and every cell
weighs 1, which is the dense ridge regression U = R V (V^T V + lambda I)^-1
computed without ever forming the dense matrix.

The implicit library (benfred/implicit) weighs an observed cell by
c = alpha * r (its input matrix holds the confidences) and every other cell by
1, with p = 1: Hu, Koren & Volinsky's c = 1 + alpha * r differs by that
constant 1, which matters when alpha * r is small (on 0.5-5 star ratings with
alpha = 1 a half star weighs 0.5 there, 1.5 here). ``confidence="scaled"``
reproduces the implicit library's convention exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from alsrec.errors import DataError, ParameterError
from alsrec.kernels.weights import CONFIDENCE_CODES, TARGET_CODES, Weights, make_weights
from alsrec.models.params import Param


@dataclass(frozen=True)
class Objective:
    """Fully resolved settings of the weighted objective.

    Attributes
    ----------
    unobserved_weight : float
        w0, the weight of every cell outside S.
    confidence : {"one", "linear", "log", "scaled"}
        c = 1, 1 + alpha r, 1 + alpha log(1 + r), or alpha r (implicit's convention).
    alpha : float
        Confidence scale.
    target : {"value", "one", "liked"}
        p = r (after bias removal), p = 1, or p = 1 for r > 0 and 0 for r < 0
        ("liked": implicit data with dislikes stored as negative values, each
        a confident zero with c = 1 + alpha f(|r|)).
    regularization : float
        lambda.
    reg_exponent : float
        nu: lambda_u = lambda * (n_u + w0 * n_other) ** nu.
    use_biases : bool
        Fit mu, b_u, b_i first (damped means) and factorise the residual.
    bias_damping : float
        Damping of the bias means (shrinks rare users and items to 0).
    count_unobserved : bool
        Include ``w0 * n_other`` in the count that scales lambda (DESIGN.md's
        formula); False scales by the observed count alone, as Spark does.
    """

    unobserved_weight: float
    confidence: str
    alpha: float
    target: str
    regularization: float
    reg_exponent: float
    use_biases: bool
    bias_damping: float = 5.0
    count_unobserved: bool = True

    @property
    def confidence_code(self) -> int:
        """Kernel code of :attr:`confidence`."""
        return CONFIDENCE_CODES[self.confidence]

    @property
    def target_code(self) -> int:
        """Kernel code of :attr:`target`."""
        return TARGET_CODES[self.target]

    @property
    def weights(self) -> Weights:
        """The kernels' record of w0, confidence, alpha and target."""
        return make_weights(
            self.unobserved_weight, self.confidence_code, self.alpha, self.target_code
        )

    def check_values(self, values: np.ndarray, where: str) -> None:
        """Refuse values this objective cannot weigh (one check for fit, fold-in, updates).

        Raises
        ------
        DataError
            Negative values with implicit confidences (a confidence must be >= 0),
            unless ``target="liked"`` reads them as dislikes.
        """
        signed_ok = self.confidence == "one" or self.target == "liked"
        if not signed_ok and len(values) and np.min(values) < 0:
            raise DataError(
                f"implicit confidences need values >= 0; found negative values in {where}. "
                "Use target='liked' to read them as dislikes, or preset='explicit' for "
                "signed ratings."
            )

    def row_regularization(self, counts: np.ndarray, n_other: int) -> np.ndarray:
        """lambda_u for rows with ``counts`` observed cells against ``n_other`` columns."""
        base = counts.astype(np.float64)
        if self.count_unobserved:
            base = base + self.unobserved_weight * n_other
        if self.reg_exponent == 0.0:
            return np.full(len(counts), self.regularization, dtype=np.float64)
        return self.regularization * base**self.reg_exponent

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


# Per-preset defaults: objective fields, factors, iterations and solver
PRESETS: dict[str, dict] = {
    # lambda: least worst-case RMSE regret over ml-latest-small, its ml-100k-dense cut and
    # planted ratings, on selection folds (seed 12345) never reported
    # (benchmarks/bench_ratings.py); 0.05 was 0.015 behind on the dense cut.
    "explicit": {
        "unobserved_weight": 0.0,
        "confidence": "one",
        "alpha": 0.0,
        "target": "value",
        "regularization": 0.08,
        "reg_exponent": 1.0,
        "use_biases": True,
        "factors": 64,
        "iterations": 15,
        "solver": "cholesky",
    },
    # Chosen by benchmarks/bench_defaults.py on seed 100 across ml-latest-small, Last.fm
    # play counts and planted implicit data (best worst-case ratio to the best candidate);
    # log confidence keeps play counts of 1 to 350,000 and 0.5-5 stars on one scale.
    "implicit": {
        "unobserved_weight": 1.0,
        "confidence": "log",
        "alpha": 2.0,
        "target": "one",
        "regularization": 3.0,
        "reg_exponent": 0.0,
        "use_biases": False,
        "factors": 32,
        "iterations": 15,
        # CG (3 steps, warm-started): the same recall@20 as exact solves on ml-latest-small
        # and Last.fm, in 0.8x the fit time (python -m benchmarks.bench_als defaults)
        "solver": "cg",
    },
    "zeros": {
        "unobserved_weight": 1.0,
        "confidence": "one",
        "alpha": 0.0,
        "target": "value",
        "regularization": 0.001,
        "reg_exponent": 0.0,
        "use_biases": False,
        "factors": 20,
        "iterations": 20,
        "solver": "cholesky",
    },
}


# The blog's hyperparameters: the zeros preset's defaults, reused for Spark comparisons.
BLOG_PARAMS = {key: PRESETS["zeros"][key] for key in ("factors", "regularization", "iterations")}


def preset_defaults(preset: str) -> dict:
    """The defaults of ``preset``, or a clear error naming the valid presets."""
    if preset not in PRESETS:
        raise ParameterError(
            f"preset={preset!r} is not known; choose one of {', '.join(sorted(PRESETS))}."
        )
    return dict(PRESETS[preset])


def resolve_objective(preset: str, **overrides) -> Objective:
    """The preset's objective with every non-None override applied and checked."""
    settings = preset_defaults(preset)
    for key, value in overrides.items():
        if value is not None:
            settings[key] = value
    fields = {k: settings[k] for k in Objective.__dataclass_fields__ if k in settings}
    objective = Objective(**fields)
    _check(objective)
    return objective


def _check(objective: Objective) -> None:
    if objective.confidence not in CONFIDENCE_CODES:
        raise ParameterError(
            f"confidence={objective.confidence!r} must be one of {', '.join(CONFIDENCE_CODES)}."
        )
    Param("target", "choice", choices=tuple(TARGET_CODES)).check(objective.target)
    for name in ("unobserved_weight", "alpha", "regularization", "reg_exponent", "bias_damping"):
        Param(name, "number", 0.0).check(getattr(objective, name))


def damped_means(
    owner: np.ndarray, residual: np.ndarray, counts: np.ndarray, damping: float
) -> np.ndarray:
    """Per owner (user or item): ``sum of its residuals / (its count + damping)``.

    The damped bias of Koren's baseline predictor, shared by training and fold-in.
    """
    return np.bincount(owner, residual, len(counts)) / (counts + damping)
