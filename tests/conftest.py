"""Shared fixtures: where MovieLens lives for the tests, small data sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
