"""Compiled kernels older than the newest kernel source are forgotten at import."""

import os

from alsrec.kernels import _drop_stale_caches


def test_indexes_older_than_the_newest_source_are_deleted_and_newer_ones_kept(tmp_path):
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    (tmp_path / "solvers.py").write_text("# an older kernel file\n")
    (tmp_path / "simd.py").write_text("# the intrinsics\n")
    older, newer = cache / "solvers._solve_cg-1.py311.nbi", cache / "topk.top_n-1.py311.nbi"
    data = cache / "solvers._solve_cg-1.py311.1.nbc"
    for path in (older, newer, data):
        path.write_bytes(b"index")
    changed = os.stat(tmp_path / "simd.py").st_mtime
    os.utime(tmp_path / "solvers.py", (changed - 3600, changed - 3600))
    os.utime(older, (changed - 60, changed - 60))
    os.utime(data, (changed - 60, changed - 60))
    os.utime(newer, (changed + 60, changed + 60))
    _drop_stale_caches(tmp_path)
    assert not older.exists()
    assert newer.exists()
    assert data.exists()  # numba ignores data files that no index names


def test_a_missing_cache_folder_is_not_an_error(tmp_path):
    (tmp_path / "simd.py").write_text("# the intrinsics\n")
    _drop_stale_caches(tmp_path)
