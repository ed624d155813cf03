"""argparse ``type=`` functions for numeric and name arguments of ``hrcn``.

A value outside its range is a usage error: argparse prints the argument, the value and the
expectation, and exits with status 2 before any work starts. Imports nothing heavy.
"""

from __future__ import annotations

import argparse
import math

from hrcn_lib.paths import check_set_name

__all__ = ["positive_int", "nonnegative_int", "positive_float", "nonnegative_float", "set_name"]


def _int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
    return value


def _float(text: str, *, strict: bool) -> float:
    what = "a finite number > 0" if strict else "a finite number >= 0"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (strict and value == 0):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (counts: epochs, batch size, samples, steps, jobs)."""
    return _int(text, 1)


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (workers, seeds, retries, 'every N steps' with 0 = off)."""
    return _int(text, 0)


def positive_float(text: str) -> float:
    """A finite float > 0 (learning rate)."""
    return _float(text, strict=True)


def nonnegative_float(text: str) -> float:
    """A finite float >= 0 (seconds)."""
    return _float(text, strict=False)


def set_name(text: str) -> str:
    """An evaluation set name (:data:`hrcn_lib.paths.SET_NAME_PATTERN`): part of file names."""
    try:
        return check_set_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
