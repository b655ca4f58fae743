"""Stateless numeric kernels over CSR and factor arrays (numba on the CPU).

Kernels know arrays only: no ids, DataFrames, files or progress bars.
"""

from pathlib import Path


def _drop_stale_caches(here: Path = Path(__file__).parent) -> None:
    """Forget compiled kernels older than ``simd.py``.

    numba keys each cached kernel on its own file's timestamp only, so a
    kernel that inlines ``simd``'s intrinsics would keep running their old
    code after ``simd.py`` alone changed (an edit or a pull in a source
    checkout). Deleting the index files makes numba compile those kernels again.
    """
    try:
        changed = (here / "simd.py").stat().st_mtime
        for index in (here / "__pycache__").glob("*.nbi"):
            if index.stat().st_mtime < changed:
                index.unlink()
    except OSError:  # no cache next to the sources (read-only install, NUMBA_CACHE_DIR)
        pass


_drop_stale_caches()

from alsrec.kernels.loss import objective, observed_loss  # noqa: E402
from alsrec.kernels.solvers import (  # noqa: E402
    balanced_chunks,
    gramian,
    solve_cg,
    solve_cholesky,
)
from alsrec.kernels.topk import top_n  # noqa: E402
from alsrec.kernels.weights import (  # noqa: E402
    CONFIDENCE_CODES,
    TARGET_CODES,
    Weights,
    make_weights,
)

__all__ = [
    "CONFIDENCE_CODES",
    "TARGET_CODES",
    "Weights",
    "balanced_chunks",
    "gramian",
    "make_weights",
    "objective",
    "observed_loss",
    "solve_cg",
    "solve_cholesky",
    "top_n",
]
