"""Exceptions raised by alsrec.

Every error alsrec raises on purpose derives from :class:`AlsrecError`, so a
caller (and the CLI) can tell "the input is wrong, here is the fix" apart from
a bug. Each subclass also derives from the builtin exception a Python user
would expect (``ValueError``, ``KeyError`` ...), so ``except ValueError`` keeps
working.
"""

from __future__ import annotations


class AlsrecError(Exception):
    """Base class of every error that alsrec raises deliberately."""


class DataError(AlsrecError, ValueError):
    """Input data is malformed: missing columns, bad values, duplicates, ..."""


class ParameterError(AlsrecError, ValueError):
    """A parameter has a value that alsrec cannot work with."""


class UnknownIdError(AlsrecError, KeyError):
    """A user or item id is not known to the data or the model."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotFittedError(AlsrecError, RuntimeError):
    """A model method that needs a fitted model was called before ``fit``."""


class ModelFileError(AlsrecError, ValueError):
    """A model file is damaged, of an unknown format version, or unsafe."""


class FileWriteError(AlsrecError, OSError):
    """A file cannot be written where asked (the destination is not a regular file)."""


class DownloadError(AlsrecError, OSError):
    """A dataset could not be downloaded, verified or extracted."""


class NumericalError(AlsrecError, FloatingPointError):
    """Training produced non-finite values."""
