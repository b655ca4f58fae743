"""The one way alsrec writes files: atomically, and never over what is not a regular file.

Every file alsrec writes (model files, figures, reports, CSV results, downloads)
goes through :func:`atomic_write`. The guarantees:

- A reader sees the old file or the new one, never half of one: the data goes to a
  temporary file in the destination folder, is flushed and fsynced, then renamed over
  the destination (a same-filesystem rename), and the folder is fsynced.
- Only regular files are replaced. A destination that exists and is a device, a
  folder, a pipe or a socket is refused with :class:`~alsrec.errors.FileWriteError`
  naming it. A symbolic link is followed: the file it points to is replaced and the
  link stays a link (documented choice: a link to a model is how deployments switch
  models, and breaking it would be a surprise).
- Permissions: a new file gets the mode the umask gives (0666 & ~umask), as ``open``
  would; an existing file keeps its mode.
- The temporary name is short (``.alsrec-<host>-<pid>-<8 hex>.tmp``, ``<host>`` a
  4-hex hash of the host name), so any destination name the filesystem allows can be
  written.
- Nothing is left behind: the temporary file is removed on any exception, on Ctrl-C
  and on SIGTERM (the signal is delivered again afterwards, so the process still ends
  as asked). A SIGKILL cannot be caught; the next write in that folder sweeps the
  temporary files of processes of this host that no longer run, and any alsrec
  temporary file older than a day (a folder shared between hosts never loses a
  live writer's file to a process-id that only looks dead here).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import signal
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from alsrec.errors import FileWriteError

_TEMP_PATTERN = re.compile(r"^\.alsrec-([0-9a-z]{4})-(\d+)-[0-9a-f]{8}\.tmp$")
_HOST = hashlib.sha1(socket.gethostname().encode(), usedforsecurity=False).hexdigest()[:4]
_STALE_SECONDS = 24 * 3600


class _Terminated(BaseException):
    """Raised inside a write when SIGTERM arrives, so the temporary file is removed."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _umask() -> int:
    # Reading the umask through os.umask sets it for a moment (racy with threads);
    # Linux publishes it in /proc.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def resolve_destination(path: str | os.PathLike[str]) -> Path:
    """The regular file a write to ``path`` replaces (links followed), checked.

    Raises
    ------
    FileWriteError
        If ``path`` (or what a link points to) exists and is not a regular file.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        raise FileWriteError(
            f"refusing to write {os.fspath(path)}: it is {_kind(mode)}, not a regular file. "
            "Give the path of a file to create or replace."
        )
    return target


def _sweep_dead_temporaries(folder: Path) -> None:
    """Remove temporary files that killed alsrec processes left in ``folder``."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMP_PATTERN.match(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            host, pid = match.group(1), int(match.group(2))
            stale = now - entry.stat(follow_symlinks=False).st_mtime > _STALE_SECONDS
            if not stale and (host != _HOST or pid == os.getpid() or _alive(pid)):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[list[bool]]:
    """Turn SIGTERM into an exception for the duration, where it would kill the process.

    Only the main thread may set handlers, and only the default action (death) is
    replaced: a program's own handler or an ignored SIGTERM is left as it is.
    """
    received = [False]
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield received
        return

    def handler(signum, frame):
        received[0] = True
        raise _Terminated

    signal.signal(signal.SIGTERM, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` and rename it over ``path`` on success.

    Parameters
    ----------
    path
        The destination. Missing parent folders are created. A symbolic link is
        followed; anything that exists and is not a regular file is refused.
    mode
        ``"wb"`` (bytes) or ``"w"`` (text, UTF-8).

    Raises
    ------
    FileWriteError
        If the destination is not a regular file.

    Examples
    --------
    >>> with atomic_write("scores.csv", "w") as handle:  # doctest: +SKIP
    ...     handle.write("user,score\\n")
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', not {mode!r}")
    target = resolve_destination(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        file_mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        file_mode = 0o666 & ~_umask()
    _sweep_dead_temporaries(target.parent)
    tmp = target.parent / f".alsrec-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
    with _sigterm_raises() as terminated:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            encoding = None if mode == "wb" else "utf-8"
            with os.fdopen(fd, mode, encoding=encoding) as handle:
                yield handle
                handle.flush()
                os.fchmod(handle.fileno(), file_mode)
                os.fsync(handle.fileno())
            os.replace(tmp, target)
            _fsync_folder(target.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if not terminated[0]:
                raise
    if terminated[0]:
        # Temporary file removed: now die of SIGTERM as the sender asked.
        os.kill(os.getpid(), signal.SIGTERM)
        raise SystemExit(128 + signal.SIGTERM)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "w") as handle:
        handle.write(text)
