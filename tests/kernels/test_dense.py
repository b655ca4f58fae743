"""Small dense algebra between kernels: numpy's answers, BLAS limits left as they were."""

import threading

import numpy as np
from threadpoolctl import threadpool_info

from alsrec.kernels import dense


def blas_threads():
    return {p["filepath"]: p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_answers_equal_numpy_and_limits_are_restored_even_from_many_threads():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 64))
    sym = a @ a.T + 64 * np.eye(64)
    before = blas_threads()
    values, vectors = dense.eigh(sym)
    np.testing.assert_allclose(values, np.linalg.eigvalsh(sym))
    np.testing.assert_allclose((vectors * values) @ vectors.T, sym, atol=1e-9)
    np.testing.assert_allclose(dense.eigvalsh(sym), values)
    np.testing.assert_allclose(dense.inv(sym) @ sym, np.eye(64), atol=1e-9)

    def many():
        for _ in range(50):
            dense.eigh(sym)

    threads = [threading.Thread(target=many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert blas_threads() == before
