"""Peak memory of training on a 25-million-interaction matrix, against the input size.

    python -m benchmarks.bench_memory [--nnz 25000000] [--factors 64]

Trains the implicit preset (CG and Cholesky) in fresh processes and reports
each one's peak resident memory next to the bytes of its inputs (the CSR
matrix and its transpose) and outputs (both factor matrices).
"""

from __future__ import annotations

import argparse

from alsrec.data import ML25M_SHAPE
from benchmarks.harness import machine_description, run_worker, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nnz", type=int, default=25_000_000)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {machine_description()}\n")
    m, n = ML25M_SHAPE
    csr_mib = (args.nnz * 8 + (m + 1) * 4) / 2**20
    factors_mib = (m + n) * args.factors * 4 / 2**20
    rows = []
    for lib in ("alsrec", "implicit"):
        for solver in ("cg", "cholesky"):
            if lib == "implicit" and solver == "cholesky":
                continue  # minutes per iteration at this size; CG is implicit's default
            result = run_worker(
                {
                    "task": "fit",
                    "lib": lib,
                    "data": "synthetic",
                    "nnz": args.nnz,
                    "factors": args.factors,
                    "iterations": args.iterations,
                    "reg": 0.01,
                    "alpha": 1.0,
                    "solver": solver,
                    "warmup": True,
                }
            )
            rows.append(
                [
                    lib,
                    solver,
                    f"{result['per_iteration']:.2f}",
                    f"{result['peak_mib']:.0f}",
                    f"{result['peak_mib'] / csr_mib:.1f}",
                ]
            )
    print(f"input CSR {csr_mib:.0f} MiB (x2 with its transpose), factors {factors_mib:.0f} MiB\n")
    print(table(rows, ["library", "solver", "s/iteration", "peak MiB", "peak / CSR size"]))


if __name__ == "__main__":
    main()
