"""The project's own exceptions: every user-facing error names the problem and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DataEffError(Exception):
    """Base class for errors a user can fix; the CLI prints them as one line, exit code 2.

    The message is squashed to one line here, whatever it quotes from the data (a column
    name with a newline in it, a server's multi-line answer).
    """

    def __init__(self, message: object = ""):
        super().__init__(" ".join(str(message).split()))


class DataError(DataEffError):
    """The data cannot be read or does not fit the study (missing file, unknown column, ...)."""


class ConfigError(DataEffError):
    """A setting is invalid (bad TOML, wrong type, out of range, unknown key)."""


class LearnerError(DataEffError):
    """A learner name or estimator cannot be resolved."""


class RunFolderError(DataEffError):
    """The run folder cannot be used (holds another study, not writable, ...)."""


class RenamedSetting(FutureWarning):
    """A setting given by its old name: it still works; the note says the new one."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or '' when nothing is close."""
    choices = [str(c) for c in choices]  # an iterator would be spent by the first pass
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.6)
    if not close:
        # Case-insensitive second chance: 'XGBoost' should find 'xgboost'.
        lowered = {c.lower(): c for c in choices}
        hit = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[hit[0]]] if hit else []
    return f" Did you mean '{close[0]}'?" if close else ""


def one_line(text: str, limit: int = 300) -> str:
    """Squash an exception message to one short line for error reports."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
