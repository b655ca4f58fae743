"""``ALS``: the weighted alternating-least-squares estimator for every preset."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from alsrec.data.interactions import Interactions, require_interactions
from alsrec.errors import DataError, NumericalError, ParameterError
from alsrec.models import catalog
from alsrec.models.base import FactorModel
from alsrec.models.objective import (
    CONFIDENCE_CODES,
    TARGET_CODES,
    Objective,
    preset_defaults,
    resolve_objective,
)
from alsrec.models.params import Param, check_params, positive_int
from alsrec.models.training import TorchTrainer, Trainer, converged, fit_biases, thread_limits

__all__ = [
    "ALS",
    "FIT_BACKENDS",
    "Callback",
    "TorchTrainer",
    "Trainer",
    "fit_biases",
    "register_fit_backend",
    "thread_limits",
]

Callback = Callable[[int, float, float], Any]

# Training backends that live in higher layers register here when imported, so models
# never import them: name -> fit(estimator, data). An unknown backend name makes the
# catalog import its providers first (alsrec.spark registers "spark").
FIT_BACKENDS: dict[str, Callable[[Any, Any], Any]] = {}


def register_fit_backend(name: str, fit: Callable[[Any, Any], Any]) -> None:
    """Let ``ALS(backend=name).fit(data)`` delegate to ``fit(estimator, data)``."""
    FIT_BACKENDS[name] = fit


class ALS(
    FactorModel,
    name="ALS",
    specs={preset: {"preset": preset} for preset in ("zeros", "implicit", "explicit")},
):
    """Matrix factorization by weighted alternating least squares.

    One objective (see :mod:`alsrec.models.objective`) covers explicit
    ratings, implicit feedback and the blog's missing-as-zero model; a preset
    fills in its settings, and every setting can be overridden.

    Parameters
    ----------
    preset : {"implicit", "explicit", "zeros"}
        Named settings. ``None`` values below take the preset's default.
    factors : int, optional
        Latent dimension k (explicit 64, implicit 32, zeros 20).
    regularization : float, optional
        lambda (explicit 0.08, scaled by counts; implicit 3.0; zeros 0.001).
    alpha : float, optional
        Confidence scale for implicit data (implicit preset: 2.0).
    confidence : {"one", "linear", "log", "scaled"}, optional
        How a value maps to a confidence c (implicit preset: ``"log"``,
        c = 1 + alpha log(1 + r)).
    unobserved_weight : float, optional
        w0, the weight of every missing cell.
    target : {"value", "one", "liked"}, optional
        Fit the values themselves, 1 (preference), or 1 for positive and 0
        for negative values (``"liked"``: dislikes in implicit data become
        confident zeros, c = 1 + alpha f(|r|), instead of an error).
    reg_exponent : float, optional
        nu: lambda_u = lambda * (n_u + w0 * n_items) ** nu (ALS-WR and Spark: 1).
    use_biases : bool, optional
        Fit mu, b_u, b_i first and factorise the residual (explicit: True).
    count_unobserved : bool, optional
        Count ``w0 * n_items`` in the regularisation scaling (default True);
        False scales by observed counts only, as Spark does.
    iterations : int, optional
        Full alternations (explicit/implicit 15, zeros 20).
    solver : {"cholesky", "cg"}, optional
        Exact solves, or ``cg_steps`` conjugate-gradient steps warm-started
        from the previous iterate (default: the preset's, see
        :meth:`resolved_solver`). With float32 factors, CG gathers a fixed
        side of 8 MiB or more from a float16 copy (the shared Gram part and
        all arithmetic stay float32; see ``kernels.solvers.prefers_half_gathers``).
    cg_steps : int
        CG steps per row per half-step.
    dtype : {"float32", "float64"}
        Storage of factors and Gram blocks.
    random_state : int, optional
        Seed of the initial factors; same seed, same factors, on any thread count.
    num_threads : int
        0 = all cores.
    show_progress : bool
        A progress bar over iterations with the loss.
    callback : callable, optional
        ``callback(iteration, elapsed_seconds, loss)`` after each iteration;
        returning ``False`` stops training. While it runs, the model can score
        with the current factors (``score_users``, ``recommend``), so a
        callback can compute a validation metric. A callback with the
        attribute ``needs_loss = False`` is passed NaN for the loss, which is
        then not computed for it (see ``compute_loss``).
    tol : float, optional
        Stop when the relative loss decrease of an iteration is below this.
    compute_loss : bool, optional
        Evaluate the exact objective (O(nnz k + (m + n) k^2)) after every
        iteration (True), never (False), or when something reads it (None, the
        default): after every iteration when ``tol``, ``show_progress`` or a
        ``callback`` is set, otherwise once after the last iteration, so
        ``loss_history_`` holds NaN for the iterations in between.
    device : str
        ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"``. A GPU is only used when
        asked for, and asking for one where none is available is an error.
    backend : {"numba", "torch", "spark"}, optional
        Kernels: numba on the CPU (default for ``device="cpu"``) or PyTorch
        (required for CUDA; ``backend="torch", device="cpu"`` runs the GPU code
        on torch's CPU device, for testing). ``"spark"`` (needs pyspark) trains
        on Spark executors: see :mod:`alsrec.spark.distributed`.

    Examples
    --------
    >>> import alsrec
    >>> data = alsrec.generate(200, 100, 3000, seed=0).interactions
    >>> model = alsrec.ALS("implicit", factors=8, iterations=5, random_state=0).fit(data)
    >>> model.recommend(0, n=3).shape[0]
    3
    """

    parameters = (
        positive_int("factors"),
        Param("regularization", "number", 0.0, optional=True),
        Param("alpha", "number", 0.0, optional=True),
        Param("confidence", "choice", choices=tuple(CONFIDENCE_CODES), optional=True),
        Param("unobserved_weight", "number", 0.0, optional=True),
        Param("target", "choice", choices=tuple(TARGET_CODES), optional=True),
        Param("reg_exponent", "number", 0.0, optional=True),
        Param("use_biases", "bool", optional=True),
        Param("count_unobserved", "bool", optional=True),
        positive_int("iterations"),
        Param("solver", "choice", choices=("cholesky", "cg"), optional=True),
        positive_int("cg_steps"),
        Param("dtype", "choice", choices=("float32", "float64")),
        Param("random_state", "int", 0.0, optional=True),
        Param("num_threads", "int"),  # 0 or less: all cores
        Param("show_progress", "bool"),
        Param("tol", "number", 0.0, optional=True),
        Param("compute_loss", "bool", optional=True),
    )
    _fitted_attributes = (
        *FactorModel._fitted_attributes,
        "loss_history_",
        "n_iter_",
        "fit_seconds_",
    )

    def __init__(
        self,
        preset: Literal["implicit", "explicit", "zeros"] = "implicit",
        factors: int | None = None,
        regularization: float | None = None,
        alpha: float | None = None,
        confidence: str | None = None,
        unobserved_weight: float | None = None,
        target: str | None = None,
        reg_exponent: float | None = None,
        use_biases: bool | None = None,
        count_unobserved: bool | None = None,
        iterations: int | None = None,
        solver: Literal["cholesky", "cg"] | None = None,
        cg_steps: int = 3,
        dtype: str = "float32",
        random_state: int | None = None,
        num_threads: int = 0,
        show_progress: bool = False,
        callback: Callback | None = None,
        tol: float | None = None,
        compute_loss: bool | None = None,
        device: str = "cpu",
        backend: Literal["numba", "torch", "spark"] | None = None,
    ) -> None:
        self.preset = preset
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.confidence = confidence
        self.unobserved_weight = unobserved_weight
        self.target = target
        self.reg_exponent = reg_exponent
        self.use_biases = use_biases
        self.count_unobserved = count_unobserved
        self.iterations = iterations
        self.solver = solver
        self.cg_steps = cg_steps
        self.dtype = dtype
        self.random_state = random_state
        self.num_threads = num_threads
        self.show_progress = show_progress
        self.callback = callback
        self.tol = tol
        self.compute_loss = compute_loss
        self.device = device
        self.backend = backend

    # ------------------------------------------------------------------ settings
    def resolved_objective(self) -> Objective:
        """The objective these parameters define (preset defaults filled in)."""
        return resolve_objective(
            self.preset,
            unobserved_weight=self.unobserved_weight,
            confidence=self.confidence,
            alpha=self.alpha,
            target=self.target,
            regularization=self.regularization,
            reg_exponent=self.reg_exponent,
            use_biases=self.use_biases,
            count_unobserved=self.count_unobserved,
        )

    def resolved_solver(self) -> str:
        """``solver``, or the preset's default where it is None."""
        if self.solver is not None:
            return self.solver
        return preset_defaults(self.preset).get("solver", "cholesky")

    def _settings(self) -> tuple[Objective, int, int, np.dtype, str]:
        """Checked settings: objective, factors, iterations, dtype and kernel backend."""
        objective = self.resolved_objective()
        defaults = preset_defaults(self.preset)
        values = self.get_params()
        values["factors"] = defaults["factors"] if self.factors is None else self.factors
        values["iterations"] = (
            defaults["iterations"] if self.iterations is None else self.iterations
        )
        check_params(values, self.parameters)
        backend = self._backend()
        return (
            objective,
            int(values["factors"]),
            int(values["iterations"]),
            np.dtype(self.dtype),
            backend,
        )

    def _backend(self) -> str:
        """``"numba"``, ``"torch"`` or a registered fit backend, after checking it can run."""
        device = str(self.device)
        if not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
            raise ParameterError(f"device={self.device!r} must be 'cpu', 'cuda' or 'cuda:N'.")
        backend = self.backend or ("numba" if device == "cpu" else "torch")
        if backend not in ("numba", "torch") and backend not in FIT_BACKENDS:
            catalog.load_providers()  # backends above the models layer register on import
        if backend in FIT_BACKENDS:
            if device != "cpu":
                raise ParameterError(f"backend={backend!r} runs on the CPU; use device='cpu'.")
            return backend
        if backend == "spark":
            raise ParameterError("backend='spark' needs pyspark: pip install 'alsrec[spark]'.")
        if backend not in ("numba", "torch"):
            known = ", ".join(repr(name) for name in ("numba", "torch", *FIT_BACKENDS))
            raise ParameterError(f"backend={self.backend!r} must be one of {known}.")
        if backend == "numba" and device != "cpu":
            raise ParameterError("the numba backend runs on the CPU; use backend='torch' for CUDA.")
        if backend == "torch":
            try:
                import torch
            except ImportError:
                raise ParameterError(
                    f"device={device!r} needs PyTorch: pip install 'alsrec[gpu]'."
                ) from None
            if device != "cpu" and not torch.cuda.is_available():
                raise ParameterError(
                    f"device={device!r} but no CUDA GPU is available here; use device='cpu'."
                )
        return backend

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Interactions) -> ALS:
        """Fit factors (and biases) to ``data``; returns self.

        Sets ``user_factors_``, ``item_factors_``, biases, ``loss_history_``
        (the objective after each iteration, NaN where it was not computed: see
        ``compute_loss``), ``fit_seconds_`` and ``n_iter_``.
        If training fails or is interrupted, the model is left unfitted.
        """
        backend = self._backend()
        if backend in FIT_BACKENDS:
            return FIT_BACKENDS[backend](self, data)
        require_interactions(data, "fit")
        objective, k, iterations, dtype, backend = self._settings()
        if data.nnz == 0:
            raise DataError("the training data holds no interactions.")
        if k > min(data.shape):
            warnings.warn(
                f"factors={k} exceeds min(n_users, n_items)={min(data.shape)}: the extra "
                f"dimensions can only fit noise; regularization keeps the solution defined.",
                stacklevel=2,
            )
        objective.check_values(data.matrix.data, "the data")
        self._clear_fitted()
        rng = np.random.default_rng(self.random_state)
        mu, user_bias, item_bias = 0.0, None, None
        user_values, item_values = data.matrix.data, data.item_user.data
        if objective.use_biases:
            mu, user_bias, item_bias = fit_biases(data, objective.bias_damping)
            residual = data.filter(np.ones(data.nnz, bool))  # a copy with the same pattern
            baseline = mu + user_bias[data.row_indices()] + item_bias[data.matrix.indices]
            residual.matrix.data = (data.matrix.data - baseline).astype(np.float32)
            user_values, item_values = residual.matrix.data, residual.item_user.data
        user_values = np.ascontiguousarray(user_values, dtype=dtype)
        item_values = np.ascontiguousarray(item_values, dtype=dtype)
        user_factors = np.zeros((data.n_users, k), dtype=dtype)
        item_factors = rng.standard_normal((data.n_items, k), dtype=dtype)
        item_factors *= 0.01  # small: the first user half-step is then close to plain ridge
        trainer_args = (
            data,
            user_values,
            item_values,
            objective,
            user_factors,
            item_factors,
            self.resolved_solver(),
            self.cg_steps,
        )
        if backend == "torch":
            trainer = TorchTrainer(*trainer_args, device=str(self.device))
        else:
            trainer = Trainer(*trainer_args)
        history: list[float] = []
        start = time.perf_counter()
        bar = _progress(iterations, self.show_progress)
        every_iteration, at_end = self._loss_schedule()
        try:
            with thread_limits(self.num_threads):
                for iteration in range(1, iterations + 1):
                    failed = trainer.solve_users() + trainer.solve_items()
                    _check_finite(trainer, iteration, failed, objective)
                    wanted = every_iteration or (at_end and iteration == iterations)
                    loss = trainer.loss() if wanted else float("nan")
                    history.append(loss)
                    elapsed = time.perf_counter() - start
                    if bar is not None:
                        bar.set_postfix(loss=f"{loss:.6g}")
                        bar.update(1)
                    if self.callback is not None and not self._call_back(
                        trainer,
                        data,
                        (mu, user_bias, item_bias, objective),
                        iteration,
                        elapsed,
                        loss,
                    ):
                        break
                    if converged(history, self.tol):
                        break
        finally:
            if bar is not None:
                bar.close()
        self._install_iterate(trainer, data, (mu, user_bias, item_bias, objective))
        self.loss_history_ = history
        self.n_iter_ = len(history)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _loss_schedule(self, draws_progress: bool = True) -> tuple[bool, bool]:
        """(compute the loss after every iteration, compute it after the last one).

        The loss costs 15-20% of a CG fit on small data, so by default it is
        computed only where something reads it each iteration: ``tol``, a
        callback, or the progress bar (for fits that draw one, ``draws_progress``).
        """
        if self.compute_loss is None:
            reads = self.callback is not None and getattr(self.callback, "needs_loss", True)
            bar = self.show_progress and draws_progress
            return self.tol is not None or bar or reads, True
        return self.compute_loss, self.compute_loss

    def _call_back(self, trainer, data, state, iteration: int, elapsed: float, loss: float) -> bool:
        """Run the callback with the model scoreable at the current iterate; False stops.

        The model holds the current factors only while the callback runs (so it
        can score a validation split, as pruned tuning does); it is unfitted
        again afterwards, even if the callback raises.
        """
        self._install_iterate(trainer, data, state)
        try:
            return self.callback(iteration, elapsed, loss) is not False
        finally:
            self._clear_fitted()

    def _install_iterate(self, trainer, data, state) -> None:
        """Make the trainer's current factors (and the fit's biases) this model's fitted state."""
        mu, user_bias, item_bias, objective = state
        trainer.factors_to_host()
        self._set_fitted(
            data,
            trainer.x,
            trainer.y,
            global_bias=mu,
            user_bias=user_bias,
            item_bias=item_bias,
            objective=objective,
        )


def _progress(total: int, show: bool, desc: str = "ALS"):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="it")


def _check_finite(trainer: Trainer, iteration: int, failed: int, objective: Objective) -> None:
    if failed == 0 and trainer.all_finite():
        return
    if objective.regularization == 0:
        cause = "regularization is 0, so rows with fewer ratings than factors are singular"
    elif objective.alpha > 1e4:
        cause = f"alpha={objective.alpha} makes confidences overflow float32"
    else:
        cause = "the system is ill-conditioned; raise regularization or use dtype='float64'"
    raise NumericalError(
        f"training diverged at iteration {iteration} ({failed} rows could not be solved, or "
        f"factors became NaN/inf): {cause}. The model was left unfitted."
    )
