"""One HST SCI extension -> one model-ready float32 (2048, 4096) sample (paper Sec. 2.2).

Accepted input: full-frame ACS/WFC and WFC3/UVIS files, either raw (``*_raw.fits``:
SCI stored as ``BITPIX = 16``, ``BZERO = 32768``, DN, with prescan/overscan) or
calibrated (``*_flt.fits`` / ``*_flc.fits``: ``BITPIX = -32``, already trimmed
and bias-subtracted, electrons). HDU 1 (``SCI,1``) or HDU 4 (``SCI,2``). All
geometry comes from :mod:`hrcn_lib.instruments`.

Orientation
    Samples keep the raw array orientation as stored on disk: numpy row 0 is
    FITS row 1 (``y = 1``); nothing is flipped. Chip ``[SCI,1]`` therefore has its
    readout amplifiers (C, D) at row 0, chip ``[SCI,2]`` (A, B) at the last row.

Crop (``extract_science``)
    ACS/WFC keeps ``sci[science_rows, 24:4120]`` (drops 24 + 24 prescan columns and
    the 20 parallel virtual-overscan rows). WFC3/UVIS keeps the two 2048-column
    science halves side by side (drops 25 + 25 physical overscan columns and the
    60 serial virtual columns between the halves), drops the 19 parallel
    virtual-overscan rows and then the 3 science rows next to the chip gap
    (last 3 of ``[SCI,1]``, first 3 of ``[SCI,2]``). ``_flt`` UVIS arrays (2051
    rows) lose the same 3 rows.

Normalisation (``load_sample``), the same for simulated and real frames
    1. Bias: each amplifier's bias ``b_amp`` (DN) is a clipped mean of its own
       overscan columns (``Amplifier.bias_cols``) over the science rows: the
       mean of the values within 3 robust sigma of their median (sigma = half
       the 15.9-84.1 % quantile range; computed exactly from an integer
       histogram). Biases differ between amplifiers by ~100 DN, so one value
       per chip would leave a step in the sample. ``_flt`` files are already
       bias-subtracted (``b = 0``).
    2. Background and noise from a 1-in-16 x 1-in-16 subsample of the
       bias-subtracted science pixels: ``m`` = median, ``sigma`` = 1.4826 x MAD
       (floored at :data:`NOISE_FLOOR`); from every finite pixel when NaNs leave the
       subsample fewer than :data:`MIN_STAT_PIXELS` finite values. A statistic that
       cannot be measured (fewer finite pixels than that in all, an amplifier's
       overscan without them) raises :class:`PreprocessError`, never a NaN level.
    3. ``sample = asinh((x - b_amp - m) / (STRETCH * sigma))`` with
       :data:`STRETCH` = 3: linear within about +-3 sigma of the sky, logarithmic
       above, so the sky noise spreads by ~1/3 around 0 and a saturated star
       (65535 DN) stays below ~10.

    Why: dividing by the frame's own robust noise makes the input independent of
    units (DN in raw, electrons in ``_flt``), gain, exposure time and sky level,
    so simulated and real frames, short and long exposures land on the same
    scale; the asinh keeps faint structure linear while compressing the
    four-decade dynamic range of galaxies, star clusters, stars and cosmic rays
    into a range a CNN (BatchNorm after the first convolution) trains on
    stably. The median/MAD ignore sources and cosmic rays. The paper does not
    state its normalisation; this one is ours.

Speed
    Raw values are 16-bit integers, so steps 1-3 are one 65536-entry float32
    lookup table per amplifier, applied in a single pass directly on the
    memory-mapped big-endian bytes (the table is permuted to absorb the byte
    swap and the ``BZERO`` offset). The pass runs in a numba kernel when numba
    is installed (one thread unless ``HRCN_PREPROCESS_THREADS`` asks for more),
    else with ``numpy.take`` in row blocks (about 2x slower). The output buffer
    is allocated on transparent huge pages. FITS headers are scanned by a small
    strict reader (:func:`_scan_headers`) instead of astropy's, which costs
    milliseconds per file; unusual scalings and compressed files (gzip/bzip2/zip
    ``*.fits.gz``, and fpack tile compression ``*.fits.fz``) fall back to astropy,
    which decompresses the whole HDU (slower, same recipe). The bias,
    background and noise statistics read only ~1 % of the pixels. See
    ``benchmarks/README.md``.

Bad input raises :class:`PreprocessError` naming the file, the HDU and what was
expected.
"""

from __future__ import annotations

import math
import mmap
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hrcn_lib.instruments import DETECTORS, SAMPLE_SHAPE, SCIENCE_HDUS, ChipLayout

__all__ = [
    "PreprocessError",
    "HeaderInfo",
    "read_header_info",
    "check_input",
    "extract_science",
    "load_sample",
    "sample_from_raw",
    "amp_biases",
    "preview_image",
    "warm_up",
    "STRETCH",
    "NOISE_FLOOR",
    "SUBSAMPLE_STEP",
    "MIN_STAT_PIXELS",
]

#: Width of the linear part of the asinh stretch, in units of the robust noise sigma.
STRETCH: float = 3.0
#: Lowest noise sigma used for scaling (data units): the integer-DN quantisation limit.
NOISE_FLOOR: float = 1.0
#: Stride (rows and columns) of the subsample used for the background and noise.
SUBSAMPLE_STEP: int = 16
#: Fewest finite values a statistic (an amplifier's bias, the background and noise) is
#: measured from; fewer raise :class:`PreprocessError` instead of giving a NaN or a
#: meaningless level.
MIN_STAT_PIXELS: int = 1024

_BLOCK = 2880
_FULL_FRAME_NEXTEND = 6
_CARD = 80
_END = b"END" + b" " * 77
#: (INSTRUME, DETECTOR) -> manifest instrument spelling.
_INSTRUMENTS = {(d.instrume, d.detector): name for name, d in DETECTORS.items()}


class PreprocessError(ValueError):
    """A file or HDU that cannot be turned into a sample; the message names file, HDU, expectation."""


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


# --------------------------------------------------------------------------- FITS header scan


@dataclass(frozen=True)
class _HDUHeader:
    """One HDU's header as scanned: keyword values plus where its data lie in the file."""

    index: int
    cards: dict[str, Any]
    data_offset: int
    data_size: int  # bytes, unpadded


_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?$")


def _parse_value(field: str) -> Any:
    """Value of a FITS card's value field (columns 11-80): str, bool, int, float or None."""
    field = field.strip()
    if field.startswith("'"):
        # quoted string: '' is an escaped quote; a comment may follow the closing quote.
        out, i = [], 1
        while i < len(field):
            if field[i] == "'":
                if i + 1 < len(field) and field[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                break
            out.append(field[i])
            i += 1
        return "".join(out).rstrip()
    value = field.split("/", 1)[0].strip()
    if value == "T":
        return True
    if value == "F":
        return False
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        pass
    if _FLOAT_RE.match(value):
        return float(value.replace("D", "E").replace("d", "e"))
    return value


#: Keywords the scan parses (others are skipped, which keeps it fast on 300-card headers).
_WANTED = frozenset(
    "SIMPLE XTENSION BITPIX NAXIS NAXIS1 NAXIS2 NAXIS3 PCOUNT GCOUNT BZERO BSCALE BLANK EXTNAME "
    "EXTVER CCDCHIP LTV1 LTV2 BUNIT INSTRUME DETECTOR SUBARRAY NEXTEND APERTURE FILTER FILTER1 "
    "FILTER2 EXPTIME ROOTNAME TARGNAME CCDAMP ZIMAGE".split()
)


def _parse_header(raw: bytes) -> dict[str, Any]:
    """Keyword -> value of the :data:`_WANTED` keywords of one header (first occurrence wins)."""
    cards: dict[str, Any] = {}
    for start in range(0, len(raw), _CARD):
        key = raw[start : start + 8].rstrip().decode("ascii", errors="replace")
        if key == "END":
            break
        if key in _WANTED and key not in cards and raw[start + 8 : start + 10] == b"= ":
            field = raw[start + 10 : start + _CARD].decode("ascii", errors="replace")
            cards[key] = _parse_value(field)
    return cards


def _data_size(cards: dict[str, Any], primary: bool) -> int:
    """Bytes of data following a header (FITS standard 4.4.1), unpadded."""
    naxis = int(cards.get("NAXIS", 0))
    if naxis == 0:
        return 0
    count = 1
    for i in range(1, naxis + 1):
        count *= int(cards.get(f"NAXIS{i}", 0))
    pcount = 0 if primary else int(cards.get("PCOUNT", 0))
    gcount = 1 if primary else int(cards.get("GCOUNT", 1))
    return abs(int(cards.get("BITPIX", 8))) // 8 * gcount * (pcount + count)


def _scan_headers(
    path: Path, upto: int, requested: int | None = None
) -> tuple[list[_HDUHeader], int, bool]:
    """Scan HDU headers 0..``upto`` of a FITS file without reading any data.

    Returns:
        ``(headers, file_size, at_eof)``: the headers found (fewer than
        ``upto + 1`` when the file ends first), the file size in bytes, and
        whether the scan stopped because the file ended on an HDU boundary.

    Raises:
        PreprocessError: not a FITS file, or a header/data cut short (truncated);
            the message names ``requested`` (the HDU the caller wants) if given.
    """
    where = str(path) if requested is None else _where(path, requested)
    try:
        size = path.stat().st_size
        fh = open(path, "rb")  # noqa: SIM115 -- closed by the with below
    except OSError as exc:
        raise PreprocessError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    headers: list[_HDUHeader] = []
    pos = 0
    with fh:
        for index in range(upto + 1):
            if pos >= size:
                if index == 0:
                    raise PreprocessError(f"{where}: not a FITS file (empty file)")
                return headers, size, True
            fh.seek(pos)
            chunks: list[bytes] = []
            while True:
                block = fh.read(_BLOCK)
                if index == 0 and not chunks and not block.startswith(b"SIMPLE  =                    T"):
                    raise PreprocessError(
                        f"{where}: not a FITS file (expected a primary header starting with "
                        f"'SIMPLE  =                    T')"
                    )
                if len(block) < _BLOCK:
                    raise PreprocessError(
                        f"{where}: truncated file: header of HDU {index} ends at byte {size} "
                        f"without an END card"
                    )
                chunks.append(block)
                if _END in block and any(
                    block[i : i + _CARD] == _END for i in range(0, _BLOCK, _CARD)
                ):
                    break
            raw = b"".join(chunks)
            cards = _parse_header(raw)
            data_offset = pos + len(raw)
            nbytes = _data_size(cards, primary=index == 0)
            headers.append(_HDUHeader(index, cards, data_offset, nbytes))
            if data_offset + nbytes > size:
                raise PreprocessError(
                    f"{where}: truncated file: HDU {index} needs {nbytes} data bytes from byte "
                    f"{data_offset} but the file has {size} bytes"
                )
            pos = data_offset + nbytes + (-nbytes % _BLOCK)
    return headers, size, False


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Frame:
    """A validated SCI extension: header info, geometry and where its pixels are."""

    info: HeaderInfo
    layout: ChipLayout
    header: _HDUHeader
    fast_raw: bool  # BITPIX 16, BZERO 32768, BSCALE 1: read the bytes directly
    compressed: bool = False  # pixels only through astropy (gzip/bzip2/zip file, fpack HDU)


#: Leading bytes of the whole-file compressions astropy opens transparently.
_COMPRESSED_MAGIC: tuple[bytes, ...] = (b"\x1f\x8b", b"BZh", b"PK\x03\x04")


def _is_compressed_file(path: Path) -> bool:
    """Whether ``path`` is a gzip/bzip2/zip file (e.g. ``*_raw.fits.gz``)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return any(head.startswith(m) for m in _COMPRESSED_MAGIC)


def _astropy_headers(path: Path, hdu: int) -> list[_HDUHeader]:
    """Every HDU's header as astropy reads it (decompressing as needed).

    For fpack tile-compressed HDUs (``ZIMAGE = T``) these are the image headers
    astropy reconstructs, so the same checks apply as to an uncompressed file.

    Raises:
        PreprocessError: astropy cannot read the file (names file, HDU and why).
    """
    import warnings

    from astropy.io import fits

    try:
        with warnings.catch_warnings():  # astropy's VerifyWarnings precede its error
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False) as hdul:
                return [_HDUHeader(i, {k: v for k, v in h.header.items() if k in _WANTED}, -1, 0)
                        for i, h in enumerate(hdul)]
    except Exception as exc:  # noqa: BLE001 -- gzip, zlib, EOF and FITS errors alike
        raise PreprocessError(f"{_where(path, hdu)}: not a readable (compressed) FITS file: "
                              f"{type(exc).__name__}: {exc}") from None


def _where(path: Path, hdu: int) -> str:
    return f"{path} [HDU {hdu}]"


def _instrument(path: Path, hdu: int, prim: dict[str, Any]) -> str:
    instrume = str(prim.get("INSTRUME", "")).strip().upper()
    det = str(prim.get("DETECTOR", "")).strip().upper()
    try:
        return _INSTRUMENTS[(instrume, det)]
    except KeyError:
        raise PreprocessError(
            f"{_where(path, hdu)}: INSTRUME/DETECTOR = {instrume or '?'}/{det or '?'} is not "
            f"supported: expected ACS/WFC or WFC3/UVIS full frames"
        ) from None


def _filter_name(prim: dict[str, Any]) -> str:
    if "FILTER" in prim:
        return str(prim["FILTER"]).strip()
    names = [str(prim.get(k, "")).strip() for k in ("FILTER1", "FILTER2")]
    real = [n for n in names if n and not n.upper().startswith("CLEAR")]
    return "+".join(real) if real else "CLEAR"


def _check_container(path: Path, hdu: int, headers: list[_HDUHeader], size: int,
                     at_eof: bool, instrument: str) -> None:
    """File-level checks: full frame, not truncated, HDU index in range."""
    prim = headers[0].cards
    nextend = prim.get("NEXTEND")
    if prim.get("SUBARRAY") is True:
        raise PreprocessError(
            f"{_where(path, hdu)}: subarray frame (SUBARRAY=T, "
            f"APERTURE={prim.get('APERTURE', '?')}): expected a full-frame {instrument} exposure"
        )
    if nextend == 3:
        raise PreprocessError(
            f"{_where(path, hdu)}: NEXTEND = 3 (one SCI/ERR/DQ set: a single-chip or subarray "
            f"file, APERTURE={prim.get('APERTURE', '?')}): expected a full-frame {instrument} "
            f"exposure with both chips (NEXTEND = {_FULL_FRAME_NEXTEND})"
        )
    if size % _BLOCK:
        raise PreprocessError(
            f"{_where(path, hdu)}: truncated file: {size} bytes is not a whole number of "
            f"{_BLOCK}-byte FITS blocks"
        )
    if at_eof and isinstance(nextend, int) and len(headers) <= min(nextend, _FULL_FRAME_NEXTEND):
        raise PreprocessError(
            f"{_where(path, hdu)}: truncated file: NEXTEND = {nextend} but the file ends "
            f"after HDU {len(headers) - 1}"
        )
    if len(headers) <= hdu:
        raise PreprocessError(
            f"{_where(path, hdu)}: HDU index out of range: the file has {len(headers)} HDUs "
            f"(0..{len(headers) - 1}); expected 1 or 4"
        )


def _check_sci(path: Path, hdu: int, cards: dict[str, Any], instrument: str) -> ChipLayout:
    """The HDU must be the expected SCI extension; returns its chip layout."""
    extname = str(cards.get("EXTNAME", "")).strip().upper()
    if hdu not in SCIENCE_HDUS or extname != "SCI":
        raise PreprocessError(
            f"{_where(path, hdu)}: not a SCI extension (EXTNAME={extname or '?'}): expected "
            f"HDU 1 (SCI,1) or 4 (SCI,2)"
        )
    layout = DETECTORS[instrument].chips[hdu]
    if cards.get("EXTVER", layout.extver) != layout.extver:
        raise PreprocessError(
            f"{_where(path, hdu)}: EXTVER = {cards.get('EXTVER')}: expected {layout.extver}"
        )
    if "CCDCHIP" in cards and cards["CCDCHIP"] != layout.ccdchip:
        raise PreprocessError(
            f"{_where(path, hdu)}: CCDCHIP = {cards['CCDCHIP']}: expected {layout.ccdchip} "
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
        f"{_where(path, hdu)}: unexpected SCI array shape {shape} (BITPIX={bitpix}): expected "
        f"{layout.raw_shape} (raw, BITPIX 16) or {layout.flt_shape} (flt/flc, BITPIX -32) "
        f"for a full-frame {layout.instrument} {layout.chip} chip"
    )


def _open_frame(path: str | os.PathLike[str], hdu: int) -> _Frame:
    """Validate one (file, HDU) from its headers alone; raise PreprocessError if bad."""
    path = Path(path)
    if not isinstance(hdu, (int, np.integer)) or isinstance(hdu, bool):
        raise PreprocessError(f"{path}: HDU index must be an integer, got {hdu!r}")
    hdu = int(hdu)
    if path.is_dir():
        raise PreprocessError(f"{_where(path, hdu)}: is a directory: expected a FITS file")
    if not path.is_file():
        raise PreprocessError(f"{_where(path, hdu)}: no such file")
    if hdu < 0:
        raise PreprocessError(f"{_where(path, hdu)}: HDU index out of range (negative)")
    compressed = _is_compressed_file(path)
    if not compressed:
        headers, size, at_eof = _scan_headers(path, max(hdu, _FULL_FRAME_NEXTEND), hdu)
        compressed = any(h.cards.get("ZIMAGE") is True for h in headers)  # fpack
    if compressed:  # astropy reads every HDU: the count is exact, there is no byte size
        headers, size, at_eof = _astropy_headers(path, hdu), 0, True
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
    return _Frame(info, layout, headers[hdu], fast, compressed)


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
                f"{_where(path, hdu)}: {key} = {cards[key]} but the {layout.chip} layout expects "
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
    return _open_frame(path, hdu).info


# --------------------------------------------------------------------------- pixel access


def _map(frame: _Frame) -> mmap.mmap:
    """Read-only memory map of the whole file (page-cache backed, nothing copied)."""
    with open(frame.info.path, "rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def _stored(frame: _Frame, dtype: str, mm: mmap.mmap | None = None) -> np.ndarray:
    """The SCI array as stored, memory-mapped, with numpy ``dtype`` (raw shape or flt shape).

    Pass ``mm`` to share one mapping between several views (its pages are then
    mapped once for all of them).
    """
    shape = frame.layout.raw_shape if frame.info.kind == "raw" else frame.layout.flt_shape
    count = shape[0] * shape[1]
    buf = _map(frame) if mm is None else mm
    return np.frombuffer(buf, dtype=dtype, count=count, offset=frame.header.data_offset).reshape(
        shape)


def _new_sample() -> np.ndarray:
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


def _scaled_raw(frame: _Frame) -> np.ndarray:
    """The SCI array read and scaled by astropy (unusual scaling, compressed files): float32,
    stored shape.

    Raises:
        PreprocessError: the data cannot be read or decompressed (e.g. a truncated ``.gz``).
    """
    from astropy.io import fits

    try:
        with fits.open(frame.info.path, memmap=False) as hdul:
            return np.asarray(hdul[frame.info.hdu].data, dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 -- gzip, zlib, EOF and FITS errors alike
        raise PreprocessError(f"{_where(frame.info.path, frame.info.hdu)}: cannot read the "
                              f"pixels: {type(exc).__name__}: {exc}") from None


def _float_pixels(frame: _Frame) -> np.ndarray:
    """A non-fast SCI array in its stored shape: memory-mapped float data, else via astropy."""
    bitpix = frame.header.cards["BITPIX"]
    if not frame.compressed and bitpix in (-32, -64):
        return _stored(frame, ">f4" if bitpix == -32 else ">f8")
    return _scaled_raw(frame)


def _crop_blocks(layout: ChipLayout) -> tuple[slice, tuple[slice, slice]]:
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
    frame = _open_frame(path, hdu)
    out = _new_sample()
    if frame.info.kind == "flt":
        stored = _float_pixels(frame)
        np.copyto(out, stored[slice(*frame.layout.flt_keep_rows)], casting="same_kind")
        _check_finite(frame, out)
        return out
    rows, (left, right) = _crop_blocks(frame.layout)
    half = SAMPLE_SHAPE[1] // 2
    if frame.fast_raw:
        signed = _stored(frame, ">i2")  # stored = DN - 32768
        np.add(signed[rows, left], np.float32(32768), out=out[:, :half], dtype=np.float32)
        np.add(signed[rows, right], np.float32(32768), out=out[:, half:], dtype=np.float32)
    else:
        data = _float_pixels(frame)
        out[:, :half] = data[rows, left]
        out[:, half:] = data[rows, right]
        _check_finite(frame, out)
    return out


def _check_finite(frame: _Frame, data: np.ndarray) -> None:
    if not np.isfinite(data).any():
        raise PreprocessError(
            f"{_where(frame.info.path, frame.info.hdu)}: the science pixels are all NaN/inf: "
            f"expected finite data"
        )


def check_input(path: str | os.PathLike[str], hdu: int) -> HeaderInfo:
    """Everything :func:`load_sample` checks, without keeping the sample.

    Header checks as :func:`read_header_info`; for float data (flt/flc, or raw with
    unusual scaling), where the statistics can fail (NaN science pixels, NaN overscan),
    every step of :func:`load_sample` is run. 16-bit raw data cannot fail after the
    header checks (integer pixels are always finite), so only headers are read for them.
    Used by the CLI to refuse a batch before writing anything.

    Raises:
        PreprocessError: whatever :func:`load_sample` would raise.
    """
    frame = _open_frame(path, hdu)
    if not frame.fast_raw:
        _load_slow(frame)
    return frame.info


# --------------------------------------------------------------------------- statistics


#: Normal-distribution quantiles at -1 and +1 sigma: (q84 - q16) / 2 is a robust sigma.
_Q16, _Q84 = 0.158655, 0.841345


def _clipped_mean(values: np.ndarray, nsigma: float = 3.0) -> float:
    """Mean of the finite values within ``nsigma`` robust sigmas of their median.

    The robust sigma is half the 15.9-84.1 % inter-quantile range. Float input with at
    least one finite value (the caller checks: :func:`_amp_biases`).
    """
    v = np.asarray(values, dtype=np.float32).ravel()
    v = v[np.isfinite(v)]
    q16, med, q84 = (float(x) for x in np.quantile(v, [_Q16, 0.5, _Q84]))
    sigma = (q84 - q16) / 2.0
    if sigma == 0.0:
        return med
    return float(v[np.abs(v - np.float32(med)) <= nsigma * sigma].mean(dtype=np.float64))


def _int_clipped_mean(values: np.ndarray, nsigma: float = 3.0) -> float:
    """:func:`_clipped_mean` for unsigned integer DN, exactly, via a histogram (fast).

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


def amp_biases(path: str | os.PathLike[str], hdu: int) -> tuple[float, float]:
    """Bias level (DN) of the left and right amplifier of one raw SCI extension.

    Each is the clipped mean (values within 3 robust sigma of the median, the
    sigma being half the 15.9-84.1 % quantile range) of that amplifier's
    ``bias_cols`` over the chip's science rows. ``(0.0, 0.0)`` for flt/flc
    files (already bias-subtracted).
    """
    frame = _open_frame(path, hdu)
    if frame.info.kind == "flt":
        return (0.0, 0.0)
    return _amp_biases(frame)


def _physical_reader(
    frame: _Frame, mm: mmap.mmap | None = None
) -> Callable[[slice, slice], np.ndarray]:
    """A function (rows, cols) -> float32 physical values (DN) of the raw SCI array."""
    if frame.fast_raw:
        signed = _stored(frame, ">i2", mm)
        return lambda r, c: signed[r, c].astype(np.float32) + np.float32(32768)
    data = _float_pixels(frame)
    return lambda r, c: np.asarray(data[r, c], dtype=np.float32)


def _amp_biases(frame: _Frame, mm: mmap.mmap | None = None) -> tuple[float, float]:
    """Left/right amplifier bias (DN): clipped mean of ``bias_cols`` over the science rows."""
    rows = slice(*frame.layout.science_rows)
    cols = [slice(*a.bias_cols) for a in frame.layout.amps]
    if frame.fast_raw:
        stored = _stored(frame, ">u2", mm)  # DN ^ 0x8000 (BZERO = 32768)
        left, right = (_int_clipped_mean(np.bitwise_xor(stored[rows, c], np.uint16(0x8000)))
                       for c in cols)
    else:
        read = _physical_reader(frame, mm)
        biases = []
        for amp, c in zip(frame.layout.amps, cols, strict=True):
            values = read(rows, c)
            finite = np.count_nonzero(np.isfinite(values))
            if finite < MIN_STAT_PIXELS:
                raise PreprocessError(
                    f"{_where(frame.info.path, frame.info.hdu)}: the bias columns of amplifier "
                    f"{amp.name} (prescan/overscan, raw columns {c.start}-{c.stop - 1}) hold "
                    f"{finite} finite values: its bias cannot be measured; expected a raw frame "
                    f"with finite prescan/overscan pixels (at least {MIN_STAT_PIXELS})")
            biases.append(_clipped_mean(values))
        left, right = biases
    return left, right


def _background_noise(halves: tuple[np.ndarray, np.ndarray], where: str,
                      all_pixels: Callable[[], np.ndarray] | None = None) -> tuple[float, float]:
    """Median and robust sigma (1.4826 MAD, floored) of bias-subtracted subsample halves.

    When the subsample has fewer than :data:`MIN_STAT_PIXELS` finite values (NaN pixels on
    the subsample's grid) the statistics use every finite pixel, ``all_pixels()``.

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
    sigma = 1.4826 * float(np.median(np.abs(v - np.float32(med))))
    return med, max(sigma, NOISE_FLOOR)


# --------------------------------------------------------------------------- the LUT kernel

_KERNELS: dict[bool, Callable[..., None] | None] = {}


def _threads() -> int:
    """Threads for the LUT pass: ``HRCN_PREPROCESS_THREADS`` (default 1).

    One thread by default: data loaders parallelise across files (DataLoader
    workers), and on a loaded machine a 2-thread pass waits for its slowest
    thread (see ``benchmarks/README.md``).
    """
    try:
        return max(1, int(os.environ.get("HRCN_PREPROCESS_THREADS", "1")))
    except ValueError:
        return 1


def _numba_kernel(parallel: bool | None = None) -> Callable[..., None] | None:
    """The compiled two-LUT gather (numba; rows in parallel if asked), or None without numba.

    ``HRCN_NO_NUMBA=1`` forces the numpy fallback.
    """
    if parallel is None:
        parallel = _threads() > 1
    if parallel in _KERNELS:
        return _KERNELS[parallel]
    kernel = None
    if not os.environ.get("HRCN_NO_NUMBA"):
        try:
            import numba
        except ImportError:
            numba = None
        if numba is not None and parallel:
            # Two separately named functions: numba's on-disk cache is keyed by the
            # function's name and line, not by its jit options.
            @numba.njit(parallel=True, cache=True, nogil=True)
            def gather_parallel(left, right, lut_left, lut_right, out):  # pragma: no cover
                nrow, half = left.shape
                for r in numba.prange(nrow):
                    for c in range(half):
                        out[r, c] = lut_left[left[r, c]]
                    for c in range(half):
                        out[r, half + c] = lut_right[right[r, c]]

            kernel = gather_parallel
        elif numba is not None:

            @numba.njit(cache=True, nogil=True)
            def gather_serial(left, right, lut_left, lut_right, out):  # pragma: no cover
                nrow, half = left.shape
                for r in range(nrow):
                    for c in range(half):
                        out[r, c] = lut_left[left[r, c]]
                    for c in range(half):
                        out[r, half + c] = lut_right[right[r, c]]

            kernel = gather_serial

    _KERNELS[parallel] = kernel
    return kernel


def _gather_numpy(left: np.ndarray, right: np.ndarray, lut_left: np.ndarray,
                  lut_right: np.ndarray, out: np.ndarray, block: int = 64) -> None:
    """numpy fallback of the LUT gather, in row blocks that stay in cache."""
    half = left.shape[1]
    for r0 in range(0, left.shape[0], block):
        r = slice(r0, r0 + block)
        out[r, :half] = np.take(lut_left, left[r])
        out[r, half:] = np.take(lut_right, right[r])


#: stored big-endian word read as native uint16 -> physical DN (BZERO = 32768 applied).
_NATIVE_TO_DN = (
    (np.arange(65536, dtype=np.uint32).astype(np.uint16).byteswap() ^ np.uint16(0x8000))
    if np.little_endian
    else (np.arange(65536, dtype=np.uint32).astype(np.uint16) ^ np.uint16(0x8000))
).astype(np.float32)


def _lut(offset: float, scale: float) -> np.ndarray:
    """float32 table over stored native words: asinh((DN - offset) / scale)."""
    lut = _NATIVE_TO_DN - np.float32(offset)
    lut *= np.float32(1.0 / scale)
    return np.arcsinh(lut, out=lut)


def warm_up() -> None:
    """Compile (or load from numba's disk cache) the LUT kernel now.

    The first :func:`load_sample` of a process otherwise pays the numba JIT
    (~1-2 s on a fresh checkout, ~0.1 s from the cache); call this before timing.
    """
    kernel = _numba_kernel()
    if kernel is not None:
        # same argument types as load_sample: read-only strided uint16 views of a map
        words = np.zeros((1, 4), dtype=np.uint16)
        words.setflags(write=False)
        lut = np.zeros(65536, dtype=np.float32)
        kernel(words[:, 0:4:2], words[:, 1:4:2], lut, lut, np.empty((1, 4), dtype=np.float32))


def load_sample(path: str | os.PathLike[str], hdu: int) -> np.ndarray:
    """The model input for one SCI extension (see the module docstring for the recipe).

    Args:
        path: full-frame ACS/WFC or WFC3/UVIS raw or flt/flc file.
        hdu: 1 or 4.

    Returns:
        float32 array, shape (2048, 4096), raw orientation, dimensionless:
        ``asinh((x - bias_amp - background) / (STRETCH * sigma))``; sky noise
        ~ +-0.3, zero at the background, ~9-10 for saturated pixels. NaN pixels
        of flt files become 0 (the background).

    Raises:
        PreprocessError: see :func:`extract_science`.
    """
    frame = _open_frame(path, hdu)
    if not frame.fast_raw:
        return _load_slow(frame)
    layout = frame.layout
    rows, (left_cols, right_cols) = _crop_blocks(layout)
    mm = _map(frame)
    native = _stored(frame, "=u2", mm)  # stored big-endian words, unswapped
    read = _physical_reader(frame, mm)
    b_left, b_right = _amp_biases(frame, mm)
    step = SUBSAMPLE_STEP
    sub_rows = slice(rows.start, rows.stop, step)
    sub = (
        read(sub_rows, slice(left_cols.start, left_cols.stop, step)) - np.float32(b_left),
        read(sub_rows, slice(right_cols.start, right_cols.stop, step)) - np.float32(b_right),
    )
    background, sigma = _background_noise(sub, _where(frame.info.path, frame.info.hdu))
    scale = STRETCH * sigma
    lut_left = _lut(b_left + background, scale)
    lut_right = _lut(b_right + background, scale)
    out = _new_sample()
    left, right = native[rows, left_cols], native[rows, right_cols]
    kernel = _numba_kernel()
    if kernel is not None:
        if _threads() > 1:
            import numba

            numba.set_num_threads(min(_threads(), numba.config.NUMBA_NUM_THREADS))
        kernel(left, right, lut_left, lut_right, out)
    else:
        _gather_numpy(left, right, lut_left, lut_right, out)
    return out


def sample_from_raw(raw: np.ndarray, instrument: str, hdu: int) -> np.ndarray:
    """:func:`load_sample`'s recipe applied to a raw SCI array in memory.

    For code that holds a chip before it is written (the simulator screens its
    chips with the real preprocessing). The result is bit-identical to
    ``load_sample`` of a raw file holding ``raw`` in HDU ``hdu``.

    Args:
        raw: uint16 DN array of the chip's raw shape (bias and overscan included),
            raw orientation.
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"``.
        hdu: 1 or 4.

    Returns:
        float32 (2048, 4096), as :func:`load_sample`.

    Raises:
        PreprocessError: wrong dtype or shape, unknown instrument or HDU.
    """
    from hrcn_lib.instruments import chip_layout

    try:
        layout = chip_layout(instrument, hdu)
    except ValueError as exc:
        raise PreprocessError(f"sample_from_raw: {exc}") from None
    if not isinstance(raw, np.ndarray) or raw.dtype != np.uint16 or raw.shape != layout.raw_shape:
        raise PreprocessError(
            f"sample_from_raw: expected a uint16 array of shape {layout.raw_shape} for HDU {hdu} "
            f"of {instrument}, got {getattr(raw, 'dtype', type(raw).__name__)} "
            f"{getattr(raw, 'shape', '')}"
        )
    sci_rows = slice(*layout.science_rows)
    b_left, b_right = (_int_clipped_mean(raw[sci_rows, slice(*a.bias_cols)]) for a in layout.amps)
    rows, (left_cols, right_cols) = _crop_blocks(layout)
    step = SUBSAMPLE_STEP
    sub_rows = slice(rows.start, rows.stop, step)
    sub = (
        raw[sub_rows, left_cols.start:left_cols.stop:step].astype(np.float32) - np.float32(b_left),
        raw[sub_rows, right_cols.start:right_cols.stop:step].astype(np.float32)
        - np.float32(b_right),
    )
    background, sigma = _background_noise(sub, f"sample_from_raw ({instrument} HDU {hdu})")
    scale = STRETCH * sigma
    dn = np.arange(65536, dtype=np.float32)
    luts = []
    for offset in (b_left + background, b_right + background):
        lut = dn - np.float32(offset)
        lut *= np.float32(1.0 / scale)
        luts.append(np.arcsinh(lut, out=lut))
    out = _new_sample()
    left, right = raw[rows, left_cols], raw[rows, right_cols]
    kernel = _numba_kernel(parallel=False)
    if kernel is not None:
        kernel(left, right, luts[0], luts[1], out)
    else:
        _gather_numpy(left, right, luts[0], luts[1], out)
    return out


def _load_slow(frame: _Frame) -> np.ndarray:
    """load_sample for float data (flt/flc, or raw with unusual scaling): same recipe in float32."""
    data = extract_science(frame.info.path, frame.info.hdu)  # checks all-NaN
    half = SAMPLE_SHAPE[1] // 2
    if frame.info.kind == "raw":
        b_left, b_right = _amp_biases(frame)
        data[:, :half] -= np.float32(b_left)
        data[:, half:] -= np.float32(b_right)
    step = SUBSAMPLE_STEP
    background, sigma = _background_noise(
        (data[::step, :half:step], data[::step, half::step]),
        _where(frame.info.path, frame.info.hdu), lambda: data,
    )
    data -= np.float32(background)
    data *= np.float32(1.0 / (STRETCH * sigma))
    np.arcsinh(data, out=data)
    np.nan_to_num(data, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return data


# --------------------------------------------------------------------------- previews


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
