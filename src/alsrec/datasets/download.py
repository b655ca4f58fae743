"""Downloading and extracting archives without leaving partial or unsafe files.

- A download goes to a temporary file in the destination folder and is renamed
  into place only after its size and MD5 check out.
- Extraction goes to a temporary folder, refuses entries that would escape it
  (absolute paths, ``..``, links) and archives that expand beyond a bound (zip
  bombs), and is renamed into place only when complete.
- :func:`locate_dataset` is the one lookup every loader shares: an extracted
  folder, else a local zip, else a verified download.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from alsrec._atomic import atomic_write
from alsrec.errors import DataError, DownloadError

CHUNK = 1 << 20
MAX_EXPANSION_RATIO = 100
MAX_EXTRACTED_BYTES = 16 << 30
DEFAULT_TIMEOUT = 30.0  # seconds a silent server may keep us waiting, per connect or read


def announce(message: str, progress: bool) -> None:
    """Tell the user on stderr what is about to take a while (when ``progress``)."""
    if progress:
        print(message, file=sys.stderr, flush=True)


def _timed_out(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", exc)
    return isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError)


def _open(url: str, timeout: float, what: str):
    """``urlopen`` whose failures, a silent server included, are one clear DownloadError."""
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except (urllib.error.URLError, OSError) as exc:
        if _timed_out(exc):
            host = urllib.parse.urlsplit(url).netloc
            raise DownloadError(
                f"could not {what} {url}: {host} did not answer within {timeout:g} s. "
                f"Check the network, or try again later."
            ) from None
        raise DownloadError(f"could not {what} {url}: {exc}") from None


def md5_of(path: str | os.PathLike[str]) -> str:
    """Hex MD5 digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_text(url: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """GET a small text resource (e.g. a ``.md5`` file); ``timeout`` in seconds."""
    with _open(url, timeout, "fetch") as response:
        try:
            return response.read(1 << 16).decode("ascii", errors="replace")
        except OSError as exc:
            raise DownloadError(f"could not fetch {url}: {exc}") from None


def download(
    url: str,
    destination: str | os.PathLike[str],
    expected_md5: str | None,
    *,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Download ``url`` to ``destination`` atomically, verifying length and MD5.

    Parameters
    ----------
    url : str
        What to fetch.
    destination : path-like
        The final file. It exists only if the whole file arrived and verified.
    expected_md5 : str or None
        Hex digest to check; None skips the check.
    progress : bool
        Show a tqdm progress bar on stderr.
    timeout : float
        Seconds to wait for the server to answer, and for each chunk after.

    Raises
    ------
    DownloadError
        On a network error, a short transfer or a checksum mismatch. No file is
        left behind in any of these cases.
    """
    from tqdm.auto import tqdm

    destination = Path(destination)
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    # atomic_write removes the partial file on any error, so nothing is left behind.
    with atomic_write(destination) as out:
        response = _open(url, timeout, "download")
        with response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=destination.name,
                disable=not progress,
                leave=False,
            ) as bar:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except (OSError, ValueError) as exc:
                        why = f"no data for {timeout:g} s" if _timed_out(exc) else exc
                        raise DownloadError(
                            f"the download of {url} broke off after {received} bytes: {why}"
                        ) from None
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received != total:
            raise DownloadError(
                f"the download of {url} stopped at {received} of {total} bytes; try again."
            )
        if expected_md5 is not None and digest.hexdigest() != expected_md5.lower():
            raise DownloadError(
                f"{url} has MD5 {digest.hexdigest()}, expected {expected_md5}: the file is "
                f"damaged or not the official one. Nothing was kept; try again later."
            )
    return destination


def safe_extract(
    archive: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    max_ratio: float = MAX_EXPANSION_RATIO,
    max_bytes: int = MAX_EXTRACTED_BYTES,
) -> Path:
    """Extract a zip into ``target`` (a folder that must not exist yet), atomically.

    Raises
    ------
    DownloadError
        If an entry would land outside ``target`` or is a link, or if the
        archive would expand beyond ``max_bytes`` or ``max_ratio`` times its own
        size. Nothing is left behind.
    """
    archive, target = Path(archive), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            bundle = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DownloadError(f"{archive} is not a readable zip file: {exc}") from None
        with bundle:
            limit = min(max_bytes, int(max_ratio * max(archive.stat().st_size, 1)))
            declared = sum(info.file_size for info in bundle.infolist())
            if declared > limit:
                raise DownloadError(
                    f"{archive} would expand to {declared} bytes, over the limit of {limit}: "
                    f"refusing it as a possible zip bomb."
                )
            written = 0
            for info in bundle.infolist():
                destination = _checked_destination(staging, info, archive)
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, open(destination, "wb") as out:
                    # Count real bytes: the sizes in the header may lie.
                    while chunk := source.read(CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise DownloadError(
                                f"{archive} expands beyond {limit} bytes: refusing it as a "
                                f"possible zip bomb."
                            )
                        out.write(chunk)
        if target.exists():
            raise DownloadError(f"{target} appeared while extracting; remove it and try again.")
        os.replace(staging, target)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise DownloadError(f"{archive} is damaged: {exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def locate_dataset(
    root: Path,
    folders: Sequence[str],
    marker: str,
    archive_name: str,
    url: str,
    expected_md5: Callable[[], str | None],
    missing_message: Callable[[str], str],
    *,
    file_sha256: Mapping[str, str] | None = None,
    download_missing: bool = True,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """The folder under ``root`` holding ``marker``, extracting or downloading as needed.

    Parameters
    ----------
    root : Path
        The data folder.
    folders : sequence of str
        Names the extracted folder may have (looked for in ``root`` and inside
        the extracted archive, whose own top level is tried last).
    marker : str
        A file whose presence proves a folder holds the data set.
    archive_name : str
        The zip's file name in ``root``.
    url : str
        Where to download the zip from when it is absent.
    expected_md5 : callable
        ``expected_md5(timeout)`` returns the zip's MD5 (or None to skip that check);
        called only when downloading, since it may need the network.
    missing_message : callable
        ``missing_message(why)``: says where to put the files.
    file_sha256 : mapping, optional
        SHA-256 of files inside a downloaded archive, checked after extraction
        (for archives without a published checksum).
    download_missing, progress : bool
        Download when no local copy exists; announce it and show a progress bar.
    timeout : float
        Seconds a silent server may keep each connect or read waiting.

    Raises
    ------
    DownloadError
        When the files are absent and cannot be downloaded, or a download fails
        a check; nothing fetched is kept then.
    DataError
        When the archive does not hold ``marker``.
    """
    for folder in (root / name for name in folders):
        if (folder / marker).is_file():
            return folder
    archive = root / archive_name
    downloaded = False
    if not archive.is_file():
        if not download_missing:
            raise DownloadError(missing_message("downloading is turned off"))
        announce(
            f"downloading {Path(archive_name).stem} from {url} into {root} (giving up if the "
            f"server is silent for {timeout:g} s)",
            progress,
        )
        try:
            download(url, archive, expected_md5(timeout), progress=progress, timeout=timeout)
        except DownloadError as exc:
            raise DownloadError(f"{exc}\n{missing_message('the download failed')}") from None
        downloaded = True
    extracted = root / f".{Path(archive_name).stem}-extracted"
    if not extracted.exists():
        try:
            safe_extract(archive, extracted)
        except DownloadError:
            if downloaded:  # never keep an archive we fetched and could not use
                archive.unlink(missing_ok=True)
            raise
    for folder in (*(extracted / name for name in folders), extracted):
        if (folder / marker).is_file():
            if downloaded and file_sha256:
                _verify_files(folder, file_sha256, archive, extracted, url)
            return folder
    raise DataError(f"{archive} has no {marker}; it is not the expected archive.")


def _verify_files(
    folder: Path, expected: Mapping[str, str], archive: Path, extracted: Path, url: str
) -> None:
    for name, digest in expected.items():
        path = folder / name
        actual = sha256_of(path) if path.is_file() else "missing"
        if actual != digest:
            shutil.rmtree(extracted, ignore_errors=True)
            archive.unlink(missing_ok=True)
            raise DownloadError(
                f"{name} in the archive from {url} has SHA-256 {actual}, expected {digest}: "
                f"the file is damaged or not the official one. Nothing was kept; try again later."
            )


def _checked_destination(root: Path, info: zipfile.ZipInfo, archive: Path) -> Path:
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    unix_mode = info.external_attr >> 16
    if (
        not parts
        or name.startswith(("/", "\\"))
        or ".." in parts
        or (len(parts[0]) == 2 and parts[0][1] == ":")
    ):
        raise DownloadError(
            f"{archive} has the entry {name!r}, which would be written outside the target "
            f"folder: refusing the archive."
        )
    if stat.S_ISLNK(unix_mode):
        raise DownloadError(f"{archive} has a symbolic link entry {name!r}: refusing the archive.")
    destination = root.joinpath(*parts)
    if root.resolve() not in destination.resolve().parents:
        raise DownloadError(f"{archive} has the entry {name!r} outside the target folder.")
    return destination
