"""Same inputs, same seed: bit-identical factors and identical evaluation, every time."""

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
