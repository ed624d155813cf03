"""The preprocessing recipe: one SCI extension -> one model input (the paper's Sec. 2.2).

The paper crops each raw chip to its 2048 x 4096 science area (:func:`.frame.extract_science`)
and does not state how it scales the values; ours, the same for simulated and real frames:

1. **Bias**, per amplifier: the clipped mean (within :data:`BIAS_CLIP_SIGMA` robust sigmas of
   the median) of that amplifier's own overscan columns over the science rows, in DN. The
   biases of a chip's two amplifiers differ by ~100 DN, so one value per chip would leave a
   step in the sample. ``_flt`` files are already bias-subtracted (bias 0).
2. **Background and noise** of the bias-subtracted science pixels on a 1-in-
   :data:`SUBSAMPLE_STEP` grid: ``m`` = median, ``sigma`` = :data:`MAD_TO_SIGMA` x MAD,
   floored at :data:`NOISE_FLOOR` (every finite pixel is used when NaNs leave the grid fewer
   than :data:`MIN_STAT_PIXELS` finite values; fewer in all raise :class:`PreprocessError`).
3. **Stretch**: ``sample = asinh((x - bias_amp - m) / (STRETCH * sigma))``, linear within
   about +-3 sigma of the sky, logarithmic above: sky noise spreads by ~1/3 around 0 and a
   saturated star (65535 DN) stays below ~10. NaN pixels of ``_flt`` files become 0.

Why: dividing by the frame's own robust noise makes the input independent of units (DN in
raw, electrons in ``_flt``), gain, exposure time and sky level; the asinh keeps faint
structure linear while compressing the four-decade range of galaxies, star clusters, stars
and cosmic rays into a range a CNN trains on stably; the median/MAD ignore sources and
cosmic rays. How the pixels are read and the formula applied (a table per amplifier over
16-bit words, or float32 arithmetic) is :mod:`.chip`'s business; the recipe is this page.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from hrcn_lib.instruments import chip_layout
from hrcn_lib.preprocess.chip import Chip, WordChip, chip_of
from hrcn_lib.preprocess.fitsheader import PreprocessError
from hrcn_lib.preprocess.frame import HeaderInfo, open_frame

__all__ = ["RECIPE_VERSION", "STRETCH", "NOISE_FLOOR", "SUBSAMPLE_STEP", "MIN_STAT_PIXELS", "BIAS_CLIP_SIGMA",
           "MAD_TO_SIGMA", "normalise", "background_noise", "load_sample", "sample_from_raw",
           "check_input", "amp_biases"]

#: Version of the recipe's output: bump it whenever a change of this package changes the
#: samples it produces (it keys the sample cache, :mod:`hrcn_lib.samplecache`, together with
#: a hash of the package's code).
RECIPE_VERSION: int = 1
#: Width of the linear part of the asinh stretch, in units of the robust noise sigma.
STRETCH: float = 3.0
#: Lowest noise sigma used for scaling (data units): the integer-DN quantisation limit.
NOISE_FLOOR: float = 1.0
#: Stride (rows and columns) of the subsample used for the background and noise.
SUBSAMPLE_STEP: int = 16
#: Fewest finite values a statistic (an amplifier's bias, the background and noise) is
#: measured from; fewer raise :class:`PreprocessError` instead of giving a NaN level.
MIN_STAT_PIXELS: int = 1024
#: Overscan values farther than this many robust sigmas from their median are not averaged.
BIAS_CLIP_SIGMA: float = 3.0
#: MAD -> standard deviation of a normal distribution.
MAD_TO_SIGMA: float = 1.4826


def normalise(chip: Chip) -> np.ndarray:
    """Steps 1-3 on one chip's pixels: float32 (2048, 4096) (see the module docstring)."""
    biases = chip.amp_biases(BIAS_CLIP_SIGMA, MIN_STAT_PIXELS)                   # 1. bias
    halves = chip.subsample(SUBSAMPLE_STEP, biases)
    background, sigma = background_noise(halves, chip.where,                     # 2. sky
                                         lambda: chip.all_values(biases))
    return chip.stretch(biases, background, STRETCH * sigma)                     # 3. asinh


def background_noise(halves: tuple[np.ndarray, np.ndarray], where: str,
                     all_pixels: Callable[[], np.ndarray] | None = None) -> tuple[float, float]:
    """Median and robust sigma (:data:`MAD_TO_SIGMA` x MAD, floored) of bias-subtracted pixels.

    When ``halves`` hold fewer than :data:`MIN_STAT_PIXELS` finite values (NaN pixels on the
    subsample's grid) every finite pixel is used, ``all_pixels()``.

    Raises:
        PreprocessError: fewer than :data:`MIN_STAT_PIXELS` finite pixels in all (names
            ``where``).
    """
    v = np.concatenate([h.ravel() for h in halves])
    v = v[np.isfinite(v)]
    if v.size < MIN_STAT_PIXELS and all_pixels is not None:
        v = all_pixels()
        v = v[np.isfinite(v)]
    if v.size < MIN_STAT_PIXELS:
        raise PreprocessError(
            f"{where}: only {v.size} finite science pixels: the background and noise cannot be "
            f"measured; expected a frame of mostly finite data (at least {MIN_STAT_PIXELS} "
            "finite pixels)")
    med = float(np.median(v))
    sigma = MAD_TO_SIGMA * float(np.median(np.abs(v - np.float32(med))))
    return med, max(sigma, NOISE_FLOOR)


def load_sample(path: str | os.PathLike[str], hdu: int) -> np.ndarray:
    """The model input for one SCI extension.

    Args:
        path: full-frame ACS/WFC or WFC3/UVIS raw or flt/flc file (gzip/fpack too).
        hdu: 1 or 4.

    Returns:
        float32 array, shape (2048, 4096), raw orientation, dimensionless:
        ``asinh((x - bias_amp - background) / (STRETCH * sigma))``; sky noise
        ~ +-0.3, zero at the background, ~9-10 for saturated pixels. NaN pixels
        of flt files become 0 (the background).

    Raises:
        PreprocessError: the file or HDU cannot be used (names them and what was expected).
    """
    return normalise(chip_of(open_frame(path, hdu)))


def sample_from_raw(raw: np.ndarray, instrument: str, hdu: int) -> np.ndarray:
    """:func:`load_sample`'s recipe applied to a raw SCI array in memory.

    For code that holds a chip before it is written (the simulator screens its chips with
    the real preprocessing). The result is bit-identical to ``load_sample`` of a raw file
    holding ``raw`` in HDU ``hdu``.

    Args:
        raw: uint16 DN array of the chip's raw shape (bias and overscan included), raw
            orientation.
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"``.
        hdu: 1 or 4.

    Returns:
        float32 (2048, 4096), as :func:`load_sample`.

    Raises:
        PreprocessError: wrong dtype or shape, unknown instrument or HDU.
    """
    try:
        layout = chip_layout(instrument, hdu)
    except ValueError as exc:
        raise PreprocessError(f"sample_from_raw: {exc}") from None
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint16 or raw.shape != layout.raw_shape:
        raise PreprocessError(
            f"sample_from_raw: expected a uint16 array of shape {layout.raw_shape} for HDU {hdu} "
            f"of {instrument}, got {getattr(raw, 'dtype', type(raw).__name__)} "
            f"{getattr(raw, 'shape', '')}")
    return normalise(WordChip.of_array(raw, layout, f"sample_from_raw ({instrument} HDU {hdu})"))


def check_input(path: str | os.PathLike[str], hdu: int) -> HeaderInfo:
    """Everything :func:`load_sample` checks, without keeping the sample.

    Header checks as :func:`~hrcn_lib.preprocess.read_header_info`; for float data
    (flt/flc, or raw with unusual scaling), where the statistics can fail (NaN science
    pixels, NaN overscan), every step of :func:`load_sample` is run. 16-bit raw data cannot
    fail after the header checks (integer pixels are always finite), so only headers are
    read for them. Used by the CLI to refuse a batch before writing anything.

    Raises:
        PreprocessError: whatever :func:`load_sample` would raise.
    """
    frame = open_frame(path, hdu)
    if not frame.fast_raw:
        normalise(chip_of(frame))
    return frame.info


def amp_biases(path: str | os.PathLike[str], hdu: int) -> tuple[float, float]:
    """Bias level (DN) of the left and right amplifier of one SCI extension (step 1).

    ``(0.0, 0.0)`` for flt/flc files (already bias-subtracted).

    Raises:
        PreprocessError: as :func:`load_sample`.
    """
    return chip_of(open_frame(path, hdu)).amp_biases(BIAS_CLIP_SIGMA, MIN_STAT_PIXELS)
