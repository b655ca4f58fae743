"""Executor-side work of the distributed ALS: CSR blocks in Arrow rows, and the kernel calls.

Interactions live in a DataFrame with one row per block (a Spark partition):
``block`` and the CSR of that block's rows as raw little-endian buffers
(``rows`` int64 global row indices, ``indptr`` int64, ``indices`` int32 global
column indices, as scipy's CSR and the single machine use them, ``values`` in
the training dtype). Every row's cells sit in one block, so each block solves
its rows independently, exactly as the single machine's chunks do. Raw
buffers avoid per-row Python and per-element Arrow lists; every half-step
ships the blocks to the Python workers, so int32 indices cut that transfer
from 12 to 8 bytes per cell (float32). One Arrow binary value holds at most
2 GiB, so a block must hold fewer than ~2^28 cells with float64 values
(~2^29 with float32; use more blocks beyond that).

Every call into :mod:`alsrec.kernels` goes through the few ``_``-functions at
the top of this module, so a kernel signature change is adapted in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa

from alsrec.kernels import (
    balanced_chunks,
    gramian,
    observed_loss,
    solve_cg,
    solve_cholesky,
    top_n,
)
from alsrec.kernels.solvers import GRAM_BLOCK, prefers_half_gathers
from alsrec.models.objective import Objective, damped_means
from alsrec.models.training import thread_limits

BLOCK_SCHEMA = "block long, rows binary, indptr binary, indices binary, values binary"
FACTOR_SCHEMA = (
    "block long, rows binary, factors binary, failed long, observed double, penalty double, "
    "gram binary"
)
RECS_SCHEMA = "user long, rank int, item long, score float"
# block routing: which rows of the fixed side's block ``src`` the solving block ``dst``
# touches (sorted), and a piece of factor rows on its way to block ``dst``
OWNER_SCHEMA = "c long, src long"
NEED_SCHEMA = "c long, dst long"
PIECE_SCHEMA = "dst long, own boolean, rows binary, factors binary"
BIAS_SCHEMA = "rows binary, bias binary"


def schema(ddl: str):
    """The StructType of a DDL schema, parsed once per process (each parse is a JVM call).

    A fresh object each call: Spark keeps the one it is given as the frame's
    schema, and ``StructType.add`` changes a schema in place.
    """
    from pyspark.sql.types import StructType

    return StructType.fromJson(_parsed_schema(ddl))


@functools.cache
def _parsed_schema(ddl: str) -> dict:
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(ddl).jsonValue()


# ---------------------------------------------------------------- kernel adapter
def _solve_rows(
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    other: np.ndarray,
    gram: np.ndarray,
    reg: np.ndarray,
    objective: Objective,
    solver: str,
    cg_steps: int,
    warm: np.ndarray | None,
    n_other: int,
) -> tuple[np.ndarray, int]:
    """Solve every row of ``csr`` against fixed ``other`` with the shared ``gram`` (w0 Y^T Y).

    ``n_other`` is the whole fixed side's row count (``other`` holds only the
    routed rows when blocks are routed): CG's choice of half-precision gathers
    depends on it, as on the single machine, so both give the same factors.
    Returns the new rows and the number of rows whose system could not be solved.
    """
    indptr, indices, values = csr
    k = other.shape[1]
    out = np.zeros((len(indptr) - 1, k), other.dtype) if warm is None else warm.copy()
    chunks = balanced_chunks(indptr, k, 8 * _threads())
    args = (indptr, indices, values, other, reg, objective.weights, chunks)
    if solver == "cg":
        half = prefers_half_gathers(n_other, k, other.dtype)
        failed = solve_cg(*args, cg_steps, out, gram=gram, half_gathers=half)
    else:
        failed = solve_cholesky(*args, out, gram=gram)
    return out, int(failed)


def _observed_loss(
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    rows: np.ndarray,
    other: np.ndarray,
    objective: Objective,
) -> float:
    """sum over the block's cells of c (p - s)^2 - w0 s^2 (the observed part of the loss)."""
    indptr, indices, values = csr
    return observed_loss(indptr, indices, values, rows, other, objective.weights)


def _gram(factors: np.ndarray) -> np.ndarray:
    """factors^T factors in float64 (a partial Gram of one block)."""
    return gramian(factors, GRAM_BLOCK)


def _top_n(scores: np.ndarray, seen: tuple[np.ndarray, np.ndarray] | None, n: int):
    """Best ``n`` columns of each score row, the row's ``seen`` columns excluded."""
    b = scores.shape[0]
    index = np.full((b, n), -1, dtype=np.int64)
    best = np.full((b, n), np.nan, dtype=scores.dtype)
    if seen is None:
        rows = np.full(b, -1, dtype=np.int64)
        seen = (np.zeros(1, np.int64), np.zeros(0, np.int64))
    else:
        rows = np.arange(b, dtype=np.int64)
    top_n(scores, rows, seen[0], seen[1], np.zeros(0, np.int64), n, -np.inf, index, best)
    return index, best


@contextmanager
def task_threads():
    """Numba threads = the task's CPUs; BLAS single-threaded (several tasks share a host)."""
    from pyspark import TaskContext
    from threadpoolctl import threadpool_limits

    context = TaskContext.get()
    cpus = int(context.cpus()) if context is not None else 1
    with thread_limits(max(1, cpus)), threadpool_limits(limits=1, user_api="blas"):
        yield


def _threads() -> int:
    import numba

    return numba.get_num_threads()


# ---------------------------------------------------------------- Arrow <-> numpy
def buffer(value: Any, dtype: Any) -> np.ndarray:
    """A numpy view of one Arrow binary value."""
    return np.frombuffer(value.as_buffer(), dtype=dtype)


def _one_row(**columns: Any) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({name: [value] for name, value in columns.items()})


def read_block(batch: pa.RecordBatch, j: int, dtype: Any):
    """(block, rows, (indptr, indices, values)) of row ``j`` of a block batch."""
    return (
        int(batch.column("block")[j].as_py()),
        buffer(batch.column("rows")[j], np.int64),
        (
            buffer(batch.column("indptr")[j], np.int64),
            buffer(batch.column("indices")[j], np.int32),
            buffer(batch.column("values")[j], dtype),
        ),
    )


def factor_rows(
    batches: Iterator[pa.RecordBatch], dtype: Any, k: int
) -> Iterator[tuple[pa.RecordBatch, int, np.ndarray, np.ndarray]]:
    """(batch, j, rows, factors as rows x k) for every row of factor-block batches."""
    for batch in batches:
        for j in range(batch.num_rows):
            rows = buffer(batch.column("rows")[j], np.int64)
            yield batch, j, rows, buffer(batch.column("factors")[j], dtype).reshape(-1, k)


# ---------------------------------------------------------------- executor functions
def to_blocks(dtype: Any, keys: np.ndarray | None = None):
    """mapInArrow: one partition's (r, c, v) rows -> one CSR block row (rows sorted).

    The block is named by its partition number, or by ``keys[partition]`` when
    given (block routing picks keys that Spark's hash partitioner spreads over
    distinct partitions).
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        parts = [b for b in batches if b.num_rows]
        if not parts:
            return
        table = pa.Table.from_batches(parts)
        r = table.column("r").to_numpy().astype(np.int64)
        c = table.column("c").to_numpy()
        if len(c) and c.max() > np.iinfo(np.int32).max:
            raise ValueError("more than 2^31 - 1 columns: block indices are int32")
        c = c.astype(np.int32)
        v = table.column("v").to_numpy().astype(dtype)
        order = np.lexsort((c, r))
        r, c, v = r[order], c[order], v[order]
        rows, starts = np.unique(r, return_index=True)
        indptr = np.append(starts, len(r)).astype(np.int64)
        partition = int(TaskContext.get().partitionId())
        yield _one_row(
            block=partition if keys is None else int(keys[partition]),
            rows=rows.tobytes(),
            indptr=indptr.tobytes(),
            indices=c.tobytes(),
            values=v.tobytes(),
        )

    return run


def rewrite_values(dtype: Any, shift: Any, row_bias: Any, col_bias: Any):
    """mapInArrow over blocks: values -> float32(value - mu - b_row - b_col) (the residual)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for j in range(batch.num_rows):
                block, rows, (indptr, indices, values) = read_block(batch, j, dtype)
                owner = np.repeat(rows, np.diff(indptr))
                baseline = shift + row_bias.value[owner] + col_bias.value[indices]
                residual = (values.astype(np.float64) - baseline).astype(np.float32)
                yield _one_row(
                    block=block,
                    rows=rows.tobytes(),
                    indptr=indptr.tobytes(),
                    indices=indices.tobytes(),
                    values=residual.astype(dtype).tobytes(),
                )

    return run


def row_biases(dtype: Any, shift: float, col_bias: Any, damping: float):
    """mapInArrow over blocks: each row's damped mean of (value - mu - b_col).

    A block holds whole rows, so each row's bias is computed where its cells are.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for j in range(batch.num_rows):
                _, rows, (indptr, indices, values) = read_block(batch, j, dtype)
                residual = values.astype(np.float64) - shift - col_bias.value[indices]
                owner = np.repeat(np.arange(len(rows)), np.diff(indptr))
                bias = damped_means(owner, residual, np.diff(indptr), damping)
                yield _one_row(rows=rows.tobytes(), bias=bias.tobytes())

    return run


def _solved_block(
    block: int,
    rows: np.ndarray,
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    fixed: np.ndarray,
    gram: np.ndarray,
    reg: np.ndarray,
    objective: Objective,
    solver: str,
    cg_steps: int,
    start: np.ndarray | None,
    with_loss: bool,
    n_other: int,
) -> pa.RecordBatch:
    """Solve one block's rows; its FACTOR_SCHEMA row (factors, failures, loss terms, Gram)."""
    solved, failed = _solve_rows(csr, fixed, gram, reg, objective, solver, cg_steps, start, n_other)
    observed = _observed_loss(csr, solved, fixed, objective) if with_loss else float("nan")
    norms = np.einsum("ij,ij->i", solved, solved, dtype=np.float64)
    return _one_row(
        block=block,
        rows=rows.tobytes(),
        factors=np.ascontiguousarray(solved).tobytes(),
        failed=failed,
        observed=observed,
        penalty=float(reg @ norms),
        gram=_gram(solved).tobytes(),
    )


def half_step(
    dtype: Any,
    objective: Objective,
    other: Any,
    warm: Any,
    gram: np.ndarray,
    n_other: int,
    solver: str,
    cg_steps: int,
    with_loss: bool,
):
    """mapInArrow over blocks: solve each block's rows; emit factors and partial sums.

    ``other`` and ``warm`` are broadcast variables (the fixed side's factors and,
    for CG, this side's previous factors). Each output row carries the block's
    new factors, its failed-row count, its observed loss terms against ``other``,
    its penalty sum reg_u |x_u|^2 and its partial Gram x^T x, so the driver gets
    the next Gram and the exact loss from one small aggregation.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        fixed = other.value
        with task_threads():
            for batch in batches:
                for j in range(batch.num_rows):
                    block, rows, csr = read_block(batch, j, dtype)
                    reg = objective.row_regularization(np.diff(csr[0]), n_other)
                    start = None if warm is None else warm.value[rows]
                    yield _solved_block(
                        block, rows, csr, fixed, gram, reg, objective, solver, cg_steps, start,
                        with_loss, n_other,
                    )  # fmt: skip

    return run


# ---------------------------------------------------------------- block routing
def row_owners():
    """mapInArrow over blocks: one (c, src) row per matrix row: the block that holds row c."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for j in range(batch.num_rows):
                rows = buffer(batch.column("rows")[j], np.int64)
                block = int(batch.column("block")[j].as_py())
                yield pa.RecordBatch.from_pydict(
                    {"c": rows, "src": np.full(len(rows), block, np.int64)}
                )

    return run


def needed_columns():
    """mapInArrow over blocks: one (c, dst) row per distinct column a block's cells touch."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for j in range(batch.num_rows):
                columns = np.unique(buffer(batch.column("indices")[j], np.int32))
                block = int(batch.column("block")[j].as_py())
                yield pa.RecordBatch.from_pydict(
                    {"c": columns.astype(np.int64), "dst": np.full(len(columns), block, np.int64)}
                )

    return run


def initial_factors(dtype: Any, k: int, start: Any):
    """mapInArrow over blocks: (block, rows, factors) of each block's rows of ``start``."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for j in range(batch.num_rows):
                rows = buffer(batch.column("rows")[j], np.int64)
                yield _one_row(
                    block=int(batch.column("block")[j].as_py()),
                    rows=rows.tobytes(),
                    factors=np.ascontiguousarray(start.value[rows], dtype=dtype).tobytes(),
                )

    return run


def route_rows(dtype: Any, k: int):
    """mapInArrow over (factor block joined with its routes): the rows each ``dst`` needs."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch, j, rows, factors in factor_rows(batches, dtype, k):
            wanted = batch.column("idx")[j].values.to_numpy().astype(np.int64)
            order = np.argsort(rows, kind="stable")
            position = order[np.searchsorted(rows[order], wanted)]
            yield _one_row(
                dst=int(batch.column("dst")[j].as_py()),
                own=False,
                rows=wanted.tobytes(),
                factors=np.ascontiguousarray(factors[position]).tobytes(),
            )

    return run


def _gathered(pieces: pa.Table, own: bool, dtype: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, factors) of the pieces of one kind, concatenated and sorted by row."""
    kinds = pieces.column("own").to_numpy(zero_copy_only=False)
    rows_column, factors_column = pieces.column("rows"), pieces.column("factors")
    picked = [j for j in range(pieces.num_rows) if bool(kinds[j]) == own]
    if not picked:
        return np.zeros(0, np.int64), np.zeros((0, k), dtype)
    rows = np.concatenate([buffer(rows_column[j], np.int64) for j in picked])
    factors = np.concatenate([buffer(factors_column[j], dtype).reshape(-1, k) for j in picked])
    order = np.argsort(rows, kind="stable")
    return rows[order], np.ascontiguousarray(factors[order])


def solve_routed(
    dtype: Any,
    objective: Objective,
    gram: np.ndarray,
    n_other: int,
    solver: str,
    cg_steps: int,
    with_loss: bool,
    k: int,
):
    """cogroup applyInArrow (routed pieces, one block): solve the block's rows.

    The block's fixed-side factors are only the rows its cells touch (the
    routed pieces), so the block's column indices are renumbered into that
    compact matrix; cells keep their order, so every row sums the same
    numbers in the same order as with a broadcast of the whole side. The
    ``own`` pieces are this side's previous rows (CG's warm start). Emits
    the row of :func:`half_step`.
    """

    def run(pieces: pa.Table, blocks: pa.Table) -> pa.Table:
        if blocks.num_rows == 0:  # routes to a block with no cells: nothing to solve
            return pa.Table.from_batches([], schema=_FACTOR_ARROW)
        batch = blocks.combine_chunks().to_batches()[0]
        block, rows, (indptr, indices, values) = read_block(batch, 0, dtype)
        columns, fixed = _gathered(pieces, False, dtype, k)
        local = np.searchsorted(columns, indices)
        if len(indices) and (
            local.max() >= len(columns) or not np.array_equal(columns[local], indices)
        ):
            raise RuntimeError(f"block {block} is missing routed rows of the fixed side")
        local = local.astype(np.int32)
        csr = (indptr, local, values)
        start = None
        if solver == "cg":
            own_rows, own_factors = _gathered(pieces, True, dtype, k)
            start = np.zeros((len(rows), k), dtype)
            if len(own_rows):
                start = own_factors[np.searchsorted(own_rows, rows)]
        reg = objective.row_regularization(np.diff(indptr), n_other)
        with task_threads():
            row = _solved_block(
                block, rows, csr, fixed, gram, reg, objective, solver, cg_steps, start, with_loss,
                n_other,
            )  # fmt: skip
        return pa.Table.from_batches([row])

    return run


_FACTOR_ARROW = pa.schema(
    [
        ("block", pa.int64()),
        ("rows", pa.binary()),
        ("factors", pa.binary()),
        ("failed", pa.int64()),
        ("observed", pa.float64()),
        ("penalty", pa.float64()),
        ("gram", pa.binary()),
    ]
)


def recommend_blocks(
    dtype: Any, k: int, items: Any, user_bias: Any, item_bias: Any, shift: float, n: int, seen: bool
):
    """mapInArrow over (user block joined with its factors): top-n of every user, seen removed.

    Scores are ``x_u . y_i (+ mu + b_u + b_i)`` in the factors' dtype, as the
    single-machine ``recommend_batch`` computes them; users are scored 1024 at
    a time so a task holds 1024 x n_items scores at most.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        y = items.value
        with task_threads():
            for batch in batches:
                for j in range(batch.num_rows):
                    _, rows, (indptr, indices, _) = read_block(batch, j, dtype)
                    x = buffer(batch.column("factors")[j], dtype).reshape(-1, k)
                    for lo in range(0, len(rows), 1024):
                        hi = min(lo + 1024, len(rows))
                        scores = x[lo:hi] @ y.T
                        if user_bias is not None:
                            scores += (shift + user_bias.value[rows[lo:hi]])[:, None].astype(dtype)
                        if item_bias is not None:
                            scores += item_bias.value.astype(dtype)[None, :]
                        local = None
                        if seen:
                            part = indptr[lo : hi + 1]
                            local = (part - part[0], indices[part[0] : part[-1]])
                        index, best = _top_n(scores, local, n)
                        valid = index >= 0
                        r, rank = np.nonzero(valid)
                        yield pa.RecordBatch.from_pydict(
                            {
                                "user": rows[lo:hi][r],
                                "rank": (rank + 1).astype(np.int32),
                                "item": index[valid],
                                "score": best[valid].astype(np.float32),
                            }
                        )

    return run


def explode_factors(dtype: Any, k: int):
    """mapInArrow over factor blocks: one (index, factors array) row per matrix row."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for _, _, rows, factors in factor_rows(batches, dtype, k):
            values = factors.astype(np.float32).ravel()
            lists = pa.FixedSizeListArray.from_arrays(pa.array(values), k)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(rows),
                    pa.ListArray.from_arrays(_offsets(len(rows), k), lists.flatten()),
                ],
                names=["index", "factors"],
            )

    return run


def _offsets(n: int, k: int) -> pa.Array:
    return pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))


def pick_rows(dtype: Any, k: int, wanted: Any):
    """mapInArrow over factor blocks: only the rows whose index is in ``wanted`` (a broadcast)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch, j, rows, factors in factor_rows(batches, dtype, k):
            keep = np.isin(rows, wanted.value)
            if keep.any():
                yield _one_row(
                    block=int(batch.column("block")[j].as_py()),
                    rows=rows[keep].tobytes(),
                    factors=np.ascontiguousarray(factors[keep]).tobytes(),
                    failed=0,
                    observed=0.0,
                    penalty=0.0,
                    gram=b"",
                )

    return run
