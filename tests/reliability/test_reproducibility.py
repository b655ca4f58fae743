"""Same inputs, same seed: bit-identical factors and identical evaluation, every time."""

import os
import subprocess
import sys

import numpy as np
import pytest

from alsrec import ALS, Popularity, generate
from alsrec.evaluation import BlogProtocol, UserCrossFold, cross_validate


@pytest.mark.parametrize("preset", ["explicit", "implicit", "zeros"])
@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_bit_identical_factors_for_one_and_all_threads(preset, solver):
    values = "explicit" if preset == "explicit" else "implicit"
    data = generate(400, 150, 8000, values=values, seed=3).interactions
    runs = [
        ALS(
            preset, factors=12, iterations=3, solver=solver, random_state=7, num_threads=threads
        ).fit(data)
        for threads in (1, 0, 1)
    ]
    for run in runs[1:]:
        np.testing.assert_array_equal(run.user_factors_, runs[0].user_factors_)
        np.testing.assert_array_equal(run.item_factors_, runs[0].item_factors_)


def test_identical_across_processes():
    script = (
        "import alsrec, hashlib;"
        "d = alsrec.generate(300, 100, 5000, values='implicit', seed=1).interactions;"
        "m = alsrec.ALS('implicit', factors=8, iterations=3, random_state=2).fit(d);"
        "print(hashlib.sha256(m.item_factors_.tobytes()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(digests) == 1


def test_folds_and_tie_breaks_repeat_for_a_seed():
    data = generate(120, 60, 2000, values="implicit", seed=0).interactions
    for protocol in (BlogProtocol(), UserCrossFold(n_folds=3, holdout=3)):
        first = cross_validate({"pop": Popularity()}, data, protocol, ["ndcg@10", "auc"], [4])
        second = cross_validate({"pop": Popularity()}, data, protocol, ["ndcg@10", "auc"], [4])
        assert first.per_user.equals(second.per_user)


def test_first_two_fits_in_a_fresh_process_are_bit_identical(ml_dir):
    # The first fit of a process once ran a threaded BLAS inside numba's threads (BLAS was
    # loaded after the thread limit was applied), so it differed from the second.
    script = (
        "import sys, numpy as np, alsrec;"
        f"d = alsrec.load_movielens('ml-latest-small', {str(ml_dir)!r}, download_missing=False);"
        "fit = lambda: alsrec.ALS('implicit', factors=64, iterations=2, random_state=0).fit(d);"
        "a, b = fit(), fit();"
        "print(np.array_equal(a.user_factors_, b.user_factors_),"
        " np.array_equal(a.item_factors_, b.item_factors_))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_thread_limits_touch_only_numbas_count_in_the_calling_thread():
    import threading

    import numba
    from threadpoolctl import threadpool_info

    from alsrec.models.als import thread_limits

    def blas_threads():
        return {
            p["filepath"]: p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"
        }

    blas_before = blas_threads()
    outside = numba.get_num_threads()
    seen_elsewhere = []
    with thread_limits(1):
        assert numba.get_num_threads() == 1
        worker = threading.Thread(target=lambda: seen_elsewhere.append(numba.get_num_threads()))
        worker.start()
        worker.join()
        assert blas_threads() == blas_before
    assert seen_elsewhere == [numba.config.NUMBA_NUM_THREADS]  # other threads keep their count
    assert numba.get_num_threads() == outside


CONCURRENT_FITS = """
import threading
import numpy as np
from alsrec import ALS, generate

data = generate(400, 300, 8000, values="implicit", seed=0).interactions
solvers = ["cholesky", "cg", "cholesky", "cg"]

def fit(solver):
    model = ALS("implicit", factors=8, iterations=3, random_state=0, solver=solver)
    return model.fit(data).item_factors_

alone = {solver: fit(solver) for solver in set(solvers)}
results = {}
threads = [
    threading.Thread(target=lambda i=i: results.__setitem__(i, fit(solvers[i])))
    for i in range(len(solvers))
]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(all(np.array_equal(results[i], alone[s]) for i, s in enumerate(solvers)))
"""


@pytest.mark.parametrize("layer", ["default", "workqueue"])
def test_fits_in_several_threads_at_once_equal_fits_alone(layer):
    env = dict(os.environ)
    if layer == "workqueue":  # the layer that cannot run two launches at once
        env["NUMBA_THREADING_LAYER"] = "workqueue"
    result = subprocess.run(
        [sys.executable, "-c", CONCURRENT_FITS], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True"]
