"""Data shared by the model tests."""

import numpy as np
import pandas as pd

from alsrec import Interactions


def small_rated_data(seed: int) -> Interactions:
    """40 users ('u0'...) rating 3-11 of 30 titled items (ids 100-129) with 1-5 stars."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(40):
        for i in rng.choice(30, size=rng.integers(3, 12), replace=False):
            rows.append((f"u{u}", 100 + i, float(rng.integers(1, 6))))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    catalogue = pd.DataFrame({"item": 100 + np.arange(30), "title": [f"T{i}" for i in range(30)]})
    return Interactions.from_dataframe(frame, items=catalogue)
