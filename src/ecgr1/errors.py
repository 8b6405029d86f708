"""The exception hierarchy shared by every stage.

Library calls raise; they never turn a bug into a result. An :class:`ECGR1Error` is a problem
of the input or of the options (the user's to fix); any other exception is a bug in ecgr1. The
CLI reports both as one line on stderr naming the file, with the exit status of docs/cli.md.
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
    """The signal cannot be measured at all (e.g. every lead is flat).

    Raised by a measurement engine for the signal, never for a bug: the pipeline turns it into
    an "unusable" result (a finding of poor quality), whereas any other exception propagates.
    ``result`` holds what was measured before the engine gave up (quality, warnings), if any.
    """

    def __init__(self, message: str, path: str | None = None, result: object = None) -> None:
        super().__init__(message, path)
        self.result = result


class OutputError(ECGR1Error):
    """An output file or folder cannot be written: a usage error that concerns every input
    alike, so a batch stops at the first one (exit status 2)."""


class ModelError(ECGR1Error):
    """A model directory, checkpoint or configuration is unusable."""
