"""Shared fixtures: where MovieLens lives for the tests, small data sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A test skipped because an optional dependency (pyspark, torch, Java, Chromium, the data)
# is missing is a test that did not run. Only tests marked ``gpu`` may skip; every other
# skip fails the run unless a developer opts out with ALSREC_ALLOW_SKIPS=1.
ALLOW_SKIPS = os.environ.get("ALSREC_ALLOW_SKIPS") == "1"


def _strict_skip(report: pytest.TestReport | pytest.CollectReport, gpu_only: bool) -> None:
    if ALLOW_SKIPS or not report.skipped or gpu_only:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"skipped test counts as a failure (only GPU tests may skip): {reason}\n"
        "Install every CPU dependency (pip install -e '.[dev]', Java, Chromium) "
        "or set ALSREC_ALLOW_SKIPS=1 for a local partial run."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.when in ("setup", "call"):
        _strict_skip(report, gpu_only=item.get_closest_marker("gpu") is not None)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    _strict_skip(outcome.get_result(), gpu_only=False)


def movielens_dir() -> Path | None:
    """The folder holding ml-latest-small: $ALSREC_DATA_DIR, else ../shared/data."""
    configured = os.environ.get("ALSREC_DATA_DIR")
    if configured:
        return Path(configured).resolve()
    fallback = REPO.parent / "shared" / "data"
    return fallback if fallback.is_dir() else None


@pytest.fixture(scope="session")
def ml_dir() -> Path:
    folder = movielens_dir()
    if folder is None:
        pytest.skip("ml-latest-small not found: set ALSREC_DATA_DIR (CI does)")
    if not (folder / "ml-latest-small" / "ratings.csv").is_file():
        pytest.fail(f"ALSREC_DATA_DIR={folder} holds no ml-latest-small/ratings.csv")
    return folder


@pytest.fixture(scope="session")
def ml_small(ml_dir):
    from alsrec.datasets import load_movielens

    return load_movielens("ml-latest-small", ml_dir, download_missing=False)


@pytest.fixture(scope="session")
def lastfm_dir() -> Path:
    """The folder holding hetrec2011-lastfm-2k (same lookup as ml-latest-small)."""
    folder = movielens_dir()
    if folder is None or not (folder / "hetrec2011-lastfm-2k" / "user_artists.dat").is_file():
        pytest.skip("hetrec2011-lastfm-2k not found: set ALSREC_DATA_DIR")
    return folder
