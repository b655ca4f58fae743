"""Last.fm listening data (HetRec 2011, ``hetrec2011-lastfm-2k``): play counts per artist.

1,892 users, 17,632 artists, 92,834 (user, artist, play count) rows: each
user's most played artists. It is implicit feedback with heavy-tailed values
(1 to 352,698 plays), the kind of data the ``implicit`` preset is for.

Where the files are looked for is the same as for MovieLens
(:mod:`alsrec.datasets.movielens`): ``data_dir``, else ``$ALSREC_DATA_DIR``,
else the user cache; inside it the extracted folder
``hetrec2011-lastfm-2k/``, else the official zip
``hetrec2011-lastfm-2k.zip``, else a download from GroupLens (or
``$ALSREC_HETREC_URL``). GroupLens publishes no checksum for this zip, so a
downloaded archive is verified by the SHA-256 of the two files read from it.
"""

from __future__ import annotations

import os
from pathlib import Path

from alsrec._lazy import lazy_module
from alsrec.data.interactions import Interactions
from alsrec.datasets.download import locate_dataset
from alsrec.datasets.movielens import DATA_DIR_ENV, default_data_dir

pd = lazy_module("pandas")  # imported on first use (see alsrec._lazy)

NAME = "hetrec2011-lastfm-2k"
# Names that select this data set wherever a data set is named (the CLI's DATA).
LASTFM_NAMES = (NAME, "lastfm", "lastfm-2k")
BASE_URL_ENV = "ALSREC_HETREC_URL"
DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/hetrec2011"
PLAYS_FILE, ARTISTS_FILE = "user_artists.dat", "artists.dat"
# SHA-256 of the official files (as distributed in the zip, CRLF line endings).
FILE_SHA256 = {
    PLAYS_FILE: "6c9b9a05c47a461fdbfb5d6e056b3123059b2a26e885c4df369bfa125e76db87",
    ARTISTS_FILE: "c173881362c6b28551368fecb3c0be5a6a30a6cd859e1f5775413dfe46d48648",
}


def is_lastfm_name(name: str) -> bool:
    """True when ``name`` names the Last.fm data set (case-insensitive)."""
    return name.lower() in LASTFM_NAMES


def locate_lastfm(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download_missing: bool = True,
    progress: bool = True,
) -> Path:
    """Return the folder holding ``user_artists.dat``, extracting or downloading as needed.

    Raises
    ------
    DownloadError
        When the files are absent and cannot be downloaded (the message says
        where to put them), or a downloaded file fails its checksum.
    """
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    url = f"{os.environ.get(BASE_URL_ENV, DEFAULT_BASE_URL).rstrip('/')}/{NAME}.zip"

    def missing(why: str) -> str:
        return (
            f"{NAME} is not in {root} and {why}. Put the extracted folder {root / NAME} "
            f"(with {PLAYS_FILE} and {ARTISTS_FILE}) or the zip {root / (NAME + '.zip')} "
            f"there, or point data_dir / ${DATA_DIR_ENV} (CLI: --data-dir) at a folder that "
            f"holds it. It is available from https://grouplens.org/datasets/hetrec-2011/."
        )

    return locate_dataset(
        root,
        (NAME,),
        PLAYS_FILE,
        f"{NAME}.zip",
        url,
        lambda timeout: None,
        missing,
        file_sha256=FILE_SHA256,
        download_missing=download_missing,
        progress=progress,
    )


def load_lastfm(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download_missing: bool = True,
    progress: bool = True,
) -> Interactions:
    """Load the Last.fm play counts (users x artists) with artist names as titles.

    Parameters
    ----------
    data_dir : path-like, optional
        Where to look for (and download to) the data; see the module docstring.
    download_missing : bool
        Download the official zip when no local copy exists.
    progress : bool
        Show a progress bar while downloading.

    Returns
    -------
    Interactions
        1,892 users x 17,632 artists, values = play counts (no timestamps);
        ``item_metadata`` holds ``title`` (the artist's name) and ``url``.

    Examples
    --------
    >>> data = load_lastfm()  # doctest: +SKIP
    >>> data.shape, data.nnz  # doctest: +SKIP
    ((1892, 17632), 92834)
    """
    folder = locate_lastfm(data_dir, download_missing=download_missing, progress=progress)
    plays = pd.read_csv(folder / PLAYS_FILE, sep="\t", engine="c")
    # Artist names hold quotes and other odd characters: read every field verbatim.
    artists = pd.read_csv(
        folder / ARTISTS_FILE,
        sep="\t",
        quoting=3,
        encoding="utf-8",
        usecols=["id", "name", "url"],
        dtype={"name": str, "url": str},
        keep_default_na=False,
    ).rename(columns={"id": "artistID", "name": "title"})
    return Interactions.from_dataframe(
        plays,
        "userID",
        "artistID",
        "weight",
        items=artists,
        items_id_col="artistID",
        on_unknown_items="drop",
        source=str(folder / PLAYS_FILE),
        name=NAME,
    )
