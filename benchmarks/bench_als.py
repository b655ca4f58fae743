"""Speed and memory of alsrec's ALS against the implicit library, in one run.

    python -m benchmarks.bench_als small              # ml-latest-small, k=64, 15 iterations
    python -m benchmarks.bench_als synthetic --nnz 5000000 --factors 64 128
    python -m benchmarks.bench_als topk               # top-20 for every user of ml-latest-small
    python -m benchmarks.bench_als zeros              # the blog's model vs dense numpy
    python -m benchmarks.bench_als firstfit           # the first fit of a fresh process
    python -m benchmarks.bench_als defaults           # ALS("implicit") vs implicit, out of the box
    python -m benchmarks.bench_als all

Both libraries solve the same objective (implicit's: c = alpha * r observed,
1 elsewhere, p = 1, plain lambda), which alsrec's ``confidence="scaled"``
reproduces, and the final loss of both is computed by the same exact kernel,
so "equal loss" is checked, not assumed. Each measurement runs in a fresh
process; contenders alternate; medians are reported with ratios
(alsrec / implicit: below 1 means alsrec is faster).
"""

from __future__ import annotations

import argparse

from benchmarks.harness import alternate, machine_description, median_of, run_worker, table


def cg_gflops(result: dict, factors: int, steps: int = 3) -> float:
    """Floating-point rate of alsrec's CG fit, counting the work its kernels do.

    Per iteration, over both half-steps: (steps + 1) products per row, each a
    diagonal scaling in the Gram eigenbasis ((m + n) k) plus two passes over
    the row's cells (4 nnz k); rotating both sides in and out of the eigenbasis
    (3 (m + n) k^2). Multiply-adds count as 2 flops.
    """
    m, n = result["shape"]
    nnz = result["nnz"]
    k = factors
    fmas = (steps + 1) * ((m + n) * k + 4 * nnz * k) + 3 * (m + n) * k**2
    return 2 * fmas / result["per_iteration"] / 1e9


def bench_fit(
    data: dict,
    factors: int,
    iterations: int,
    solvers: list[str],
    repeats: int,
    first_call: bool = False,
):
    """Fit alsrec and implicit with each solver; print a table with ratios.

    ``first_call``: time the first fit of each fresh process (loading numba's cached
    kernels included) instead of a fit after a warm-up.
    """
    rows = []
    base = {
        "task": "fit",
        "factors": factors,
        "iterations": iterations,
        "reg": 0.01,
        "alpha": 1.0,
        **data,
    }
    run_worker({"task": "prepare", **data})  # data generation never counts as a peak
    for solver in solvers:
        tasks = {
            "alsrec": {**base, "lib": "alsrec", "solver": solver, "warmup": not first_call},
            "implicit": {**base, "lib": "implicit", "solver": solver},
        }
        results = alternate(tasks, repeats)
        ours, theirs = results["alsrec"], results["implicit"]
        t_ours, t_theirs = median_of(ours, "per_iteration"), median_of(theirs, "per_iteration")
        loss_ours, loss_theirs = ours[0]["loss"], theirs[0]["loss"]
        rate = (
            f"{cg_gflops(ours[0] | {'per_iteration': t_ours}, factors):.1f}"
            if solver == "cg"
            else "-"
        )
        rows.append(
            [
                solver,
                str(factors),
                f"{t_ours:.3f}",
                f"{t_theirs:.3f}",
                f"{t_ours / t_theirs:.2f}",
                f"{loss_ours:.6g}",
                f"{loss_theirs:.6g}",
                f"{loss_ours / loss_theirs - 1:+.2%}",
                f"{median_of(ours, 'peak_mib'):.0f}",
                f"{median_of(theirs, 'peak_mib'):.0f}",
                rate,
            ]
        )
    return rows


FIT_HEADER = [
    "solver",
    "k",
    "alsrec s/it",
    "implicit s/it",
    "time ratio",
    "alsrec loss",
    "implicit loss",
    "loss diff",
    "alsrec MiB",
    "implicit MiB",
    "alsrec GFLOP/s",
]


# alsrec variants measured against implicit's defaults: the preset as shipped, and the
# choices the preset's defaults were picked from (solver, loss after every iteration).
DEFAULT_VARIANTS: dict[str, dict] = {
    "ALS('implicit')": {},
    "ALS('implicit', solver='cholesky')": {"solver": "cholesky"},
    "ALS('implicit', solver='cg')": {"solver": "cg"},
    "ALS('implicit', compute_loss=True)": {"compute_loss": True},
}
DEFAULTS_HEADER = [
    "data",
    "model",
    "first fit s",
    "warm fit s",
    "first / implicit's first",
    "import s",
    "(import + first) / implicit's",
    "recall@20",
    "peak MiB",
]


def bench_defaults(repeats: int) -> list[list[str]]:
    """Each library's out-of-the-box fit, first call of a fresh process, on real data."""
    rows = []
    for data in ("ml-latest-small", "lastfm"):
        tasks = {"implicit 0.7.3 AlternatingLeastSquares()": {"lib": "implicit"}}
        tasks |= {name: {"lib": "alsrec", "overrides": o} for name, o in DEFAULT_VARIANTS.items()}
        results = alternate(
            {name: {"task": "default_fit", "data": data, **t} for name, t in tasks.items()},
            repeats,
        )
        peer = results["implicit 0.7.3 AlternatingLeastSquares()"]
        reference = median_of(peer, "first")
        reference_total = median_of(peer, "first") + median_of(peer, "import")
        for name, runs in results.items():
            first = median_of(runs, "first")
            imported = median_of(runs, "import")
            rows.append(
                [
                    data,
                    name,
                    f"{first:.3f}",
                    f"{median_of(runs, 'warm'):.3f}",
                    f"{first / reference:.2f}",
                    f"{imported:.3f}",
                    f"{(imported + first) / reference_total:.2f}",
                    f"{runs[0]['recall']:.3f}",
                    f"{median_of(runs, 'peak_mib'):.0f}",
                ]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "case", choices=["small", "synthetic", "topk", "zeros", "firstfit", "defaults", "all"]
    )
    parser.add_argument("--nnz", type=int, nargs="+", default=[5_000_000])
    parser.add_argument("--factors", type=int, nargs="+", default=[64])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--solvers", nargs="+", default=["cg", "cholesky"])
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    peak = run_worker({"task": "gemm_peak"})
    print(f"float32 matrix-multiply peak: {peak['gflops']:.0f} GFLOP/s ({peak['blas']})\n")

    if args.case in ("small", "all"):
        print("## ml-latest-small, implicit objective, 15 iterations\n")
        rows = bench_fit({"data": "ml-latest-small"}, 64, 15, args.solvers, args.repeats)
        print(table(rows, FIT_HEADER), "\n")
    if args.case in ("firstfit", "all"):
        print("## ml-latest-small, first fit of a fresh process (no warm-up), 15 iterations\n")
        rows = bench_fit(
            {"data": "ml-latest-small"}, 64, 15, args.solvers, args.repeats, first_call=True
        )
        print(table(rows, FIT_HEADER), "\n")
    if args.case in ("defaults", "all"):
        print("## out of the box: ALS('implicit') against implicit's AlternatingLeastSquares()\n")
        print(table(bench_defaults(args.repeats), DEFAULTS_HEADER), "\n")
    if args.case in ("synthetic", "all"):
        for nnz in args.nnz:
            print(
                f"## ML-25M-shaped synthetic (162,541 x 59,047), {nnz:,} interactions, "
                f"{args.iterations} iterations\n"
            )
            rows = []
            for k in args.factors:
                rows += bench_fit(
                    {"data": "synthetic", "nnz": nnz},
                    k,
                    args.iterations,
                    args.solvers,
                    args.repeats,
                )
            print(table(rows, FIT_HEADER), "\n")
    if args.case in ("topk", "all"):
        print("## top-20 for every user of ml-latest-small, seen items filtered\n")
        tasks = {
            lib: {"task": "topk", "lib": lib, "data": "ml-latest-small", "n": 20, "repeats": 5}
            for lib in ("alsrec", "implicit")
        }
        results = alternate(tasks, args.repeats)
        ours, theirs = (
            median_of(results["alsrec"], "seconds"),
            median_of(results["implicit"], "seconds"),
        )
        print(
            table(
                [[f"{ours * 1e3:.1f}", f"{theirs * 1e3:.1f}", f"{ours / theirs:.2f}"]],
                ["alsrec ms", "implicit ms", "ratio"],
            ),
            "\n",
        )
    if args.case in ("zeros", "all"):
        print("## the blog's model (zeros preset, k=20, lambda=0.001, 20 iterations)\n")
        tasks = {lib: {"task": "zeros", "lib": lib} for lib in ("alsrec", "dense-numpy")}
        results = alternate(tasks, args.repeats)
        ours, dense = results["alsrec"], results["dense-numpy"]
        t_ours, t_dense = median_of(ours, "seconds"), median_of(dense, "seconds")
        row = [
            f"{t_ours:.3f}",
            f"{t_dense:.3f}",
            f"{t_dense / t_ours:.1f}x",
            f"{ours[0]['loss']:.6g}",
            f"{dense[0]['loss']:.6g}",
        ]
        print(table([row], ["alsrec s", "dense numpy s", "speed-up", "alsrec loss", "dense loss"]))


if __name__ == "__main__":
    main()
