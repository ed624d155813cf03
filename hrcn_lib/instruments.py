"""Raw-frame geometry of HST ACS/WFC and WFC3/UVIS full frames, as frozen data.

This module is the single source of truth for where the science pixels, the
prescan / overscan regions and the amplifier quadrants lie in a raw
(``*_raw.fits``) or calibrated (``*_flt.fits`` / ``*_flc.fits``) SCI array.
The preprocessing (:mod:`hrcn_lib.preprocess`), the simulator
(:mod:`hrcn_lib.simulate`) and the book's Figure 1 all read it; nothing here
reads files.

Conventions
-----------
* Indices are 0-based numpy ``[row, col]``: ``row`` runs along FITS NAXIS2 (y),
  ``col`` along NAXIS1 (x). Ranges are half-open ``(start, stop)``.
* The raw array orientation is kept as stored on disk (no flips): in both
  instruments the chip read by amplifiers C/D (``[SCI,1]``, HDU 1) has its
  parallel virtual overscan at the *top* (high rows), the chip read by A/B
  (``[SCI,2]``, HDU 4) at the *bottom* (low rows); the chip gap lies between
  the top of HDU 1's science area and the bottom of HDU 4's.
* HDU indices are those of a full-frame file: 0 primary, 1 SCI,1, 2 ERR,1,
  3 DQ,1, 4 SCI,2, 5 ERR,2, 6 DQ,2 (the paper's "HDU Index" 1 or 4).

Sources (see ``../shared/specs/hst_raw_layout.md`` and the book's preprocessing
chapter): ACS DHB 2.2/4.2, WFC3 IHB 5.3, WFC3 DHB 2.2, hstcal
(``blev_funcs_postsm4.c``, ``razutil.c``, ``dofwsat.c``, ``wf3cte.c``,
``subtools.c``), wfc3tools' raw UVIS format figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hrcn_lib.names import LCID_SIZE

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SAMPLE_SHAPE",
    "Span",
    "Region",
    "Amplifier",
    "ChipLayout",
    "Electronics",
    "Detector",
    "DETECTORS",
    "detector",
    "chip_layout",
    "layout_table",
    "SCIENCE_HDUS",
]

#: Shape of every model-ready sample, numpy (rows, cols) = (2048, 4096): the LCID size.
SAMPLE_SHAPE: tuple[int, int] = LCID_SIZE

#: HDU indices of the two SCI extensions of a full-frame file.
SCIENCE_HDUS: tuple[int, int] = (1, 4)

Span = tuple[int, int]
"""Half-open index range ``(start, stop)``."""


@dataclass(frozen=True)
class Region:
    """A named rectangle of a raw SCI array (for Figure 1 and for tests).

    Attributes:
        name: human-readable label, e.g. ``"prescan A"``.
        kind: one of ``"science"``, ``"prescan"`` (ACS physical prescan),
            ``"physical_overscan"`` (WFC3 serial physical overscan),
            ``"serial_virtual"``, ``"parallel_virtual"``, ``"gap_trim"``
            (science rows the paper removes next to the UVIS chip gap).
        rows, cols: half-open index ranges in the raw array.
        amp: amplifier letter the region belongs to, or ``""``.
    """

    name: str
    kind: str
    rows: Span
    cols: Span
    amp: str = ""


@dataclass(frozen=True)
class Amplifier:
    """One readout amplifier of a chip.

    Attributes:
        name: ``"A"``..``"D"``.
        raw_cols: columns of the raw array read by this amplifier (including
            its overscan columns).
        science_cols: the amplifier's science columns in the raw array.
        bias_cols: raw columns used to estimate this amplifier's bias level
            (overscan columns well away from the bias-decay edge, see
            :data:`DETECTORS`).
        sample_cols: the columns this amplifier covers in the 2048x4096 sample.
        corner: ``(row, col)`` of the readout corner in the raw array.
    """

    name: str
    raw_cols: Span
    science_cols: Span
    bias_cols: Span
    sample_cols: Span
    corner: tuple[int, int]


@dataclass(frozen=True)
class ChipLayout:
    """Geometry of one chip's SCI array in a full-frame raw file.

    Attributes:
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"`` (the manifest spelling).
        chip: ``"WFC1"``, ``"WFC2"``, ``"UVIS1"`` or ``"UVIS2"``.
        ccdchip: value of the ``CCDCHIP`` keyword (1 or 2).
        extver: ``EXTVER`` of the SCI extension (1 or 2).
        hdu: HDU index of the SCI extension in a full-frame file (1 or 4).
        raw_shape: numpy shape of the raw SCI array.
        science_rows: rows holding science pixels in the raw array.
        keep_rows: science rows kept in the 2048-row sample (UVIS drops the
            3 rows next to the chip gap; ACS keeps all 2048).
        amps: the two amplifiers, left (low columns) first.
        regions: every named region, for drawing and for tests.
        flt_shape: numpy shape of the calibrated (``_flt``/``_flc``) SCI array.
        flt_keep_rows: rows of the calibrated array kept in the sample.
        ltv: ``(LTV1, LTV2)`` expected in the raw SCI header.
    """

    instrument: str
    chip: str
    ccdchip: int
    extver: int
    hdu: int
    raw_shape: tuple[int, int]
    science_rows: Span
    keep_rows: Span
    amps: tuple[Amplifier, Amplifier]
    regions: tuple[Region, ...]
    flt_shape: tuple[int, int]
    flt_keep_rows: Span
    ltv: tuple[float, float]

    @property
    def science_col_blocks(self) -> tuple[Span, ...]:
        """Raw science column ranges, left to right (1 block for ACS, 2 for UVIS)."""
        blocks = [a.science_cols for a in self.amps]
        if blocks[0][1] == blocks[1][0]:
            return ((blocks[0][0], blocks[1][1]),)
        return tuple(blocks)

    def regions_of(self, kind: str) -> tuple[Region, ...]:
        """All regions of one ``kind`` (see :class:`Region`)."""
        return tuple(r for r in self.regions if r.kind == kind)


@dataclass(frozen=True)
class Electronics:
    """Typical detector electronics of one amplifier (used by the simulator).

    Attributes:
        gain: e-/DN.
        read_noise: e- (rms).
        bias: DN, typical raw bias level.
    """

    gain: float
    read_noise: float
    bias: float


@dataclass(frozen=True)
class Detector:
    """A camera: its two chips plus the numbers the simulator needs.

    Attributes:
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"``.
        instrume, detector: the primary-header ``INSTRUME`` / ``DETECTOR`` values.
        pixel_scale: arcsec per pixel.
        chips: chip layouts keyed by HDU index (1 and 4).
        electronics: per-amplifier electronics keyed by amp letter.
        dark_current: e-/s/pixel.
        full_well: e- (saturation level of the pixel well).
        chip_gap: pixels between the two chips' science areas.
        rootname_prefix: first letter of rootnames (``"j"`` ACS, ``"i"`` WFC3).
    """

    instrument: str
    instrume: str
    detector: str
    pixel_scale: float
    chips: dict[int, ChipLayout]
    electronics: dict[str, Electronics]
    dark_current: float
    full_well: float
    chip_gap: int
    rootname_prefix: str


def _acs_chip(hdu: int) -> ChipLayout:
    """ACS/WFC chip: raw (2068, 4144), 24 prescan columns each side, 20 virtual rows."""
    top_virtual = hdu == 1  # WFC2 ([SCI,1]): virtual rows at the top
    nrow, ncol = 2068, 4144
    sci_rows = (0, 2048) if top_virtual else (20, 2068)
    virt_rows = (2048, 2068) if top_virtual else (0, 20)
    left, right = ("C", "D") if hdu == 1 else ("A", "B")
    corner_row = 0 if hdu == 1 else nrow - 1
    amps = (
        # The first ~18 prescan columns decay towards the bias level (ACS DHB 4.2):
        # use the 6 columns nearest the exposed area.
        Amplifier(left, (0, 2072), (24, 2072), (18, 24), (0, 2048), (corner_row, 0)),
        Amplifier(right, (2072, ncol), (2072, 4120), (4120, 4126), (2048, 4096),
                  (corner_row, ncol - 1)),
    )
    regions = (
        Region("science", "science", sci_rows, (24, 4120)),
        Region(f"prescan {left}", "prescan", (0, nrow), (0, 24), left),
        Region(f"prescan {right}", "prescan", (0, nrow), (4120, 4144), right),
        Region(f"parallel virtual overscan {left}", "parallel_virtual", virt_rows, (24, 2072), left),
        Region(f"parallel virtual overscan {right}", "parallel_virtual", virt_rows, (2072, 4120),
               right),
    )
    return ChipLayout(
        instrument="ACS/WFC",
        chip="WFC2" if hdu == 1 else "WFC1",
        ccdchip=2 if hdu == 1 else 1,
        extver=1 if hdu == 1 else 2,
        hdu=hdu,
        raw_shape=(nrow, ncol),
        science_rows=sci_rows,
        keep_rows=sci_rows,
        amps=amps,
        regions=regions,
        flt_shape=(2048, 4096),
        flt_keep_rows=(0, 2048),
        ltv=(24.0, 0.0 if hdu == 1 else 20.0),
    )


def _uvis_chip(hdu: int) -> ChipLayout:
    """WFC3/UVIS chip: raw (2070, 4206), 25 physical + 30+30 virtual overscan columns, 19 virtual rows."""
    top_virtual = hdu == 1  # UVIS2 ([SCI,1]): virtual rows at the top
    nrow, ncol = 2070, 4206
    sci_rows = (0, 2051) if top_virtual else (19, 2070)
    virt_rows = (2051, 2070) if top_virtual else (0, 19)
    # The paper drops 3 rows on the chip-gap side: top of UVIS2, bottom of UVIS1.
    keep_rows = (0, 2048) if top_virtual else (22, 2070)
    gap_rows = (2048, 2051) if top_virtual else (19, 22)
    left, right = ("C", "D") if hdu == 1 else ("A", "B")
    corner_row = 0 if hdu == 1 else nrow - 1
    amps = (
        # calwf3 (wf3cte.c) measures full-frame bias in the serial virtual overscan,
        # stripping 2 columns at the science side and 1 at the far side (amp frame).
        Amplifier(left, (0, 2103), (25, 2073), (2075, 2102), (0, 2048), (corner_row, 0)),
        Amplifier(right, (2103, ncol), (2133, 4181), (2104, 2131), (2048, 4096),
                  (corner_row, ncol - 1)),
    )
    regions = (
        Region(f"science {left}", "science", sci_rows, (25, 2073), left),
        Region(f"science {right}", "science", sci_rows, (2133, 4181), right),
        Region(f"physical overscan {left}", "physical_overscan", (0, nrow), (0, 25), left),
        Region(f"physical overscan {right}", "physical_overscan", (0, nrow), (4181, 4206), right),
        Region(f"serial virtual overscan {left}", "serial_virtual", (0, nrow), (2073, 2103), left),
        Region(f"serial virtual overscan {right}", "serial_virtual", (0, nrow), (2103, 2133), right),
        Region(f"parallel virtual overscan {left}", "parallel_virtual", virt_rows, (25, 2073), left),
        Region(f"parallel virtual overscan {right}", "parallel_virtual", virt_rows, (2133, 4181),
               right),
        Region(f"gap-side rows {left}", "gap_trim", gap_rows, (25, 2073), left),
        Region(f"gap-side rows {right}", "gap_trim", gap_rows, (2133, 4181), right),
    )
    return ChipLayout(
        instrument="WFC3/UVIS",
        chip="UVIS2" if hdu == 1 else "UVIS1",
        ccdchip=2 if hdu == 1 else 1,
        extver=1 if hdu == 1 else 2,
        hdu=hdu,
        raw_shape=(nrow, ncol),
        science_rows=sci_rows,
        keep_rows=keep_rows,
        amps=amps,
        regions=regions,
        flt_shape=(2051, 4096),
        flt_keep_rows=(0, 2048) if top_virtual else (3, 2051),
        ltv=(25.0, 0.0 if hdu == 1 else 19.0),
    )


#: The two cameras, keyed by the manifest's instrument spelling.
DETECTORS: dict[str, Detector] = {
    "ACS/WFC": Detector(
        instrument="ACS/WFC",
        instrume="ACS",
        detector="WFC",
        pixel_scale=0.05,
        chips={1: _acs_chip(1), 4: _acs_chip(4)},
        # Gains/read noise of an example post-SM4 exposure (jczgx1ppq, ATODGN*/READNSE*);
        # bias levels derived from its BIASLEV* (e-) divided by the gain.
        electronics={
            "A": Electronics(gain=2.02, read_noise=4.35, bias=2090.0),
            "B": Electronics(gain=1.886, read_noise=3.75, bias=2137.0),
            "C": Electronics(gain=2.017, read_noise=4.05, bias=2202.0),
            "D": Electronics(gain=2.011, read_noise=5.05, bias=2303.0),
        },
        dark_current=0.0161,
        full_well=77_400.0,
        chip_gap=50,
        rootname_prefix="j",
    ),
    "WFC3/UVIS": Detector(
        instrument="WFC3/UVIS",
        instrume="WFC3",
        detector="UVIS",
        pixel_scale=0.04,
        chips={1: _uvis_chip(1), 4: _uvis_chip(4)},
        # Gains: WFC3 DHB Table 5.1; read noise 3.1-3.2 e- (IHB Table 5.1).
        # No raw UVIS bias level was found in any source: ~2500 DN is an assumption
        # (recorded in the book), chosen to sit in the ADC range like ACS's.
        electronics={
            "A": Electronics(gain=1.58, read_noise=3.15, bias=2480.0),
            "B": Electronics(gain=1.58, read_noise=3.10, bias=2530.0),
            "C": Electronics(gain=1.60, read_noise=3.20, bias=2505.0),
            "D": Electronics(gain=1.59, read_noise=3.15, bias=2555.0),
        },
        dark_current=11.0 / 3600.0,
        full_well=68_000.0,
        chip_gap=31,
        rootname_prefix="i",
    ),
}


def detector(instrument: str) -> Detector:
    """The :class:`Detector` for ``"ACS/WFC"`` or ``"WFC3/UVIS"``.

    Raises:
        ValueError: for any other instrument string.
    """
    try:
        return DETECTORS[instrument]
    except KeyError:
        raise ValueError(
            f"unknown instrument {instrument!r}: expected one of {sorted(DETECTORS)}"
        ) from None


def chip_layout(instrument: str, hdu: int) -> ChipLayout:
    """The :class:`ChipLayout` of one SCI extension (HDU 1 or 4) of a full-frame file.

    Raises:
        ValueError: for an unknown instrument or an HDU index other than 1 or 4.
    """
    det = detector(instrument)
    if hdu not in det.chips:
        raise ValueError(
            f"HDU {hdu} of a full-frame {instrument} file is not a SCI extension: expected 1 or 4"
        )
    return det.chips[hdu]


def layout_table() -> pd.DataFrame:
    """Every region of both chips of both cameras (:data:`DETECTORS`) as rows.

    Returns:
        DataFrame ``instrument, chip, hdu, raw_shape, region, kind, rows, cols, size`` with
        half-open 0-based ranges as text (``"(0, 2068)"``) and ``size`` as ``"rows x cols"``.
    """
    import pandas as pd  # lazily: the command line reads this module for its --help

    rows = []
    for inst, det in DETECTORS.items():
        for hdu, lay in det.chips.items():
            for reg in lay.regions:
                rows.append({"instrument": inst, "chip": lay.chip, "hdu": hdu,
                             "raw_shape": f"{lay.raw_shape[0]} x {lay.raw_shape[1]}",
                             "region": reg.name, "kind": reg.kind, "rows": str(reg.rows),
                             "cols": str(reg.cols),
                             "size": f"{reg.rows[1] - reg.rows[0]} x {reg.cols[1] - reg.cols[0]}"})
    return pd.DataFrame(rows)
