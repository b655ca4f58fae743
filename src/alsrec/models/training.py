"""The ALS loop's machinery: trainers that step half by half, thread limits, biases.

``Trainer`` (numba, CPU) and ``TorchTrainer`` (torch, GPU) hold both CSR
orientations and both factor matrices; :class:`~alsrec.models.als.ALS` owns
the loop and calls ``solve_users`` / ``solve_items`` / ``loss``. Tests step
them directly to check that every half-step lowers the exact objective.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext

import numba
import numpy as np

from alsrec.data.interactions import Interactions
from alsrec.kernels import balanced_chunks, objective, solve_cg, solve_cholesky
from alsrec.kernels.weights import cell_weights
from alsrec.models.objective import Objective, damped_means

# numba's "workqueue" threading layer (used where neither OpenMP nor TBB loads) aborts the
# process when two Python threads launch parallel kernels at once; fits then take turns.
_WORKQUEUE_LOCK = threading.RLock()


def _launches_must_take_turns() -> bool:
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:  # no parallel kernel has run yet: the layer is not chosen
        return True


@contextmanager
def thread_limits(num_threads: int):
    """Run numba kernels on ``num_threads`` threads (0 = all) for the duration.

    Only numba's thread count of the calling thread changes
    (``numba.set_num_threads`` is thread-local) and it is restored on exit.
    No kernel calls BLAS inside numba's threads, so BLAS needs no limit here.
    Fits in several Python threads at once run side by side on the OpenMP and
    TBB layers and take turns on the workqueue layer, which cannot run them
    concurrently; either way each gives the factors it gives alone.
    """
    turns = _WORKQUEUE_LOCK if _launches_must_take_turns() else nullcontext()
    with turns:
        previous = numba.get_num_threads()
        wanted = numba.config.NUMBA_NUM_THREADS if num_threads <= 0 else num_threads
        numba.set_num_threads(min(wanted, numba.config.NUMBA_NUM_THREADS))
        try:
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
        args = (matrix.indptr, matrix.indices, values, other, reg, self.objective.weights, chunks)
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
        m = self.user_matrix
        return objective(
            m.indptr,
            m.indices,
            self.user_values,
            self.x,
            self.y,
            self.user_reg,
            self.item_reg,
            self.objective.weights,
        )


class TorchTrainer(Trainer):
    """The same loop on torch tensors (a CUDA GPU, or torch's CPU device for tests).

    The interaction arrays and both factor matrices live on the device; only
    ``indptr`` stays on the host too, to plan the padded row buckets. Each
    cell's c and c p are computed once, on the host, by the same formulas as
    the numba kernels (:func:`~alsrec.kernels.weights.cell_weights`).
    """

    def __init__(self, *args, device: str = "cuda", **kwargs) -> None:
        import torch

        super().__init__(*args, **kwargs)
        self.device = torch.device(device)

        def put(array):
            return torch.as_tensor(np.ascontiguousarray(array), device=self.device)

        dtype = self.x.dtype

        def cells(matrix, values):
            """One orientation on the device (column indices, c, c p), and p on the host."""
            c, p = cell_weights(values, self.objective.weights)
            on_device = (
                put(matrix.indices.astype(np.int64)),
                put(c.astype(dtype)),
                put((c * p).astype(dtype)),
            )
            return on_device, p

        self.t_user, user_targets = cells(self.user_matrix, self.user_values)
        self.t_item, _ = cells(self.item_matrix, self.item_values)
        self.t_user_targets = put(user_targets.astype(dtype))  # p, for the loss
        self.t_user_reg, self.t_item_reg = put(self.user_reg), put(self.item_reg)
        self.t_x, self.t_y = put(self.x), put(self.y)

    def _torch_solve(self, matrix, arrays, other, reg, out) -> int:
        from alsrec.kernels import torch_solvers

        indices, confidence, rhs_coef = arrays
        return torch_solvers.solve(
            matrix.indptr,
            indices,
            confidence,
            rhs_coef,
            other,
            reg,
            self.objective.unobserved_weight,
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

        return torch_solvers.objective(
            self.user_matrix.indptr,
            self.t_user[0],
            self.t_user[1],
            self.t_user_targets,
            self.t_x,
            self.t_y,
            self.t_user_reg,
            self.t_item_reg,
            self.objective.unobserved_weight,
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
        item_bias = damped_means(items, ratings - mu - user_bias[users], item_counts, damping)
        user_bias = damped_means(users, ratings - mu - item_bias[items], user_counts, damping)
    return mu, user_bias, item_bias
