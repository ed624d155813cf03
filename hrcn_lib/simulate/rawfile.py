"""Write full-frame HST raw files (``*_raw.fits``) in the archive's layout.

Used by the simulator and by the test fixtures. A file holds, as a real
full-frame ACS/WFC or WFC3/UVIS raw file does (``docs/hst_layout_verification.md``):

* HDU 0 ``PRIMARY`` (no data) with the keywords the pipelines and
  :func:`hrcn_lib.preprocess.read_header_info` read;
* HDUs 1-3 ``SCI,1`` / ``ERR,1`` / ``DQ,1`` (chip read by amplifiers C/D) and
  HDUs 4-6 ``SCI,2`` / ``ERR,2`` / ``DQ,2`` (chip read by amplifiers A/B).

SCI arrays are stored as ``BITPIX = 16`` with ``BZERO = 32768`` (unsigned
16-bit DN). ERR and DQ are empty in raw files: they are written in the HST
"constant array" form (``NAXIS = 0`` plus ``NPIX1``/``NPIX2``/``PIXVALUE = 0``).

WCS of WFC3/UVIS chips. The 60 serial virtual overscan columns sit between the
two amplifiers' science halves but are not pixels on the sky, so no single
linear WCS can be right for both halves of a raw UVIS chip. The primary WCS is
exact for the A/C half (and for the trimmed frame, whose CRPIX1 is this one
minus ``LTV1``); an alternate WCS ``B`` (``WCSNAMEB = 'RAW-BD'``, ``CRPIX1B =
CRPIX1 + 60``) is exact for the B/D half: ``astropy.wcs.WCS(header, key="B")``.

The write is atomic (temporary file in the target folder, then rename) and
deterministic: identical input gives a byte-identical file (no time stamps,
no checksums).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from hrcn_lib.instruments import SCIENCE_HDUS, ChipLayout, Detector, detector
from hrcn_lib.paths import atomic_write

__all__ = ["write_raw", "default_primary", "default_sci_header"]

HeaderValue = Any  # str | int | float | bool


def default_primary(instrument: str) -> dict[str, HeaderValue]:
    """Primary-header keywords of a full-frame raw file with neutral default values.

    Args:
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"``.

    Returns:
        keyword -> value, in the order they are written. ACS files carry
        ``FILTER1``/``FILTER2``, WFC3 files ``FILTER``.
    """
    det = detector(instrument)
    acs = det.instrume == "ACS"
    head: dict[str, HeaderValue] = {
        "TELESCOP": "HST",
        "INSTRUME": det.instrume,
        "DETECTOR": det.detector,
        "ROOTNAME": f"{det.rootname_prefix}00000000",
        "TARGNAME": "ANY",
        "RA_TARG": 0.0,
        "DEC_TARG": 0.0,
        "OBSTYPE": "IMAGING",
        "APERTURE": "WFC" if acs else "UVIS",
        "SUBARRAY": False,
        "CCDAMP": "ABCD",
        "CCDGAIN": 2.0 if acs else 1.5,
        "BINAXIS1": 1,
        "BINAXIS2": 1,
        "EXPTIME": 0.0,
    }
    if acs:
        head["FILTER1"] = "F814W"
        head["FILTER2"] = "CLEAR2L"
    else:
        head["FILTER"] = "F814W"
    return head


def _wcs_keywords(
    det: Detector, lay: ChipLayout, ra: float, dec: float
) -> dict[str, HeaderValue]:
    """A simple tangent-plane WCS (no distortion) placing the chip gap at (ra, dec).

    The reference pixel sits in the middle of the chip gap: above the top of
    the ``[SCI,1]`` science area, below the bottom of the ``[SCI,2]`` one
    (1-based FITS pixel coordinates of the raw array).
    """
    scale = det.pixel_scale / 3600.0
    ltv1, ltv2 = lay.ltv
    n_sci_rows = lay.science_rows[1] - lay.science_rows[0]
    half_gap = det.chip_gap / 2.0
    crpix2 = ltv2 + n_sci_rows + half_gap + 0.5 if lay.hdu == 1 else ltv2 - half_gap + 0.5
    return {
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CRVAL1": float(ra),
        "CRVAL2": float(dec),
        "CRPIX1": ltv1 + 2048.5,
        "CRPIX2": float(crpix2),
        "CD1_1": -scale,
        "CD1_2": 0.0,
        "CD2_1": 0.0,
        "CD2_2": scale,
    }


def default_sci_header(
    instrument: str, hdu: int, *, ra: float = 0.0, dec: float = 0.0
) -> dict[str, HeaderValue]:
    """SCI-extension keywords of one chip of a full-frame raw file.

    Args:
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"``.
        hdu: 1 (``SCI,1``) or 4 (``SCI,2``).
        ra, dec: degrees, the WCS reference value (the target position).

    Returns:
        keyword -> value (``EXTNAME``, ``EXTVER``, ``CCDCHIP``, ``LTV1/2``,
        ``LTM1_1/LTM2_2``, ``BUNIT`` and a tangent-plane WCS).
    """
    det = detector(instrument)
    lay = det.chips[hdu]
    head: dict[str, HeaderValue] = {
        "EXTNAME": "SCI",
        "EXTVER": lay.extver,
        "CCDCHIP": lay.ccdchip,
        "BUNIT": "COUNTS",
        "LTV1": lay.ltv[0],
        "LTV2": lay.ltv[1],
        "LTM1_1": 1.0,
        "LTM2_2": 1.0,
    }
    head.update(_wcs_keywords(det, lay, ra, dec))
    return head


def _mandatory(kind: str, bitpix: int, shape: tuple[int, ...]) -> fits.Header:
    """A header holding only the FITS mandatory cards, in the standard's order.

    ``kind`` is ``"primary"`` or ``"image"``; ``shape`` is the numpy shape (empty for no data).
    """
    head = fits.Header()
    if kind == "primary":
        head["SIMPLE"] = (True, "conforms to FITS standard")
    else:
        head["XTENSION"] = ("IMAGE", "Image extension")
    head["BITPIX"] = (bitpix, "array data type")
    head["NAXIS"] = (len(shape), "number of array dimensions")
    for axis, length in enumerate(reversed(shape), start=1):
        head[f"NAXIS{axis}"] = length
    if kind == "primary":
        head["EXTEND"] = True
    else:
        head["PCOUNT"] = (0, "number of parameters")
        head["GCOUNT"] = (1, "number of groups")
    return head


def _constant_header(name: str, extver: int, shape: tuple[int, int], bitpix: int) -> fits.Header:
    """Header of an empty ERR/DQ extension in the HST constant-array form (NAXIS=0, PIXVALUE=0).

    astropy rewrites ``BITPIX`` of a data-less HDU to 8, which is why this
    module serialises headers itself.
    """
    head = _mandatory("image", bitpix, ())
    head["EXTNAME"] = (name, "extension name")
    head["EXTVER"] = (extver, "extension version number")
    head["NPIX1"] = (shape[1], "length of constant array axis 1")
    head["NPIX2"] = (shape[0], "length of constant array axis 2")
    head["PIXVALUE"] = (0.0 if bitpix < 0 else 0, "values of pixels in array")
    return head


def _padded(data: bytes) -> bytes:
    """``data`` padded with zero bytes to a multiple of the 2880-byte FITS block."""
    return data + b"\0" * (-len(data) % 2880)


def _check_chips(instrument: str, chips: Mapping[int, np.ndarray]) -> None:
    """Raise ValueError unless ``chips`` maps exactly 1 and 4 to uint16 raw-shape arrays."""
    if set(chips) != set(SCIENCE_HDUS):
        raise ValueError(
            f"write_raw: chips must have keys {list(SCIENCE_HDUS)} (HDU indices), got {sorted(chips)}"
        )
    for hdu in SCIENCE_HDUS:
        arr = chips[hdu]
        shape = detector(instrument).chips[hdu].raw_shape
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint16 or arr.shape != shape:
            got = f"{getattr(arr, 'dtype', type(arr).__name__)} {getattr(arr, 'shape', '')}"
            raise ValueError(
                f"write_raw: chip for HDU {hdu} of {instrument} must be a uint16 array of shape "
                f"{shape} (DN, bias and overscan included), got {got}"
            )


def _set_all(header: fits.Header, values: Mapping[str, HeaderValue] | fits.Header) -> None:
    """Set every keyword of ``values`` in ``header`` (in order); a ``fits.Header`` keeps its
    comments and blank section cards."""
    if isinstance(values, fits.Header):
        for card in values.cards:
            if card.keyword in ("", "COMMENT", "HISTORY") or card.keyword not in header:
                header.append(card, end=True)
            else:
                header[card.keyword] = (card.value, card.comment)
        return
    for key, value in values.items():
        header[key] = value


#: Serial virtual overscan columns between the two science halves of a UVIS chip.
_UVIS_GAP = 60


def _uvis_alternate(head: dict[str, HeaderValue]) -> dict[str, HeaderValue]:
    """The alternate WCS ``B`` of a UVIS chip: the primary one shifted by the 60 virtual
    overscan columns, exact for the B/D half."""
    alt: dict[str, HeaderValue] = {"WCSNAMEB": "RAW-BD"}
    for key in ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD1_2",
                "CD2_1", "CD2_2"):
        alt[key + "B"] = head[key]
    alt["CRPIX1B"] = float(head["CRPIX1"]) + _UVIS_GAP
    return alt


def _ordered(head: dict[str, HeaderValue], primary: fits.Header) -> fits.Header:
    """``primary`` (with its sections and comments) plus any default keyword it lacks, first."""
    out = fits.Header()
    for key, value in head.items():
        if key not in primary:
            out[key] = value
    for card in primary.cards:
        out.append(card, end=True)
    out["FILENAME"] = head["FILENAME"]
    out["NEXTEND"] = head["NEXTEND"]
    return out


def _primary_cards(instrument: str, primary: Mapping[str, HeaderValue] | fits.Header | None,
                   filename: str) -> dict[str, HeaderValue]:
    """The primary header's keywords: :func:`default_primary` updated by ``primary``, with
    ``FILENAME`` and ``NEXTEND`` (6: SCI, ERR, DQ per chip) set for the file written."""
    head: dict[str, HeaderValue] = default_primary(instrument)
    if isinstance(primary, fits.Header):
        head.update({c.keyword: c.value for c in primary.cards if c.keyword})
    else:
        head.update(primary or {})
    head["FILENAME"] = filename
    head["NEXTEND"] = 6
    return head


def _chip_blocks(instrument: str, hdu: int, chip: np.ndarray, head: Mapping[str, HeaderValue],
                 overrides: Mapping[str, HeaderValue]) -> list[bytes]:
    """One chip's SCI header and data and its empty ERR and DQ headers, as FITS blocks.

    Args:
        hdu: the SCI extension (1 or 4).
        chip: uint16 (raw shape) in DN, raw orientation.
        head: the primary keywords (the WCS is centred on ``RA_TARG``/``DEC_TARG``).
        overrides: keywords overriding / extending :func:`default_sci_header`.
    """
    lay = detector(instrument).chips[hdu]
    sci = _mandatory("image", 16, lay.raw_shape)
    sci["BSCALE"] = 1
    sci["BZERO"] = 32768
    sci["EXTNAME"] = ("SCI", "extension name")
    sci_head = default_sci_header(instrument, hdu, ra=float(head["RA_TARG"]),
                                  dec=float(head["DEC_TARG"]))
    sci_head.update(overrides)
    if instrument == "WFC3/UVIS":
        sci_head["WCSNAME"] = "RAW-AC"
        sci_head.update(_uvis_alternate(sci_head))
    _set_all(sci, sci_head)
    # unsigned DN -> signed big-endian int16 with BZERO = 32768: flip the top bit.
    stored = (np.ascontiguousarray(chip) ^ np.uint16(0x8000)).astype(">u2")
    return [
        sci.tostring(padding=True).encode("ascii"),
        _padded(stored.tobytes()),
        _constant_header("ERR", lay.extver, lay.raw_shape, -32).tostring(padding=True)
        .encode("ascii"),
        _constant_header("DQ", lay.extver, lay.raw_shape, 16).tostring(padding=True)
        .encode("ascii"),
    ]


def write_raw(
    path: str | os.PathLike[str],
    instrument: str,
    chips: Mapping[int, np.ndarray],
    *,
    primary: Mapping[str, HeaderValue] | fits.Header | None = None,
    sci_headers: Mapping[int, Mapping[str, HeaderValue]] | None = None,
) -> Path:
    """Write a full-frame raw FITS file atomically and deterministically.

    Args:
        path: output file (its folder must exist). Written via a temporary
            file in the same folder and an atomic rename; nothing is left
            behind on failure.
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"``.
        chips: ``{1: array, 4: array}``: uint16 arrays of the chip's raw shape
            (ACS (2068, 4144), UVIS (2070, 4206)), in DN with bias and
            overscan already in the arrays, raw orientation
            (see :mod:`hrcn_lib.instruments`).
        primary: primary-header keywords overriding / extending
            :func:`default_primary` (e.g. ``ROOTNAME``, ``TARGNAME``,
            ``EXPTIME``, ``FILTER`` or ``FILTER1``/``FILTER2``, ``RA_TARG``); a
            ``fits.Header`` is written in its own order with its comments and
            section cards (:func:`hrcn_lib.simulate.headers.primary_header`).
        sci_headers: per HDU (1 or 4), keywords overriding / extending
            :func:`default_sci_header` (whose WCS is centred on
            ``RA_TARG``/``DEC_TARG``).

    Returns:
        the path written.

    Raises:
        ValueError: unknown instrument, missing chip, wrong dtype or shape,
            or ``sci_headers`` for an HDU other than 1 or 4.
    """
    detector(instrument)  # an unknown instrument is named before anything else
    _check_chips(instrument, chips)
    sci_headers = dict(sci_headers or {})
    if not set(sci_headers) <= set(SCIENCE_HDUS):
        raise ValueError(
            f"write_raw: sci_headers keys must be among {list(SCIENCE_HDUS)}, got {sorted(sci_headers)}"
        )
    path = Path(path)
    head = _primary_cards(instrument, primary, path.name)
    prim = _mandatory("primary", 16, ())
    _set_all(prim, head if not isinstance(primary, fits.Header) else _ordered(head, primary))
    blocks: list[bytes] = [prim.tostring(padding=True).encode("ascii")]
    for hdu in SCIENCE_HDUS:
        blocks += _chip_blocks(instrument, hdu, chips[hdu], head, sci_headers.get(hdu, {}))

    with atomic_write(path, "wb") as fh:
        for block in blocks:
            fh.write(block)
    return path
