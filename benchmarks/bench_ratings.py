"""RMSE of rating prediction: BayesianALS and ALS("explicit") against myFM and Surprise.

    pip install -e ".[bench]"   # myFM and Surprise
    python -m benchmarks.bench_ratings [--folds 5]
        [--datasets ml-latest-small ml-latest-small-dense synthetic] [--select]

Every model is fitted on the same 5-fold random rating splits (seed 0, see
``benchmarks.rating_tasks``), one fold per fresh process, models alternating
within each fold so that machine drift hits all alike. Wall time covers fit
plus prediction of the fold's test ratings (alsrec's JIT warm-up excluded).
alsrec runs on one thread (``num_threads=1``), like myFM's and Surprise's
single-threaded samplers/SGD, so times compare algorithms, not core counts.
``ml-latest-small-dense`` is ml-latest-small cut to ml-100k's density (its
1,682 most-rated movies, users with >= 20 ratings of them): a second rating
regime, not new users.

``--select`` reruns the choice of the explicit preset's lambda instead: the
candidates on selection folds (seed 12345) that no reported row is scored on,
ranked by their worst RMSE regret to the best candidate over the data sets.
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks.harness import machine_description, run_worker, table

MODELS = {
    "BayesianALS (defaults: k=10, 200 sweeps)": {"model": "bayesian", "params": {}},
    'ALS("explicit") defaults': {"model": "explicit", "params": {}},
    # the explicit preset's lambda before it was chosen across the three data sets
    'ALS("explicit", regularization=0.05) (old default)': {
        "model": "explicit",
        "params": {"regularization": 0.05},
    },
    "myFM 0.4 Bayesian FM (ids, k=10, 200 sweeps)": {
        "model": "myfm",
        "params": {"rank": 10, "n_iter": 200},
    },
    "Surprise SVD defaults": {"model": "surprise-svd", "params": {}},
}
DATASETS = ["ml-latest-small", "ml-latest-small-dense", "synthetic"]
SELECTION_SEED = 12345
LAMBDAS = [0.05, 0.08, 0.1, 0.15]


def select(folds: int, datasets: list[str]) -> None:
    """Print each lambda's RMSE per data set on the selection folds and its worst regret."""
    rmse: dict[float, dict[str, float]] = {lam: {} for lam in LAMBDAS}
    for dataset in datasets:
        for lam in LAMBDAS:
            runs = [
                run_worker(
                    {
                        "task": "rating_fold",
                        "data": dataset,
                        "folds": folds,
                        "fold": fold,
                        "fold_seed": SELECTION_SEED,
                        "model": "explicit",
                        "params": {"regularization": lam, "num_threads": 1},
                    }
                )
                for fold in range(folds)
            ]
            rmse[lam][dataset] = statistics.mean(r["rmse"] for r in runs)
            print(f"{dataset} lambda {lam}: {rmse[lam][dataset]:.4f}", flush=True)
    best = {d: min(rmse[lam][d] for lam in LAMBDAS) for d in datasets}
    rows = [
        [f"{lam}", *(f"{rmse[lam][d]:.4f}" for d in datasets),
         f"{max(rmse[lam][d] - best[d] for d in datasets):.4f}"]
        for lam in LAMBDAS
    ]  # fmt: skip
    print(f"\nselection folds (seed {SELECTION_SEED}), RMSE and worst regret\n")
    print(table(rows, ["lambda", *datasets, "worst regret"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--select", action="store_true", help="Rerun the choice of lambda.")
    args = parser.parse_args()
    print(f"machine: {machine_description()}\n")
    if args.select:
        select(args.folds, args.datasets)
        return
    for dataset in args.datasets:
        results: dict[str, list[dict]] = {name: [] for name in args.models}
        for fold in range(args.folds):
            for name in args.models:
                spec = MODELS[name]
                params = dict(spec["params"])
                if spec["model"] in ("bayesian", "explicit"):
                    params["num_threads"] = 1
                task = {
                    "task": "rating_fold",
                    "data": dataset,
                    "folds": args.folds,
                    "fold": fold,
                    "model": spec["model"],
                    "params": params,
                }
                results[name].append(run_worker(task))
                print(f"{dataset} fold {fold} {name}: {results[name][-1]}", flush=True)
        reference = statistics.mean(r["seconds"] for r in results[args.models[0]])
        rows = []
        for name, runs in results.items():
            rmses = [r["rmse"] for r in runs]
            seconds = statistics.mean(r["seconds"] for r in runs)
            spread = statistics.stdev(rmses) if len(rmses) > 1 else 0.0
            rows.append(
                [
                    name,
                    f"{statistics.mean(rmses):.4f} ± {spread:.4f}",
                    " ".join(f"{x:.4f}" for x in rmses),
                    f"{seconds:.1f}",
                    f"{seconds / reference:.2f}",
                ]
            )
        print(f"\n{dataset}, {args.folds}-fold random rating splits\n")
        print(
            table(
                rows,
                ["model", "RMSE mean ± std", "per fold", "s per fold", "time / first row"],
            )
        )
        print()


if __name__ == "__main__":
    main()
