"""Ids, timestamps and values are kept exactly as given, or refused with a clear error."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from alsrec import ALS, Interactions, load_model
from alsrec.errors import DataError
from alsrec.evaluation import TemporalSplit


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_text_ids_keep_leading_zeros(tmp_path):
    path = write(tmp_path, "user,item,rating\n007,10,5\n7,10,3\n0007,11,4\n")
    data = Interactions.from_csv(path)
    assert sorted(data.user_ids) == ["0007", "007", "7"]
    assert data.item_ids.dtype == np.int64  # plain integers everywhere: numbers
    assert list(Interactions.from_csv(path, ids="text").item_ids) == ["10", "11"]


def test_csv_integer_ids_stay_integers_and_float_looking_ids_stay_text(tmp_path):
    data = Interactions.from_csv(write(tmp_path, "user,item\n1,1.5\n2,2.0\n-3,1.5\n"))
    assert data.user_ids.dtype == np.int64
    assert list(data.user_ids) == [-3, 1, 2]
    assert list(data.item_ids) == ["1.5", "2.0"]  # queryable as typed


@pytest.mark.parametrize(
    ("ids", "kind"),
    [
        ([b"a", b"b"], "bytes"),
        ([Decimal("1"), Decimal("2")], "Decimal"),
        ([(1, 2), (3, 4)], "tuple"),
        ([1.5, 2.5], "float64"),
        ([True, False], "bool"),
    ],
)
def test_unsupported_id_types_are_refused_at_input(ids, kind):
    frame = pd.DataFrame({"user": pd.Series(ids, dtype=object if kind != "float64" else None)})
    frame["item"] = [1, 2]
    with pytest.raises(DataError, match=f"{kind}.*integers or text"):
        Interactions.from_dataframe(frame)


def test_text_integer_and_mixed_ids_round_trip_through_fit_update_save_load(tmp_path):
    for users in ([10, 10, 20, 30], ["a", "a", "007", "7"]):
        data = Interactions.from_arrays(users, ["x", "y", "x", "z"], [1.0, 1, 1, 1])
        model = ALS("implicit", factors=2, iterations=2, random_state=0).fit(data)
        model.update_users(Interactions.from_arrays(["new-user"], ["y"], [1.0]))
        model.save(tmp_path / "m.alsrec")
        loaded = load_model(tmp_path / "m.alsrec")
        assert list(loaded.user_ids_) == [*sorted(set(users)), "new-user"]
        for user in loaded.user_ids_:
            assert loaded.recommend(user, n=2).equals(model.recommend(user, n=2))


def test_nanosecond_timestamps_are_exact_and_pick_the_right_last_item(tmp_path):
    path = write(
        tmp_path,
        "user,item,timestamp\n1,a,1700000000123456789\n1,b,1700000000123456768\n2,a,5\n2,b,6\n",
    )
    data = Interactions.from_csv(path)
    assert sorted(data.timestamps.tolist()) == [5, 6, 1700000000123456768, 1700000000123456789]
    fold = next(iter(TemporalSplit(last=1).split(data, seed=0)))
    held = {
        data.user_ids[user]: list(data.item_ids[fold.items[fold.indptr[i] : fold.indptr[i + 1]]])
        for i, user in enumerate(fold.users)
    }
    assert held == {1: ["a"], 2: ["b"]}  # ...789 is later than ...768


def test_datetime_timestamps_are_taken_as_nanoseconds():
    frame = pd.DataFrame(
        {
            "user": [1, 1],
            "item": [1, 2],
            "timestamp": pd.to_datetime(
                ["2024-01-01T00:00:00.000000001", "2024-01-02T00:00:00"], format="ISO8601"
            ),
        }
    )
    data = Interactions.from_dataframe(frame)
    assert data.timestamps.tolist() == [1704067200000000001, 1704153600000000000]


def test_out_of_range_timestamps_are_refused(tmp_path):
    path = write(tmp_path, "user,item,timestamp\n1,a,10000000000000000000\n")
    with pytest.raises(DataError, match="outside the int64 range"):
        Interactions.from_csv(path)
    with pytest.raises(DataError, match="int64 or datetime64"):
        Interactions(np.eye(2), [1, 2], [1, 2], timestamps=np.array([1.5, 2.0]))


def test_values_beyond_float32_are_refused_not_stored_as_inf(tmp_path):
    with pytest.raises(DataError, match=r"line 3\).*float32 range"):
        Interactions.from_csv(write(tmp_path, "user,item,rating\n1,a,5\n2,a,1e39\n"))
    frame = pd.DataFrame({"user": [1, 1], "item": [1, 1], "rating": [3e38, 3e38]})
    with pytest.raises(DataError, match="float32 range"):
        Interactions.from_dataframe(frame, duplicates="sum")
    import scipy.sparse as sp

    with pytest.raises(DataError, match="float32"):
        Interactions.from_scipy(sp.csr_matrix(np.array([[1e39, 0.0]])))


def test_fold_in_and_update_users_validate_like_fit():
    data = Interactions.from_arrays([1, 1, 2], ["a", "b", "b"], [1.0, 2, 3])
    model = ALS("implicit", factors=2, iterations=2, random_state=0).fit(data)
    with pytest.raises(DataError, match="float32 range"):
        model.fold_in(["a", "b"], [1e39, 1.0])
    with pytest.raises(DataError, match="negative values"):
        model.fold_in(["a", "b"], [-1.0, 1.0])
    with pytest.raises(DataError, match="negative values"):
        model.update_users(Interactions.from_arrays([3], ["a"], [-2.0]))
    with pytest.raises(DataError, match="negative values"):
        ALS("implicit").fit(Interactions.from_arrays([3], ["a"], [-2.0]))


def test_an_empty_delimiter_is_refused(tmp_path):
    with pytest.raises(DataError, match="non-empty delimiter"):
        Interactions.from_csv(write(tmp_path, "user,item\n1,2\n"), sep="")


def test_integer_looking_ids_beyond_int64_stay_text(tmp_path):
    data = Interactions.from_csv(
        write(tmp_path, "user,item\n9999999999999999999,1\n9223372036854775808,1\n5,1\n")
    )
    assert sorted(data.user_ids) == ["5", "9223372036854775808", "9999999999999999999"]
