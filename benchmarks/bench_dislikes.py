"""Dislikes in implicit data: does reading low ratings as dislikes keep them out of the top n?

    ALSREC_DATA_DIR=/work/shared/data python -m benchmarks.bench_dislikes [--seeds 0 1 2]

MovieLens latest-small as signed implicit feedback: a rating r >= 4 is a like
(value r - 3), r <= 2 a dislike (value r - 3 < 0), 2.5..3.5 is dropped. Each
seed holds out 20% of every user's interactions at random. Two implicit ALS
models with the same settings are fitted on the same training part:
``dropped`` (dislikes removed: what alsrec allowed before) and ``liked``
(``target="liked"``: dislikes are confident zeros). On the held-out part, per
user: recall@20 of held-out likes, and the share of held-out dislikes that
reach the top 20 (lower is better). Means over users with a held-out like /
dislike, averaged over seeds.
"""

from __future__ import annotations

import argparse

import numpy as np

from alsrec import ALS, Interactions
from alsrec.datasets import load_movielens
from benchmarks.harness import machine_description, table

N = 20


def signed_interactions(data: Interactions) -> Interactions:
    frame = data.to_dataframe()
    frame = frame[(frame["rating"] >= 4) | (frame["rating"] <= 2)].copy()
    frame["rating"] = frame["rating"] - 3.0
    return Interactions.from_dataframe(frame[["user", "item", "rating"]])


def split(data: Interactions, seed: int) -> tuple[Interactions, Interactions]:
    held = np.random.default_rng(seed).random(data.nnz) < 0.2
    return data.filter(~held), data.filter(held)


def held_out_rates(model: ALS, test: Interactions) -> tuple[float, float]:
    frame = test.to_dataframe()
    frame = frame[frame["user"].isin(model.user_ids_) & frame["item"].isin(model.item_ids_)]
    recs = model.recommend_batch(frame["user"].unique(), n=N)
    top = recs.groupby("user")["item"].apply(set).to_dict()
    frame["in_top"] = [
        item in top.get(user, set())
        for user, item in zip(frame["user"], frame["item"], strict=True)
    ]
    likes = frame[frame["rating"] > 0].groupby("user")["in_top"].mean()
    dislikes = frame[frame["rating"] < 0].groupby("user")["in_top"].mean()
    return float(likes.mean()), float(dislikes.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--factors", type=int, default=32)
    parser.add_argument("--alpha", type=float, default=5.0)
    args = parser.parse_args()
    print(f"machine: {machine_description()}\n")
    data = signed_interactions(
        load_movielens("ml-latest-small", download_missing=False, progress=False)
    )
    negatives = int((data.matrix.data < 0).sum())
    print(f"{data.n_users} users x {data.n_items} items, {data.nnz} interactions,", end=" ")
    print(f"{negatives} dislikes\n")
    results: dict[str, list[tuple[float, float]]] = {"dropped": [], "liked": []}
    for seed in args.seeds:
        train, test = split(data, seed)
        settings = {
            "factors": args.factors,
            "alpha": args.alpha,
            # the README's numbers: linear confidence and lambda 0.01, pinned so a
            # change of the preset's defaults does not change this comparison
            "confidence": "linear",
            "regularization": 0.01,
            "iterations": 10,
            "random_state": seed,
        }
        dropped = ALS("implicit", **settings).fit(train.filter(train.matrix.data > 0))
        liked = ALS("implicit", target="liked", **settings).fit(train)
        results["dropped"].append(held_out_rates(dropped, test))
        results["liked"].append(held_out_rates(liked, test))
    rows = [
        [name, f"{np.mean([r[0] for r in runs]):.4f}", f"{np.mean([r[1] for r in runs]):.4f}"]
        for name, runs in results.items()
    ]
    print(table(rows, ["model", f"held-out likes in top {N}", f"held-out dislikes in top {N}"]))


if __name__ == "__main__":
    main()
