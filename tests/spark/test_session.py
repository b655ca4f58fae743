"""The local session alsrec starts for itself: reused, replaced when stopped, cleaned at exit."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

SCRIPT = """
import json
from pathlib import Path
from alsrec.spark import local_session

first = local_session(1, memory="1g")
again = local_session(1, memory="1g")
scratch = Path(first.conf.get("spark.local.dir")).parent
first.createDataFrame([(1,)], ["x"]).count()  # a job, so Spark writes there
first.stop()
replaced = local_session(1, memory="1g")
replaced_scratch = Path(replaced.conf.get("spark.local.dir")).parent
print(json.dumps({
    "reused": first is again,
    "replaced": replaced is not first and replaced.range(3).count() == 3,
    "scratch": [str(scratch), str(replaced_scratch)],
    "existed": scratch.is_dir() and replaced_scratch.is_dir(),
}))
"""


def test_local_session_is_reused_replaced_when_stopped_and_leaves_no_scratch_behind():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["reused"], "a second call returned another session"
    assert report["replaced"], "a stopped session was returned instead of a new one"
    assert report["existed"], "the scratch folders were not made"
    for folder in report["scratch"]:
        assert Path(folder).name.startswith("alsrec-spark-")
        assert not Path(folder).exists(), f"{folder} was left behind after the process ended"
