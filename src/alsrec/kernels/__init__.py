"""Stateless numeric kernels over CSR and factor arrays (numba on the CPU).

Kernels know arrays only: no ids, DataFrames, files or progress bars.
"""

from pathlib import Path


def _drop_stale_caches(here: Path = Path(__file__).parent) -> None:
    """Forget compiled kernels older than the newest kernel source.

    numba keys each cached kernel on its own file's timestamp only, so a
    kernel that inlines code from another file (``simd``'s intrinsics, the
    weight formulas, the shared row assembly) would keep running the old code
    after that file alone changed (an edit or a pull in a source checkout).
    Deleting the index files makes numba compile those kernels again.
    """
    try:
        newest = max(source.stat().st_mtime for source in here.glob("*.py"))
        indexes = list((here / "__pycache__").glob("*.nbi"))
    except (OSError, ValueError):  # no sources or cache here (NUMBA_CACHE_DIR, zip install)
        return
    for index in indexes:
        try:
            if index.stat().st_mtime < newest:
                index.unlink()
        except OSError:  # another process removed it, or the cache is read-only
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
