"""The model catalog: every model class under a stable name, and the short names of models.

Joining the catalog
-------------------
A model class joins by naming itself in its class statement; no table is edited::

    from alsrec.models.base import FactorModel
    from alsrec.models.params import Param, positive_int

    class BayesianALS(FactorModel, name="BayesianALS", specs={"bayesian": {}}):
        parameters = (positive_int("factors"), Param("regularization", "number", 0.0))
        ...

- ``name`` is written into saved model files, and :func:`~alsrec.load_model`
  finds the class by it: never change it once files exist.
- ``specs`` maps the short names that :func:`make_model` and the CLI's
  ``-m NAME:key=value,...`` accept to fixed constructor arguments (``ALS``
  offers ``zeros``, ``implicit`` and ``explicit``, each fixing ``preset``).
- ``requires`` names an optional dependency as ``(module, install command)``;
  building a spec without that module fails with the command to run.
- ``parameters`` (see :mod:`alsrec.models.params`) declares the constraints
  that :func:`build` checks before the constructor runs.

A class defined in ``alsrec.models`` registers when ``alsrec.models`` is
imported (import its module in ``alsrec/models/__init__.py``). Backends above
the models layer (Spark) are named in :data:`PROVIDERS`: the catalog imports
them on the first lookup it cannot answer, so ``load_model`` of a
Spark-fitted file works without importing Spark up front, and the models
layer never imports upward. The contract suite
(``tests/models/test_contract.py``) runs on every entry, so a new model is
tested the moment it registers.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from alsrec.errors import ParameterError
from alsrec.models.params import check_params

# Modules above the models layer that register models when imported (optional backends).
PROVIDERS: tuple[str, ...] = ("alsrec.spark.als",)


@dataclass(frozen=True)
class Entry:
    """One model class in the catalog.

    Attributes
    ----------
    name : str
        Stable name, written into model files.
    cls : type
        The class.
    specs : Mapping[str, Mapping[str, Any]]
        Short model names and the constructor arguments each one fixes.
    requires : tuple of (str, str), optional
        An optional module the class needs, and how to install it.
    """

    name: str
    cls: type
    specs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    requires: tuple[str, str] | None = None

    def constructor_parameters(self) -> list[str]:
        """Names the constructor takes, in order."""
        signature = inspect.signature(self.cls.__init__)
        return [p for p in signature.parameters if p != "self"]


_ENTRIES: dict[str, Entry] = {}
_SPECS: dict[str, str] = {}  # short name -> entry name
_PROVIDERS_LOADED = False


def register(
    cls: type,
    name: str,
    specs: Mapping[str, Mapping[str, Any]] | None = None,
    requires: tuple[str, str] | None = None,
) -> type:
    """Add ``cls`` under ``name`` (``FactorModel`` subclasses use class keywords instead)."""
    specs = {spec: MappingProxyType(dict(fixed)) for spec, fixed in (specs or {}).items()}
    existing = _ENTRIES.get(name)
    if existing is not None and _qualified(existing.cls) != _qualified(cls):
        raise ValueError(f"model name {name!r} is taken by {_qualified(existing.cls)}.")
    for spec in specs:
        owner = _SPECS.get(spec)
        if owner is not None and owner != name:
            raise ValueError(f"model spec {spec!r} is taken by {owner}.")
    _ENTRIES[name] = Entry(name, cls, MappingProxyType(specs), requires)
    for spec in specs:
        _SPECS[spec] = name
    return cls


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def load_providers() -> None:
    """Import the optional backends in :data:`PROVIDERS` once (missing ones are skipped)."""
    global _PROVIDERS_LOADED
    if _PROVIDERS_LOADED:
        return
    _PROVIDERS_LOADED = True
    for module in PROVIDERS:
        with contextlib.suppress(ImportError):  # the backend's dependencies are missing
            importlib.import_module(module)


def entries() -> list[Entry]:
    """Every registered model class, optional backends included."""
    load_providers()
    return list(_ENTRIES.values())


def model_class(name: str) -> type | None:
    """The class registered as ``name`` (None when unknown)."""
    if name not in _ENTRIES:
        load_providers()
    entry = _ENTRIES.get(name)
    return None if entry is None else entry.cls


def name_of(cls: type) -> str | None:
    """The catalog name of exactly this class (None when it is not registered)."""
    return next((e.name for e in _ENTRIES.values() if e.cls is cls), None)


def spec_names() -> list[str]:
    """Every short model name :func:`make_model` accepts."""
    load_providers()
    return list(_SPECS)


def _available(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def build(spec: str, params: Mapping[str, Any], context: str | None = None) -> Any:
    """A fresh, unfitted model for a short name and parameter overrides.

    Parameters
    ----------
    spec : str
        A short model name (see :func:`spec_names`).
    params : Mapping
        Constructor arguments on top of those the name fixes.
    context : str, optional
        How the caller names this request in error messages (the CLI passes
        ``"model spec 'zeros:factors=0'"``); default ``"model 'zeros'"``.

    Raises
    ------
    ParameterError
        Unknown name or parameter, a value outside its constraint, or a
        missing optional dependency; the message names the fix.
    """
    prefix = f"{context or f'model {spec!r}'}: "
    if spec not in _SPECS:
        load_providers()
    if spec not in _SPECS:
        raise ParameterError(f"{prefix}unknown model {spec!r}; choose one of {', '.join(_SPECS)}.")
    entry = _ENTRIES[_SPECS[spec]]
    fixed = entry.specs[spec]
    if entry.requires is not None and not _available(entry.requires[0]):
        module, install = entry.requires
        raise ParameterError(f"{prefix}needs {module}: {install}")
    clash = [key for key in params if key in fixed]
    if clash:
        raise ParameterError(
            f"{prefix}{spec!r} fixes {clash[0]}={fixed[clash[0]]!r}; drop that option."
        )
    known = [p for p in entry.constructor_parameters() if p not in fixed]
    unknown = [key for key in params if key not in known]
    if unknown:
        raise ParameterError(
            f"{prefix}unknown parameter {unknown[0]!r}; "
            + (f"known: {', '.join(known)}." if known else f"{spec!r} takes none.")
        )
    try:
        check_params(params, getattr(entry.cls, "parameters", ()), only_given=True)
    except ParameterError as exc:
        raise ParameterError(f"{prefix}{exc}") from None
    return entry.cls(**fixed, **params)


def make_model(spec: str, **params: Any) -> Any:
    """A fresh, unfitted model: ``make_model("zeros", factors=48)``; see :func:`build`."""
    return build(spec, params)
