"""The one error type users see: a message that names the file, the line and the problem."""

from __future__ import annotations

import difflib
from pathlib import Path


class TrackbenchError(Exception):
    """A user-facing error; the CLI prints it as one line and exits with code 2.

    ``path`` and ``line`` (1-based) locate the problem when it comes from a file.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return where + self.message


class FormatError(TrackbenchError):
    """A malformed data file (annotations, detections, results, dataset layout)."""


class ConfigError(TrackbenchError):
    """An invalid experiment, card or name (unknown dataset, tracker or ablation)."""


class EmptyResultsWarning(UserWarning):
    """A results file without rows: evaluated as a tracker that found nothing (every gt box a
    false negative). The message starts with the file's path."""


def did_you_mean(name: str, known: list[str]) -> str:
    """The tail of an unknown-name message: the known names and the closest one, if any."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (known: {', '.join(sorted(known))}){hint}"
