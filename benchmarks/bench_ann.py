"""Approximate top-n against exact: recall@20 and queries per second on a large catalogue.

    python -m benchmarks.bench_ann [--items 1000000] [--factors 64] [--users 2000]
    ALSREC_DATA_DIR=/work/shared/data python -m benchmarks.bench_ann --fitted

A synthetic fitted model, drawn rather than trained (fitting 1M items is not
what is measured): item factors lie around 1,000 taste centres with
log-normal norms (popular items have longer vectors, as in fitted ALS), item
and user biases, users near the same centres, and 1..50 seen items per user
drawn by a Zipf popularity. The same users are ranked in the same run by
exact top-n (every item scored, ``recommend_batch``) and by the HNSW index
(``recommend_batch(approximate=...)``) at several ``ef_search`` values on one
index built once. Recall@20 is the share of each user's exact top 20 (seen
items filtered, as both do) that the approximate top 20 holds, averaged over
users. Queries per second are users ranked per wall-clock second, every
thread the machine gives (numba/BLAS for exact, OpenMP for faiss).

``--fitted`` measures instead the design choice of :mod:`alsrec.models.ann`:
on ALS factors fitted with default settings (ml-latest-small explicit and
implicit, Last.fm implicit), recall@20 of an HNSW graph searched by inner
product against one searched by L2 after the extra-coordinate reduction,
both m = 16, ef_construction = 100, no seen filter.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from alsrec import Interactions
from alsrec.models import FactorModel
from alsrec.models.ann import AnnSettings, item_index
from benchmarks.harness import machine_description, table

N = 20
EXACT_CHUNK = 250  # users per exact call: 250 x 1M float32 scores is 1 GB


def synthetic_model(n_items: int, n_users: int, k: int, seed: int) -> FactorModel:
    """A fitted-looking FactorModel with planted factors, biases and seen items."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, k)) / np.sqrt(k)
    taste = rng.integers(len(centres), size=n_items)
    norms = rng.lognormal(0.0, 0.4, size=(n_items, 1))
    items = (centres[taste] + 0.5 * rng.normal(size=(n_items, k)) / np.sqrt(k)) * norms
    liked = rng.integers(len(centres), size=n_users)
    users = centres[liked] + 0.5 * rng.normal(size=(n_users, k)) / np.sqrt(k)
    popularity = np.arange(1, n_items + 1, dtype=np.float64) ** -0.9
    popularity = rng.permutation(popularity / popularity.sum())
    counts = rng.integers(1, 51, size=n_users)
    rows = np.repeat(np.arange(n_users), counts)
    columns = rng.choice(n_items, size=len(rows), p=popularity)
    seen = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(n_users, n_items))
    seen.data[:] = 1.0  # a pair drawn twice is one interaction
    data = Interactions(seen, np.arange(n_users), np.arange(n_items))
    model = FactorModel()
    model._set_fitted(
        data,
        users.astype(np.float32),
        items.astype(np.float32),
        global_bias=0.1,
        user_bias=rng.normal(0.0, 0.1, size=n_users),
        item_bias=rng.normal(0.0, 0.1, size=n_items),
    )
    return model


def top_lists(frame) -> dict:
    return frame.groupby("user")["item"].apply(set).to_dict()


def recall(approximate, exact) -> float:
    found, truth = top_lists(approximate), top_lists(exact)
    return float(
        np.mean([len(found.get(u, set()) & items) / len(items) for u, items in truth.items()])
    )


def inner_product_or_l2(efs: tuple[int, ...] = (16, 32, 64)) -> None:
    """Recall@20 of the two HNSW routes to maximum inner product on fitted factors."""
    import faiss

    from alsrec import ALS
    from alsrec.datasets import load_lastfm, load_movielens

    movielens = load_movielens("ml-latest-small", download_missing=False)
    lastfm = load_lastfm(download_missing=False)
    rows = []
    for name, preset, data in [
        ("ml-latest-small", "explicit", movielens),
        ("ml-latest-small", "implicit", movielens),
        ("Last.fm", "implicit", lastfm),
    ]:
        x, y = ALS(preset, random_state=0).fit(data)._scoring_factors()
        x, y = x[:1000].astype(np.float32), y.astype(np.float32)
        truth = np.argsort(-(x @ y.T), axis=1, kind="stable")[:, :N]
        by_ip = faiss.IndexHNSWFlat(y.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
        squared = np.einsum("ij,ij->i", y, y, dtype=np.float64)
        lifted = np.column_stack([y, np.sqrt(squared.max() - squared)]).astype(np.float32)
        by_l2 = faiss.IndexHNSWFlat(y.shape[1] + 1, 16)
        for index, vectors in ((by_ip, y), (by_l2, lifted)):
            index.hnsw.efConstruction = 100
            index.add(vectors)
        queries_l2 = np.column_stack([x, np.zeros(len(x))]).astype(np.float32)
        for ef in efs:
            found = []
            for index, queries in ((by_ip, x), (by_l2, queries_l2)):
                index.hnsw.efSearch = ef
                labels = index.search(queries, N)[1]
                hits = [len(set(a) & set(b)) / N for a, b in zip(labels, truth, strict=True)]
                found.append(f"{np.mean(hits):.3f}")
            rows.append([f"{name} {preset}", str(ef), *found])
    print(machine_description())
    print(table(rows, ["fitted factors", "ef_search", "inner product", "L2 reduction"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--users", type=int, default=2000, help="query users")
    parser.add_argument("--m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fitted", action="store_true", help="inner product vs L2 reduction on fitted factors"
    )
    args = parser.parse_args()
    if args.fitted:
        inner_product_or_l2()
        return

    start = time.perf_counter()
    model = synthetic_model(args.items, args.users, args.factors, args.seed)
    print(f"catalogue: {args.items:,} items, k = {args.factors}, {args.users:,} query users, "
          f"drawn in {time.perf_counter() - start:.0f} s")  # fmt: skip
    users = model.user_ids_

    start = time.perf_counter()
    exact = [
        model.recommend_batch(users[i : i + EXACT_CHUNK], n=N)
        for i in range(0, len(users), EXACT_CHUNK)
    ]
    exact_seconds = time.perf_counter() - start
    exact = pd.concat(exact, ignore_index=True)

    base = AnnSettings(m=args.m, ef_construction=args.ef_construction)
    start = time.perf_counter()
    item_index(model, base)
    build_seconds = time.perf_counter() - start
    print(f"HNSW index (m = {args.m}, ef_construction = {args.ef_construction}) "
          f"built in {build_seconds:.0f} s")  # fmt: skip

    rows = [["exact (every item scored)", "1.000", f"{len(users) / exact_seconds:,.0f}", "1.0"]]
    for ef in args.ef_search:
        settings = AnnSettings(m=args.m, ef_construction=args.ef_construction, ef_search=ef)
        start = time.perf_counter()
        found = model.recommend_batch(users, n=N, approximate=settings)
        seconds = time.perf_counter() - start
        rows.append(
            [
                f"HNSW, ef_search = {ef}",
                f"{recall(found, exact):.3f}",
                f"{len(users) / seconds:,.0f}",
                f"{exact_seconds / seconds:.1f}",
            ]
        )
    print(machine_description())
    print(table(rows, ["top-20 by", "recall@20 vs exact", "queries/s", "speed-up"]))


if __name__ == "__main__":
    main()
