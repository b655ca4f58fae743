"""MovieLens: every official variant, from a local folder or zip, or downloaded.

Where the files are looked for, in order:

1. ``data_dir`` when given, else the folder in ``$ALSREC_DATA_DIR``, else the
   user cache (``$XDG_CACHE_HOME/alsrec`` or ``~/.cache/alsrec``);
2. inside it, the extracted folder (``ml-latest-small/``, ``ml-10M100K/`` ...)
   or the official zip (``ml-latest-small.zip``), which is extracted safely;
3. otherwise the official zip is downloaded from GroupLens (or
   ``$ALSREC_MOVIELENS_URL``), verified by MD5 and extracted.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from alsrec._lazy import lazy_module
from alsrec.data.interactions import Interactions
from alsrec.datasets.download import DEFAULT_TIMEOUT, fetch_text, locate_dataset
from alsrec.errors import DataError, DownloadError

pd = lazy_module("pandas")  # imported on first use (see alsrec._lazy)

DATA_DIR_ENV = "ALSREC_DATA_DIR"
BASE_URL_ENV = "ALSREC_MOVIELENS_URL"
DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"


@dataclass(frozen=True)
class Variant:
    """How one MovieLens release lays out its files."""

    name: str
    folder: str
    ratings_file: str
    movies_file: str
    layout: str  # "csv", "dat" (:: separated) or "100k" (u.data / u.item)
    md5: str | None  # None: read the .md5 file GroupLens publishes beside the zip


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "ml-100k", "ml-100k", "u.data", "u.item", "100k", "0e33842e24a9c977be4e0107933c0723"
        ),
        Variant(
            "ml-1m", "ml-1m", "ratings.dat", "movies.dat", "dat", "c4d9eecfca2ab87c1945afe126590906"
        ),
        Variant(
            "ml-10m",
            "ml-10M100K",
            "ratings.dat",
            "movies.dat",
            "dat",
            "ce571fd55effeba0271552578f2648bd",
        ),
        Variant(
            "ml-20m",
            "ml-20m",
            "ratings.csv",
            "movies.csv",
            "csv",
            "cd245b17a1ae2cc31bb14903e1204af3",
        ),
        Variant(
            "ml-25m",
            "ml-25m",
            "ratings.csv",
            "movies.csv",
            "csv",
            "6b51fb2759a8657d3bfcbfc42b592ada",
        ),
        Variant("ml-32m", "ml-32m", "ratings.csv", "movies.csv", "csv", None),
        Variant("ml-latest-small", "ml-latest-small", "ratings.csv", "movies.csv", "csv", None),
        Variant("ml-latest", "ml-latest", "ratings.csv", "movies.csv", "csv", None),
    )
}


def default_data_dir() -> Path:
    """``$ALSREC_DATA_DIR`` if set, else the user cache folder for alsrec."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "alsrec"


def variant(name: str) -> Variant:
    """The :class:`Variant` called ``name`` (``"ml-latest-small"``, ``"ml-1m"`` ...)."""
    key = name.lower()
    if not key.startswith("ml-"):
        key = f"ml-{key}"
    if key not in VARIANTS:
        raise DataError(f"unknown MovieLens variant {name!r}; choose one of {', '.join(VARIANTS)}.")
    return VARIANTS[key]


def locate_movielens(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download_missing: bool = True,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Return the folder holding the variant's files, extracting or downloading as needed.

    ``timeout`` is how many seconds a silent server may keep the download waiting.

    Raises
    ------
    DownloadError
        When the files are absent and cannot be downloaded: the message says
        where to put them.
    """
    spec = variant(name)
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    url = f"{os.environ.get(BASE_URL_ENV, DEFAULT_BASE_URL).rstrip('/')}/{spec.name}.zip"
    return locate_dataset(
        root,
        (spec.folder, spec.name),
        spec.ratings_file,
        f"{spec.name}.zip",
        url,
        lambda timeout: spec.md5 or _published_md5(f"{url}.md5", timeout),
        lambda why: _missing_message(spec, root, why),
        download_missing=download_missing,
        progress=progress,
        timeout=timeout,
    )


def _missing_message(spec: Variant, root: Path, why: str) -> str:
    return (
        f"{spec.name} is not in {root} and {why}. Put the extracted folder "
        f"{root / spec.folder} or the zip {root / (spec.name + '.zip')} there, or point "
        f"data_dir / ${DATA_DIR_ENV} (CLI: --data-dir) at a folder that holds it. "
        f"It is available from https://grouplens.org/datasets/movielens/."
    )


def _published_md5(url: str, timeout: float) -> str:
    match = re.search(r"\b[0-9a-fA-F]{32}\b", fetch_text(url, timeout))
    if not match:
        raise DownloadError(f"{url} holds no MD5 checksum; cannot verify the download.")
    return match.group(0).lower()


def load_movielens(
    name: str = "ml-latest-small",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download_missing: bool = True,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Interactions:
    """Load a MovieLens rating matrix with timestamps and movie titles.

    Parameters
    ----------
    name : str
        ``ml-100k``, ``ml-1m``, ``ml-10m``, ``ml-20m``, ``ml-25m``, ``ml-32m``,
        ``ml-latest-small`` or ``ml-latest`` (the ``ml-`` prefix is optional).
    data_dir : path-like, optional
        Where to look for (and download to) the data; see the module docstring.
    download_missing : bool
        Download the official zip when no local copy exists.
    progress : bool
        Say on stderr when a download starts, and show a progress bar.
    timeout : float
        Seconds a silent download server may keep us waiting before a DownloadError.

    Returns
    -------
    Interactions
        Users x rated movies; ``item_metadata`` holds ``title`` and ``genres``
        for the whole catalogue (rated or not).

    Examples
    --------
    >>> data = load_movielens("ml-latest-small")  # doctest: +SKIP
    >>> data.shape  # doctest: +SKIP
    (610, 9724)
    """
    spec = variant(name)
    folder = locate_movielens(
        name, data_dir, download_missing=download_missing, progress=progress, timeout=timeout
    )
    ratings, movies = _read_files(spec, folder)
    return Interactions.from_dataframe(
        ratings,
        "userId",
        "movieId",
        "rating",
        "timestamp",
        items=movies,
        items_id_col="movieId",
        on_unknown_items="drop",
        source=str(folder / spec.ratings_file),
        name=spec.name,
    )


def _read_files(spec: Variant, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    ratings_path, movies_path = folder / spec.ratings_file, folder / spec.movies_file
    rating_columns = ["userId", "movieId", "rating", "timestamp"]
    if spec.layout == "csv":
        ratings = pd.read_csv(ratings_path, engine="pyarrow")
        movies = pd.read_csv(movies_path, encoding="utf-8")
    elif spec.layout == "dat":
        ratings = _read_double_colon(ratings_path, rating_columns)
        movies = _read_double_colon(movies_path, ["movieId", "title", "genres"])
    else:  # ml-100k
        ratings = pd.read_csv(ratings_path, sep="\t", header=None, names=rating_columns)
        movies = pd.read_csv(
            movies_path,
            sep="|",
            header=None,
            encoding="latin-1",
            usecols=[0, 1],
            names=["movieId", "title"],
        )
    return ratings, movies


def _read_double_colon(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read the ``::``-separated .dat files of ml-1m / ml-10m quickly.

    pandas' multi-character separator needs the slow python engine; replacing
    ``::`` by a tab first keeps the fast C parser. ml-1m titles are latin-1.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.replace("::", "\t")
    return pd.read_csv(io.StringIO(text), sep="\t", header=None, names=columns, quoting=3)
