import numpy as np
import pandas as pd
import pytest

from alsrec import plots
from alsrec.data import Interactions, describe


def test_describe_hand_computed():
    df = pd.DataFrame(
        {"user": [1, 1, 1, 2, 3, 3], "item": [1, 2, 3, 1, 1, 2], "rating": [5, 4, 4, 3, 5, 1]}
    )
    stats = describe(Interactions.from_dataframe(df), thresholds=(1, 2))
    assert (stats.n_users, stats.n_items, stats.n_interactions) == (3, 3, 6)
    assert stats.density == pytest.approx(6 / 9)
    assert stats.sparsity == pytest.approx(3 / 9)
    assert stats.ratings_per_user_mean == pytest.approx(2.0)
    assert stats.ratings_per_user_std == pytest.approx(np.std([3, 1, 2]))
    assert stats.users_with_more_than == {1: 2, 2: 1}
    assert stats.rating_distribution == {1.0: 1, 3.0: 1, 4.0: 2, 5.0: 2}
    assert "3 users x 3 items" in stats.to_text()
    assert stats.to_dict()["users_with_more_than"] == {"1": 2, "2": 1}


def test_histogram_writes_a_png(tmp_path):
    path = tmp_path / "hist.png"
    png = plots.ratings_per_user_histogram(np.array([20, 30, 500, 21]), path)
    assert path.read_bytes() == png
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 5000
