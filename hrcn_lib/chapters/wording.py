"""How the chapters write accuracies, intervals and differences: one spelling for the book.

Every function takes fractions (0.843, not 84.3) and writes percent with one decimal, so a
number reads the same in a table cell, a glued sentence and chapter 9's verdict rows.
"""
from __future__ import annotations

__all__ = ["percent", "interval_text", "accuracy_text", "accuracy_prose", "pp_text",
           "difference_text"]


def percent(value: float | None) -> float:
    """A fraction as a percent for a table cell, rounded to 2 decimals; NaN for ``None``."""
    return float("nan") if value is None else round(100.0 * float(value), 2)


def interval_text(lo: float, hi: float) -> str:
    """A 95 % interval of fractions as ``[76.0, 92.2]`` (percent)."""
    return f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def accuracy_text(acc: float, lo: float, hi: float) -> str:
    """An accuracy and its 95 % interval, for tables and verdict rows:
    ``84.3 % [76.0, 92.2]``."""
    return f"{100 * acc:.1f} % {interval_text(lo, hi)}"


def accuracy_prose(acc: float, lo: float, hi: float) -> str:
    """An accuracy and its 95 % interval, for a sentence:
    ``84.3 % (95 % interval 76.0-92.2 %)``."""
    return f"{100 * acc:.1f} % (95 % interval {100 * lo:.1f}-{100 * hi:.1f} %)"


def pp_text(value: float) -> str:
    """A difference of fractions in signed percentage points: ``+8.6 pp``."""
    return f"{100 * value:+.1f} pp"


def difference_text(diff: float, lo: float, hi: float) -> str:
    """A difference of fractions and its 95 % interval in signed percentage points:
    ``+8.6 pp [-1.4, +19.6]``."""
    return f"{pp_text(diff)} [{100 * lo:+.1f}, {100 * hi:+.1f}]"
