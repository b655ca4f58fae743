"""How a stored value r becomes a confidence c and a target (preference) p.

The kernels read the raw CSR values and apply these inline, so no per-nonzero
weight or target arrays are materialised (for 25M interactions that saves
hundreds of MB and the memory traffic to read them).

Codes are small integers because numba kernels take no Python objects; the
four settings travel together as one :class:`Weights` record.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

CONFIDENCE_ONE = 0  # c = 1
CONFIDENCE_LINEAR = 1  # c = 1 + alpha * r
CONFIDENCE_LOG = 2  # c = 1 + alpha * log1p(r)
CONFIDENCE_SCALED = 3  # c = alpha * r (the implicit library's convention)

TARGET_VALUE = 0  # p = r
TARGET_ONE = 1  # p = 1
TARGET_LIKED = 2  # p = 1 for r > 0, 0 for r <= 0 (implicit data with dislikes)

CONFIDENCE_CODES = {
    "one": CONFIDENCE_ONE,
    "linear": CONFIDENCE_LINEAR,
    "log": CONFIDENCE_LOG,
    "scaled": CONFIDENCE_SCALED,
}
TARGET_CODES = {"value": TARGET_VALUE, "one": TARGET_ONE, "liked": TARGET_LIKED}


class Weights(NamedTuple):
    """How stored values become cell weights: the four settings every kernel takes.

    Passed to the numba kernels as one record (numba compiles named tuples).
    Build it with :func:`make_weights` so the field types never vary (a new
    type would compile every kernel again).
    """

    unobserved: float  # w0, the weight of every cell outside S
    confidence: int  # a CONFIDENCE_* code
    alpha: float  # confidence scale
    target: int  # a TARGET_* code


def make_weights(unobserved: float, confidence: int, alpha: float, target: int) -> Weights:
    """A :class:`Weights` record with plain float and int fields."""
    return Weights(float(unobserved), int(confidence), float(alpha), int(target))


@njit(inline="always", cache=True)
def confidence(value, weights):
    """c_ui for a stored value (computed in float64 whatever the storage): the one formula."""
    value = abs(np.float64(value))  # a dislike (r < 0) weighs by its magnitude
    mode = weights.confidence
    if mode == CONFIDENCE_LINEAR:
        return 1.0 + weights.alpha * value
    if mode == CONFIDENCE_LOG:
        return 1.0 + weights.alpha * np.log1p(value)
    if mode == CONFIDENCE_SCALED:
        return weights.alpha * value
    return 1.0


@njit(inline="always", cache=True)
def target(value, weights):
    """p_ui for a stored value: the one formula."""
    if weights.target == TARGET_ONE:
        return 1.0
    if weights.target == TARGET_LIKED:
        return 1.0 if value > 0 else 0.0
    return np.float64(value)


@njit(cache=True)
def _cell_weights(values, weights, c, p):
    for nz in range(len(values)):
        c[nz] = confidence(values[nz], weights)
        p[nz] = target(values[nz], weights)


def cell_weights(values: np.ndarray, weights: Weights) -> tuple[np.ndarray, np.ndarray]:
    """c and p of every value (any shape) as float64 arrays, by the kernels' own formulas."""
    values = np.asarray(values, dtype=np.float64)
    flat = np.ascontiguousarray(values.ravel())
    c, p = np.empty_like(flat), np.empty_like(flat)
    _cell_weights(flat, weights, c, p)
    return c.reshape(values.shape), p.reshape(values.shape)
