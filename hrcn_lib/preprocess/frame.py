"""One SCI extension of a raw or calibrated HST file: validated from its headers, its pixels mapped.

:func:`open_frame` checks a (file, HDU) from its headers alone (:mod:`.fitsheader`): a FITS
file of a full-frame ACS/WFC or WFC3/UVIS exposure (not a subarray, not truncated), the HDU
a SCI extension with the geometry of :mod:`hrcn_lib.instruments` (shape, ``LTV1/2``). It
returns a :class:`Frame`: the header facts (:class:`HeaderInfo`), the chip layout, and where
the pixels are. Pixels are then read without copies: 16-bit raw data as a memory map of
the big-endian words (:func:`stored_array`), anything else as float32 (memory-mapped float
data, or through astropy for unusual scalings and compressed files).

:func:`extract_science` is the crop of the paper's Sec. 2.2: ACS/WFC keeps
``sci[science_rows, 24:4120]`` (drops 24 + 24 prescan columns and the 20 parallel
virtual-overscan rows); WFC3/UVIS keeps the two 2048-column science halves side by side
(drops 25 + 25 physical overscan columns and the 60 serial virtual columns between the
halves), drops the 19 parallel virtual-overscan rows and then the 3 science rows next to
the chip gap (last 3 of ``[SCI,1]``, first 3 of ``[SCI,2]``). ``_flt`` UVIS arrays (2051
rows) lose the same 3 rows. Samples keep the raw array orientation as stored on disk:
numpy row 0 is FITS row 1 (``y = 1``); nothing is flipped.
"""

from __future__ import annotations

import math
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hrcn_lib.instruments import DETECTORS, SAMPLE_SHAPE, SCIENCE_HDUS, ChipLayout
from hrcn_lib.preprocess.fitsheader import (
    BLOCK,
    FULL_FRAME_NEXTEND,
    HDUHeader,
    PreprocessError,
    astropy_headers,
    is_compressed_file,
    scan_headers,
    where,
)

__all__ = [
    "HeaderInfo",
    "Frame",
    "open_frame",
    "read_header_info",
    "map_file",
    "stored_array",
    "new_sample",
    "float_pixels",
    "crop_blocks",
    "extract_science",
    "crop_science",
    "check_finite",
]

#: (INSTRUME, DETECTOR) -> manifest instrument spelling.
_INSTRUMENTS = {(d.instrume, d.detector): name for name, d in DETECTORS.items()}


@dataclass(frozen=True)
class HeaderInfo:
    """What the manifest and the book need from one SCI extension's headers.

    Attributes:
        path: the file.
        hdu: HDU index (1 or 4).
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"``.
        detector: ``DETECTOR`` keyword (``"WFC"`` / ``"UVIS"``).
        chip: ``"WFC1"``, ``"WFC2"``, ``"UVIS1"`` or ``"UVIS2"``.
        ccdchip: ``CCDCHIP`` (1 or 2).
        filter: ``FILTER`` (WFC3) or the non-CLEAR one of ``FILTER1``/``FILTER2``
            (ACS; ``"CLEAR"`` when both are clear).
        exptime: exposure time, s.
        rootname: ``ROOTNAME`` (lower case).
        target: ``TARGNAME``.
        subarray: ``SUBARRAY`` flag (always False for an accepted file).
        kind: ``"raw"`` or ``"flt"`` (``_flt``/``_flc``-like calibrated array).
    """

    path: Path
    hdu: int
    instrument: str
    detector: str
    chip: str
    ccdchip: int
    filter: str
    exptime: float
    rootname: str
    target: str
    subarray: bool
    kind: str


@dataclass(frozen=True)
class Frame:
    """A validated SCI extension: header info, geometry and where its pixels are.

    Attributes:
        info: the header facts.
        layout: the chip's geometry (:func:`hrcn_lib.instruments.chip_layout`).
        header: the SCI extension's header (keywords, data offset).
        fast_raw: BITPIX 16, BZERO 32768, BSCALE 1, uncompressed: the bytes are read directly.
        compressed: pixels only through astropy (gzip/bzip2/zip file, fpack HDU).
    """

    info: HeaderInfo
    layout: ChipLayout
    header: HDUHeader
    fast_raw: bool
    compressed: bool = False


def _instrument(path: Path, hdu: int, prim: dict[str, Any]) -> str:
    instrume = str(prim.get("INSTRUME", "")).strip().upper()
    det = str(prim.get("DETECTOR", "")).strip().upper()
    try:
        return _INSTRUMENTS[(instrume, det)]
    except KeyError:
        raise PreprocessError(
            f"{where(path, hdu)}: INSTRUME/DETECTOR = {instrume or '?'}/{det or '?'} is not "
            f"supported: expected ACS/WFC or WFC3/UVIS full frames"
        ) from None


def _filter_name(prim: dict[str, Any]) -> str:
    if "FILTER" in prim:
        return str(prim["FILTER"]).strip()
    names = [str(prim.get(k, "")).strip() for k in ("FILTER1", "FILTER2")]
    real = [n for n in names if n and not n.upper().startswith("CLEAR")]
    return "+".join(real) if real else "CLEAR"


def _check_container(path: Path, hdu: int, headers: list[HDUHeader], size: int,
                     at_eof: bool, instrument: str) -> None:
    """File-level checks: full frame, not truncated, HDU index in range."""
    prim = headers[0].cards
    nextend = prim.get("NEXTEND")
    if prim.get("SUBARRAY") is True:
        raise PreprocessError(
            f"{where(path, hdu)}: subarray frame (SUBARRAY=T, "
            f"APERTURE={prim.get('APERTURE', '?')}): expected a full-frame {instrument} exposure"
        )
    if nextend == 3:
        raise PreprocessError(
            f"{where(path, hdu)}: NEXTEND = 3 (one SCI/ERR/DQ set: a single-chip or subarray "
            f"file, APERTURE={prim.get('APERTURE', '?')}): expected a full-frame {instrument} "
            f"exposure with both chips (NEXTEND = {FULL_FRAME_NEXTEND})"
        )
    if size % BLOCK:
        raise PreprocessError(
            f"{where(path, hdu)}: truncated file: {size} bytes is not a whole number of "
            f"{BLOCK}-byte FITS blocks"
        )
    if at_eof and isinstance(nextend, int) and len(headers) <= min(nextend, FULL_FRAME_NEXTEND):
        raise PreprocessError(
            f"{where(path, hdu)}: truncated file: NEXTEND = {nextend} but the file ends "
            f"after HDU {len(headers) - 1}"
        )
    if len(headers) <= hdu:
        raise PreprocessError(
            f"{where(path, hdu)}: HDU index out of range: the file has {len(headers)} HDUs "
            f"(0..{len(headers) - 1}); expected 1 or 4"
        )


def _check_sci(path: Path, hdu: int, cards: dict[str, Any], instrument: str) -> ChipLayout:
    """The HDU must be the expected SCI extension; returns its chip layout."""
    extname = str(cards.get("EXTNAME", "")).strip().upper()
    if hdu not in SCIENCE_HDUS or extname != "SCI":
        raise PreprocessError(
            f"{where(path, hdu)}: not a SCI extension (EXTNAME={extname or '?'}): expected "
            f"HDU 1 (SCI,1) or 4 (SCI,2)"
        )
    layout = DETECTORS[instrument].chips[hdu]
    if cards.get("EXTVER", layout.extver) != layout.extver:
        raise PreprocessError(
            f"{where(path, hdu)}: EXTVER = {cards.get('EXTVER')}: expected {layout.extver}"
        )
    if "CCDCHIP" in cards and cards["CCDCHIP"] != layout.ccdchip:
        raise PreprocessError(
            f"{where(path, hdu)}: CCDCHIP = {cards['CCDCHIP']}: expected {layout.ccdchip} "
            f"({layout.chip}) for a full-frame {instrument} file"
        )
    return layout


def _kind(path: Path, hdu: int, cards: dict[str, Any], layout: ChipLayout) -> str:
    """``"raw"`` or ``"flt"`` from the SCI array's shape and BITPIX; raise if neither."""
    naxis = cards.get("NAXIS")
    shape = (int(cards.get("NAXIS2", 0)), int(cards.get("NAXIS1", 0))) if naxis == 2 else ()
    bitpix = cards.get("BITPIX")
    if shape == layout.raw_shape and bitpix in (16, -32):
        _check_ltv(path, hdu, cards, layout)
        return "raw"
    if shape == layout.flt_shape and bitpix in (-32, -64):
        return "flt"
    raise PreprocessError(
        f"{where(path, hdu)}: unexpected SCI array shape {shape} (BITPIX={bitpix}): expected "
        f"{layout.raw_shape} (raw, BITPIX 16) or {layout.flt_shape} (flt/flc, BITPIX -32) "
        f"for a full-frame {layout.instrument} {layout.chip} chip"
    )


def open_frame(path: str | os.PathLike[str], hdu: int) -> Frame:
    """Validate one (file, HDU) from its headers alone; raise PreprocessError if bad."""
    path = Path(path)
    if not isinstance(hdu, (int, np.integer)) or isinstance(hdu, bool):
        raise PreprocessError(f"{path}: HDU index must be an integer, got {hdu!r}")
    hdu = int(hdu)
    if path.is_dir():
        raise PreprocessError(f"{where(path, hdu)}: is a directory: expected a FITS file")
    if not path.is_file():
        raise PreprocessError(f"{where(path, hdu)}: no such file")
    if hdu < 0:
        raise PreprocessError(f"{where(path, hdu)}: HDU index out of range (negative)")
    compressed = is_compressed_file(path)
    if not compressed:
        headers, size, at_eof = scan_headers(path, max(hdu, FULL_FRAME_NEXTEND), hdu)
        compressed = any(h.cards.get("ZIMAGE") is True for h in headers)  # fpack
    if compressed:  # astropy reads every HDU: the count is exact, there is no byte size
        headers, size, at_eof = astropy_headers(path, hdu), 0, True
    prim = headers[0].cards
    instrument = _instrument(path, hdu, prim)
    _check_container(path, hdu, headers, size, at_eof, instrument)
    cards = headers[hdu].cards
    layout = _check_sci(path, hdu, cards, instrument)
    kind = _kind(path, hdu, cards, layout)
    fast = (
        kind == "raw"
        and not compressed
        and cards.get("BITPIX") == 16
        and cards.get("BZERO", 0) == 32768
        and cards.get("BSCALE", 1) == 1
        and "BLANK" not in cards
    )
    info = HeaderInfo(
        path=path,
        hdu=hdu,
        instrument=instrument,
        detector=str(prim.get("DETECTOR", "")).strip(),
        chip=layout.chip,
        ccdchip=layout.ccdchip,
        filter=_filter_name(prim),
        exptime=_float(prim.get("EXPTIME")),
        rootname=str(prim.get("ROOTNAME", "")).strip().lower(),
        target=str(prim.get("TARGNAME", "")).strip(),
        subarray=bool(prim.get("SUBARRAY", False)),
        kind=kind,
    )
    return Frame(info, layout, headers[hdu], fast, compressed)


def _float(value: Any) -> float:
    """A header value as float (NaN when missing or not numeric)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _check_ltv(path: Path, hdu: int, cards: dict[str, Any], layout: ChipLayout) -> None:
    """LTV1/LTV2 of a raw SCI header, when present, must match the frozen layout."""
    for key, expected in zip(("LTV1", "LTV2"), layout.ltv, strict=True):
        if key in cards and not math.isclose(_float(cards[key]), expected):
            raise PreprocessError(
                f"{where(path, hdu)}: {key} = {cards[key]} but the {layout.chip} layout expects "
                f"{expected} (science area origin); refusing to crop a frame whose layout differs"
            )


def read_header_info(path: str | os.PathLike[str], hdu: int) -> HeaderInfo:
    """Header facts of one SCI extension (no pixels read).

    Args:
        path: a full-frame ACS/WFC or WFC3/UVIS raw or flt/flc FITS file.
        hdu: 1 or 4.

    Returns:
        :class:`HeaderInfo`.

    Raises:
        PreprocessError: for any file/HDU :func:`load_sample` would refuse on
            header grounds (not FITS, truncated, other instrument/detector,
            subarray, HDU out of range or not SCI, unexpected shape).
    """
    return open_frame(path, hdu).info

# --------------------------------------------------------------------------- pixel access


def map_file(frame: Frame) -> mmap.mmap:
    """Read-only memory map of the whole file (page-cache backed, nothing copied)."""
    with open(frame.info.path, "rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def stored_array(frame: Frame, dtype: str, mm: mmap.mmap | None = None) -> np.ndarray:
    """The SCI array as stored, memory-mapped, with numpy ``dtype`` (raw shape or flt shape).

    Pass ``mm`` to share one mapping between several views (its pages are then
    mapped once for all of them).
    """
    shape = frame.layout.raw_shape if frame.info.kind == "raw" else frame.layout.flt_shape
    count = shape[0] * shape[1]
    buf = map_file(frame) if mm is None else mm
    return np.frombuffer(buf, dtype=dtype, count=count, offset=frame.header.data_offset).reshape(
        shape)


def new_sample() -> np.ndarray:
    """An uninitialised float32 (2048, 4096) array, backed by transparent huge pages if possible.

    A fresh 32 MiB buffer costs 8192 page faults with 4 KiB pages, a large part
    of the whole preprocessing time; with ``MADV_HUGEPAGE`` (Linux) it costs
    16. The array owns its anonymous mapping (freed with the array).
    """
    nbytes = SAMPLE_SHAPE[0] * SAMPLE_SHAPE[1] * 4
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is None or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.empty(SAMPLE_SHAPE, dtype=np.float32)
    try:
        buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf.madvise(advice)
    except (OSError, ValueError):
        return np.empty(SAMPLE_SHAPE, dtype=np.float32)
    return np.frombuffer(buf, dtype=np.float32).reshape(SAMPLE_SHAPE)


def _scaled_raw(frame: Frame) -> np.ndarray:
    """The SCI array read and scaled by astropy (unusual scaling, compressed files): float32,
    stored shape.

    Raises:
        PreprocessError: the data cannot be read or decompressed (e.g. a truncated ``.gz``).
    """
    from astropy.io import fits  # lazily: only unusual scalings and compressed files need it

    try:
        with fits.open(frame.info.path, memmap=False) as hdul:
            return np.asarray(hdul[frame.info.hdu].data, dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 -- gzip, zlib, EOF and FITS errors alike
        raise PreprocessError(f"{where(frame.info.path, frame.info.hdu)}: cannot read the "
                              f"pixels: {type(exc).__name__}: {exc}") from None


def float_pixels(frame: Frame) -> np.ndarray:
    """A non-fast SCI array in its stored shape: memory-mapped float data, else via astropy."""
    bitpix = frame.header.cards["BITPIX"]
    if not frame.compressed and bitpix in (-32, -64):
        return stored_array(frame, ">f4" if bitpix == -32 else ">f8")
    return _scaled_raw(frame)


def crop_blocks(layout: ChipLayout) -> tuple[slice, tuple[slice, slice]]:
    """Raw rows kept and the raw column slices of the left/right sample halves."""
    rows = slice(*layout.keep_rows)
    left, right = (slice(*a.science_cols) for a in layout.amps)
    return rows, (left, right)


def extract_science(path: str | os.PathLike[str], hdu: int) -> np.ndarray:
    """The science pixels of one SCI extension, cropped as the paper does, in raw orientation.

    Args:
        path: full-frame ACS/WFC or WFC3/UVIS raw or flt/flc file.
        hdu: 1 or 4.

    Returns:
        float32 array, shape (2048, 4096): DN for raw files (bias not
        subtracted), the stored unit (electrons) for flt/flc files.
        ``sample[:, :2048]`` comes from the left amplifier (A or C),
        ``sample[:, 2048:]`` from the right one (B or D).

    Raises:
        PreprocessError: see :func:`read_header_info`; also all-NaN data.
    """
    return crop_science(open_frame(path, hdu))


def crop_science(frame: Frame) -> np.ndarray:
    """:func:`extract_science` of a validated frame (float32 (2048, 4096), a new array).

    Raises:
        PreprocessError: the pixels cannot be read, or are all NaN/inf.
    """
    out = new_sample()
    if frame.info.kind == "flt":
        stored = float_pixels(frame)
        np.copyto(out, stored[slice(*frame.layout.flt_keep_rows)], casting="same_kind")
        check_finite(frame, out)
        return out
    rows, (left, right) = crop_blocks(frame.layout)
    half = SAMPLE_SHAPE[1] // 2
    if frame.fast_raw:
        signed = stored_array(frame, ">i2")  # stored = DN - 32768
        np.add(signed[rows, left], np.float32(32768), out=out[:, :half], dtype=np.float32)
        np.add(signed[rows, right], np.float32(32768), out=out[:, half:], dtype=np.float32)
    else:
        data = float_pixels(frame)
        out[:, :half] = data[rows, left]
        out[:, half:] = data[rows, right]
        check_finite(frame, out)
    return out


def check_finite(frame: Frame, data: np.ndarray) -> None:
    """Raise :class:`PreprocessError` when no pixel of ``data`` is finite."""
    if not np.isfinite(data).any():
        raise PreprocessError(
            f"{where(frame.info.path, frame.info.hdu)}: the science pixels are all NaN/inf: "
            f"expected finite data"
        )
