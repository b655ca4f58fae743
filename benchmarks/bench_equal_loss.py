"""Time to reach the same loss: alsrec's CG against implicit's CG.

    python -m benchmarks.bench_equal_loss [--nnz 5000000 25000000] [--factors 64] [--iterations 10]

implicit runs ``--iterations`` CG iterations; alsrec needs some number of
iterations to reach a loss at or below implicit's final one. Both loss curves
come from untimed runs (each iteration's factors scored by the same exact
kernel); seconds per iteration come from separate timed runs without loss
computation. The ratio compares time to that loss.
"""

from __future__ import annotations

import argparse

from benchmarks.harness import machine_description, run_worker, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nnz", type=int, nargs="+", default=[5_000_000])
    parser.add_argument("--factors", type=int, nargs="+", default=[64])
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {machine_description()}\n")
    rows = []
    for nnz in args.nnz:
        for k in args.factors:
            base = {
                "data": "synthetic",
                "nnz": nnz,
                "factors": k,
                "iterations": args.iterations,
                "reg": 0.01,
                "alpha": 1.0,
                "solver": "cg",
            }
            curves = {
                lib: run_worker({**base, "task": "loss_curve", "lib": lib})["losses"]
                for lib in ("alsrec", "implicit")
            }
            timed = {
                lib: run_worker({**base, "task": "fit", "lib": lib, "warmup": True})
                for lib in ("alsrec", "implicit")
            }
            target = curves["implicit"][-1]
            needed = next(
                (i + 1 for i, loss in enumerate(curves["alsrec"]) if loss <= target), None
            )
            t_ours = timed["alsrec"]["per_iteration"]
            t_theirs = timed["implicit"]["per_iteration"]
            if needed is None:
                rows.append([f"{nnz:,}", str(k), "not reached", "-", "-", "-"])
                continue
            ours, theirs = needed * t_ours, args.iterations * t_theirs
            rows.append(
                [
                    f"{nnz:,}",
                    str(k),
                    f"{needed} of {args.iterations}",
                    f"{ours:.1f}",
                    f"{theirs:.1f}",
                    f"{ours / theirs:.2f}",
                ]
            )
    print(
        table(
            rows,
            [
                "interactions",
                "k",
                "alsrec iterations to implicit's loss",
                "alsrec s",
                "implicit s",
                "time ratio",
            ],
        )
    )


if __name__ == "__main__":
    main()
