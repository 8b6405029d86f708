"""The exception hierarchy shared by every stage.

The CLI turns any :class:`ECGR1Error` into one line on stderr naming the file and the
problem, and exit status 2; anything else is a bug and shows a traceback only with ``--debug``.
"""

from __future__ import annotations


class ECGR1Error(Exception):
    """Base class of all errors raised on purpose by ecgr1."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidInputError(ECGR1Error):
    """The input exists but its content is unusable (corrupt, truncated, inconsistent)."""


class UnsupportedFormatError(ECGR1Error):
    """The input is not in a format ecgr1 can read."""


class MissingFileError(InvalidInputError):
    """A file the input refers to (or the input itself) does not exist."""


class MeasurementError(ECGR1Error):
    """The signal cannot be measured at all (e.g. every lead is flat)."""


class ModelError(ECGR1Error):
    """A model directory, checkpoint or configuration is unusable."""
