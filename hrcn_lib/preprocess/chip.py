"""A chip's pixels as the recipe (:mod:`.recipe`) reads them: 16-bit words or float32 values.

The recipe asks a chip four things: its amplifiers' bias levels, a subsample of its science
pixels, (rarely) all of them, and to apply the stretch. Two kinds of chip answer:

* :class:`WordChip` -- a raw chip stored as 16-bit integers (``BITPIX = 16``,
  ``BZERO = 32768``, uncompressed): the pixels stay in the memory-mapped file as big-endian
  words; biases are exact integer clipped means; the stretch is one lookup table per
  amplifier over the 65536 words, applied in one pass (:func:`.kernels.gather`), with the
  byte swap and the ``BZERO`` offset absorbed into the table.
* :class:`FloatChip` -- anything else (``_flt``/``_flc`` files in electrons, raw files with
  an unusual scaling, compressed files read through astropy): the cropped science area
  as float32 (:func:`.frame.crop_science`), stretched with numpy; NaN pixels become 0.

Both give the same sample for the same values (to float32 rounding): the recipe is written
once, the representations differ only in how they read pixels and apply the formula.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from hrcn_lib.instruments import SAMPLE_SHAPE
from hrcn_lib.preprocess.fitsheader import PreprocessError, where
from hrcn_lib.preprocess.frame import (
    Frame,
    crop_blocks,
    crop_science,
    float_pixels,
    map_file,
    new_sample,
    stored_array,
)
from hrcn_lib.preprocess.kernels import asinh_table, gather
from hrcn_lib.preprocess.statistics import clipped_mean, int_clipped_mean

__all__ = ["WordChip", "FloatChip", "Chip", "chip_of"]

_HALF = SAMPLE_SHAPE[1] // 2

#: Stored big-endian word, read as a native uint16 -> physical DN (BZERO = 32768 applied).
_NATIVE_TO_DN = (
    (np.arange(65536, dtype=np.uint32).astype(np.uint16).byteswap() ^ np.uint16(0x8000))
    if np.little_endian
    else (np.arange(65536, dtype=np.uint32).astype(np.uint16) ^ np.uint16(0x8000))
).astype(np.float32)

Biases = tuple[float, float]


class WordChip:
    """A raw chip of 16-bit words, read from the memory-mapped file (see the module docstring)."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.where = where(frame.info.path, frame.info.hdu)
        mm = map_file(frame)  # one mapping shared by the views below
        self._native = stored_array(frame, "=u2", mm)  # stored big-endian words, unswapped
        self._big = stored_array(frame, ">u2", mm)  # DN ^ 0x8000 (BZERO = 32768)

    def _dn(self, rows: slice, cols: slice) -> np.ndarray:
        """uint16 DN of a block of the raw array."""
        return np.bitwise_xor(self._big[rows, cols], np.uint16(0x8000))

    def amp_biases(self, nsigma: float, min_pixels: int) -> Biases:
        """Left/right amplifier bias (DN): exact clipped mean of its ``bias_cols`` over the
        science rows (integer data: always measurable)."""
        lay = self.frame.layout
        rows = slice(*lay.science_rows)
        left, right = (int_clipped_mean(self._dn(rows, slice(*a.bias_cols)), nsigma)
                       for a in lay.amps)
        return left, right

    def subsample(self, step: int, biases: Biases) -> tuple[np.ndarray, np.ndarray]:
        """float32 bias-subtracted science pixels of each half on a 1-in-``step`` grid."""
        rows, halves = crop_blocks(self.frame.layout)
        sub_rows = slice(rows.start, rows.stop, step)
        left, right = (self._dn(sub_rows, slice(c.start, c.stop, step)).astype(np.float32)
                       - np.float32(b) for c, b in zip(halves, biases, strict=True))
        return left, right

    def all_values(self, biases: Biases) -> np.ndarray:
        """float32 bias-subtracted science pixels, (2048, 4096)."""
        rows, halves = crop_blocks(self.frame.layout)
        return np.concatenate([self._dn(rows, c).astype(np.float32) - np.float32(b)
                               for c, b in zip(halves, biases, strict=True)], axis=1)

    def stretch(self, biases: Biases, background: float, scale: float) -> np.ndarray:
        """``asinh((DN - bias_amp - background) / scale)`` of the science area, float32."""
        rows, (left, right) = crop_blocks(self.frame.layout)
        tables = [asinh_table(_NATIVE_TO_DN, b + background, scale) for b in biases]
        return gather(self._native[rows, left], self._native[rows, right], *tables,
                      new_sample())


class FloatChip:
    """A chip read as float32 values (flt/flc, unusual scalings, compressed files)."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.where = where(frame.info.path, frame.info.hdu)

    @cached_property
    def data(self) -> np.ndarray:
        """The cropped science area, float32 (2048, 4096) (checked: not all NaN)."""
        return crop_science(self.frame)

    def amp_biases(self, nsigma: float, min_pixels: int) -> Biases:
        """Left/right amplifier bias (DN): clipped mean of ``bias_cols`` over the science rows;
        ``(0.0, 0.0)`` for flt/flc data (already bias-subtracted).

        Raises:
            PreprocessError: an amplifier's overscan with fewer than ``min_pixels`` finite
                values (its bias cannot be measured).
        """
        if self.frame.info.kind == "flt":
            return 0.0, 0.0
        lay = self.frame.layout
        raw = float_pixels(self.frame)
        rows = slice(*lay.science_rows)
        biases = []
        for amp in lay.amps:
            cols = slice(*amp.bias_cols)
            values = np.asarray(raw[rows, cols], dtype=np.float32)
            finite = np.count_nonzero(np.isfinite(values))
            if finite < min_pixels:
                raise PreprocessError(
                    f"{self.where}: the bias columns of amplifier {amp.name} (prescan/overscan, "
                    f"raw columns {cols.start}-{cols.stop - 1}) hold {finite} finite values: its "
                    "bias cannot be measured; expected a raw frame with finite prescan/overscan "
                    f"pixels (at least {min_pixels})")
            biases.append(clipped_mean(values, nsigma))
        return biases[0], biases[1]

    def subsample(self, step: int, biases: Biases) -> tuple[np.ndarray, np.ndarray]:
        """float32 bias-subtracted science pixels of each half on a 1-in-``step`` grid."""
        data = self.data
        return (data[::step, :_HALF:step] - np.float32(biases[0]),
                data[::step, _HALF::step] - np.float32(biases[1]))

    def all_values(self, biases: Biases) -> np.ndarray:
        """float32 bias-subtracted science pixels, (2048, 4096) (a copy)."""
        out = self.data.copy()
        out[:, :_HALF] -= np.float32(biases[0])
        out[:, _HALF:] -= np.float32(biases[1])
        return out

    def stretch(self, biases: Biases, background: float, scale: float) -> np.ndarray:
        """``asinh((x - bias_amp - background) / scale)``, in place; NaN pixels become 0."""
        data = self.data
        data[:, :_HALF] -= np.float32(biases[0])
        data[:, _HALF:] -= np.float32(biases[1])
        data -= np.float32(background)
        data *= np.float32(1.0 / scale)
        np.arcsinh(data, out=data)
        np.nan_to_num(data, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return data


#: Either reader (for type hints).
Chip = WordChip | FloatChip


def chip_of(frame: Frame) -> Chip:
    """The chip reader of a validated frame: words where the bytes can be read directly."""
    return WordChip(frame) if frame.fast_raw else FloatChip(frame)

