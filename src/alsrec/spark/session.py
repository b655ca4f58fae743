"""A quiet, reproducible local SparkSession for one machine."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_SESSION = None


def _is_stopped(session) -> bool:
    """Whether ``session`` was stopped (by its owner or by :func:`_close`)."""
    return session.sparkContext._jsc is None


def _close(session, scratch: Path, owner: int) -> None:
    """Stop ``session`` and delete its scratch folder (registered at exit).

    Only in the process that started it: a forked child exiting must not stop
    its parent's session or delete the folder the parent still writes to.
    """
    if os.getpid() != owner:
        return
    try:
        if not _is_stopped(session):
            session.stop()
    except Exception:  # a JVM that already died cannot be stopped twice
        pass
    finally:
        # Shuffle files and checkpoints are tens of MB per process; nobody else reads them.
        shutil.rmtree(scratch, ignore_errors=True)


def local_session(cores: int | str = "*", memory: str = "4g"):
    """Return a local SparkSession configured for alsrec (started once per process).

    Loopback host, UI off, scratch and checkpoint folders in a fresh folder under
    the system temp folder (deleted when the process exits), Arrow transfers, log
    level WARN. An existing active session (for example the caller's cluster
    session) is returned as it is; a session of ours that was stopped is replaced.
    """
    global _SESSION
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if _SESSION is not None and not _is_stopped(_SESSION):
        return _SESSION
    scratch = Path(tempfile.mkdtemp(prefix="alsrec-spark-"))
    try:
        session = _build(cores, memory, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    atexit.register(_close, session, scratch, os.getpid())
    _SESSION = session
    return session


def _build(cores: int | str, memory: str, scratch: Path):
    """A new local SparkSession with its scratch and checkpoint folders under ``scratch``."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("alsrec")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", str(scratch / "local"))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("WARN")
    # Long ALS runs build long lineages; checkpoints keep the stack from overflowing.
    session.sparkContext.setCheckpointDir(str(scratch / "checkpoints"))
    return session
