"""Training from arrays never imports pandas (about 60 MiB and 0.4 s of a process)."""

import subprocess
import sys

SCRIPT = """
import sys
import numpy as np
import scipy.sparse as sp
import alsrec

assert "pandas" not in sys.modules, "import alsrec loaded pandas"
matrix = sp.random(60, 40, density=0.2, format="csr", random_state=0, dtype=np.float32)
data = alsrec.Interactions.from_scipy(matrix)
model = alsrec.ALS("implicit", factors=4, iterations=2).fit(data)
assert model.user_factors_.shape == (60, 4)
assert "pandas" not in sys.modules, "training from a SciPy matrix loaded pandas"
frame = model.recommend(0, n=3)  # results are DataFrames: now pandas is needed
assert "pandas" in sys.modules and len(frame) == 3
"""


def test_training_from_a_scipy_matrix_leaves_pandas_unimported():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_string_ids_are_still_checked_for_duplicates():
    import numpy as np
    import pytest
    import scipy.sparse as sp

    from alsrec import Interactions
    from alsrec.errors import DataError

    matrix = sp.csr_matrix(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(DataError, match="user ids are not unique"):
        Interactions(matrix, np.array(["a", "a"], dtype=object), np.array([1, 2]))
    with pytest.raises(DataError, match="item ids are not unique"):
        Interactions(matrix, np.array(["a", 3], dtype=object), np.array([2.0, 2.0]))
