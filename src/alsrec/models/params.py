"""Declarative parameter constraints: one table per model class, one set of messages.

A model class lists its constructor parameters' constraints in its
``parameters`` class attribute; :func:`check_params` checks values against
them. ``ALS``, ``SparkALS`` and the CLI's model specs all go through it, so a
bad value gets the same message from Python and from the command line::

    factors=0 must be a positive whole number.
    solver='qr' must be 'cholesky' or 'cg'.
    regularization=-1.0 must be a finite number >= 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from alsrec.errors import ParameterError

Kind = Literal["int", "number", "bool", "choice"]


@dataclass(frozen=True)
class Param:
    """The constraint on one constructor parameter.

    Attributes
    ----------
    name : str
        The constructor parameter's name.
    kind : {"int", "number", "bool", "choice"}
        A whole number, a finite real number, True/False, or one of ``choices``.
    minimum : float, optional
        Smallest allowed value (inclusive), for ``int`` and ``number``.
    choices : tuple of str
        The allowed values, for ``choice``.
    optional : bool
        ``None`` is allowed (the model then picks a default).
    """

    name: str
    kind: Kind
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False

    def check(self, value: Any) -> None:
        """Raise :class:`~alsrec.ParameterError` unless ``value`` satisfies the constraint."""
        if value is None and self.optional:
            return
        if not self._accepts(value):
            raise ParameterError(f"{self.name}={value!r} must be {self.describe()}.")

    def _accepts(self, value: Any) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool | np.bool_)
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if isinstance(value, bool | np.bool_):
            return False  # True is an int to Python, never a count or a weight here
        if self.kind == "int" and not isinstance(value, int | np.integer):
            return False
        if self.kind == "number" and not (
            isinstance(value, int | float | np.integer | np.floating) and math.isfinite(value)
        ):
            return False
        return self.minimum is None or value >= self.minimum

    def describe(self) -> str:
        """What a valid value is, in words (the end of the error message)."""
        if self.kind == "bool":
            return "True or False"
        if self.kind == "choice":
            quoted = [repr(c) for c in self.choices]
            if len(quoted) == 2:
                return f"{quoted[0]} or {quoted[1]}"
            return f"one of {', '.join(quoted)}"
        if self.kind == "int":
            if self.minimum == 1:
                return "a positive whole number"
            return "a whole number" + ("" if self.minimum is None else f" >= {self.minimum:g}")
        return "a finite number" + ("" if self.minimum is None else f" >= {self.minimum:g}")


def positive_int(name: str) -> Param:
    """A whole number >= 1 (counts: factors, iterations, n, ...)."""
    return Param(name, "int", minimum=1)


def check_params(
    values: Mapping[str, Any], parameters: Iterable[Param], only_given: bool = False
) -> None:
    """Check ``values`` against ``parameters``; the first violation raises.

    With ``only_given``, parameters missing from ``values`` are not checked
    (the CLI checks just the options a user typed).
    """
    for param in parameters:
        if param.name in values:
            param.check(values[param.name])
        elif not only_given:
            param.check(None)
