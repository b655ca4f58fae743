"""alsrec against Spark MLlib's ALS (local[2]) on one machine, in one run.

    python -m benchmarks.bench_spark                 # ml-latest-small and 2M synthetic

Both fit the same objective (Spark's implicit ALS and alsrec's exact counterpart,
``alsrec.spark.spark_counterpart``), k=32, 10 iterations. Spark is timed with its
session already started and warmed up; each fit runs in a fresh process.
"""

from __future__ import annotations

import argparse

from benchmarks.harness import alternate, machine_description, median_of, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nnz", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {machine_description()}\n")
    rows = []
    for data in ({"data": "ml-latest-small"}, {"data": "synthetic", "nnz": args.nnz}):
        base = {"task": "spark_fit", "factors": 32, "iterations": 10, **data}
        tasks = {
            "alsrec": {**base, "lib": "alsrec"},
            "spark (10 blocks)": {**base, "lib": "spark", "blocks": 10},
            "spark (2 blocks)": {**base, "lib": "spark", "blocks": 2},
        }
        results = alternate(tasks, args.repeats)
        ours = median_of(results["alsrec"], "seconds")
        label = data["data"] if data["data"] != "synthetic" else f"synthetic {args.nnz:,}"
        for name, runs in results.items():
            seconds = median_of(runs, "seconds")
            rows.append(
                [
                    label,
                    name,
                    f"{seconds:.2f}",
                    f"{seconds / ours:.0f}x" if name != "alsrec" else "1x",
                    f"{median_of(runs, 'peak_mib'):.0f}",
                ]
            )
    print(table(rows, ["data", "contender", "fit seconds", "vs alsrec", "peak MiB (driver)"]))


if __name__ == "__main__":
    main()
