"""A quiet, reproducible local SparkSession for one machine."""

from __future__ import annotations

import tempfile
from pathlib import Path

_SESSION = None


def local_session(cores: int | str = "*", memory: str = "4g"):
    """Return a local SparkSession configured for alsrec (started once per process).

    Loopback host, UI off, scratch and checkpoint folders under the system temp
    folder, Arrow transfers, log level WARN. An existing active session (for
    example the caller's cluster session) is returned as it is.
    """
    global _SESSION
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if _SESSION is not None:
        return _SESSION
    scratch = Path(tempfile.mkdtemp(prefix="alsrec-spark-"))
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
    _SESSION = session
    return session
