"""A skipped test fails the run (only GPU tests may skip), so CI cannot pass silently."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = """
import pytest

def test_runs():
    assert True

def test_missing_dependency():
    pytest.importorskip("a_module_that_is_not_installed")

@pytest.mark.gpu
def test_needs_gpu():
    pytest.skip("no CUDA GPU here")
"""


def run_pytest(folder: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "ALSREC_ALLOW_SKIPS"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    gpu: needs a GPU\n")
    (tmp_path / "test_sample.py").write_text(TESTS)
    return tmp_path


def test_a_dependency_skip_fails_the_run_and_names_the_fix(suite):
    result = run_pytest(suite)
    assert result.returncode == 1
    assert "1 failed, 1 passed, 1 skipped" in result.stdout
    assert "only GPU tests may skip" in result.stdout
    assert "a_module_that_is_not_installed" in result.stdout


def test_developers_can_opt_out(suite):
    result = run_pytest(suite, ALSREC_ALLOW_SKIPS="1")
    assert result.returncode == 0
    assert "1 passed, 2 skipped" in result.stdout
