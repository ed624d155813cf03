"""Full-size raw and flt fixture files built from :mod:`hrcn_lib.instruments` (test helpers).

Marker files put a distinct value in every non-science region of each chip
(prescan / physical overscan, serial and parallel virtual overscan, the UVIS
gap-side rows the paper drops) and a known pattern in the science pixels that
survive the crop, so a test can prove the crop keeps exactly those pixels, in
order. Bias files give each amplifier its own bias level (overscan and science
alike) plus sky, noise and a few bright sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from hrcn_lib.instruments import SAMPLE_SHAPE, SCIENCE_HDUS, ChipLayout, detector
from hrcn_lib.simulate.rawfile import write_raw

__all__ = [
    "MARKER_BASE",
    "marker_value",
    "science_pattern",
    "marker_chip",
    "bias_chip",
    "write_marker_raw",
    "write_bias_raw",
    "write_flt",
    "flt_from_sample",
]

#: Every marker is >= this; science pattern values are below it.
MARKER_BASE = 60000
_KIND_CODE = {"prescan": 0, "physical_overscan": 1, "serial_virtual": 2, "parallel_virtual": 3,
              "gap_trim": 4}


def marker_value(kind: str, amp: str, hdu: int) -> int:
    """The marker DN of region ``kind`` of amplifier ``amp`` in chip ``hdu`` (60000..65535)."""
    return MARKER_BASE + 100 * _KIND_CODE[kind] + 10 * "ABCD".index(amp) + (0 if hdu == 1 else 5)


def science_pattern(hdu: int, shape: tuple[int, int] = SAMPLE_SHAPE) -> np.ndarray:
    """Known uint16 science pattern (< 60000), shape (2048, 4096), indexed by sample position.

    ``value = (row * 4096 + col + offset) % 59999`` with a chip offset, so any
    shift, flip or column reordering changes the values.
    """
    rows, cols = np.indices(shape, dtype=np.int64)
    offset = 0 if hdu == 1 else 12345
    return ((rows * shape[1] + cols + offset) % 59999).astype(np.uint16)


def marker_chip(instrument: str, hdu: int) -> np.ndarray:
    """uint16 raw SCI array (raw shape): science pattern in the kept pixels, markers elsewhere."""
    lay = detector(instrument).chips[hdu]
    chip = np.zeros(lay.raw_shape, dtype=np.uint16)
    pattern = science_pattern(hdu)
    rows = slice(*lay.keep_rows)
    for amp in lay.amps:
        chip[rows, slice(*amp.science_cols)] = pattern[:, slice(*amp.sample_cols)]
    # Row regions first, then the full-height column regions, so every pixel outside
    # the kept science area ends up with a marker.
    order = ("gap_trim", "parallel_virtual", "serial_virtual", "prescan", "physical_overscan")
    for kind in order:
        for reg in lay.regions_of(kind):
            chip[slice(*reg.rows), slice(*reg.cols)] = marker_value(kind, reg.amp, hdu)
    return chip


def bias_chip(
    layout: ChipLayout,
    biases: tuple[float, float],
    *,
    sky: float = 40.0,
    noise: float = 3.0,
    seed: int = 0,
) -> np.ndarray:
    """uint16 raw SCI array with a different bias per amplifier.

    Every column of an amplifier (science and overscan) carries its bias plus
    Gaussian read noise (``noise`` DN); the science pixels add ``sky`` DN and
    a few bright square sources (one saturating at 65535).
    """
    rng = np.random.default_rng(seed)
    chip = rng.normal(0.0, noise, layout.raw_shape)
    for amp, bias in zip(layout.amps, biases, strict=True):
        chip[:, slice(*amp.raw_cols)] += bias
    sci_rows = slice(*layout.science_rows)
    for amp in layout.amps:
        chip[sci_rows, slice(*amp.science_cols)] += sky
    r0 = layout.science_rows[0]
    for k, (dr, dc, peak) in enumerate([(300, 400, 5000.0), (1500, 3000, 80000.0),
                                        (900, 2200, 800.0)]):
        col = layout.amps[k % 2].science_cols[0] + dc % 2000
        chip[r0 + dr : r0 + dr + 12, col : col + 12] += peak
    return np.clip(np.rint(chip), 0, 65535).astype(np.uint16)


def write_marker_raw(path: Path, instrument: str, **primary: Any) -> Path:
    """A full-frame raw file whose two chips are :func:`marker_chip`."""
    chips = {h: marker_chip(instrument, h) for h in SCIENCE_HDUS}
    return write_raw(path, instrument, chips, primary=primary or None)


def write_bias_raw(
    path: Path, instrument: str, biases: dict[int, tuple[float, float]], **kw: Any
) -> Path:
    """A full-frame raw file whose chips are :func:`bias_chip` with per-amp ``biases[hdu]``."""
    det = detector(instrument)
    chips = {h: bias_chip(det.chips[h], biases[h], seed=h, **kw) for h in SCIENCE_HDUS}
    return write_raw(path, instrument, chips, primary={"ROOTNAME": "jbias0001", "EXPTIME": 100.0})


def write_flt(
    path: Path,
    instrument: str,
    data: dict[int, np.ndarray],
    primary: dict[str, Any] | None = None,
) -> Path:
    """A calibrated (``_flt``-like) file: PRIMARY + SCI/ERR/DQ x2, SCI float32 of flt shape."""
    det = detector(instrument)
    prim = fits.PrimaryHDU()
    head: dict[str, Any] = {"INSTRUME": det.instrume, "DETECTOR": det.detector,
                            "SUBARRAY": False, "NEXTEND": 6, "ROOTNAME": "jflt00001",
                            "TARGNAME": "FLTTARGET", "EXPTIME": 50.0}
    head.update({"FILTER1": "F606W", "FILTER2": "CLEAR2L"} if det.instrume == "ACS"
                else {"FILTER": "F606W"})
    head.update(primary or {})
    for k, v in head.items():
        prim.header[k] = v
    hdus: list[Any] = [prim]
    for h in SCIENCE_HDUS:
        lay = det.chips[h]
        sci = fits.ImageHDU(np.asarray(data[h], dtype=np.float32), name="SCI", ver=lay.extver)
        sci.header["CCDCHIP"] = lay.ccdchip
        sci.header["BUNIT"] = "ELECTRONS"
        hdus += [sci, fits.ImageHDU(np.zeros(lay.flt_shape, np.float32), name="ERR", ver=lay.extver),
                 fits.ImageHDU(np.zeros(lay.flt_shape, np.int16), name="DQ", ver=lay.extver)]
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return path


def flt_from_sample(instrument: str, hdu: int, sample: np.ndarray, gap_value: float) -> np.ndarray:
    """A float32 flt-shape SCI array holding ``sample`` in its kept rows and ``gap_value`` elsewhere."""
    lay = detector(instrument).chips[hdu]
    flt = np.full(lay.flt_shape, gap_value, dtype=np.float32)
    flt[slice(*lay.flt_keep_rows)] = sample
    return flt
