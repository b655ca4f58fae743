"""Downloads against a real HTTP server on 127.0.0.1 serving zips built here."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alsrec.datasets import load_movielens
from alsrec.datasets.download import download, safe_extract
from alsrec.errors import DownloadError

RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n2,1,5.0,964982704\n2,3,1.0,9\n"
MOVIES = "movieId,title,genres\n1,Toy Story (1995),Comedy\n3,Heat (1995),Crime\n"


def make_zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in entries.items():
            bundle.writestr(name, text)
    return buffer.getvalue()


GOOD = make_zip({"ml-latest-small/ratings.csv": RATINGS, "ml-latest-small/movies.csv": MOVIES})


class Server:
    """Serves ``routes[path] = (body, mode)``; mode 'cut' sends half then hangs up."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.hits: list[str] = []
        routes, hits = self.routes, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                if self.path not in routes:
                    self.send_error(404)
                    return
                body, mode = routes[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "cut":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve_zip(self, body: bytes, md5: str | None = None, mode: str = "ok") -> None:
        digest = md5 or hashlib.md5(body).hexdigest()
        self.routes["/ml-latest-small.zip"] = (body, mode)
        self.routes["/ml-latest-small.zip.md5"] = (
            f"MD5 (ml-latest-small.zip) = {digest}\n".encode(),
            "ok",
        )


@pytest.fixture
def server(monkeypatch):
    srv = Server()
    monkeypatch.setenv("ALSREC_MOVIELENS_URL", srv.url)
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_zip_is_downloaded_verified_extracted_and_reused(server, tmp_path):
    server.serve_zip(GOOD)
    data = load_movielens("ml-latest-small", tmp_path, progress=False)
    assert data.shape == (2, 2)
    assert data.item_titles().tolist() == ["Toy Story (1995)", "Heat (1995)"]
    assert "/ml-latest-small.zip" in server.hits
    assert not [p for p in leftovers(tmp_path) if p.endswith((".part", ".tmp"))]
    hits = len(server.hits)
    load_movielens("ml-latest-small", tmp_path, progress=False)
    assert len(server.hits) == hits  # the second load reads the local copy


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    server.serve_zip(GOOD, md5="0" * 32)
    with pytest.raises(DownloadError, match="has MD5 .* expected 0000"):
        load_movielens("ml-latest-small", tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_path_traversal_entry_is_refused(server, tmp_path):
    evil = make_zip({"ml-latest-small/ratings.csv": RATINGS, "../../escaped.txt": "gotcha"})
    server.serve_zip(evil)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="outside the target folder"):
        load_movielens("ml-latest-small", cache, progress=False)
    assert not (tmp_path / "escaped.txt").exists()
    assert leftovers(cache) == []


def test_interrupted_transfer_leaves_no_partial_file(server, tmp_path):
    server.serve_zip(GOOD, mode="cut")
    with pytest.raises(DownloadError, match="stopped at|broke off"):
        load_movielens("ml-latest-small", tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_server_missing_file_gives_clear_error(server, tmp_path):
    with pytest.raises(DownloadError, match=r"(?s)could not .*404.*Put the extracted folder"):
        load_movielens("ml-latest-small", tmp_path, progress=False)


def test_zip_bomb_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(make_zip({"big.txt": "0" * 5_000_000}))
    with pytest.raises(DownloadError, match="zip bomb"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bomb.zip"]


def test_local_zip_is_extracted_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("ALSREC_MOVIELENS_URL", "http://127.0.0.1:9")  # nothing listens
    (tmp_path / "ml-latest-small.zip").write_bytes(GOOD)
    data = load_movielens("ml-latest-small", tmp_path, progress=False)
    assert data.nnz == 3


@pytest.fixture
def silent_server(monkeypatch):
    """A real TCP server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever():
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(connection)  # held open, never read or written

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ALSREC_MOVIELENS_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
    yield accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_silent_server_times_out_with_a_message_and_leaves_nothing(silent_server, tmp_path, capsys):
    started = time.perf_counter()
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:\d+ did not answer within 0\.3 s"):
        load_movielens("ml-latest-small", tmp_path, progress=True, timeout=0.3)
    elapsed = time.perf_counter() - started
    assert silent_server  # the server really accepted the connection
    assert elapsed < 5  # not the old 60 s of silence
    said = capsys.readouterr().err
    assert "downloading ml-latest-small from http://127.0.0.1:" in said
    assert "silent for 0.3 s" in said
    assert leftovers(tmp_path) == []


def test_silent_server_times_out_in_download_itself(silent_server, tmp_path):
    import os

    url = os.environ["ALSREC_MOVIELENS_URL"] + "/ml-latest-small.zip"
    with pytest.raises(DownloadError, match=r"could not download .* within 0\.2 s"):
        download(url, tmp_path / "x.zip", None, progress=False, timeout=0.2)
    assert leftovers(tmp_path) == []
