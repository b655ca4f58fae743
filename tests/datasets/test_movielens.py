import numpy as np
import pandas as pd
import pytest

from alsrec.data import describe
from alsrec.datasets import load_movielens
from alsrec.datasets.movielens import VARIANTS, variant
from alsrec.errors import DataError, DownloadError


def test_ml_latest_small_figures(ml_small):
    assert ml_small.shape == (610, 9724)
    assert ml_small.nnz == 100_836
    assert len(ml_small.item_metadata) == 9742
    stats = describe(ml_small)
    assert stats.n_catalogue_items == 9742
    assert stats.density == pytest.approx(100_836 / (610 * 9724))
    assert stats.ratings_per_user_min == 20
    assert ml_small.timestamps is not None
    assert ml_small.timestamps.min() > 8e8
    toy_story = ml_small.item_index([1])[0]
    assert ml_small.item_titles([toy_story])[0] == "Toy Story (1995)"
    assert ml_small.matrix[ml_small.user_index([1])[0], toy_story] == 4.0


def test_variant_names():
    assert variant("latest-small").name == "ml-latest-small"
    assert variant("ML-1M").folder == "ml-1m"
    assert set(VARIANTS) == {
        "ml-100k",
        "ml-1m",
        "ml-10m",
        "ml-20m",
        "ml-25m",
        "ml-32m",
        "ml-latest-small",
        "ml-latest",
    }
    with pytest.raises(DataError, match="unknown MovieLens variant 'ml-7m'"):
        variant("ml-7m")


def test_offline_without_copy_says_where_to_put_files(tmp_path):
    with pytest.raises(DownloadError, match=r"Put the extracted folder .*ml-1m"):
        load_movielens("ml-1m", tmp_path, download_missing=False)


def test_100k_layout_latin1_titles(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text(
        "1\t10\t4\t881250949\n2\t10\t3\t881250950\n1\t20\t5\t881250951\n"
    )
    (folder / "u.item").write_bytes(
        "10|Cit\xe9 des enfants perdus, La (1995)|01-Jan-1995||http://x|0|1\n"
        "20|Heat (1995)|01-Jan-1995||http://y|0|1\n".encode("latin-1")
    )
    data = load_movielens("ml-100k", tmp_path)
    assert data.shape == (2, 2)
    assert data.item_titles().tolist()[0] == "Cité des enfants perdus, La (1995)"
    assert data.timestamps.tolist() == [881250949, 881250951, 881250950]


def test_1m_double_colon_layout(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n")
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n".encode("latin-1")
    )
    data = load_movielens("1m", tmp_path)
    assert data.item_ids.tolist() == [661, 1193]
    np.testing.assert_array_equal(data.matrix.toarray(), [[3.0, 5.0]])
    assert data.item_metadata.loc[661, "genres"] == "Animation|Children's|Musical"


def test_10m_folder_name_differs_from_variant(tmp_path):
    folder = tmp_path / "ml-10M100K"
    folder.mkdir()
    (folder / "ratings.dat").write_text("5::1::4.5::1\n")
    (folder / "movies.dat").write_text("1::Toy Story (1995)::Comedy\n")
    data = load_movielens("ml-10m", tmp_path)
    assert data.matrix.data.tolist() == [4.5]
    assert isinstance(data.item_metadata, pd.DataFrame)
