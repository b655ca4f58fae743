"""The parallel CSR transpose gives exactly scipy's transpose."""

import numpy as np
import pytest
import scipy.sparse as sp

from alsrec.kernels.sparse import transpose_csr


def shuffled_csr(n_rows, n_cols, density, seed, data_dtype):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_rows, n_cols, density=density, format="csr", random_state=rng)
    matrix.data = (100 * matrix.data).astype(data_dtype)
    for row in range(n_rows):  # the kernel must not rely on sorted input rows
        part = slice(matrix.indptr[row], matrix.indptr[row + 1])
        order = rng.permutation(part.stop - part.start)
        matrix.indices[part] = matrix.indices[part][order]
        matrix.data[part] = matrix.data[part][order]
    return matrix


@pytest.mark.parametrize("n_parts", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize(
    ("index_dtype", "data_dtype"),
    [(np.int32, np.float32), (np.int64, np.float64), (np.int32, np.int64)],
)
def test_transpose_equals_scipy(n_parts, index_dtype, data_dtype):
    matrix = shuffled_csr(57, 23, 0.2, seed=n_parts, data_dtype=data_dtype)
    matrix.data[matrix.indptr[10] : matrix.indptr[13]] = 0  # empty rows
    matrix.eliminate_zeros()
    expected = matrix.T.tocsr()
    expected.sort_indices()
    indptr, indices, data = transpose_csr(
        matrix.indptr.astype(index_dtype),
        matrix.indices.astype(index_dtype),
        matrix.data,
        matrix.shape[1],
        n_parts,
    )
    np.testing.assert_array_equal(indptr, expected.indptr)
    np.testing.assert_array_equal(indices, expected.indices)
    np.testing.assert_array_equal(data, expected.data)
    assert (indptr.dtype, indices.dtype, data.dtype) == (index_dtype, index_dtype, data_dtype)


@pytest.mark.parametrize("shape", [(0, 5), (4, 0), (6, 3)])
def test_transpose_of_an_empty_matrix(shape):
    matrix = sp.csr_matrix(shape, dtype=np.float32)
    indptr, indices, data = transpose_csr(matrix.indptr, matrix.indices, matrix.data, shape[1], 2)
    np.testing.assert_array_equal(indptr, np.zeros(shape[1] + 1))
    assert len(indices) == len(data) == 0
