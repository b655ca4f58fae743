import numpy as np
import pandas as pd
import pytest

from alsrec import Interactions
from alsrec.errors import DataError, ParameterError
from alsrec.evaluation import BlogProtocol, RandomHoldout, TemporalSplit, UserCrossFold


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(30):
        items = rng.choice(40, size=rng.integers(4, 20), replace=False)
        for t, i in enumerate(items):
            rows.append((u, i, float(rng.integers(1, 6)), 1000 * u + t))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return Interactions.from_dataframe(frame)


def test_blog_protocol_hides_halves_and_ranks_them(data):
    folds = BlogProtocol(n_folds=2).split(data, seed=3)
    assert len(folds) == 2
    all_test = np.concatenate([f.users for f in folds])
    assert sorted(all_test.tolist()) == list(range(data.n_users))  # users partitioned
    dense = data.matrix.toarray()
    for fold in folds:
        train = fold.train.matrix.toarray()
        assert fold.train.shape == data.shape
        assert not fold.rank_all
        test_set = set(fold.users.tolist())
        for position, user in enumerate(fold.users):
            entries = fold.user_slice(position)
            items, gains = fold.items[entries], fold.gains[entries]
            rated = np.flatnonzero(dense[user])
            unrated = np.flatnonzero(dense[user] == 0)
            hidden_rated = items[gains > 0]
            assert len(hidden_rated) == len(rated) // 2
            assert len(items) - len(hidden_rated) == len(unrated) // 2
            np.testing.assert_array_equal(gains[gains > 0], dense[user, hidden_rated])
            assert np.all(train[user, hidden_rated] == 0)  # hidden from training
            kept = np.setdiff1d(rated, hidden_rated)
            np.testing.assert_array_equal(train[user, kept], dense[user, kept])
        for user in set(range(data.n_users)) - test_set:
            np.testing.assert_array_equal(train[user], dense[user])  # training users complete


def test_blog_protocol_faithful_hides_lowest_item_ids(data):
    fold = BlogProtocol(faithful=True).split(data, seed=0)[0]
    dense = data.matrix.toarray()
    for position, user in enumerate(fold.users):
        items, gains = fold.items[fold.user_slice(position)], fold.gains[fold.user_slice(position)]
        rated = np.flatnonzero(dense[user])
        np.testing.assert_array_equal(items[gains > 0], rated[: len(rated) // 2])


def test_blog_protocol_is_deterministic_by_seed(data):
    a, b = BlogProtocol().split(data, 5), BlogProtocol().split(data, 5)
    c = BlogProtocol().split(data, 6)
    np.testing.assert_array_equal(a[0].items, b[0].items)
    assert not np.array_equal(a[0].users, c[0].users) or not np.array_equal(a[0].items, c[0].items)


def test_crossfold_holdout_counts_and_keeps_one(data):
    folds = UserCrossFold(n_folds=3, holdout=3).split(data, seed=1)
    counts = data.user_counts()
    seen_users = []
    for fold in folds:
        assert fold.rank_all
        per_user = np.diff(fold.indptr)
        np.testing.assert_array_equal(per_user, np.minimum(3, counts[fold.users] - 1))
        train_counts = fold.train.user_counts()
        assert np.all(train_counts[fold.users] >= 1)
        seen_users += fold.users.tolist()
    assert sorted(seen_users) == list(range(data.n_users))


def test_crossfold_fraction_and_last_by_time(data):
    fold = UserCrossFold(n_folds=2, fraction=0.5).split(data, 0)[0]
    counts = data.user_counts()[fold.users]
    np.testing.assert_array_equal(
        np.diff(fold.indptr), np.minimum(np.ceil(counts * 0.5), counts - 1)
    )
    fold = UserCrossFold(n_folds=2, last=2).split(data, 0)[0]
    frame = data.to_dataframe()
    for position, user in enumerate(fold.users):
        newest = frame[frame["user"] == data.user_ids[user]].nlargest(2, "timestamp")["item"]
        held = data.item_ids[fold.items[fold.user_slice(position)]]
        assert sorted(held.tolist()) == sorted(newest.tolist())
    with pytest.raises(ParameterError, match="one of holdout"):
        UserCrossFold(holdout=2, fraction=0.5).split(data)


def test_random_holdout_and_temporal(data):
    fold = RandomHoldout(0.25).split(data, 0)[0]
    assert fold.train.nnz + len(fold.items) == data.nnz
    assert 0.15 < len(fold.items) / data.nnz < 0.35
    cut_fold = TemporalSplit(cut=15_000).split(data)[0]
    assert np.all(cut_fold.train.timestamps < 15_000)
    assert len(cut_fold.items) == int((data.timestamps >= 15_000).sum())
    last = TemporalSplit(last=1).split(data)[0]
    assert np.all(np.diff(last.indptr) == 1)
    no_time = Interactions.from_arrays([1, 2], [1, 2])
    with pytest.raises(DataError, match="needs timestamps"):
        TemporalSplit().split(no_time)


@pytest.mark.parametrize(
    "protocol", [BlogProtocol(n_folds=2), UserCrossFold(n_folds=3, holdout=2)], ids=["blog", "cf"]
)
def test_users_restricts_who_is_tested_and_leaves_everyone_else_whole(data, protocol):
    eligible = np.arange(0, data.n_users, 2)  # even rows only
    folds = protocol.split(data, seed=1, users=eligible)
    tested = np.concatenate([fold.users for fold in folds])
    assert sorted(tested.tolist()) == eligible.tolist()  # every eligible user, once
    odd = np.arange(1, data.n_users, 2)
    for fold in folds:
        # the others' rows are untouched in every fold's training data
        assert (fold.train.matrix[odd] != data.matrix[odd]).nnz == 0
        assert fold.train.matrix[odd].nnz == data.matrix[odd].nnz
        whole = np.setdiff1d(np.arange(data.n_users), fold.users)
        np.testing.assert_array_equal(fold.complete_users(), whole)


def test_allowing_every_user_splits_exactly_as_no_restriction(data):
    for protocol in (BlogProtocol(), UserCrossFold(n_folds=3)):
        plain = protocol.split(data, seed=4)
        given = protocol.split(data, seed=4, users=np.arange(data.n_users))
        for a, b in zip(plain, given, strict=True):
            np.testing.assert_array_equal(a.users, b.users)
            np.testing.assert_array_equal(a.items, b.items)


def test_users_restricts_holdouts_to_those_users_and_they_have_no_complete_users(data):
    eligible = np.arange(10)
    for protocol in (RandomHoldout(0.5), TemporalSplit(last=2)):
        (fold,) = protocol.split(data, seed=0, users=eligible)
        assert set(fold.users.tolist()) <= set(eligible.tolist())
        assert fold.complete_users() is None  # every user's row may be cut


def test_users_out_of_range_or_not_indices_is_a_parameter_error(data):
    with pytest.raises(ParameterError, match="outside 0..29"):
        BlogProtocol().split(data, users=np.array([0, 30]))
    with pytest.raises(ParameterError, match="row indices"):
        UserCrossFold().split(data, users=np.array([0.5]))
    with pytest.raises(DataError, match="only 1 of 30 users may be tested"):
        BlogProtocol().split(data, users=np.array([3]))
    with pytest.raises(ParameterError, match="np.flatnonzero"):
        BlogProtocol().split(data, users=np.ones(30, dtype=bool))
