"""Last.fm (hetrec2011-lastfm-2k): exact figures, verified download, CLI name."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from alsrec.datasets import load_lastfm
from alsrec.errors import DownloadError
from tests.cli.test_info import run_cli
from tests.datasets.test_download import Server, leftovers


def official_zip(lastfm_dir, tamper: bool = False) -> bytes:
    """The two files of the official archive at its top level, as GroupLens ships them."""
    folder = lastfm_dir / "hetrec2011-lastfm-2k"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        plays = (folder / "user_artists.dat").read_bytes()
        if tamper:  # one play count changed: 13883 -> 13884 for user 2, artist 51
            plays = plays.replace(b"2\t51\t13883", b"2\t51\t13884", 1)
        bundle.writestr("user_artists.dat", plays)
        bundle.writestr("artists.dat", (folder / "artists.dat").read_bytes())
    return buffer.getvalue()


@pytest.fixture
def server(monkeypatch):
    srv = Server()
    monkeypatch.setenv("ALSREC_HETREC_URL", srv.url)
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def check_figures(data) -> None:
    """The README's figures: 1,892 users, 17,632 artists, 92,834 rows, 69,183,975 plays."""
    assert data.shape == (1892, 17632)
    assert data.nnz == 92834
    assert data.matrix.data.astype(np.float64).sum() == 69_183_975
    assert data.matrix.data.min() == 1
    assert data.matrix.data.max() == 352_698
    user, artist = data.user_index([2])[0], data.item_index([51])[0]
    assert data.matrix[user, artist] == 13883
    assert data.item_titles(data.item_index([1, 2])).tolist() == ["MALICE MIZER", "Diary of Dreams"]
    assert data.timestamps is None


def test_shared_copy_has_the_published_figures(lastfm_dir):
    data = load_lastfm(lastfm_dir, download_missing=False)
    check_figures(data)
    assert data.name == "hetrec2011-lastfm-2k"
    # every artist has a name; quotes and odd characters are read verbatim
    assert all(isinstance(t, str) and t for t in data.item_titles())


def test_download_is_verified_extracted_and_reused(server, lastfm_dir, tmp_path):
    server.routes["/hetrec2011-lastfm-2k.zip"] = (official_zip(lastfm_dir), "ok")
    check_figures(load_lastfm(tmp_path, progress=False))
    assert server.hits == ["/hetrec2011-lastfm-2k.zip"]
    assert not [p for p in leftovers(tmp_path) if p.endswith((".part", ".tmp"))]
    load_lastfm(tmp_path, progress=False)
    assert len(server.hits) == 1  # the second load reads the local copy


def test_tampered_download_is_refused_and_nothing_kept(server, lastfm_dir, tmp_path):
    server.routes["/hetrec2011-lastfm-2k.zip"] = (official_zip(lastfm_dir, tamper=True), "ok")
    with pytest.raises(DownloadError, match="user_artists.dat .* SHA-256 .* not the official"):
        load_lastfm(tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_server_without_the_file_says_where_to_put_it(server, tmp_path):
    with pytest.raises(DownloadError, match=r"(?s)404.*Put the extracted folder .*lastfm-2k"):
        load_lastfm(tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_local_zip_is_read_without_network(lastfm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ALSREC_HETREC_URL", "http://127.0.0.1:9")  # nothing listens
    (tmp_path / "hetrec2011-lastfm-2k.zip").write_bytes(official_zip(lastfm_dir))
    check_figures(load_lastfm(tmp_path, progress=False))


def test_offline_without_copy_names_the_folder(tmp_path):
    with pytest.raises(DownloadError, match="downloading is turned off.*hetrec2011-lastfm-2k"):
        load_lastfm(tmp_path, download_missing=False)


def test_cli_accepts_the_name(lastfm_dir, tmp_path):
    result = run_cli("info", "lastfm", "--json", env_dir=lastfm_dir, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)["statistics"]
    assert (stats["n_users"], stats["n_items"], stats["n_interactions"]) == (1892, 17632, 92834)
