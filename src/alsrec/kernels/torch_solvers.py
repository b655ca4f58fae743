"""The ALS kernels in PyTorch, for NVIDIA GPUs (and torch's CPU device, for tests).

Same mathematics as :mod:`alsrec.kernels.solvers`, reorganised for a GPU:
rows are grouped into buckets of similar length, padded to the bucket's
longest row, and each bucket is solved as one batch:

- Gram contributions ``Y_S^T diag(c - w0) Y_S`` are batched matrix products
  over the gathered, padded rows (padding has weight 0);
- Cholesky: ``torch.linalg.cholesky_ex`` + ``cholesky_solve`` on the batch;
- CG: the same iteration as the CPU kernel, vectorised over the batch.

Buckets are cut so that a gathered block holds at most ``max_elements``
numbers, which bounds device memory whatever the row lengths. Kernels take
and return tensors; they know nothing about ids or models.
"""

from __future__ import annotations

import numpy as np

DEFAULT_MAX_ELEMENTS = 1 << 26  # numbers in one gathered (rows x length x k) block


def buckets(indptr: np.ndarray, k: int, max_elements: int = DEFAULT_MAX_ELEMENTS):
    """Groups of row indices of similar length: (rows, padded length) pairs.

    Lengths are rounded up to powers of two, so padding wastes less than half
    of any bucket; each group is cut to fit ``max_elements``.
    """
    lengths = np.diff(indptr).astype(np.int64)
    padded = np.where(lengths > 0, 2 ** np.ceil(np.log2(np.maximum(lengths, 1))), 0).astype(
        np.int64
    )
    groups = []
    for size in np.unique(padded):
        rows = np.flatnonzero(padded == size)
        per_batch = max(1, max_elements // max(int(size) * k, 1))
        for start in range(0, len(rows), per_batch):
            groups.append((rows[start : start + per_batch], int(size)))
    return groups


def _gather(indptr_t, indices_t, weight_t, rhs_t, rows_t, length: int):
    """Padded (batch x length) column indices, weights and right-hand-side coefficients."""
    import torch

    starts = indptr_t[rows_t]
    counts = indptr_t[rows_t + 1] - starts
    offsets = torch.arange(length, device=rows_t.device)
    valid = offsets[None, :] < counts[:, None]
    positions = (starts[:, None] + offsets[None, :]).clamp(max=max(len(indices_t) - 1, 0))
    cols = torch.where(valid, indices_t[positions], 0)
    zero = torch.zeros((), dtype=weight_t.dtype, device=weight_t.device)
    weights = torch.where(valid, weight_t[positions], zero)
    coefs = torch.where(valid, rhs_t[positions], zero)
    return cols, weights, coefs


def solve(
    indptr: np.ndarray,
    indices,
    confidence,
    rhs_coef,
    other,
    reg,
    w0: float,
    out,
    solver: str = "cholesky",
    cg_steps: int = 3,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> int:
    """Solve every row's ridge system; writes ``out`` (a tensor), returns failing rows.

    ``confidence`` and ``rhs_coef`` hold each cell's c and c p (computed by
    :func:`~alsrec.kernels.weights.cell_weights`, the kernels' own formulas).
    ``indices``, ``confidence``, ``rhs_coef``, ``other``, ``reg`` and ``out``
    are tensors on one device; ``indptr`` is also needed on the host (numpy) to plan the buckets.
    CG is warm-started from ``out``.
    """
    import torch

    device, dtype = other.device, other.dtype
    k = other.shape[1]
    indptr_t = torch.as_tensor(indptr, device=device, dtype=torch.int64)
    weight = confidence - w0
    gram = w0 * (other.double().T @ other.double())
    eye = torch.eye(k, dtype=dtype, device=device)
    rotation = None
    if solver == "cg" and w0:
        # the same eigenbasis and Jacobi preconditioner as the CPU kernel
        eigenvalues, rotation = torch.linalg.eigh(gram)
        eigenvalues = eigenvalues.clamp(min=0).to(dtype)
        rotation = rotation.to(dtype)
        other = other @ rotation
        out[:] = out @ rotation
    else:
        eigenvalues = torch.zeros(k, dtype=dtype, device=device)
    gram = gram.to(dtype)
    failures = 0
    lengths = np.diff(indptr)
    empty = np.flatnonzero(lengths == 0)
    if len(empty):  # rows without data have b = 0, so x = 0 solves A x = b exactly
        out[torch.as_tensor(empty, device=device)] = 0
    for rows, length in buckets(indptr, k, max_elements):
        if length == 0:
            continue
        rows_t = torch.as_tensor(rows, device=device)
        cols, weights, coefs = _gather(indptr_t, indices, weight, rhs_coef, rows_t, length)
        gathered = other[cols]  # (batch, length, k)
        b = torch.einsum("bl,blk->bk", coefs, gathered)
        row_reg = reg[rows_t].to(dtype)
        if solver == "cg":
            x = out[rows_t].clone()
            x = _cg(eigenvalues, row_reg, gathered, weights, b, x, cg_steps)
            failures += int((~torch.isfinite(x).all(dim=1)).sum())
            out[rows_t] = x
            continue
        a = gram + row_reg[:, None, None] * eye
        a = a + torch.einsum("blk,bl,blj->bkj", gathered, weights, gathered)
        factor, info = torch.linalg.cholesky_ex(a.double())
        solution = torch.cholesky_solve(b.double()[:, :, None], factor)[:, :, 0]
        ok = info == 0
        failures += int((~ok).sum())
        keep = rows_t[ok]
        out[keep] = solution[ok].to(dtype)
    if rotation is not None:
        out[:] = out @ rotation.T
    return failures


def _cg(diagonal, reg, gathered, weights, b, x, steps: int):
    """Batched Jacobi-preconditioned CG on A x = b, A = diag(diagonal) + reg I + Y^T W Y.

    ``diagonal`` is the shared part in its eigenbasis (zeros when w0 = 0), as
    in the CPU kernel, whose iterates this reproduces.
    """
    import torch

    def product(v):
        projected = torch.einsum("blk,bk->bl", gathered, v) * weights
        return (diagonal + reg[:, None]) * v + torch.einsum("bl,blk->bk", projected, gathered)

    diag = diagonal + reg[:, None] + torch.einsum("bl,blk->bk", weights, gathered * gathered)
    inverse = torch.where(diag > 0, 1.0 / torch.where(diag > 0, diag, 1), 1.0)
    r = b - product(x)
    z = inverse * r
    p = z.clone()
    rz_old = (r * z).sum(dim=1)
    rs_old = (r * r).sum(dim=1)
    for _ in range(steps):
        active = (rs_old > 1e-20) & (rz_old > 0)
        if not bool(active.any()):
            break
        ap = product(p)
        p_ap = (p * ap).sum(dim=1)
        active = active & (p_ap > 0)
        step = torch.where(active, rz_old / torch.where(p_ap > 0, p_ap, 1), 0)
        x = x + step[:, None] * p
        r = r - step[:, None] * ap
        z = inverse * r
        rz_new = (r * z).sum(dim=1)
        beta = torch.where(active, rz_new / torch.where(rz_old > 0, rz_old, 1), 0)
        p = torch.where(active[:, None], z + beta[:, None] * p, p)
        rz_old = torch.where(active, rz_new, rz_old)
        rs_old = torch.where(active, (r * r).sum(dim=1), rs_old)
    return x


def objective(indptr, indices, confidence, target, x, y, user_reg, item_reg, w0) -> float:
    """The exact objective (see :mod:`alsrec.kernels.loss`) from each cell's c and p, with torch."""
    import torch

    rows = torch.repeat_interleave(
        torch.arange(len(indptr) - 1, device=x.device),
        torch.as_tensor(np.diff(indptr), device=x.device),
    )
    scores = (x[rows].double() * y[indices].double()).sum(dim=1)
    observed = (confidence.double() * (target.double() - scores) ** 2 - w0 * scores**2).sum()
    unobserved = w0 * ((x.double().T @ x.double()) * (y.double().T @ y.double())).sum()
    penalty = (user_reg.double() * (x.double() ** 2).sum(1)).sum() + (
        item_reg.double() * (y.double() ** 2).sum(1)
    ).sum()
    return float(observed + unobserved + penalty)
