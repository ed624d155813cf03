"""argparse ``type=`` functions for numeric and name arguments of ``hrcn``.

A value outside its range is a usage error: argparse prints the argument, the value and the
expectation, and exits with status 2 before any work starts. Imports nothing heavy.
"""

from __future__ import annotations

import argparse
import math

from hrcn_lib.names import check_device_name
from hrcn_lib.paths import check_set_name

__all__ = ["positive_int", "nonnegative_int", "body_count", "exposure_count", "positive_float",
           "nonnegative_float", "set_name", "device_name"]


def _int(text: str, low: int, high: int | None = None) -> int:
    what = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
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


def body_count(text: str) -> int:
    """Bodies of one class in a simulated data set: 0 to 9999 (the simulator's body ids have
    four digits)."""
    return _int(text, 0, 9999)


def exposure_count(text: str) -> int:
    """Raw files per simulated body: 1 to 9999."""
    return _int(text, 1, 9999)


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


def device_name(text: str) -> str:
    """A device a run may name: cpu, cuda, cuda:N or auto
    (:func:`hrcn_lib.names.check_device_name`)."""
    try:
        return check_device_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
