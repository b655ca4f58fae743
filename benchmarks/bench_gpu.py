"""ALS on an NVIDIA GPU: alsrec's torch kernels against implicit's CUDA ALS and alsrec's CPU path.

    python -m benchmarks.bench_gpu [--nnz 25000000] [--factors 64 128 256] [--iterations 3]

Run it on a machine with a GPU (``pip install -e '.[gpu,dev]'``; implicit's GPU
build is used when ``implicit.gpu.HAS_CUDA`` is true). Prints seconds per
iteration and the final loss of each contender, computed by the same exact
kernel, on the ML-25M-shaped synthetic matrix.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.harness import machine_description, table
from benchmarks.workers import implicit_objective, load_data


def fit_alsrec(matrix, k: int, iterations: int, device: str, solver: str):
    import alsrec

    data = alsrec.Interactions.from_scipy(matrix)
    model = alsrec.ALS(
        "implicit",
        factors=k,
        confidence="scaled",
        alpha=1.0,
        regularization=0.01,
        iterations=iterations,
        solver=solver,
        device=device,
        random_state=0,
        compute_loss=False,
    )
    alsrec.ALS("implicit", factors=k, iterations=1, device=device, solver=solver).fit(
        alsrec.generate(100, 80, 1000, values="implicit").interactions
    )  # warm-up
    start = time.perf_counter()
    model.fit(data)
    return (time.perf_counter() - start) / iterations, model.user_factors_, model.item_factors_


def fit_implicit_gpu(matrix, k: int, iterations: int):
    import implicit.gpu

    if not implicit.gpu.HAS_CUDA:
        return None
    from implicit.gpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=k, regularization=0.01, iterations=iterations, random_state=0
    )
    start = time.perf_counter()
    model.fit(matrix, show_progress=False)
    seconds = (time.perf_counter() - start) / iterations
    return seconds, model.user_factors.to_numpy(), model.item_factors.to_numpy()


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nnz", type=int, default=25_000_000)
    parser.add_argument("--factors", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--cpu", action="store_true", help="also time alsrec's CPU path")
    args = parser.parse_args()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print(f"machine: {machine_description()}; GPU: {gpu}\n")
    matrix = load_data({"data": "synthetic", "nnz": args.nnz})
    rows = []
    for k in args.factors:
        contenders = {
            "alsrec cuda cg": lambda k=k: fit_alsrec(matrix, k, args.iterations, "cuda", "cg"),
            "alsrec cuda cholesky": lambda k=k: fit_alsrec(
                matrix, k, args.iterations, "cuda", "cholesky"
            ),
            "implicit cuda": lambda k=k: fit_implicit_gpu(matrix, k, args.iterations),
        }
        if args.cpu:
            contenders["alsrec cpu cg"] = lambda k=k: fit_alsrec(
                matrix, k, args.iterations, "cpu", "cg"
            )
        for name, run in contenders.items():
            result = run()
            if result is None:
                rows.append([name, str(k), "n/a", "n/a"])
                continue
            seconds, x, y = result
            loss = implicit_objective(matrix, np.asarray(x)[:, :k], np.asarray(y)[:, :k], 0.01, 1.0)
            rows.append([name, str(k), f"{seconds:.3f}", f"{loss:.6g}"])
    print(table(rows, ["contender", "k", "s/iteration", "final loss"]))


if __name__ == "__main__":
    main()
