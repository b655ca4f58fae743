"""alsrec on Spark executors against Spark MLlib's ALS, same session, same objective.

    python -m benchmarks.bench_spark                       # ml-latest-small
    python -m benchmarks.bench_spark --nnz 1000000         # plus a synthetic matrix
    python -m benchmarks.bench_spark --blog                # the blog's model, distributed
    python -m benchmarks.bench_spark --routing blocks      # only one way of shipping factors
    python -m benchmarks.bench_spark --solvers cg          # only the implicit preset's solver

alsrec runs once per ``--routing`` and ``--solvers``: broadcasting the fixed
side's factors, and MLlib-style block routing (each block gets only the rows
it touches); exact (Cholesky) solves as MLlib's, and the implicit preset's
default, 3 conjugate-gradient steps per row from the previous iterate.

``--blog``: the blog's zeros model (k = 20, lambda = 0.001, 20 iterations) on
the blog's protocol (ml-latest-small, seed 0, 2 folds), fitted on one machine,
on the Spark executors (``ALS("zeros", backend="spark")``) and as the blog
did it, MLlib fed every cell with missing = 0 (``MLlibALS(dense=True)``):
NDCG@20 and fit seconds per fold.

Both minimise Hu et al.'s implicit objective with w0 = 1 and Spark's
count-scaled lambda (``alsrec.spark.spark_counterpart`` builds the alsrec
side), k = 32, from their own random starts. Per-iteration time excludes
setup: alsrec's from its callback timestamps (last minus first, over
iterations - 1), MLlib's as (fit with N iterations - fit with 1) / (N - 1).
"Loss" is the exact objective of the final factors, evaluated by alsrec's
kernel for both, so "equal loss" can be checked in the table. ``--repeats
N`` runs every contender N times, alternating, and reports medians (MLlib's
per-iteration figure, a difference of two fits, varies most).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.harness import machine_description, table


def _loss(model, data) -> float:
    from alsrec.kernels import objective as exact_objective

    o = model.objective_
    m = data.matrix
    return exact_objective(
        m.indptr,
        m.indices,
        m.data,
        model.user_factors_,
        model.item_factors_,
        o.row_regularization(data.user_counts(), data.n_items),
        o.row_regularization(data.item_counts(), data.n_users),
        o.weights,
    )


def run(
    label: str,
    data,
    spark,
    k: int,
    iterations: int,
    blocks: int,
    routings: list[str],
    solvers: list[str],
    repeats: int = 1,
) -> list[list[str]]:
    """Per-iteration seconds (median over ``repeats``), fit seconds and final loss."""
    from alsrec.spark import MLlibALS, fit_spark, spark_counterpart

    peer = MLlibALS(factors=k, iterations=iterations, implicit=True, num_blocks=blocks, spark=spark)
    timings: dict[str, list[tuple[float, float]]] = {}
    losses: dict[str, float] = {}
    for _ in range(repeats):  # alternating contenders, so a slow spell hits each alike
        for routing, solver in [(r, s) for r in routings for s in solvers]:
            stamps: list[float] = []

            def stamp(iteration, elapsed, loss, stamps=stamps):
                stamps.append(elapsed)

            # MLlib computes no loss while it trains; alsrec then computes it after the
            # last iteration only (the table's loss column is recomputed for both below)
            stamp.needs_loss = False
            ours = spark_counterpart(peer, callback=stamp, solver=solver)
            ours.set_params(backend="spark")
            start = time.perf_counter()
            fit_spark(ours, data, spark, num_blocks=blocks, routing=routing)
            total = time.perf_counter() - start
            per_iteration = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
            name = f"alsrec on Spark, {routing}" + (", CG" if solver == "cg" else "")
            timings.setdefault(name, []).append((per_iteration, total))
            losses[name] = _loss(ours, data)
        # MLlib reports no per-iteration times: (fit with N - fit with 1) / (N - 1)
        fits = {}
        for n in (1, iterations):
            start = time.perf_counter()
            peer.set_params(iterations=n).fit(data)
            fits[n] = time.perf_counter() - start
        per_iteration = (fits[iterations] - fits[1]) / (iterations - 1)
        timings.setdefault("MLlib ALS", []).append((per_iteration, fits[iterations]))
        losses["MLlib ALS"] = _loss(peer, data)
    medians = {
        name: (float(np.median([t for t, _ in runs])), float(np.median([f for _, f in runs])))
        for name, runs in timings.items()
    }
    base = next(iter(medians.values()))[0]
    rows = []
    for name, (t, total_s) in medians.items():
        spread = ", ".join(f"{t_:.2f}" for t_, _ in timings[name]) if repeats > 1 else ""
        rows.append(
            [label, name, f"{t:.3f}", f"{t / base:.1f}x", f"{total_s:.1f}", f"{losses[name]:.6g}"]
            + ([spread] if repeats > 1 else [])
        )
    return rows


def blog(spark, data) -> None:
    """The blog's model on one machine, on the executors, and as MLlib fed every cell."""
    from alsrec import ALS
    from alsrec.evaluation import BlogProtocol, cross_validate
    from alsrec.models.objective import BLOG_PARAMS
    from alsrec.spark import MLlibALS

    models = {
        "alsrec zeros, one machine": ALS("zeros", random_state=0),
        "alsrec zeros on Spark executors": ALS("zeros", random_state=0, backend="spark"),
        "MLlib fed every cell (the blog)": MLlibALS(
            dense=True, random_state=0, spark=spark, **BLOG_PARAMS
        ),
    }
    ALS("zeros", iterations=1, backend="spark").fit(data)  # numba in the Python workers
    result = cross_validate(models, data, BlogProtocol(), ["ndcg@20"], seeds=[0])
    summary = result.summary().set_index("model")
    fit = result.per_fold.groupby("model")["fit_seconds"].mean()
    rows = [
        [
            name,
            f"{summary.loc[name, 'mean']:.4f}",
            f"[{summary.loc[name, 'ci_low']:.3f}, {summary.loc[name, 'ci_high']:.3f}]",
            f"{fit[name]:.1f}",
        ]
        for name in models
    ]
    print(table(rows, ["model", "NDCG@20", "95% CI", "fit s per fold"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--nnz", type=int, default=0, help="also a synthetic matrix (0: skip)")
    parser.add_argument(
        "--repeats", type=int, default=1, help="alternating runs of every contender (medians)"
    )
    parser.add_argument("--blog", action="store_true", help="only the blog's model (see above)")
    parser.add_argument(
        "--routing",
        nargs="+",
        default=["broadcast", "blocks"],
        choices=["broadcast", "blocks"],
        help="how alsrec ships the fixed side's factors (each is a contender)",
    )
    parser.add_argument(
        "--solvers",
        nargs="+",
        default=["cholesky", "cg"],
        choices=["cholesky", "cg"],
        help="alsrec's per-row solver (each is a contender; MLlib solves exactly)",
    )
    args = parser.parse_args()
    import alsrec.spark
    from alsrec import generate, load_movielens

    spark = alsrec.spark.local_session(2, memory="4g")
    print(f"machine: {machine_description()}; Spark local[2]\n")
    sets = [("ml-latest-small", load_movielens("ml-latest-small", download_missing=False))]
    if args.nnz:
        users, items = args.nnz // 50, args.nnz // 200
        synthetic = generate(users, items, args.nnz, values="implicit", seed=0).interactions
        sets.append((f"synthetic {args.nnz:,}", synthetic))
    if args.blog:
        blog(spark, sets[0][1])
        return
    # warm-up: numba compiles in the Python workers once per session
    run("warm-up", sets[0][1], spark, 4, 2, args.blocks, args.routing, args.solvers)
    rows = []
    for label, data in sets:
        rows += run(
            label, data, spark, args.factors, args.iterations, args.blocks, args.routing,
            args.solvers, args.repeats,
        )  # fmt: skip
    headers = ["data", "contender", "s / iteration", "vs alsrec", "fit s", "loss"]
    if args.repeats > 1:
        headers.append("s / iteration, each repeat")
    print(table(rows, headers))


if __name__ == "__main__":
    main()
