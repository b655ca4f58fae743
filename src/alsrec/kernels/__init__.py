"""Stateless numeric kernels over CSR and factor arrays (numba on the CPU).

Kernels know arrays only: no ids, DataFrames, files or progress bars.
"""

from alsrec.kernels.loss import objective
from alsrec.kernels.solvers import balanced_chunks, gramian, solve_cg, solve_cholesky
from alsrec.kernels.topk import top_n
from alsrec.kernels.weights import CONFIDENCE_CODES, TARGET_CODES, Weights, make_weights

__all__ = [
    "CONFIDENCE_CODES",
    "TARGET_CODES",
    "Weights",
    "balanced_chunks",
    "gramian",
    "make_weights",
    "objective",
    "solve_cg",
    "solve_cholesky",
    "top_n",
]
