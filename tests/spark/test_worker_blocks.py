"""Python workers keep parsed blocks between half-steps and solve from them."""

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("pyspark")

from alsrec import ALS, generate
from alsrec.spark import blocks as B


def _block_batch(data, dtype=np.float32) -> pa.RecordBatch:
    m = data.matrix
    return pa.RecordBatch.from_pydict(
        {
            "block": [7],
            "rows": [np.arange(data.n_users, dtype=np.int64).tobytes()],
            "indptr": [m.indptr.astype(np.int64).tobytes()],
            "indices": [m.indices.astype(np.int32).tobytes()],
            "values": [m.data.astype(dtype).tobytes()],
        }
    )


def test_a_block_sent_once_is_solved_from_memory_and_an_unknown_one_is_asked_for_again():
    data = generate(30, 20, 300, values="implicit", seed=1).interactions
    model = ALS("implicit", factors=4)
    objective = model._settings()[0]
    other = np.random.default_rng(0).standard_normal((data.n_items, 4)).astype(np.float32)
    gram = objective.unobserved_weight * B._gram(other)
    shared = SimpleNamespace(value=other)

    def solve(token):
        return B.half_step(
            np.float32, objective, shared, None, gram, data.n_items, "cholesky", 0, True, token
        )

    full = next(solve("fit-a")(iter([_block_batch(data)])))
    light = pa.RecordBatch.from_pydict({"block": [7]})
    kept = next(solve("fit-a")(iter([light])))
    assert kept.column("failed")[0].as_py() == 0
    for column in ("rows", "factors", "gram", "observed", "penalty"):
        assert kept.column(column)[0] == full.column(column)[0]  # the same solve, bit for bit
    unknown = next(solve("fit-b")(iter([light])))
    assert unknown.column("failed")[0].as_py() == B.MISSING
    assert unknown.column("factors")[0].as_py() == b""


def test_workers_keep_only_the_newest_fits_blocks():
    csr = (np.array([0, 1]), np.array([0], np.int32), np.array([1.0], np.float32))
    for token in ("one", "two", "three"):
        B.remember_block(token, 0, np.array([0]), csr)
    kept_tokens = {token for token, _ in B._KEPT}
    assert "one" not in kept_tokens
    assert {"two", "three"} <= kept_tokens
