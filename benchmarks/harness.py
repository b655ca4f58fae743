"""Run measurements in fresh child processes, alternating contenders, and summarise.

Each measurement runs in its own Python process so that peak memory (the
child's own ``ru_maxrss``) and JIT/thread state are not shared between
contenders; contenders alternate (A, B, A, B, ...) so that drift in the
machine's speed hits both alike; the median of the repeats is reported.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"


def run_worker(task: dict, timeout: float = 3600, module: str = "benchmarks.workers") -> dict:
    """Run ``module`` (``python -m module '<json task>'``) in a child process; return its JSON."""
    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")
    proc = subprocess.run(
        [sys.executable, "-m", module, json.dumps(task)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed on {task}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def alternate(tasks: dict[str, dict], repeats: int) -> dict[str, list[dict]]:
    """Run every named task ``repeats`` times, interleaved; results per name."""
    results: dict[str, list[dict]] = {name: [] for name in tasks}
    for _ in range(repeats):
        for name, task in tasks.items():
            results[name].append(run_worker(task))
    return results


def median_of(runs: list[dict], key: str) -> float:
    """Median of one field over repeated runs."""
    return statistics.median(r[key] for r in runs)


def machine_description() -> str:
    """CPU model, cores and memory, for the README's record."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
