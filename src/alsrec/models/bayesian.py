"""``BayesianALS``: Bayesian matrix factorisation by Gibbs sampling (BPMF with biases).

The model (Salakhutdinov & Mnih 2008, with a global mean and biases):

    r_ui ~ N(mu + b_u + b_i + x_u . y_i, 1 / tau)
    [x_u, b_u] ~ N(m_U, P_U^-1),   [y_i, b_i] ~ N(m_V, P_V^-1)
    (m_U, P_U), (m_V, P_V) ~ Normal-Wishart(0, beta0 = 2, W0 = I, nu0 = k + 1)
    tau ~ Gamma(1, 1),   mu ~ N(0, 1)

Each bias rides in its row's vector (paired with a constant 1 on the other
side), so one (k + 1)-dimensional Gaussian prior, with a sampled full
precision, covers factors and bias. A sweep draws the user hyperparameters,
every user row from its Gaussian full conditional (the ALS row system with
the prior precision in place of lambda, solved through its Cholesky factor
plus one triangular solve with standard normals), the same for items, then
mu and tau. There is no lambda to tune: the regularisation is sampled.

Predictions average the kept samples. Since
``mean_s(x_s . y_s) = [x_1 .. x_S] . [y_1 .. y_S] / S``, the fitted model
stores the kept samples' factors side by side, each scaled by ``1 / sqrt(S)``,
and the averaged biases and mean: the shared :class:`FactorModel` then
recommends, predicts, finds similar items and saves exactly the posterior-mean
predictor. Memory: ``S * k`` values per user and per item (plus ``S`` item
biases per item and ``S (k + 1)^2`` hyperparameters kept for fold-in), so
``max_samples`` caps S, and thinning spreads the kept samples over the chain.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from alsrec.data.interactions import Interactions, require_interactions
from alsrec.errors import DataError, NumericalError, ParameterError
from alsrec.kernels import balanced_chunks
from alsrec.kernels.sampling import row_residuals, sample_normal_wishart, sample_rows
from alsrec.models.als import _progress
from alsrec.models.base import FactorModel
from alsrec.models.params import Param, check_params, positive_int
from alsrec.models.training import thread_limits

Callback = Callable[[int, float, float], Any]

USERS, ITEMS, FOLD_IN = 0, 1, 2  # the ``side`` of a random stream
HYPER_STREAM = 3  # extra seed word of the hyperparameters' generator
BETA0 = 2.0  # Normal-Wishart: strength of the prior mean 0
GAMMA_SHAPE, GAMMA_RATE = 1.0, 1.0  # Gamma prior of the noise precision tau
MEAN_PRECISION = 1.0  # N(0, 1) prior of the global mean mu
INIT_STD = 0.1  # initial rows ~ N(0, INIT_STD^2), as myFM


class BayesianALS(FactorModel, name="BayesianALS", specs={"bayesian": {}}):
    """Bayesian matrix factorisation of ratings, sampled by Gibbs sweeps of ALS row systems.

    Parameters
    ----------
    factors : int
        Latent dimension k.
    sweeps : int
        Gibbs sweeps (each draws every user, every item and the hyperparameters).
    burn_in : int
        Sweeps discarded before samples are kept.
    thinning : int, optional
        Keep every ``thinning``-th sweep after burn-in; by default the smallest
        step that keeps at most ``max_samples``.
    max_samples : int
        At most this many samples S are kept (the last ones); the fitted
        factors have ``S * factors`` columns.
    dtype : {"float32", "float64"}
        Storage of the fitted factors (sampling runs in float64).
    random_state : int, optional
        Seed; same seed, same samples, bit for bit, on any thread count.
    num_threads : int
        0 = all cores.
    show_progress : bool
        A progress bar over sweeps with the current sample's train RMSE.
    callback : callable, optional
        ``callback(sweep, elapsed_seconds, train_rmse)`` after each sweep;
        returning ``False`` stops sampling (the samples kept so far are used,
        or the last sweep's when none was kept yet).

    Attributes
    ----------
    rmse_history_ : list of float
        Train RMSE of each sweep's sample.
    noise_precision_history_ : list of float
        tau drawn at each sweep (its posterior mean estimates 1 / noise variance).
    n_samples_ : int
        Samples S averaged by the fitted model.

    Examples
    --------
    >>> import alsrec
    >>> data = alsrec.generate(200, 100, 3000, seed=0).interactions
    >>> model = alsrec.BayesianALS(factors=4, sweeps=20, random_state=0).fit(data)
    >>> model.user_factors_.shape == (200, 4 * model.n_samples_)
    True
    """

    parameters = (
        positive_int("factors"),
        positive_int("sweeps"),
        Param("burn_in", "int", 0.0),
        Param("thinning", "int", 1.0, optional=True),
        positive_int("max_samples"),
        Param("dtype", "choice", choices=("float32", "float64")),
        Param("random_state", "int", 0.0, optional=True),
        Param("num_threads", "int"),  # 0 or less: all cores
        Param("show_progress", "bool"),
    )
    _fitted_attributes = (
        *FactorModel._fitted_attributes,
        "rmse_history_",
        "noise_precision_history_",
        "fit_seconds_",
        "sample_item_bias_",
        "sample_global_mean_",
        "sample_noise_precision_",
        "sample_user_prior_mean_",
        "sample_user_prior_precision_",
    )
    # Per-sample state that fold-in needs; model files store these arrays too (persistence
    # knows them as sample_item_bias, ...: the attribute names without the trailing _).
    _saved_arrays = (
        "sample_item_bias_",
        "sample_global_mean_",
        "sample_noise_precision_",
        "sample_user_prior_mean_",
        "sample_user_prior_precision_",
    )

    def __init__(
        self,
        factors: int = 10,
        sweeps: int = 200,
        burn_in: int = 10,
        thinning: int | None = None,
        max_samples: int = 100,
        dtype: str = "float32",
        random_state: int | None = None,
        num_threads: int = 0,
        show_progress: bool = False,
        callback: Callback | None = None,
    ) -> None:
        self.factors = factors
        self.sweeps = sweeps
        self.burn_in = burn_in
        self.thinning = thinning
        self.max_samples = max_samples
        self.dtype = dtype
        self.random_state = random_state
        self.num_threads = num_threads
        self.show_progress = show_progress
        self.callback = callback

    # ------------------------------------------------------------------ settings
    def _check_params(self) -> None:
        check_params(self.get_params(), self.parameters)
        if not self.burn_in < self.sweeps:  # the one constraint between two parameters
            raise ParameterError(
                f"burn_in={self.burn_in!r} must be below sweeps={self.sweeps} "
                f"so that some sweeps are kept."
            )

    def kept_sweeps(self) -> np.ndarray:
        """The sweeps (1-based) whose samples the fitted model averages."""
        self._check_params()
        after = self.sweeps - self.burn_in
        step = self.thinning or math.ceil(after / self.max_samples)
        # counted back from the last sweep, so the chain's final state is always kept
        kept = np.arange(self.sweeps, self.burn_in, -step)[: self.max_samples]
        return kept[::-1].copy()

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().entropy % (1 << 63))
        return int(self.random_state) % (1 << 63)

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Interactions) -> BayesianALS:
        """Sample the posterior given the ratings in ``data``; returns self.

        If sampling fails or is interrupted, the model is left unfitted.
        """
        require_interactions(data, "fit")
        self._check_params()
        if data.nnz == 0:
            raise DataError("the training data holds no ratings.")
        self._clear_fitted()
        seed = self._seed()
        chain = _Chain(data, int(self.factors), seed)
        kept = self.kept_sweeps()
        k, n_kept = int(self.factors), len(kept)
        store = _SampleStore(data.n_users, data.n_items, k, n_kept)
        history: list[float] = []
        taus: list[float] = []
        start = time.perf_counter()
        bar = _progress(int(self.sweeps), self.show_progress, "BayesianALS")
        try:
            with thread_limits(self.num_threads):
                for sweep in range(1, int(self.sweeps) + 1):
                    rmse = chain.sweep(sweep)
                    history.append(rmse)
                    taus.append(chain.tau)
                    if store.count < n_kept and sweep == kept[store.count]:
                        store.add(chain)
                    if bar is not None:
                        bar.set_postfix(rmse=f"{rmse:.4f}", kept=store.count)
                        bar.update(1)
                    elapsed = time.perf_counter() - start
                    if self.callback is not None and self.callback(sweep, elapsed, rmse) is False:
                        break
        finally:
            if bar is not None:
                bar.close()
        if store.count == 0:
            store = _SampleStore(data.n_users, data.n_items, k, 1)
            store.add(chain)
        self._install(data, store)
        self.rmse_history_ = history
        self.noise_precision_history_ = taus
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _install(self, data: Interactions, store: _SampleStore) -> None:
        s = store.count
        scale = 1.0 / np.sqrt(s)  # x . y over concatenated samples = mean of per-sample x_s . y_s
        user_factors = store.side_by_side(store.user[:s], scale, self.dtype)
        item_factors = store.side_by_side(store.item[:s], scale, self.dtype)
        self._set_fitted(
            data,
            user_factors,
            item_factors,
            global_bias=float(store.mu[:s].mean()),
            user_bias=store.user_bias[:s].mean(axis=0),
            item_bias=store.item_bias[:s].mean(axis=0),
            objective=None,
        )
        self.sample_item_bias_ = store.item_bias[:s]
        self.sample_global_mean_ = store.mu[:s]
        self.sample_noise_precision_ = store.tau[:s]
        self.sample_user_prior_mean_ = store.prior_mean[:s]
        self.sample_user_prior_precision_ = store.prior_precision[:s]

    @property
    def n_samples_(self) -> int:
        """Samples S the fitted model averages."""
        self._require_fitted()
        return len(self.sample_global_mean_)

    # ------------------------------------------------------------------ fold-in
    @property
    def can_fold_in(self) -> bool:
        """True once fitted: fold-in samples against the kept samples."""
        return self.is_fitted

    def _require_objective(self) -> None:
        """Fold-in needs the kept samples' hyperparameters (always fitted and saved), not an
        ALS objective."""
        self._require_fitted()

    def _solve_user_rows(self, rows: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Fold-in by sampling: one draw of each user per kept sample, against that sample.

        For kept sample s the user's [x, b] is drawn from its full conditional
        given the sample's item factors and biases, mu, tau and user prior;
        the draws are concatenated (scaled by 1 / sqrt(S)) and the biases
        averaged, exactly like training users. Draws are seeded by
        ``random_state`` (0 when None), so fold-in is reproducible.
        """
        self._require_objective()
        rows = sp.csr_matrix(rows, dtype=np.float64)
        rows.sort_indices()
        s = self.n_samples_
        k = self.item_factors_.shape[1] // s
        indptr, indices = rows.indptr.astype(np.int64), rows.indices.astype(np.int64)
        chunks = balanced_chunks(indptr, k + 1, 8 * numba.config.NUMBA_NUM_THREADS)
        factors = np.empty((rows.shape[0], s * k), dtype=self.item_factors_.dtype)
        biases = np.zeros(rows.shape[0])
        draw = np.zeros((rows.shape[0], k + 1))
        seed = 0 if self.random_state is None else int(self.random_state) % (1 << 63)
        with thread_limits(self.num_threads):
            for sample in range(s):
                design = np.ones((self.n_items, k + 1))
                design[:, :k] = self.item_factors_[:, sample * k : (sample + 1) * k] * np.sqrt(s)
                values = (
                    rows.data
                    - self.sample_global_mean_[sample]
                    - self.sample_item_bias_[sample][indices]
                )
                failed = sample_rows(
                    indptr,
                    indices,
                    values,
                    design,
                    self.sample_user_prior_precision_[sample],
                    self.sample_user_prior_mean_[sample],
                    float(self.sample_noise_precision_[sample]),
                    seed,
                    sample,
                    FOLD_IN,
                    chunks,
                    draw,
                )
                if failed:
                    raise NumericalError(f"{failed} fold-in systems were not positive definite.")
                factors[:, sample * k : (sample + 1) * k] = draw[:, :k] / np.sqrt(s)
                biases += draw[:, k] / s
        return factors, biases


class _Chain:
    """The sampler's state: [x_u, b_u] and [y_i, b_i] rows, mu, tau and the user prior."""

    def __init__(self, data: Interactions, k: int, seed: int) -> None:
        self.k, self.seed = k, seed
        self.user_matrix, self.item_matrix = data.matrix, data.item_user
        self.user_ratings = data.matrix.data.astype(np.float64)
        self.item_ratings = data.item_user.data.astype(np.float64)
        self.user_indptr = data.matrix.indptr.astype(np.int64)
        self.user_indices = data.matrix.indices.astype(np.int64)
        self.item_indptr = data.item_user.indptr.astype(np.int64)
        self.item_indices = data.item_user.indices.astype(np.int64)
        chunks = 8 * numba.config.NUMBA_NUM_THREADS
        self.user_chunks = balanced_chunks(self.user_indptr, k + 1, chunks)
        self.item_chunks = balanced_chunks(self.item_indptr, k + 1, chunks)
        init = np.random.default_rng([seed, 0, HYPER_STREAM])
        self.user = init.normal(0.0, INIT_STD, (data.n_users, k + 1))
        self.item = init.normal(0.0, INIT_STD, (data.n_items, k + 1))
        self.mu = float(self.user_ratings.mean())
        self.tau = 1.0
        self.prior_mean = np.zeros(k + 1)
        self.prior_precision = np.eye(k + 1)
        self.nnz = len(self.user_ratings)

    def _half_step(self, side: int, sweep: int, rng: np.random.Generator) -> None:
        k = self.k
        rows, other = (self.user, self.item) if side == USERS else (self.item, self.user)
        indptr, indices, ratings, chunks = (
            (self.user_indptr, self.user_indices, self.user_ratings, self.user_chunks)
            if side == USERS
            else (self.item_indptr, self.item_indices, self.item_ratings, self.item_chunks)
        )
        mean, precision = sample_normal_wishart(
            rng, rows, np.zeros(k + 1), BETA0, np.eye(k + 1), float(k + 1)
        )
        if side == USERS:
            self.prior_mean, self.prior_precision = mean, precision
        design = other.copy()
        design[:, k] = 1.0  # the other side's bias column becomes the constant paired with b
        values = ratings - self.mu - other[indices, k]
        failed = sample_rows(
            indptr,
            indices,
            values,
            design,
            precision,
            mean,
            self.tau,
            self.seed,
            sweep,
            side,
            chunks,
            rows,
        )
        if failed or not np.isfinite(rows).all():
            raise NumericalError(
                f"sampling diverged at sweep {sweep}: {failed} row systems were not positive "
                f"definite or draws became NaN/inf. The model was left unfitted."
            )

    def sweep(self, sweep: int) -> float:
        """One Gibbs sweep; returns the new sample's train RMSE."""
        rng = np.random.default_rng([self.seed, sweep, HYPER_STREAM])
        self._half_step(USERS, sweep, rng)
        self._half_step(ITEMS, sweep, rng)
        left = np.column_stack([self.user, np.ones(len(self.user))])  # [x, b_u, 1]
        right = np.column_stack(
            [self.item[:, : self.k], np.ones(len(self.item)), self.item[:, self.k]]
        )  # [y, 1, b_i]
        n_users = len(self.user)
        sums, squares = np.empty(n_users), np.empty(n_users)
        row_residuals(
            self.user_indptr,
            self.user_indices,
            self.user_ratings,
            left,
            right,
            self.mu,
            sums,
            squares,
        )
        total, sse = float(sums.sum()), float(squares.sum())
        # mu | rest: Gaussian; residuals e = r - mu - rest, so r - rest = e + mu.
        precision = self.tau * self.nnz + MEAN_PRECISION
        new_mu = self.tau * (total + self.nnz * self.mu) / precision
        new_mu += rng.standard_normal() / np.sqrt(precision)
        shift = self.mu - new_mu
        sse += 2.0 * shift * total + self.nnz * shift * shift
        self.mu = float(new_mu)
        # tau | rest: Gamma(a0 + n / 2, rate b0 + SSE / 2).
        self.tau = float(rng.gamma(GAMMA_SHAPE + self.nnz / 2, 1.0 / (GAMMA_RATE + sse / 2)))
        return float(np.sqrt(max(sse, 0.0) / self.nnz))


class _SampleStore:
    """Kept samples, preallocated: factors side by side, biases, mu, tau, user prior."""

    def __init__(self, n_users: int, n_items: int, k: int, n_samples: int) -> None:
        self.count = 0
        self.user = np.empty((n_samples, n_users, k))
        self.item = np.empty((n_samples, n_items, k))
        self.user_bias = np.empty((n_samples, n_users))
        self.item_bias = np.empty((n_samples, n_items))
        self.mu = np.empty(n_samples)
        self.tau = np.empty(n_samples)
        self.prior_mean = np.empty((n_samples, k + 1))
        self.prior_precision = np.empty((n_samples, k + 1, k + 1))

    def add(self, chain: _Chain) -> None:
        s, k = self.count, self.user.shape[2]
        self.user[s] = chain.user[:, :k]
        self.item[s] = chain.item[:, :k]
        self.user_bias[s] = chain.user[:, k]
        self.item_bias[s] = chain.item[:, k]
        self.mu[s] = chain.mu
        self.tau[s] = chain.tau
        self.prior_mean[s] = chain.prior_mean
        self.prior_precision[s] = chain.prior_precision
        self.count += 1

    @staticmethod
    def side_by_side(samples: np.ndarray, scale: float, dtype: str) -> np.ndarray:
        """(S, n, k) samples as one (n, S * k) matrix [x_1 .. x_S] * scale."""
        n_samples, n, k = samples.shape
        out = np.empty((n, n_samples * k), dtype=dtype)
        for sample in range(n_samples):
            out[:, sample * k : (sample + 1) * k] = samples[sample] * scale
        return out
