"""Small dense linear algebra (k x k) between the per-row kernels, without waking BLAS threads.

numpy's ``eigh`` and ``inv`` call OpenBLAS, whose worker threads spin for a
while after every call. Between numba kernels that spin takes the cores from
numba's workers: on ml-latest-small (k = 64, 2 cores) a CG fit ran 4.7x slower
than with one BLAS thread. These wrappers run each call with BLAS limited to
one thread (k x k problems gain nothing from more) and restore the limit in
the same thread right after. The limit is process-wide while it is held (for
the microseconds of a k x k call); a lock makes concurrent calls take turns,
so no call restores another's limit and none is left changed afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

_LOCK = threading.Lock()
_CONTROLLER: list = []  # threadpoolctl's controller, created on first use (it scans libraries)


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    from threadpoolctl import ThreadpoolController

    with _LOCK:
        if not _CONTROLLER:
            _CONTROLLER.append(ThreadpoolController())
        with _CONTROLLER[0].limit(limits=1, user_api="blas"):
            yield


def eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, one BLAS thread."""
    with _one_blas_thread():
        return np.linalg.eigh(matrix)


def eigvalsh(matrix: np.ndarray) -> np.ndarray:
    """Eigenvalues (ascending) of a symmetric matrix, one BLAS thread."""
    with _one_blas_thread():
        return np.linalg.eigvalsh(matrix)


def inv(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a square matrix, one BLAS thread."""
    with _one_blas_thread():
        return np.linalg.inv(matrix)
