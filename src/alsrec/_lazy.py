"""Modules imported on first use, so that ``import alsrec`` does not load pandas.

pandas (with pyarrow) adds about 60 MiB and 0.4 s to a process. Training on
:class:`~alsrec.Interactions` made from a SciPy matrix (or built directly with
numeric ids) never needs it, so the modules on that path name it through
:func:`lazy_module` and test for its types with :func:`is_pandas`. Readers of
CSV files, ``from_arrays`` / ``from_dataframe`` and results that are
DataFrames import it when they run.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """Stands for a module until one of its attributes is read, then imports it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__name__), name)


def lazy_module(name: str) -> ModuleType:
    """``name`` itself when already imported, else a stand-in that imports it on first use."""
    return sys.modules.get(name) or _LazyModule(name)


def is_pandas(value: Any, *type_names: str) -> bool:
    """``isinstance(value, pandas.<type_name>)`` for any of the names, without importing pandas.

    A value can only be a pandas object if pandas was imported to make it.
    """
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(
        value, tuple(getattr(pandas, name) for name in type_names)
    )
