import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from alsrec.data import Interactions
from alsrec.errors import DataError, UnknownIdError


def frame(**extra):
    base = {"user": ["u2", "u1", "u1", "u3"], "item": [10, 20, 10, 30], "rating": [1.0, 2, 3, 4]}
    base.update(extra)
    return pd.DataFrame(base)


def test_from_dataframe_builds_sorted_ids_and_values():
    data = Interactions.from_dataframe(frame())
    assert data.user_ids.tolist() == ["u1", "u2", "u3"]
    assert data.item_ids.tolist() == [10, 20, 30]
    dense = data.matrix.toarray()
    np.testing.assert_array_equal(dense, [[3, 2, 0], [1, 0, 0], [0, 0, 4]])
    assert data.matrix.dtype == np.float32
    assert data.matrix.indices.dtype == np.int32
    assert data.nnz == 4
    assert data.density == pytest.approx(4 / 9)


def test_default_column_aliases_are_found():
    df = pd.DataFrame({"userId": [1, 2], "movieId": [5, 6], "rating": [3.5, 4.0]})
    data = Interactions.from_dataframe(df)
    assert data.shape == (2, 2)
    assert data.matrix.data.tolist() == [3.5, 4.0]


def test_no_rating_column_gives_implicit_ones():
    data = Interactions.from_dataframe(pd.DataFrame({"user": [1, 1], "item": [1, 2]}))
    assert data.matrix.data.tolist() == [1.0, 1.0]


def test_missing_column_names_it_and_lists_available():
    with pytest.raises(DataError, match=r"no column 'uid'.*columns found: 'user', 'item'"):
        Interactions.from_dataframe(frame(), user_col="uid")


def test_non_numeric_rating_names_column_and_row():
    with pytest.raises(DataError, match=r"'rating' holds the non-numeric value 'x' at row 2"):
        Interactions.from_dataframe(frame(rating=[1, 2, "x", 4]))


def test_nan_and_inf_are_refused():
    with pytest.raises(DataError, match="missing value .NaN. at row 1"):
        Interactions.from_dataframe(frame(rating=[1, np.nan, 3, 4]))
    with pytest.raises(DataError, match="non-finite value inf at row 3"):
        Interactions.from_dataframe(frame(rating=[1, 2, 3, np.inf]))


def test_empty_input_is_refused():
    with pytest.raises(DataError, match="no data rows"):
        Interactions.from_dataframe(frame().iloc[:0])


def test_duplicates_error_by_default_and_aggregate_on_request():
    df = pd.DataFrame(
        {
            "user": [1, 1, 2, 1],
            "item": [7, 8, 7, 7],
            "rating": [1.0, 5, 2, 3],
            "timestamp": [10, 11, 12, 13],
        }
    )
    with pytest.raises(DataError, match=r"repeated at row 3.*duplicates='sum'"):
        Interactions.from_dataframe(df)
    as_sum = Interactions.from_dataframe(df, duplicates="sum")
    assert as_sum.matrix[0, 0] == 4.0
    assert as_sum.matrix[0, 1] == 5.0
    assert Interactions.from_dataframe(df, duplicates="mean").matrix[0, 0] == 2.0
    last = Interactions.from_dataframe(df, duplicates="last")
    assert last.matrix[0, 0] == 3.0
    # timestamps travel with their values
    assert last.timestamps.tolist() == [13, 11, 12]


def test_catalogue_drops_unknown_items_with_a_count_or_fails():
    catalogue = pd.DataFrame({"item": [10, 20], "title": ["Ten", "Twenty"]})
    with pytest.warns(UserWarning, match=r"dropped 1 interactions .*\(first: 30\)"):
        data = Interactions.from_dataframe(frame(), items=catalogue)
    assert data.nnz == 3
    assert data.item_titles().tolist() == ["Ten", "Twenty"]
    with pytest.raises(DataError, match="absent from the item catalogue.*30.*row 3"):
        Interactions.from_dataframe(frame(), items=catalogue, on_unknown_items="error")


def test_mixed_id_types_are_refused():
    df = pd.DataFrame({"user": [1, "1"], "item": [1, 2]})
    with pytest.raises(DataError, match="mixes id types"):
        Interactions.from_dataframe(df)


def test_index_lookups_both_ways_and_unknown_ids():
    data = Interactions.from_dataframe(frame())
    idx = data.user_index(["u3", "u1"])
    assert idx.tolist() == [2, 0]
    assert data.user_ids[idx].tolist() == ["u3", "u1"]
    assert data.item_index([30]).tolist() == [2]
    assert data.item_index([99], missing="ignore").tolist() == [-1]
    with pytest.raises(UnknownIdError, match="unknown user id 'nobody'"):
        data.user_index(["nobody"])


def test_transpose_counts_and_dataframe_round_trip():
    df = frame(timestamp=[4, 3, 2, 1])
    data = Interactions.from_dataframe(df)
    np.testing.assert_array_equal(data.item_user.toarray(), data.matrix.toarray().T)
    assert data.item_user is data.item_user  # cached
    assert data.user_counts().tolist() == [2, 1, 1]
    assert data.item_counts().tolist() == [2, 1, 1]
    back = data.to_dataframe().sort_values(["user", "item"]).reset_index(drop=True)
    expected = df.sort_values(["user", "item"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


@pytest.mark.parametrize("parallel", [False, True])
def test_both_transpose_paths_give_scipys_transpose_and_counts(monkeypatch, parallel):
    # large data takes the parallel kernel; both must give the same sorted CSR
    threshold = 0 if parallel else 10**12
    monkeypatch.setattr("alsrec.data.interactions.PARALLEL_MIN_NNZ", threshold)
    rng = np.random.default_rng(0)
    matrix = sp.random(40, 30, density=0.3, format="csr", dtype=np.float32, random_state=rng)
    data = Interactions.from_scipy(matrix)
    expected = matrix.T.tocsr()
    transposed = data.item_user
    assert transposed.has_sorted_indices
    np.testing.assert_array_equal(transposed.indptr, expected.indptr)
    np.testing.assert_array_equal(transposed.indices, expected.indices)
    np.testing.assert_array_equal(transposed.data, expected.data)
    np.testing.assert_array_equal(data.item_counts(), np.diff(expected.indptr))


def test_filter_keeps_shape_and_ids():
    data = Interactions.from_dataframe(frame(timestamp=[4, 3, 2, 1]))
    part = data.filter(data.matrix.data > 2)
    assert part.shape == data.shape
    assert part.user_ids is data.user_ids
    np.testing.assert_array_equal(part.matrix.toarray(), [[3, 0, 0], [0, 0, 0], [0, 0, 4]])
    assert part.timestamps.tolist() == [2, 1]


def test_select_users_and_items():
    data = Interactions.from_dataframe(frame(timestamp=[4, 3, 2, 1]))
    users = data.select_users(np.array([2, 0]))
    assert users.user_ids.tolist() == ["u3", "u1"]
    np.testing.assert_array_equal(users.matrix.toarray(), [[0, 0, 4], [3, 2, 0]])
    assert users.timestamps.tolist() == [1, 2, 3]
    items = data.select_items(np.array([2, 0]))
    assert items.item_ids.tolist() == [30, 10]
    np.testing.assert_array_equal(items.matrix.toarray(), [[0, 3], [0, 1], [4, 0]])


def test_from_scipy_and_arrays():
    matrix = sp.coo_matrix(([1.0, 2.0, 0.0], ([0, 1, 1], [1, 0, 1])), shape=(2, 3))
    data = Interactions.from_scipy(matrix)
    assert data.nnz == 2  # explicit zero dropped
    assert data.item_ids.tolist() == [0, 1, 2]
    arrays = Interactions.from_arrays(["a", "b"], ["x", "y"], [1.0, 2.0])
    assert arrays.matrix.toarray().tolist() == [[1.0, 0.0], [0.0, 2.0]]
    with pytest.raises(DataError, match="differ in length"):
        Interactions.from_arrays([1, 2], [1], [1.0, 2.0])


def test_csv_and_parquet_round_trip_with_file_positions(tmp_path):
    df = frame(timestamp=[4, 3, 2, 1])
    csv = tmp_path / "ratings.csv"
    df.to_csv(csv, index=False)
    parquet = tmp_path / "ratings.parquet"
    df.to_parquet(parquet)
    from_csv = Interactions.from_file(csv)
    from_parquet = Interactions.from_file(parquet)
    np.testing.assert_array_equal(from_csv.matrix.toarray(), from_parquet.matrix.toarray())
    assert from_csv.timestamps.tolist() == from_parquet.timestamps.tolist()

    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,3\n1,3,oops\n")
    with pytest.raises(DataError, match=r"'oops' at row 1 \(line 3\) of .*bad.csv"):
        Interactions.from_csv(bad)


def test_csv_with_wrong_delimiter_says_which():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.csv"
        path.write_text("user;item;rating\n1;2;3\n")
        with pytest.raises(DataError, match="';'-separated; pass sep=';'"):
            Interactions.from_csv(path)
        with pytest.raises(DataError, match="no such file"):
            Interactions.from_csv(Path(folder) / "absent.csv")


def test_latin1_file_read_as_utf8_names_the_fix(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("user,item,rating\nJos\xe9,1,3\n".encode("latin-1"))
    with pytest.raises(DataError, match="encoding='latin-1'"):
        Interactions.from_csv(path)
    assert Interactions.from_csv(path, encoding="latin-1").user_ids.tolist() == ["José"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_bad_value_past_the_first_check_chunk_is_refused_and_zeros_dropped(bad):
    # values are checked a chunk at a time (no full-size temporary): the last chunk counts
    from alsrec.data.validation import CHECK_CHUNK

    n = 3 * CHECK_CHUNK + 5
    rows, cols = np.divmod(np.arange(n), 1000)
    values = np.ones(n, np.float32)
    values[-1] = 0.0  # an explicit zero in the last chunk: dropped, on a private copy
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(rows[-1] + 1, 1000))
    data = Interactions.from_scipy(matrix)
    assert data.nnz == n - 1
    assert matrix.nnz == n  # the caller's matrix is untouched
    values[-1] = bad
    with pytest.raises(DataError, match="NaN, inf"):
        Interactions.from_scipy(sp.csr_matrix((values, (rows, cols)), shape=matrix.shape))
