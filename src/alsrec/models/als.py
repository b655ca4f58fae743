"""``ALS``: the weighted alternating-least-squares estimator for every preset."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Literal

import numba
import numpy as np

from alsrec.data.interactions import Interactions
from alsrec.data.validation import require_interactions
from alsrec.errors import DataError, NumericalError, ParameterError
from alsrec.kernels import balanced_chunks, objective, solve_cg, solve_cholesky
from alsrec.models.base import FactorModel
from alsrec.models.objective import Objective, preset_defaults, resolve_objective

Callback = Callable[[int, float, float], Any]


@contextmanager
def thread_limits(num_threads: int):
    """Run numba kernels on ``num_threads`` threads and BLAS on one inside them.

    The kernels call BLAS from each numba thread; a threaded BLAS underneath
    would oversubscribe the cores and make results depend on thread counts.
    """
    from threadpoolctl import threadpool_limits

    previous = numba.get_num_threads()
    wanted = numba.config.NUMBA_NUM_THREADS if num_threads <= 0 else num_threads
    numba.set_num_threads(min(wanted, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(previous)


class Trainer:
    """The ALS loop's state: CSR arrays of both orientations and both factor matrices.

    Models own the loop; this class holds it so tests and backends can step
    it half by half (``solve_users`` / ``solve_items``) and read the exact
    ``loss()`` in between.
    """

    def __init__(
        self,
        data: Interactions,
        values_by_user: np.ndarray,
        values_by_item: np.ndarray,
        objective: Objective,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        solver: str,
        cg_steps: int,
    ) -> None:
        self.user_matrix = data.matrix
        self.item_matrix = data.item_user
        self.user_values = values_by_user
        self.item_values = values_by_item
        self.objective = objective
        self.x = user_factors
        self.y = item_factors
        self.solver = solver
        self.cg_steps = cg_steps
        n_users, n_items = data.shape
        k = user_factors.shape[1]
        chunks = 8 * numba.config.NUMBA_NUM_THREADS
        self.user_reg = objective.row_regularization(data.user_counts(), n_items)
        self.item_reg = objective.row_regularization(data.item_counts(), n_users)
        self.user_chunks = balanced_chunks(self.user_matrix.indptr, k, chunks)
        self.item_chunks = balanced_chunks(self.item_matrix.indptr, k, chunks)

    def _solve(self, matrix, values, other, reg, chunks, out) -> int:
        o = self.objective
        args = (
            matrix.indptr,
            matrix.indices,
            values,
            other,
            reg,
            o.unobserved_weight,
            o.confidence_code,
            o.alpha,
            o.target_code,
            chunks,
        )
        if self.solver == "cg":
            return solve_cg(*args, self.cg_steps, out)
        return solve_cholesky(*args, out)

    def solve_users(self) -> int:
        """Half-step: every user row given the item factors. Returns failed rows."""
        return self._solve(
            self.user_matrix, self.user_values, self.y, self.user_reg, self.user_chunks, self.x
        )

    def solve_items(self) -> int:
        """Half-step: every item row given the user factors. Returns failed rows."""
        return self._solve(
            self.item_matrix, self.item_values, self.x, self.item_reg, self.item_chunks, self.y
        )

    def all_finite(self) -> bool:
        """True while no factor is NaN or infinite."""
        return bool(np.isfinite(self.x).all() and np.isfinite(self.y).all())

    def factors_to_host(self) -> None:
        """Factors already live in ``x`` and ``y`` on the CPU path."""

    def loss(self) -> float:
        """The exact objective at the current factors."""
        o = self.objective
        m = self.user_matrix
        return objective(
            m.indptr,
            m.indices,
            self.user_values,
            self.x,
            self.y,
            self.user_reg,
            self.item_reg,
            float(o.unobserved_weight),
            o.confidence_code,
            float(o.alpha),
            o.target_code,
        )


class TorchTrainer(Trainer):
    """The same loop on torch tensors (a CUDA GPU, or torch's CPU device for tests).

    The interaction arrays and both factor matrices live on the device; only
    ``indptr`` stays on the host too, to plan the padded row buckets.
    """

    def __init__(self, *args, device: str = "cuda", **kwargs) -> None:
        import torch

        super().__init__(*args, **kwargs)
        self.device = torch.device(device)

        def put(array):
            return torch.as_tensor(np.ascontiguousarray(array), device=self.device)

        self.t_user = (put(self.user_matrix.indices.astype(np.int64)), put(self.user_values))
        self.t_item = (put(self.item_matrix.indices.astype(np.int64)), put(self.item_values))
        self.t_user_reg, self.t_item_reg = put(self.user_reg), put(self.item_reg)
        self.t_x, self.t_y = put(self.x), put(self.y)

    def _torch_solve(self, matrix, arrays, other, reg, out) -> int:
        from alsrec.kernels import torch_solvers

        o = self.objective
        return torch_solvers.solve(
            matrix.indptr,
            arrays[0],
            arrays[1],
            other,
            reg,
            o.unobserved_weight,
            o.confidence_code,
            o.alpha,
            o.target_code,
            out,
            self.solver,
            self.cg_steps,
        )

    def solve_users(self) -> int:
        """Half-step on the device: every user row given the item factors."""
        return self._torch_solve(self.user_matrix, self.t_user, self.t_y, self.t_user_reg, self.t_x)

    def solve_items(self) -> int:
        """Half-step on the device: every item row given the user factors."""
        return self._torch_solve(self.item_matrix, self.t_item, self.t_x, self.t_item_reg, self.t_y)

    def loss(self) -> float:
        """The exact objective at the current device factors."""
        from alsrec.kernels import torch_solvers

        o = self.objective
        return torch_solvers.objective(
            self.user_matrix.indptr,
            self.t_user[0],
            self.t_user[1],
            self.t_x,
            self.t_y,
            self.t_user_reg,
            self.t_item_reg,
            o.unobserved_weight,
            o.confidence_code,
            o.alpha,
            o.target_code,
        )

    def all_finite(self) -> bool:
        """True while no device factor is NaN or infinite."""
        import torch

        return bool(torch.isfinite(self.t_x).all() and torch.isfinite(self.t_y).all())

    def factors_to_host(self) -> None:
        """Copy the device factors back into ``x`` and ``y``."""
        self.x = self.t_x.cpu().numpy()
        self.y = self.t_y.cpu().numpy()


def fit_biases(
    data: Interactions, damping: float, sweeps: int = 3
) -> tuple[float, np.ndarray, np.ndarray]:
    """Damped baseline mu + b_u + b_i by alternating means (Koren's baseline predictor).

    ``b_i = sum_u (r - mu - b_u) / (n_i + damping)``, then the same for users;
    a few sweeps converge on rating data.
    """
    ratings = data.matrix.data.astype(np.float64)
    users, items = data.row_indices(), data.matrix.indices
    mu = float(ratings.mean())
    user_bias = np.zeros(data.n_users)
    item_bias = np.zeros(data.n_items)
    item_counts, user_counts = data.item_counts(), data.user_counts()
    for _ in range(sweeps):
        residual = ratings - mu - user_bias[users]
        item_bias = np.bincount(items, residual, data.n_items) / (item_counts + damping)
        residual = ratings - mu - item_bias[items]
        user_bias = np.bincount(users, residual, data.n_users) / (user_counts + damping)
    return mu, user_bias, item_bias


class ALS(FactorModel):
    """Matrix factorization by weighted alternating least squares.

    One objective (see :mod:`alsrec.models.objective`) covers explicit
    ratings, implicit feedback and the blog's missing-as-zero model; a preset
    fills in its settings, and every setting can be overridden.

    Parameters
    ----------
    preset : {"implicit", "explicit", "zeros"}
        Named settings. ``None`` values below take the preset's default.
    factors : int, optional
        Latent dimension k (explicit/implicit 64, zeros 20).
    regularization : float, optional
        lambda (explicit 0.05, scaled by counts; implicit 0.01; zeros 0.001).
    alpha : float, optional
        Confidence scale for implicit data (default 1.0).
    confidence : {"one", "linear", "log", "scaled"}, optional
        How a value maps to a confidence c.
    unobserved_weight : float, optional
        w0, the weight of every missing cell.
    target : {"value", "one"}, optional
        Fit the values themselves or 1 (preference).
    reg_exponent : float, optional
        nu: lambda_u = lambda * (n_u + w0 * n_items) ** nu (ALS-WR and Spark: 1).
    use_biases : bool, optional
        Fit mu, b_u, b_i first and factorise the residual (explicit: True).
    count_unobserved : bool, optional
        Count ``w0 * n_items`` in the regularisation scaling (default True);
        False scales by observed counts only, as Spark does.
    iterations : int, optional
        Full alternations (explicit/implicit 15, zeros 20).
    solver : {"cholesky", "cg"}
        Exact solves, or ``cg_steps`` conjugate-gradient steps warm-started
        from the previous iterate.
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
        callback can compute a validation metric.
    tol : float, optional
        Stop when the relative loss decrease of an iteration is below this.
    compute_loss : bool
        Evaluate the objective after every iteration (O(nnz k + (m + n) k^2)).
    device : str
        ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"``. A GPU is only used when
        asked for, and asking for one where none is available is an error.
    backend : {"numba", "torch"}, optional
        Kernels: numba on the CPU (default for ``device="cpu"``) or PyTorch
        (required for CUDA; ``backend="torch", device="cpu"`` runs the GPU code
        on torch's CPU device, for testing).

    Examples
    --------
    >>> import alsrec
    >>> data = alsrec.generate(200, 100, 3000, seed=0).interactions
    >>> model = alsrec.ALS("implicit", factors=8, iterations=5, random_state=0).fit(data)
    >>> model.recommend(0, n=3).shape[0]
    3
    """

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
        solver: Literal["cholesky", "cg"] = "cholesky",
        cg_steps: int = 3,
        dtype: str = "float32",
        random_state: int | None = None,
        num_threads: int = 0,
        show_progress: bool = False,
        callback: Callback | None = None,
        tol: float | None = None,
        compute_loss: bool = True,
        device: str = "cpu",
        backend: Literal["numba", "torch"] | None = None,
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

    def _settings(self) -> tuple[Objective, int, int, np.dtype]:
        objective = self.resolved_objective()
        defaults = preset_defaults(self.preset)
        factors = defaults["factors"] if self.factors is None else self.factors
        iterations = defaults["iterations"] if self.iterations is None else self.iterations
        if not isinstance(factors, int | np.integer) or factors < 1:
            raise ParameterError(f"factors={factors!r} must be a positive whole number.")
        if not isinstance(iterations, int | np.integer) or iterations < 1:
            raise ParameterError(f"iterations={iterations!r} must be a positive whole number.")
        if self.solver not in ("cholesky", "cg"):
            raise ParameterError(f"solver={self.solver!r} must be 'cholesky' or 'cg'.")
        if self.solver == "cg" and (not isinstance(self.cg_steps, int) or self.cg_steps < 1):
            raise ParameterError(f"cg_steps={self.cg_steps!r} must be a positive whole number.")
        if self.dtype not in ("float32", "float64"):
            raise ParameterError(f"dtype={self.dtype!r} must be 'float32' or 'float64'.")
        if self.tol is not None and not self.tol >= 0:
            raise ParameterError(f"tol={self.tol!r} must be >= 0.")
        self._backend()
        return objective, int(factors), int(iterations), np.dtype(self.dtype)

    def _backend(self) -> str:
        """``"numba"`` or ``"torch"``, after checking device and backend agree and exist."""
        device = str(self.device)
        if not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
            raise ParameterError(f"device={self.device!r} must be 'cpu', 'cuda' or 'cuda:N'.")
        backend = self.backend or ("numba" if device == "cpu" else "torch")
        if backend not in ("numba", "torch"):
            raise ParameterError(f"backend={self.backend!r} must be 'numba' or 'torch'.")
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
        (objective after each iteration), ``fit_seconds_`` and ``n_iter_``.
        If training fails or is interrupted, the model is left unfitted.
        """
        require_interactions(data, "fit")
        objective, k, iterations, dtype = self._settings()
        if data.nnz == 0:
            raise DataError("the training data holds no interactions.")
        if k > min(data.shape):
            warnings.warn(
                f"factors={k} exceeds min(n_users, n_items)={min(data.shape)}: the extra "
                f"dimensions can only fit noise; regularization keeps the solution defined.",
                stacklevel=2,
            )
        if objective.confidence != "one" and data.matrix.data.min() < 0:
            raise DataError(
                "implicit confidences need values >= 0, but the data holds negative values; "
                "use preset='explicit' for signed ratings."
            )
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
            self.solver,
            self.cg_steps,
        )
        if self._backend() == "torch":
            trainer = TorchTrainer(*trainer_args, device=str(self.device))
        else:
            trainer = Trainer(*trainer_args)
        history: list[float] = []
        start = time.perf_counter()
        bar = _progress(iterations, self.show_progress)
        try:
            with thread_limits(self.num_threads):
                for iteration in range(1, iterations + 1):
                    failed = trainer.solve_users() + trainer.solve_items()
                    _check_finite(trainer, iteration, failed, objective)
                    loss = trainer.loss() if self.compute_loss else float("nan")
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
                    if _converged(history, self.tol):
                        break
        finally:
            if bar is not None:
                bar.close()
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
        self.loss_history_ = history
        self.n_iter_ = len(history)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _call_back(self, trainer, data, state, iteration: int, elapsed: float, loss: float) -> bool:
        """Run the callback with the model scoreable at the current iterate; False stops.

        The model holds the current factors only while the callback runs (so it
        can score a validation split, as pruned tuning does); it is unfitted
        again afterwards, even if the callback raises.
        """
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
        try:
            return self.callback(iteration, elapsed, loss) is not False
        finally:
            self._clear_fitted()


def _converged(history: list[float], tol: float | None) -> bool:
    """Relative decrease of the last iteration below ``tol``."""
    if tol is None or len(history) < 2 or not history[-2] > 0:
        return False
    return (history[-2] - history[-1]) / history[-2] < tol


def _converged(history: list[float], tol: float | None) -> bool:
    """Relative decrease of the last iteration below ``tol``."""
    if tol is None or len(history) < 2 or not history[-2] > 0:
        return False
    return (history[-2] - history[-1]) / history[-2] < tol


def _progress(total: int, show: bool):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="ALS", unit="it")


def _check_finite(trainer: Trainer, iteration: int, failed: int, objective: Objective) -> None:
    if failed == 0 and trainer.all_finite():
        return
    if objective.regularization == 0:
        cause = "regularization is 0, so rows with fewer ratings than factors are singular"
    elif objective.alpha * 1.0 > 1e4:
        cause = f"alpha={objective.alpha} makes confidences overflow float32"
    else:
        cause = "the system is ill-conditioned; raise regularization or use dtype='float64'"
    raise NumericalError(
        f"training diverged at iteration {iteration} ({failed} rows could not be solved, or "
        f"factors became NaN/inf): {cause}. The model was left unfitted."
    )
