"""``-q/--quiet`` and ``-v/--verbose`` of every ``hrcn`` sub-command, through :mod:`logging`.

Progress and information go to the ``hrcn_lib`` loggers (``logging.getLogger(__name__)``
in each module) and from there to stderr; results (tables, JSON, CSV) go to stdout, so
``hrcn classify ... --csv > out.csv`` stays clean. The levels:

* default: INFO (what was done and where the files are) and progress bars;
* ``-q/--quiet``: warnings and errors only, no progress bars;
* ``-v/--verbose``: DEBUG as well.

Only the ``hrcn_lib`` logger is configured, so other libraries' logs keep their defaults;
Python warnings (``warnings.warn``) are written through it, one line each.
Imports nothing heavy.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

__all__ = ["add_verbosity_arguments", "configure_logging", "show_progress", "LOGGER"]

#: The logger every module of the library logs under (``hrcn_lib.<module>``).
LOGGER = "hrcn_lib"


def add_verbosity_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the mutually exclusive ``-q/--quiet`` and ``-v/--verbose`` to a sub-command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true",
                       help="only warnings and errors; no progress bars")
    group.add_argument("-v", "--verbose", action="store_true", help="also debugging details")


def show_progress(args: argparse.Namespace) -> bool:
    """Whether a command shows progress bars (not with ``--quiet`` or ``--no-progress``)."""
    return not (getattr(args, "quiet", False) or getattr(args, "no_progress", False))


class _StderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is at the time of the record
    (so redirections made after set-up, e.g. by pytest's capsys, are honoured)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _Formatter(logging.Formatter):
    """INFO/DEBUG lines as they are; warnings and errors as ``hrcn <command>: error: ...``."""

    def __init__(self, command: str) -> None:
        super().__init__("%(message)s")
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING:
            kind = "error" if record.levelno >= logging.ERROR else "warning"
            return f"hrcn {self.command}: {kind}: {text}"
        return text


def configure_logging(command: str, *, quiet: bool = False, verbose: bool = False) -> None:
    """Route the ``hrcn_lib`` loggers to stderr at the level the flags ask for.

    Calling it again (several ``main()`` calls in one process) replaces the handler.
    """
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter(command))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    warnings.formatwarning = _warning_format(command)


def _warning_format(command: str):
    """A :func:`warnings.formatwarning` writing Python warnings (the library's
    ``warnings.warn``, other libraries') as one ``hrcn <command>: warning: ...`` line like
    the logged ones, without a source line. Only the format is replaced, not
    :func:`warnings.showwarning`, so ``warnings.catch_warnings(record=True)`` (and
    ``pytest.warns``) still see every warning."""
    def formatwarning(message, category, filename, lineno, line=None) -> str:
        return f"hrcn {command}: warning: {message}\n"

    return formatwarning
