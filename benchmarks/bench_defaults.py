"""Defaults chosen across data sets: the ranking presets' defaults against fixed settings and peers.

    ALSREC_DATA_DIR=../shared/data python -m benchmarks.bench_defaults          # search + report
    ALSREC_DATA_DIR=../shared/data python -m benchmarks.bench_defaults --stage report

Settings: ml-latest-small under the blog's protocol (NDCG@20, graded) and under
user cross-fold with 5 items held out per test user (recall@20, binary
NDCG@20); Last.fm play counts (hetrec2011-lastfm-2k) and planted synthetic
implicit data under the same cross-fold protocol.

1. ``search``: a small grid of candidate defaults per preset (``implicit``,
   ``zeros``) on seed 100 with 3 folds, never the reported seeds. Each
   candidate's score on every (setting, metric) is divided by the best
   candidate's there; candidates are ranked by the *worst* of these ratios, so
   a default must be good everywhere, not best on one data set.
2. ``report``: seeds 0, 1, 2, 3 folds (blog protocol: 2; every user is a test
   user once per seed either way), each model in a fresh process on identical
   folds; mean, 95% bootstrap CI over users, fit seconds.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from alsrec.evaluation.metrics import parse_metric
from alsrec.evaluation.runner import CVResult
from alsrec.evaluation.study import ZEROS_TUNED_ON_ML_LATEST_SMALL
from alsrec.models.objective import BLOG_PARAMS
from benchmarks.defaults_worker import SETTINGS
from benchmarks.harness import machine_description, run_worker, table

WORKER = "benchmarks.defaults_worker"
SEED0 = {"random_state": 0}

# Fixed configurations, each named with where it comes from.
BLOG = {"unobserved_weight": 1.0, "reg_exponent": 0.0, **BLOG_PARAMS}
IMPLICIT_073 = {"factors": 100, "regularization": 0.01, "alpha": 1.0, "iterations": 15}
LIB = "implicit 0.7.3 defaults (k=100, lambda=0.01, alpha=1)"
REPORTED: dict[str, list] = {
    "ALS('implicit') defaults": ["implicit", SEED0],
    "ALS('implicit') before this benchmark (linear, alpha=1, lambda=0.01, k=64)": [
        "implicit",
        {"confidence": "linear", "alpha": 1.0, "regularization": 0.01, "factors": 64, **SEED0},
    ],
    "ALS('zeros') defaults = the blog's model (k=20, lambda=0.001)": ["zeros", {**BLOG, **SEED0}],
    "zeros tuned on ml-latest-small blog protocol (README 'alsrec best')": [
        "zeros",
        {**ZEROS_TUNED_ON_ML_LATEST_SMALL, **SEED0},
    ],
    "ALS('implicit') nested-tuned (8 TPE trials, inner 2-fold recall@20)": [
        "tuned",
        {"preset": "implicit", "metric": "recall@20", "n_trials": 8},
    ],
    LIB: ["implicit-lib", {**IMPLICIT_073, **SEED0}],
    "implicit 0.7.3 nested-tuned (8 TPE trials, same ranges, same inner split)": [
        "tuned",
        {"preset": "implicit-lib", "metric": "recall@20", "n_trials": 8},
    ],
    "popularity": ["popularity", {}],
}

# Candidate defaults, searched on seed 100 only.
IMPLICIT_CANDIDATES: dict[str, dict] = {
    "linear a=1 l=0.01 k=64 (old default)": {
        "confidence": "linear",
        "alpha": 1.0,
        "regularization": 0.01,
        "factors": 64,
    },
    "linear a=1 l=1 k=32": {
        "confidence": "linear",
        "alpha": 1.0,
        "regularization": 1.0,
        "factors": 32,
    },
    **{
        f"log a={a:g} l={lam:g} k={k}": {
            "confidence": "log",
            "alpha": a,
            "regularization": lam,
            "factors": k,
        }
        for a in (2.0, 8.0)
        for lam in (0.1, 3.0)
        for k in (32, 64)
    },
    "log a=4 l=1 k=48": {"confidence": "log", "alpha": 4.0, "regularization": 1.0, "factors": 48},
}
ZEROS_CANDIDATES: dict[str, dict] = {
    "blog: w0=1 l=0.001 k=20 (old default)": {
        "unobserved_weight": 1.0,
        "regularization": 0.001,
        "reg_exponent": 0.0,
        "factors": 20,
    },
    **{
        f"w0={w0:g} l={lam:g}*count k={k}": {
            "unobserved_weight": w0,
            "regularization": lam,
            "reg_exponent": 1.0,
            "factors": k,
        }
        for w0 in (0.03, 0.1, 0.3)
        for lam in (0.01, 0.05)
        for k in (32, 64)
    },
}


def collect(
    setting: str, models: dict[str, list], seeds: list[int], n_folds: int, fresh: bool = True
) -> CVResult:
    """Cross-validate ``models`` on ``setting``: one process per model, or one for all."""
    users, folds, metrics = [], [], []
    groups = [{label: spec} for label, spec in models.items()] if fresh else [models]
    for group in groups:
        task = {"setting": setting, "models": group, "seeds": seeds, "n_folds": n_folds}
        out = run_worker(task, module=WORKER)
        users.append(pd.DataFrame(out["per_user"]))
        folds.append(pd.DataFrame(out["per_fold"]))
        metrics = out["metrics"]
    return CVResult(
        pd.concat(users, ignore_index=True),
        pd.concat(folds, ignore_index=True),
        [parse_metric(m) for m in metrics],
    )


def means(result: CVResult) -> pd.DataFrame:
    """Models x metrics: the mean over users (each user averaged over seeds)."""
    return result.summary(n_boot=200).pivot(index="model", columns="metric", values="mean")


def search(preset: str, candidates: dict[str, dict], seed: int) -> pd.DataFrame:
    """Every candidate on every setting; ranked by the worst ratio to the best candidate."""
    scores, seconds = {}, {}
    models = {name: [preset, {**params, **SEED0}] for name, params in candidates.items()}
    for setting in SETTINGS:
        # one process for all candidates: fit times compare within it, and 24 start-ups are saved
        result = collect(setting, models, [seed], n_folds=3, fresh=False)
        for metric, column in means(result).items():
            scores[f"{setting} {metric}"] = column
        seconds[setting] = result.per_fold.groupby("model")["fit_seconds"].mean()
    frame = pd.DataFrame(scores)
    ratio = frame / frame.max()
    frame.insert(0, "worst ratio", ratio.min(axis=1))
    frame["fit s/fold (mean)"] = pd.DataFrame(seconds).mean(axis=1)
    return frame.sort_values("worst ratio", ascending=False)


def report(seeds: list[int], n_folds: int, settings: list[str], only: list[str] | None) -> None:
    """The fixed configurations and peers on the reported seeds, a table per setting."""
    chosen = {
        name: spec
        for name, spec in REPORTED.items()
        if not only or any(name.startswith(prefix) for prefix in only)
    }
    for setting in settings:
        result = collect(setting, chosen, seeds, n_folds=n_folds)
        summary = result.summary()
        fit = result.per_fold.groupby("model")["fit_seconds"].mean()
        rows = []
        for model in chosen:
            cells = [model]
            for metric in result.metrics:
                row = summary[(summary.model == model) & (summary.metric == metric.name)].iloc[0]
                cells.append(f"{row['mean']:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]")
            cells.append(f"{fit[model]:.2f}")
            rows.append(cells)
        header = ["model", *[f"{m.name} [95% CI]" for m in result.metrics], "fit s/fold"]
        print(f"\n### {setting} (seeds {','.join(map(str, seeds))})\n")
        print(table(rows, header))
        ours, lib = (
            "ALS('implicit') defaults",
            "implicit 0.7.3 defaults (k=100, lambda=0.01, alpha=1)",
        )
        pairs = [(ours, lib), ("ALS('implicit') nested-tuned", "implicit 0.7.3 nested-tuned")]
        for mine, theirs in pairs:
            mine = next((m for m in chosen if m.startswith(mine)), None)
            theirs = next((m for m in chosen if m.startswith(theirs)), None)
            if mine is None or theirs is None:
                continue
            for metric in result.metrics:
                print(
                    f"\n{mine} vs {theirs}, {metric.name}, paired: "
                    f"{result.compare(mine, theirs, metric).sentence}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", choices=["search", "report", "all"], default="all")
    parser.add_argument("--search-seed", type=int, default=100)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--folds", type=int, default=3, help="cross-fold folds in the report")
    parser.add_argument("--presets", default="implicit,zeros", help="presets to search")
    parser.add_argument(
        "--settings", default=",".join(SETTINGS), help="comma-separated names from SETTINGS"
    )
    parser.add_argument(
        "--only", nargs="+", default=None, help="report only models whose names start so"
    )
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    started = time.perf_counter()
    if args.stage in ("search", "all"):
        grids = {"implicit": IMPLICIT_CANDIDATES, "zeros": ZEROS_CANDIDATES}
        for preset in args.presets.split(","):
            candidates = grids[preset]
            frame = search(preset, candidates, args.search_seed)
            print(f"\n### search: {preset} preset, seed {args.search_seed}, 3 folds\n")
            rows = [[name, *(f"{v:.3f}" for v in values)] for name, values in frame.iterrows()]
            print(table(rows, ["candidate", *frame.columns]))
            print(f"(search wall time so far: {time.perf_counter() - started:.0f} s)")
    if args.stage in ("report", "all"):
        settings = [name.strip() for name in args.settings.split(",")]
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            parser.error(f"unknown settings {sorted(unknown)}; choose from {list(SETTINGS)}")
        report([int(s) for s in args.seeds.split(",")], args.folds, settings, args.only)
    print(f"\nwall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
