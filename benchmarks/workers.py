"""One measurement per process: ``python -m benchmarks.workers '<json task>'``.

Prints one JSON line: timings, the objective reached, and peak memory.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import CACHE
from benchmarks.rating_tasks import rating_fold

REAL_DATA = ("ml-latest-small", "lastfm")  # cached as their user x item CSR matrices


def load_data(spec: dict):
    """ml-latest-small, Last.fm or a synthetic matrix of the ML-25M shape, as a CSR matrix.

    Always read from the benchmark cache, without importing alsrec, so that a
    peer's process carries none of alsrec's modules (pandas, numba) into its
    measured memory. A missing cache file is built first by the ``prepare``
    task in a process of its own.
    """
    path = _cache_path(spec)
    if not path.is_file():
        from benchmarks.harness import run_worker

        run_worker({"task": "prepare", "data": spec["data"], "nnz": spec.get("nnz", 0)})
    import scipy.sparse as sp

    with np.load(path, allow_pickle=False) as f:
        return sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))


def _cache_path(spec: dict) -> Path:
    if spec["data"] in REAL_DATA:
        return CACHE / f"{spec['data']}.npz"
    return CACHE / f"synthetic-{int(spec['nnz'])}.npz"


def _build_data(spec: dict):
    import alsrec
    from alsrec.data import ML25M_SHAPE

    if spec["data"] == "ml-latest-small":
        return alsrec.load_movielens("ml-latest-small", progress=False).matrix
    if spec["data"] == "lastfm":
        return alsrec.load_lastfm(progress=False).matrix
    return alsrec.generate(
        *ML25M_SHAPE, int(spec["nnz"]), values="implicit", seed=0
    ).interactions.matrix


def implicit_objective(matrix, x, y, regularization: float, alpha: float) -> float:
    """The implicit library's objective, computed by alsrec's exact loss kernel."""
    from alsrec.kernels import make_weights, objective
    from alsrec.kernels.weights import CONFIDENCE_SCALED, TARGET_ONE

    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.float32)
    m, n = matrix.shape
    return objective(
        matrix.indptr,
        matrix.indices,
        matrix.data,
        x,
        y,
        np.full(m, regularization),
        np.full(n, regularization),
        make_weights(1.0, CONFIDENCE_SCALED, alpha, TARGET_ONE),
    )


def implicit_objective_model(task: dict, **extra):
    """alsrec's ALS minimising the implicit library's objective, as ``task`` sets it."""
    import alsrec

    return alsrec.ALS(
        "implicit",
        factors=task["factors"],
        regularization=task["reg"],
        alpha=task["alpha"],
        confidence="scaled",
        iterations=task["iterations"],
        solver=task["solver"],
        cg_steps=task.get("cg_steps", 3),
        random_state=0,
        **extra,
    )


def prepare(task: dict) -> dict:
    """Build and cache the data set once, in its own process, so that no measured
    process's peak memory includes building it (nor alsrec's modules, for a peer)."""
    path = _cache_path(task)
    if path.is_file():
        return {"nnz": int(load_data(task).nnz)}
    matrix = _build_data(task)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        data=matrix.data,
        indices=matrix.indices,
        indptr=matrix.indptr,
        shape=np.array(matrix.shape),
    )
    tmp.replace(path)
    return {"nnz": int(matrix.nnz)}


def fit(task: dict) -> dict:
    matrix = load_data(task)
    k, iterations, reg, alpha = task["factors"], task["iterations"], task["reg"], task["alpha"]
    solver = task["solver"]
    if task["lib"] == "alsrec":
        import alsrec

        data = alsrec.Interactions.from_scipy(matrix)
        model = implicit_objective_model(task, compute_loss=False)
        if task.get("warmup"):  # JIT compilation is cached on disk; keep it out of the timing
            alsrec.ALS("implicit", factors=k, iterations=1, solver=solver).fit(
                alsrec.generate(300, 200, 3000, values="implicit").interactions
            )
            # the parallel transpose runs only from 1M interactions: load it for these dtypes
            from alsrec.kernels.sparse import transpose_csr

            head = data.matrix[:10]
            transpose_csr(head.indptr, head.indices, head.data, head.shape[1])
        start = time.perf_counter()
        model.fit(data)
        seconds = time.perf_counter() - start
        x, y = model.user_factors_, model.item_factors_
    else:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        model = AlternatingLeastSquares(
            factors=k,
            regularization=reg,
            alpha=alpha,
            iterations=iterations,
            use_cg=solver == "cg",
            random_state=0,
        )
        with threadpool_limits(1, "blas"):  # implicit's own advice for its CPU solver
            start = time.perf_counter()
            model.fit(matrix, show_progress=False)
            seconds = time.perf_counter() - start
        x, y = model.user_factors, model.item_factors
    peak = peak_mib()  # before the loss, whose kernel is alsrec's (imported in both processes)
    loss = implicit_objective(matrix, x, y, reg, alpha)
    return {
        "seconds": seconds,
        "per_iteration": seconds / iterations,
        "loss": loss,
        "peak_mib": peak,
        "nnz": int(matrix.nnz),
        "shape": list(matrix.shape),
    }


def default_fit(task: dict) -> dict:
    """Each library out of the box, the first fit of a fresh process timed, and the
    import of the library apart (numpy and SciPy are imported before either).

    alsrec: ``ALS("implicit", **overrides)`` with its preset defaults; implicit:
    ``AlternatingLeastSquares()`` with its defaults, fed the same user x item values
    (its documented input), with one BLAS thread as implicit advises. A second fit
    in the same process gives the warm time. Quality: recall@20 of 5 held-out items
    for 20% of the users (the same split for both).
    """
    train, held = holdout_split(load_data(task))  # numpy and SciPy are imported by now
    start = time.perf_counter()
    if task["lib"] == "alsrec":
        import alsrec

        import_seconds = time.perf_counter() - start

        def fit_once():  # wrapping the CSR counts: implicit is handed the CSR itself
            model = alsrec.ALS("implicit", random_state=0, **task.get("overrides", {}))
            model.fit(alsrec.Interactions.from_scipy(train))
            return model.user_factors_, model.item_factors_
    else:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        import_seconds = time.perf_counter() - start

        def fit_once():
            model = AlternatingLeastSquares(random_state=0)
            with threadpool_limits(1, "blas"):
                model.fit(train, show_progress=False)
            return model.user_factors, model.item_factors

    times = []
    for _ in range(2):
        start = time.perf_counter()
        x, y = fit_once()
        times.append(time.perf_counter() - start)
    return {
        "import": import_seconds,
        "first": times[0],
        "warm": times[1],
        "recall": holdout_recall(train, held, x, y, 20),
        "peak_mib": peak_mib(),
    }


def holdout_split(matrix, fraction: float = 0.2, holdout: int = 5, seed: int = 0):
    """Hide ``holdout`` random cells of a random ``fraction`` of the users with more than
    ``2 * holdout`` cells; returns the training matrix and {user: hidden item indices}."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    counts = np.diff(matrix.indptr)
    eligible = np.flatnonzero(counts > 2 * holdout)
    users = rng.choice(eligible, size=int(fraction * len(eligible)), replace=False)
    keep = np.ones(matrix.nnz, dtype=bool)
    held = {}
    for user in users:
        start = matrix.indptr[user]
        cells = start + rng.choice(counts[user], size=holdout, replace=False)
        keep[cells] = False
        held[int(user)] = matrix.indices[cells]
    coo = matrix.tocoo()
    train = sp.csr_matrix(
        (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape, dtype=np.float32
    )
    return train, held


def holdout_recall(train, held: dict, x, y, n: int) -> float:
    """Mean over held-out users of |top-n unseen items & hidden items| / |hidden items|."""
    users = np.fromiter(held, dtype=np.int64)
    scores = np.asarray(x[users], dtype=np.float64) @ np.asarray(y, dtype=np.float64).T
    seen = train[users]
    scores[np.repeat(np.arange(len(users)), np.diff(seen.indptr)), seen.indices] = -np.inf
    top = np.argpartition(-scores, n, axis=1)[:, :n]
    return float(np.mean([np.isin(held[u], top[i]).mean() for i, u in enumerate(users)]))


def loss_curve(task: dict) -> dict:
    """The objective after every iteration (untimed runs; pair them with ``fit`` timings)."""
    matrix = load_data(task)
    k, iterations, reg, alpha = task["factors"], task["iterations"], task["reg"], task["alpha"]
    losses: list[float] = []
    if task["lib"] == "alsrec":
        import alsrec

        implicit_objective_model(task, callback=lambda it, t, loss: losses.append(loss)).fit(
            alsrec.Interactions.from_scipy(matrix)
        )
    else:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=k,
                regularization=reg,
                alpha=alpha,
                iterations=iterations,
                use_cg=task["solver"] == "cg",
                random_state=0,
            )
            model.fit(
                matrix,
                show_progress=False,
                callback=lambda it, t, loss: losses.append(
                    implicit_objective(matrix, model.user_factors, model.item_factors, reg, alpha)
                ),
            )
    return {"losses": losses}


def topk(task: dict) -> dict:
    matrix = load_data(task)
    n, repeats = task["n"], task["repeats"]
    if task["lib"] == "alsrec":
        import alsrec

        data = alsrec.Interactions.from_scipy(matrix)
        model = alsrec.ALS("implicit", factors=64, iterations=2, random_state=0).fit(data)
        model.recommend_batch(n=n)  # warm-up (JIT)

        def run():
            return model.top_n_indices(np.arange(matrix.shape[0]), n)
    else:
        from implicit.cpu.als import AlternatingLeastSquares

        model = AlternatingLeastSquares(factors=64, iterations=2, random_state=0)
        model.fit(matrix, show_progress=False)
        users = np.arange(matrix.shape[0])

        def run():
            return model.recommend(users, matrix, N=n, filter_already_liked_items=True)

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"seconds": float(np.median(times)), "peak_mib": peak_mib()}


def zeros(task: dict) -> dict:
    """The blog's model: alsrec's zeros preset or the dense numpy math it replaces."""
    import alsrec

    data = alsrec.load_movielens("ml-latest-small")
    k, lam, iterations = 20, 0.001, 20
    alsrec.ALS("zeros", iterations=1).fit(data)  # load the compiled kernels first
    start = time.perf_counter()
    if task["lib"] == "alsrec":
        model = alsrec.ALS("zeros", random_state=0, compute_loss=False).fit(data)
        x, y = model.user_factors_, model.item_factors_
    else:
        r = data.matrix.toarray()
        y = np.random.default_rng(0).standard_normal((data.n_items, k)).astype(np.float32) * 0.01
        for _ in range(iterations):
            x = r @ y @ np.linalg.inv(y.T @ y + lam * np.eye(k, dtype=np.float32))
            y = r.T @ x @ np.linalg.inv(x.T @ x + lam * np.eye(k, dtype=np.float32))
    seconds = time.perf_counter() - start
    model = alsrec.ALS("zeros")
    objective = model.resolved_objective()
    from alsrec.kernels import objective as loss_kernel

    m = data.matrix
    loss = loss_kernel(
        m.indptr,
        m.indices,
        m.data,
        np.ascontiguousarray(x, np.float32),
        np.ascontiguousarray(y, np.float32),
        np.full(m.shape[0], lam),
        np.full(m.shape[1], lam),
        objective.weights,  # the zeros preset: w0 = 1, c = 1, p = r
    )
    return {"seconds": seconds, "loss": loss, "peak_mib": peak_mib()}


def gemm_peak(task: dict) -> dict:
    """Best float32 matrix-multiply rate of this machine (all cores), in GFLOP/s."""
    size = task.get("size", 4096)
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    a @ b
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    from threadpoolctl import threadpool_info

    return {
        "gflops": best,
        "blas": [
            (i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()
        ],
    }


def spark_fit(task: dict) -> dict:
    """SparkALS (local[2]) or its exact alsrec counterpart; Spark start-up is not timed."""
    import alsrec
    from alsrec.spark import SparkALS, local_session, spark_counterpart

    data = alsrec.Interactions.from_scipy(load_data(task))
    params = {
        "factors": task["factors"],
        "regularization": 0.05,
        "iterations": task["iterations"],
        "implicit": True,
        "alpha": 1.0,
    }
    spark_model = SparkALS(num_blocks=task.get("blocks"), **params)
    if task["lib"] == "spark":
        session = local_session(2, memory="8g")
        warm = alsrec.generate(300, 200, 3000, values="implicit").interactions
        SparkALS(factors=2, iterations=1, implicit=True, spark=session).fit(warm)
        spark_model.spark = session
        model = spark_model
    else:
        model = spark_counterpart(spark_model, compute_loss=False)
        model.fit(alsrec.generate(300, 200, 3000, values="implicit").interactions)  # JIT cache
    start = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mib": peak_mib(), "nnz": int(data.nnz)}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


TASKS = {
    "prepare": prepare,
    "fit": fit,
    "topk": topk,
    "zeros": zeros,
    "gemm_peak": gemm_peak,
    "spark_fit": spark_fit,
    "loss_curve": loss_curve,
    "default_fit": default_fit,
    "rating_fold": rating_fold,
}

if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    print(json.dumps(TASKS[spec["task"]](spec)))
