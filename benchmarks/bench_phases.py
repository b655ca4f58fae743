"""Where a CG iteration's time goes: each kernel phase timed alone, with its rate.

    python -m benchmarks.bench_phases [--nnz 5000000] [--factors 64 128] [--steps 3] [--repeats 3]

On the ML-25M-shaped synthetic matrix of ``benchmarks.bench_als`` (implicit
objective, w0 = 1), one half-step of each side is split into the phases the CG
solver runs, each timed on its own (median of ``--repeats``, after a warm-up
call that loads the compiled kernels):

- ``gram``: w0 Y^T Y of the fixed side (numba, blocked, deterministic);
- ``eigh``: its k x k eigendecomposition (LAPACK, one thread);
- ``rotations``: the fixed side into the eigenbasis, the warm start in and
  the solution out (three n x k by k x k products);
- ``cg rows``: the per-row CG solves: gather each row's factor rows once,
  then ``steps + 1`` products with them (the sparse gather and the products);
- ``loss``: the exact objective (observed terms over nnz, plus Gram terms).

Each phase's floating-point work and its compulsory memory traffic are
counted from the shapes (a multiply-add is 2 flops; a factor row is read
once per use from memory unless stated, in float16 where CG gathers from a
float16 copy), so the table shows GFLOP/s and GB/s
against the machine's matrix-multiply peak and a stream-copy bandwidth
measured in the same run. Runs in one process; the data is generated (and
cached) by ``benchmarks.workers`` first.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks.harness import machine_description, run_worker, table


def timed(function, repeats: int) -> float:
    """Median seconds of ``function()`` over ``repeats`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stream_bandwidth() -> float:
    """Copy bandwidth of a 512 MiB float32 array, in GB/s (read + write counted)."""
    source = np.ones(128 * 2**20, dtype=np.float32)
    target = np.empty_like(source)
    seconds = timed(lambda: np.copyto(target, source), 5)
    return 2 * source.nbytes / seconds / 1e9


def phases(matrix, transposed, k: int, steps: int, repeats: int) -> list[dict]:
    """Time every phase of both half-steps; one dict per phase with seconds, flops, bytes."""
    from alsrec.kernels import dense, make_weights
    from alsrec.kernels.loss import objective
    from alsrec.kernels.solvers import (
        GRAM_BLOCK,
        balanced_chunks,
        gramian,
        prefers_half_gathers,
        solve_cg,
        times_small,
    )
    from alsrec.kernels.weights import CONFIDENCE_SCALED, TARGET_ONE

    m, n = matrix.shape
    nnz = matrix.nnz
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((m, k))).astype(np.float32)
    y = (0.1 * rng.standard_normal((n, k))).astype(np.float32)
    weights = make_weights(1.0, CONFIDENCE_SCALED, 1.0, TARGET_ONE)
    reg_users, reg_items = np.full(m, 0.01), np.full(n, 0.01)
    values_u = matrix.data.astype(np.float32)
    values_i = transposed.data.astype(np.float32)
    import numba

    chunks = 8 * numba.config.NUMBA_NUM_THREADS
    sides = [
        ("users", matrix, values_u, y, x, reg_users, balanced_chunks(matrix.indptr, k, chunks)),
        (
            "items",
            transposed,
            values_i,
            x,
            y,
            reg_items,
            balanced_chunks(transposed.indptr, k, chunks),
        ),
    ]
    rows_out = []
    totals: dict[str, dict] = {}

    def add(name, seconds, flops, nbytes):
        entry = totals.setdefault(name, {"seconds": 0.0, "flops": 0.0, "bytes": 0.0})
        entry["seconds"] += seconds
        entry["flops"] += flops
        entry["bytes"] += nbytes

    for _, csr, values, other, out, reg, side_chunks in sides:
        rows, fixed = out.shape[0], other.shape[0]
        add(
            "gram",
            timed(lambda o=other: gramian(o, GRAM_BLOCK), repeats),
            2 * fixed * k * k,
            4 * fixed * k,
        )
        shared = gramian(other, GRAM_BLOCK)
        eigh_seconds = timed(lambda s=shared: dense.eigh(s), repeats)
        add("eigh", eigh_seconds, 9 * k**3, 8 * k * k)
        _, rotation = dense.eigh(shared)
        rotation = np.ascontiguousarray(rotation, dtype=np.float32)
        scratch_other = np.empty_like(other)
        scratch_out = np.empty_like(out)

        def rotate(o=other, so=scratch_other, w=out, sw=scratch_out, r=rotation):
            times_small(o, r, so)
            times_small(w, r, sw)
            times_small(sw, r.T.copy(), sw)

        rotation_seconds = timed(rotate, repeats)
        add(
            "rotations",
            rotation_seconds,
            2 * k * k * (fixed + 2 * rows),
            4 * k * 2 * (fixed + 2 * rows),
        )
        # the whole CG half-step minus the phases above = the per-row solves
        start_state = out.copy()

        def half(c=csr, v=values, o=other, r=reg, ch=side_chunks, w=out, s0=start_state, g=shared):
            w[:] = s0
            solve_cg(c.indptr, c.indices, v, o, r, weights, ch, steps, w, gram=g)

        whole = timed(half, repeats)
        others = eigh_seconds + rotation_seconds  # solve_cg runs both itself
        cells = csr.nnz
        add(
            "cg rows",
            max(whole - others, 1e-9),
            2 * (steps + 1) * (rows * k + 2 * cells * k),
            # gathered factor rows in float16 where solve_cg gathers them so
            (2 if prefers_half_gathers(fixed, k, other.dtype) else 4) * cells * k
            + 8 * cells
            + 8 * rows * k,
        )
    loss_seconds = timed(
        lambda: objective(
            matrix.indptr, matrix.indices, values_u, x, y, reg_users, reg_items, weights
        ),
        repeats,
    )
    add("loss", loss_seconds, 2 * nnz * k + 2 * (m + n) * k * k, 4 * nnz * k + 4 * (m + n) * k)
    for name, entry in totals.items():
        rows_out.append({"phase": name, **entry})
    return rows_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nnz", type=int, default=5_000_000)
    parser.add_argument("--factors", type=int, nargs="+", default=[64])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    peak = run_worker({"task": "gemm_peak"})["gflops"]
    run_worker({"task": "prepare", "data": "synthetic", "nnz": args.nnz})
    from benchmarks.workers import load_data

    matrix = load_data({"data": "synthetic", "nnz": args.nnz}).astype(np.float32)
    transposed = matrix.T.tocsr()
    bandwidth = stream_bandwidth()
    print(
        f"float32 matrix-multiply peak {peak:.0f} GFLOP/s, copy bandwidth {bandwidth:.1f} GB/s; "
        f"{matrix.shape[0]:,} x {matrix.shape[1]:,}, {matrix.nnz:,} interactions, "
        f"CG {args.steps} steps\n"
    )
    for k in args.factors:
        rows = phases(matrix, transposed, k, args.steps, args.repeats)
        total = sum(r["seconds"] for r in rows if r["phase"] != "loss")
        cells = []
        for r in rows:
            gflops = r["flops"] / r["seconds"] / 1e9
            gbs = r["bytes"] / r["seconds"] / 1e9
            share = f"{r['seconds'] / total:.0%}" if r["phase"] != "loss" else "(not in fit)"
            cells.append(
                [
                    str(k),
                    r["phase"],
                    f"{r['seconds']:.3f}",
                    share,
                    f"{gflops:.1f}",
                    f"{gflops / peak:.0%}",
                    f"{gbs:.1f}",
                    f"{gbs / bandwidth:.0%}",
                ]
            )
        cells.append(
            [str(k), "iteration (both half-steps)", f"{total:.3f}", "100%", "", "", "", ""]
        )
        print(
            table(
                cells,
                [
                    "k",
                    "phase",
                    "s per iteration",
                    "share",
                    "GFLOP/s",
                    "of peak",
                    "GB/s",
                    "of copy bw",
                ],
            ),
            "\n",
        )


if __name__ == "__main__":
    main()
