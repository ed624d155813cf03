"""8-bit previews of samples (``hrcn preprocess --png``)."""

from __future__ import annotations

import numpy as np

__all__ = ["preview_image"]


def preview_image(sample: np.ndarray, downscale: int = 2) -> np.ndarray:
    """An 8-bit preview of a sample for PNG files, displayed as ds9 shows FITS.

    Args:
        sample: float32 (2048, 4096) from :func:`load_sample` (already asinh-stretched).
        downscale: integer block-averaging factor (2 -> (1024, 2048)).

    Returns:
        uint8 array, shape (2048 // downscale, 4096 // downscale): the sample
        block-averaged, linearly mapped from its 0.5th..99.9th percentile to
        0..255, and flipped vertically so that FITS row 1 is at the bottom.
    """
    if sample.ndim != 2 or downscale < 1 or sample.shape[0] % downscale or sample.shape[1] % downscale:
        raise ValueError(
            f"preview_image: expected a 2-D sample divisible by downscale={downscale}, "
            f"got shape {sample.shape}"
        )
    rows, cols = sample.shape[0] // downscale, sample.shape[1] // downscale
    small = sample.reshape(rows, downscale, cols, downscale).mean(axis=(1, 3), dtype=np.float32)
    finite = small[np.isfinite(small)]
    if finite.size == 0:
        return np.zeros((rows, cols), dtype=np.uint8)
    lo, hi = np.percentile(finite, [0.5, 99.9])
    span = float(hi - lo) or 1.0
    scaled = np.clip((np.nan_to_num(small, nan=float(lo)) - lo) / span, 0.0, 1.0)
    return np.flipud((scaled * 255.0 + 0.5).astype(np.uint8))
