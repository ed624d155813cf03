"""A fast, strict reader of FITS headers, with astropy as the fallback.

:func:`scan_headers` reads the 2880-byte header blocks of the first HDUs of a file and
parses only the keywords the preprocessing needs (:data:`WANTED`), without reading any
data: astropy's header parsing costs milliseconds per file, this costs microseconds. It is
strict: a file that does not start with ``SIMPLE = T``, a header without ``END`` or data
cut short raise :class:`PreprocessError`. Compressed files (gzip/bzip2/zip, and fpack
tile-compressed HDUs) are read through astropy instead (:func:`astropy_headers`), which
decompresses them and reconstructs the image headers, so the same checks apply.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PreprocessError",
    "HDUHeader",
    "WANTED",
    "FULL_FRAME_NEXTEND",
    "BLOCK",
    "parse_value",
    "parse_header",
    "scan_headers",
    "is_compressed_file",
    "astropy_headers",
    "where",
]

#: Bytes of a FITS block (headers and data are padded to whole blocks).
BLOCK = 2880
#: Extensions of a full-frame ACS/WFC or WFC3/UVIS file: SCI/ERR/DQ for each of two chips.
FULL_FRAME_NEXTEND = 6
_CARD = 80
_END = b"END" + b" " * 77


class PreprocessError(ValueError):
    """A file or HDU that cannot be turned into a sample; the message names file, HDU, expectation."""


def where(path: Path, hdu: int) -> str:
    """``"<path> [HDU <hdu>]"``: how every message names what it is about."""
    return f"{path} [HDU {hdu}]"


@dataclass(frozen=True)
class HDUHeader:
    """One HDU's header as scanned: keyword values plus where its data lie in the file.

    Attributes:
        index: HDU number (0 = primary).
        cards: keyword -> value of the :data:`WANTED` keywords present.
        data_offset: byte offset of the data (-1 when read through astropy).
        data_size: bytes of data, unpadded.
    """

    index: int
    cards: dict[str, Any]
    data_offset: int
    data_size: int

_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?$")


def parse_value(field: str) -> Any:
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
WANTED = frozenset(
    "SIMPLE XTENSION BITPIX NAXIS NAXIS1 NAXIS2 NAXIS3 PCOUNT GCOUNT BZERO BSCALE BLANK EXTNAME "
    "EXTVER CCDCHIP LTV1 LTV2 BUNIT INSTRUME DETECTOR SUBARRAY NEXTEND APERTURE FILTER FILTER1 "
    "FILTER2 EXPTIME ROOTNAME TARGNAME CCDAMP ZIMAGE".split()
)


def parse_header(raw: bytes) -> dict[str, Any]:
    """Keyword -> value of the :data:`WANTED` keywords of one header (first occurrence wins)."""
    cards: dict[str, Any] = {}
    for start in range(0, len(raw), _CARD):
        key = raw[start : start + 8].rstrip().decode("ascii", errors="replace")
        if key == "END":
            break
        if key in WANTED and key not in cards and raw[start + 8 : start + 10] == b"= ":
            field = raw[start + 10 : start + _CARD].decode("ascii", errors="replace")
            cards[key] = parse_value(field)
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


def scan_headers(
    path: Path, upto: int, requested: int | None = None
) -> tuple[list[HDUHeader], int, bool]:
    """Scan HDU headers 0..``upto`` of a FITS file without reading any data.

    Returns:
        ``(headers, file_size, at_eof)``: the headers found (fewer than
        ``upto + 1`` when the file ends first), the file size in bytes, and
        whether the scan stopped because the file ended on an HDU boundary.

    Raises:
        PreprocessError: not a FITS file, or a header/data cut short (truncated);
            the message names ``requested`` (the HDU the caller wants) if given.
    """
    place = str(path) if requested is None else where(path, requested)
    try:
        size = path.stat().st_size
        fh = open(path, "rb")  # noqa: SIM115 -- closed by the with below
    except OSError as exc:
        raise PreprocessError(f"{place}: cannot read the file ({exc.strerror or exc})") from None
    headers: list[HDUHeader] = []
    pos = 0
    with fh:
        for index in range(upto + 1):
            if pos >= size:
                if index == 0:
                    raise PreprocessError(f"{place}: not a FITS file (empty file)")
                return headers, size, True
            fh.seek(pos)
            chunks: list[bytes] = []
            while True:
                block = fh.read(BLOCK)
                if index == 0 and not chunks and not block.startswith(b"SIMPLE  =                    T"):
                    raise PreprocessError(
                        f"{place}: not a FITS file (expected a primary header starting with "
                        f"'SIMPLE  =                    T')"
                    )
                if len(block) < BLOCK:
                    raise PreprocessError(
                        f"{place}: truncated file: header of HDU {index} ends at byte {size} "
                        f"without an END card"
                    )
                chunks.append(block)
                if _END in block and any(
                    block[i : i + _CARD] == _END for i in range(0, BLOCK, _CARD)
                ):
                    break
            raw = b"".join(chunks)
            cards = parse_header(raw)
            data_offset = pos + len(raw)
            nbytes = _data_size(cards, primary=index == 0)
            headers.append(HDUHeader(index, cards, data_offset, nbytes))
            if data_offset + nbytes > size:
                raise PreprocessError(
                    f"{place}: truncated file: HDU {index} needs {nbytes} data bytes from byte "
                    f"{data_offset} but the file has {size} bytes"
                )
            pos = data_offset + nbytes + (-nbytes % BLOCK)
    return headers, size, False


#: Leading bytes of the whole-file compressions astropy opens transparently.
_COMPRESSED_MAGIC: tuple[bytes, ...] = (b"\x1f\x8b", b"BZh", b"PK\x03\x04")


def is_compressed_file(path: Path) -> bool:
    """Whether ``path`` is a gzip/bzip2/zip file (e.g. ``*_raw.fits.gz``)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return any(head.startswith(m) for m in _COMPRESSED_MAGIC)


def astropy_headers(path: Path, hdu: int) -> list[HDUHeader]:
    """Every HDU's header as astropy reads it (decompressing as needed).

    For fpack tile-compressed HDUs (``ZIMAGE = T``) these are the image headers
    astropy reconstructs, so the same checks apply as to an uncompressed file.

    Raises:
        PreprocessError: astropy cannot read the file (names file, HDU and why).
    """
    from astropy.io import fits  # lazily: only compressed files need it (~0.3 s to import)

    try:
        with warnings.catch_warnings():  # astropy's VerifyWarnings precede its error
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False) as hdul:
                return [HDUHeader(i, {k: v for k, v in h.header.items() if k in WANTED}, -1, 0)
                        for i, h in enumerate(hdul)]
    except Exception as exc:  # noqa: BLE001 -- gzip, zlib, EOF and FITS errors alike
        raise PreprocessError(f"{where(path, hdu)}: not a readable (compressed) FITS file: "
                              f"{type(exc).__name__}: {exc}") from None
