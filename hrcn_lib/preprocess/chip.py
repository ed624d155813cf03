"""A chip's pixels as the recipe (:mod:`.recipe`) reads them: 16-bit words or float32 values.

The recipe asks a chip four things: its amplifiers' bias levels, a subsample of its science
pixels, (rarely) all of them, and to apply the stretch. Two kinds of chip answer:

* :class:`WordChip` -- a raw chip of 16-bit integers: in a file (``BITPIX = 16``,
  ``BZERO = 32768``, uncompressed) the pixels stay in the memory-mapped file as big-endian
  words, with the byte swap and the ``BZERO`` offset absorbed into the lookup tables
  (:meth:`WordChip.of_frame`); a uint16 DN array in memory is read as it is
  (:meth:`WordChip.of_array`, the simulator's screening). Biases are exact integer clipped
  means; the stretch is one lookup table per amplifier over the 65536 words, applied in one
  pass (:func:`.kernels.gather`).
* :class:`FloatChip` -- anything else (``_flt``/``_flc`` files in electrons, raw files with
  an unusual scaling, compressed files read through astropy): the cropped science area
  as float32 (:func:`.frame.crop_science`), stretched with numpy; NaN pixels become 0.

Both give the same sample for the same values (to float32 rounding): the recipe is written
once, the representations differ only in how they read pixels and apply the formula.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from hrcn_lib.instruments import SAMPLE_SHAPE, ChipLayout
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
#: A uint16 DN word -> its DN.
_DN_TO_DN = np.arange(65536, dtype=np.float32)

Biases = tuple[float, float]


class WordChip:
    """A raw chip of 16-bit words (see the module docstring).

    Args:
        layout: the chip's geometry.
        where: how error messages name the chip.
        words: uint16 array of the raw shape, the words the lookup tables are indexed by.
        dn_of_word: float32 (65536,): the DN each word means.
        dn: ``(rows, cols) -> uint16 DN`` of a block of the raw array.
        parallel: threads of the table pass (:func:`.kernels.gather`).
    """

    def __init__(self, layout: ChipLayout, where: str, words: np.ndarray,
                 dn_of_word: np.ndarray, dn: Callable[[slice, slice], np.ndarray], *,
                 parallel: bool | None = None) -> None:
        self.layout, self.where, self._words, self._table, self._dn = (layout, where, words,
                                                                       dn_of_word, dn)
        self._parallel = parallel

    @classmethod
    def of_frame(cls, frame: Frame) -> WordChip:
        """The chip of a 16-bit raw file, memory-mapped (nothing is read until used)."""
        mm = map_file(frame)  # one mapping shared by the views below
        big = stored_array(frame, ">u2", mm)  # DN ^ 0x8000 (BZERO = 32768)
        return cls(frame.layout, where(frame.info.path, frame.info.hdu),
                   stored_array(frame, "=u2", mm),  # the stored big-endian words, unswapped
                   _NATIVE_TO_DN, lambda r, c: np.bitwise_xor(big[r, c], np.uint16(0x8000)))

    @classmethod
    def of_array(cls, raw: np.ndarray, layout: ChipLayout, where: str) -> WordChip:
        """The chip of a uint16 DN array of ``layout.raw_shape`` in memory (one thread: its
        caller, the simulator, runs one process per core)."""
        return cls(layout, where, raw, _DN_TO_DN, lambda r, c: raw[r, c], parallel=False)

    def amp_biases(self, nsigma: float, min_pixels: int) -> Biases:
        """Left/right amplifier bias (DN): exact clipped mean of its ``bias_cols`` over the
        science rows (integer data: always measurable)."""
        lay = self.layout
        rows = slice(*lay.science_rows)
        left, right = (int_clipped_mean(self._dn(rows, slice(*a.bias_cols)), nsigma)
                       for a in lay.amps)
        return left, right

    def subsample(self, step: int, biases: Biases) -> tuple[np.ndarray, np.ndarray]:
        """float32 bias-subtracted science pixels of each half on a 1-in-``step`` grid."""
        rows, halves = crop_blocks(self.layout)
        sub_rows = slice(rows.start, rows.stop, step)
        left, right = (self._dn(sub_rows, slice(c.start, c.stop, step)).astype(np.float32)
                       - np.float32(b) for c, b in zip(halves, biases, strict=True))
        return left, right

    def all_values(self, biases: Biases) -> np.ndarray:
        """float32 bias-subtracted science pixels, (2048, 4096)."""
        rows, halves = crop_blocks(self.layout)
        return np.concatenate([self._dn(rows, c).astype(np.float32) - np.float32(b)
                               for c, b in zip(halves, biases, strict=True)], axis=1)

    def stretch(self, biases: Biases, background: float, scale: float) -> np.ndarray:
        """``asinh((DN - bias_amp - background) / scale)`` of the science area, float32."""
        rows, (left, right) = crop_blocks(self.layout)
        tables = [asinh_table(self._table, b + background, scale) for b in biases]
        return gather(self._words[rows, left], self._words[rows, right], *tables, new_sample(),
                      parallel=self._parallel)


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
    return WordChip.of_frame(frame) if frame.fast_raw else FloatChip(frame)

