"""The torch (GPU) path against the numba path, on torch's CPU device; GPU tests when present."""

import os

import numpy as np
import pytest

from alsrec import ALS, generate
from alsrec.errors import ParameterError

try:
    import torch
except ImportError:  # CI installs torch (see .ci/run); a developer may not have it
    if os.environ.get("CI"):
        raise
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
needs_gpu = pytest.mark.skipif(
    torch is None or not torch.cuda.is_available(), reason="no CUDA GPU here"
)


def data_for(preset):
    values = "explicit" if preset == "explicit" else "implicit"
    return generate(300, 200, 5000, values=values, seed=0).interactions


@needs_torch
@pytest.mark.parametrize("preset", ["explicit", "implicit", "zeros"])
@pytest.mark.parametrize("solver", ["cholesky", "cg"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_matches_numba(preset, solver, dtype):
    data = data_for(preset)
    common = {"factors": 8, "iterations": 4, "solver": solver, "random_state": 3, "dtype": dtype}
    numba_model = ALS(preset, **common).fit(data)
    torch_model = ALS(preset, backend="torch", **common).fit(data)
    tol = 1e-3 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(
        torch_model.item_factors_, numba_model.item_factors_, rtol=tol, atol=tol
    )
    assert torch_model.loss_history_[-1] == pytest.approx(numba_model.loss_history_[-1], rel=tol)
    assert torch_model.item_factors_.dtype == np.dtype(dtype)


@needs_torch
def test_torch_respects_random_state_and_small_buckets():
    from alsrec.kernels import torch_solvers

    data = data_for("implicit")
    a = ALS("implicit", factors=6, iterations=2, backend="torch", random_state=1).fit(data)
    b = ALS("implicit", factors=6, iterations=2, backend="torch", random_state=1).fit(data)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    groups = torch_solvers.buckets(data.matrix.indptr, 6, max_elements=500)
    rows = np.concatenate([g[0] for g in groups])
    assert sorted(rows.tolist()) == list(range(data.n_users))  # every row exactly once
    assert all(len(g[0]) * max(g[1], 1) * 6 <= 500 or len(g[0]) == 1 for g in groups)


def test_gpu_is_never_used_silently_and_absent_gpu_is_an_error():
    data = data_for("implicit")
    model = ALS("implicit", factors=2, iterations=1).fit(data)
    assert model.get_params()["device"] == "cpu"
    if torch is not None and torch.cuda.is_available():
        return  # with a GPU, device="cuda" is valid: test_cuda_matches_numba covers it
    with pytest.raises(ParameterError, match="cuda"):
        ALS("implicit", device="cuda").fit(data)
    with pytest.raises(ParameterError, match="must be 'cpu', 'cuda'"):
        ALS("implicit", device="tpu").fit(data)
    with pytest.raises(ParameterError, match="numba backend runs on the CPU"):
        ALS("implicit", device="cuda:0", backend="numba").fit(data)


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_cuda_matches_numba(solver):
    data = data_for("implicit")
    common = {"factors": 16, "iterations": 3, "solver": solver, "random_state": 0}
    gpu = ALS("implicit", device="cuda", **common).fit(data)
    cpu = ALS("implicit", **common).fit(data)
    np.testing.assert_allclose(gpu.item_factors_, cpu.item_factors_, rtol=2e-3, atol=2e-3)
