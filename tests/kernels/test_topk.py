import numpy as np
import scipy.sparse as sp

from alsrec.kernels import top_n


def run(scores, rows, exclude, banned, n, threshold=-np.inf):
    index = np.empty((scores.shape[0], n), np.int64)
    best = np.empty((scores.shape[0], n))
    exclude = sp.csr_matrix(exclude)
    top_n(
        scores.copy(),
        np.asarray(rows, np.int64),
        exclude.indptr,
        exclude.indices,
        np.asarray(banned, np.int64),
        n,
        threshold,
        index,
        best,
    )
    return index, best


def test_hand_example_with_exclusions_ties_and_threshold():
    scores = np.array([[0.5, 0.9, 0.9, 0.1, 0.7], [1.0, 2.0, 3.0, 4.0, 5.0]])
    exclude = np.array([[0, 0, 0, 0, 1], [1, 0, 0, 0, 0]])
    index, best = run(scores, [0, 1], exclude, [3], 3)
    assert index.tolist() == [[1, 2, 0], [4, 2, 1]]  # tie 0.9: lower column first
    np.testing.assert_allclose(best, [[0.9, 0.9, 0.5], [5.0, 3.0, 2.0]])
    index, best = run(scores, [0, -1], exclude, [], 3, threshold=0.8)
    assert index.tolist() == [[1, 2, -1], [4, 3, 2]]
    assert np.isnan(best[0, 2])


def test_matches_a_full_sort_on_random_rows():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 300)).astype(np.float32)
    seen = (rng.random((50, 300)) < 0.1).astype(np.float32)
    index, _ = run(scores, np.arange(50), seen, [], 20)
    masked = np.where(seen > 0, -np.inf, scores)
    expected = np.argsort(-masked, axis=1, kind="stable")[:, :20]
    np.testing.assert_array_equal(index, expected)
