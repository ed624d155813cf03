"""Robust levels of the overscan: clipped means, exact and fast for integer DN."""

from __future__ import annotations

import numpy as np

__all__ = ["clipped_mean", "int_clipped_mean"]


#: Normal-distribution quantiles at -1 and +1 sigma: (q84 - q16) / 2 is a robust sigma.
_Q16, _Q84 = 0.158655, 0.841345


def clipped_mean(values: np.ndarray, nsigma: float = 3.0) -> float:
    """Mean of the finite values within ``nsigma`` robust sigmas of their median.

    The robust sigma is half the 15.9-84.1 % inter-quantile range. Float input with at
    least one finite value (the caller checks).
    """
    v = np.asarray(values, dtype=np.float32).ravel()
    v = v[np.isfinite(v)]
    q16, med, q84 = (float(x) for x in np.quantile(v, [_Q16, 0.5, _Q84]))
    sigma = (q84 - q16) / 2.0
    if sigma == 0.0:
        return med
    return float(v[np.abs(v - np.float32(med)) <= nsigma * sigma].mean(dtype=np.float64))


def int_clipped_mean(values: np.ndarray, nsigma: float = 3.0) -> float:
    """:func:`clipped_mean` for unsigned integer DN, exactly, via a histogram (fast).

    Quantiles are the lower empirical quantiles of the integer values; the
    clipping half-width is at least 0.5 DN so a noiseless level keeps its values.
    """
    v = values.ravel()
    lo = int(v.min())
    counts = np.bincount(v - v.dtype.type(lo))
    cum = np.cumsum(counts)
    n = int(cum[-1])

    def quantile(f: float) -> int:
        return lo + int(np.searchsorted(cum, f * n))

    med = quantile(0.5)
    half = max(nsigma * (quantile(_Q84) - quantile(_Q16)) / 2.0, 0.5)
    k0 = max(int(np.ceil(med - half)) - lo, 0)
    k1 = min(int(np.floor(med + half)) - lo + 1, counts.size)
    kept = counts[k0:k1]
    levels = np.arange(lo + k0, lo + k1, dtype=np.float64)
    return float(np.dot(kept, levels) / kept.sum())
