"""Nested tuning on the blog's protocol: the 24-point grid against Optuna TPE with pruning.

    python -m benchmarks.bench_tuning [--data ml-latest-small|lastfm] [--data-dir ../shared/data]
        [--outer-seeds 0] [--inner-seed 0] [--sampler-seed 0] [--trials 8]
        [--race-trials 13] [--finalists 2] [--only optuna]

On ml-latest-small (or the Last.fm play counts), each outer fold of the blog's
protocol (2 folds over users) tunes the zeros model on its own training data
only (inner blog protocol on that data), then refits the winner and scores
the outer test users by NDCG@20.
Contenders on the same outer folds: the blog's untuned model (zeros preset
defaults), the grid (every one of 24 points, no pruning), Optuna TPE (
``--trials`` trials over the zeros preset's declared space, the first one the
untuned model, median pruning from the ALS callback, every trial on both
inner folds), and Optuna TPE raced (``--race-trials`` trials on the first
inner fold only, the ``--finalists`` best also on the second). Reported per
outer fold and pooled over the outer test users: mean NDCG@20 with its 95%
bootstrap interval, the paired difference to the grid, fits started (a pruned
fit counts as one; the refit of the winner included), ALS iterations run, and
wall seconds.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from alsrec import ALS
from alsrec.datasets import load_lastfm, load_movielens
from alsrec.evaluation import BlogProtocol, Tuned, bootstrap_mean_interval, parse_metric
from alsrec.evaluation.runner import evaluate_fold, fit_on_fold
from benchmarks.harness import machine_description

# The grid the issue measured (24 points over w0, k and lambda, count-scaled lambda);
# it holds the README's "alsrec best" (0.1, 64, 0.05) and its runner-up (0.2, 96).
GRID = {
    "unobserved_weight": [0.05, 0.1, 0.2, 0.5],
    "factors": [32, 64, 96],
    "regularization": [0.02, 0.05],
}
METRIC = parse_metric("ndcg@20")


def contenders(args) -> dict:
    """Unfitted models, each fitted once per outer fold."""
    return {
        "blog untuned": ALS("zeros", random_state=0),
        "grid (24)": Tuned(
            ALS("zeros", reg_exponent=1.0, random_state=0),
            GRID,
            seeds=(args.inner_seed,),
            sampler="grid",
            pruner="none",
            n_trials=24,
        ),
        f"optuna TPE ({args.trials})": Tuned(
            ALS("zeros", random_state=0),
            seeds=(args.inner_seed,),
            n_trials=args.trials,
            random_state=args.sampler_seed,
        ),
        # the same fit budget spent on more trials: one fit each, finalists on both folds
        f"optuna TPE raced ({args.race_trials}, {args.finalists} finalists)": Tuned(
            ALS("zeros", random_state=0),
            seeds=(args.inner_seed,),
            n_trials=args.race_trials,
            finalists=args.finalists,
            random_state=args.sampler_seed,
        ),
    }


def fit_counts(model) -> tuple[int, int]:
    """Fits started and ALS iterations run by one outer fit (search included)."""
    if isinstance(model, Tuned):
        table = model.search_table_
        return model.n_fits_, int(table["iterations"].sum()) + model.best_estimator_.n_iter_
    return 1, model.n_iter_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["ml-latest-small", "lastfm"], default="ml-latest-small")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--outer-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--inner-seed", type=int, default=0)
    parser.add_argument("--sampler-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--race-trials", type=int, default=13)
    parser.add_argument("--finalists", type=int, default=2)
    parser.add_argument("--json", default=None, help="Also write the rows to this file.")
    parser.add_argument(
        "--only", nargs="+", default=None, help="Run only these contenders (e.g. optuna)."
    )
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    print(
        f"outer seeds {args.outer_seeds}, inner seed {args.inner_seed}, "
        f"sampler seed {args.sampler_seed}\n"
    )
    if args.data == "lastfm":
        data = load_lastfm(args.data_dir, download_missing=False, progress=False)
    else:
        data = load_movielens("ml-latest-small", args.data_dir, download_missing=False)
    print(f"data: {args.data} ({data.n_users} users, {data.n_items} items, {data.nnz} cells)")
    per_user: dict[str, list[np.ndarray]] = {}
    rows = []
    for outer_seed in args.outer_seeds:
        for fold in BlogProtocol().split(data, outer_seed):
            for name, model in contenders(args).items():
                if args.only and not any(name.startswith(prefix) for prefix in args.only):
                    continue
                started = time.perf_counter()
                fit_on_fold(model, fold)  # a Tuned model validates on complete users only
                seconds = time.perf_counter() - started
                values = evaluate_fold(model, fold, [METRIC], outer_seed)[0][METRIC.name]
                per_user.setdefault(name, []).append(values)
                fits, iterations = fit_counts(model)
                chosen = getattr(model, "best_params_", {})
                rows.append(
                    {
                        "model": name,
                        "outer_seed": outer_seed,
                        "fold": fold.index,
                        "ndcg@20": float(np.nanmean(values)),
                        "fits": fits,
                        "iterations": iterations,
                        "seconds": seconds,
                        "chosen": {
                            k: round(v, 4) if isinstance(v, float) else v for k, v in chosen.items()
                        },
                    }
                )
                print(
                    f"seed {outer_seed} fold {fold.index} {name:<18} "
                    f"NDCG@20 {rows[-1]['ndcg@20']:.4f}  fits {fits:3d}  "
                    f"iterations {iterations:4d}  {seconds:7.1f} s  {rows[-1]['chosen']}",
                    flush=True,
                )
    print("\npooled over outer test users (mean, 95% bootstrap CI; difference paired by user):")
    reference = "grid (24)" if "grid (24)" in per_user else next(iter(per_user))
    grid = np.concatenate(per_user[reference])
    summary = []
    for name, parts in per_user.items():
        values = np.concatenate(parts)
        low, high = bootstrap_mean_interval(values[np.isfinite(values)])
        difference = values - grid
        difference = difference[np.isfinite(difference)]
        d_low, d_high = bootstrap_mean_interval(difference)
        mine = [r for r in rows if r["model"] == name]
        summary.append(
            {
                "model": name,
                "ndcg@20": float(np.nanmean(values)),
                "ci": [low, high],
                "minus_grid": float(difference.mean()),
                "minus_grid_ci": [d_low, d_high],
                "fits_per_fold": float(np.mean([r["fits"] for r in mine])),
                "iterations_per_fold": float(np.mean([r["iterations"] for r in mine])),
                "seconds_per_fold": float(np.mean([r["seconds"] for r in mine])),
            }
        )
        print(
            f"{name:<18} {summary[-1]['ndcg@20']:.4f} [{low:.4f}, {high:.4f}]  "
            f"minus grid {summary[-1]['minus_grid']:+.4f} [{d_low:+.4f}, {d_high:+.4f}]  "
            f"fits/fold {summary[-1]['fits_per_fold']:.1f}  "
            f"iterations/fold {summary[-1]['iterations_per_fold']:.0f}  "
            f"s/fold {summary[-1]['seconds_per_fold']:.1f}"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "rows": rows, "summary": summary}, handle, indent=1)


if __name__ == "__main__":
    main()
