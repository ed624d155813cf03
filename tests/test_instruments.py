"""The frozen raw-frame geometry of ACS/WFC and WFC3/UVIS (hrcn_lib.instruments)."""

from __future__ import annotations

import numpy as np
import pytest

from hrcn_lib.instruments import (
    DETECTORS,
    SAMPLE_SHAPE,
    SCIENCE_HDUS,
    chip_layout,
    detector,
)

CHIPS = [(inst, hdu) for inst in ("ACS/WFC", "WFC3/UVIS") for hdu in SCIENCE_HDUS]


def _coverage(lay, kinds):
    count = np.zeros(lay.raw_shape, dtype=np.int32)
    for reg in lay.regions:
        if reg.kind in kinds:
            count[slice(*reg.rows), slice(*reg.cols)] += 1
    return count


def _length(span):
    return span[1] - span[0]


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_regions_tile_the_raw_array_exactly_once(inst, hdu):
    lay = chip_layout(inst, hdu)
    kinds = {"science", "prescan", "physical_overscan", "serial_virtual", "parallel_virtual"}
    assert np.all(_coverage(lay, kinds) == 1)


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_kept_science_area_is_2048_by_4096(inst, hdu):
    lay = chip_layout(inst, hdu)
    assert _length(lay.keep_rows) == SAMPLE_SHAPE[0]
    assert lay.science_rows[0] <= lay.keep_rows[0] < lay.keep_rows[1] <= lay.science_rows[1]
    assert sum(_length(a.science_cols) for a in lay.amps) == SAMPLE_SHAPE[1]
    assert [a.sample_cols for a in lay.amps] == [(0, 2048), (2048, 4096)]
    science = _coverage(lay, {"science"})
    for amp in lay.amps:
        assert np.all(science[slice(*lay.science_rows), slice(*amp.science_cols)] == 1)


@pytest.mark.parametrize(
    "inst,hdu,raw_shape,science_rows,keep_rows,blocks,ltv",
    [
        ("ACS/WFC", 1, (2068, 4144), (0, 2048), (0, 2048), ((24, 4120),), (24.0, 0.0)),
        ("ACS/WFC", 4, (2068, 4144), (20, 2068), (20, 2068), ((24, 4120),), (24.0, 20.0)),
        ("WFC3/UVIS", 1, (2070, 4206), (0, 2051), (0, 2048), ((25, 2073), (2133, 4181)),
         (25.0, 0.0)),
        ("WFC3/UVIS", 4, (2070, 4206), (19, 2070), (22, 2070), ((25, 2073), (2133, 4181)),
         (25.0, 19.0)),
    ],
)
def test_layout_numbers_match_the_spec(inst, hdu, raw_shape, science_rows, keep_rows, blocks, ltv):
    lay = chip_layout(inst, hdu)
    assert lay.raw_shape == raw_shape
    assert lay.science_rows == science_rows
    assert lay.keep_rows == keep_rows
    assert lay.science_col_blocks == blocks
    assert lay.ltv == ltv
    # LTV is the offset of the first science pixel (0-based) in the raw array.
    assert (lay.ltv[1], lay.ltv[0]) == (lay.science_rows[0], lay.amps[0].science_cols[0])


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_overscan_widths(inst, hdu):
    lay = chip_layout(inst, hdu)
    widths = {r.kind: _length(r.cols) for r in lay.regions if r.kind != "science"}
    heights = {r.kind: _length(r.rows) for r in lay.regions if r.kind == "parallel_virtual"}
    if inst == "ACS/WFC":
        assert widths["prescan"] == 24 and heights["parallel_virtual"] == 20
        assert not lay.regions_of("serial_virtual") and not lay.regions_of("gap_trim")
    else:
        assert widths["physical_overscan"] == 25 and heights["parallel_virtual"] == 19
        assert sum(_length(r.cols) for r in lay.regions_of("serial_virtual")) == 60
        gap = lay.regions_of("gap_trim")
        assert len(gap) == 2 and all(_length(r.rows) == 3 for r in gap)
        # the 3 dropped rows sit on the chip-gap side: top of SCI,1, bottom of SCI,2
        gap_rows = gap[0].rows
        assert gap_rows == ((2048, 2051) if hdu == 1 else (19, 22))


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_amplifiers(inst, hdu):
    lay = chip_layout(inst, hdu)
    names = tuple(a.name for a in lay.amps)
    assert names == (("C", "D") if hdu == 1 else ("A", "B"))
    left, right = lay.amps
    assert left.raw_cols[0] == 0 and left.raw_cols[1] == right.raw_cols[0]
    assert right.raw_cols[1] == lay.raw_shape[1]
    overscan = _coverage(lay, {"prescan", "physical_overscan", "serial_virtual"})
    for amp in lay.amps:
        lo, hi = amp.bias_cols
        assert amp.raw_cols[0] <= lo < hi <= amp.raw_cols[1], "bias columns of the amp's own"
        assert np.all(overscan[:, lo:hi] == 1), "bias columns lie in overscan"
        assert hi - lo >= 6
        assert set(amp.corner) <= {0, lay.raw_shape[0] - 1, lay.raw_shape[1] - 1}
    corner_row = 0 if hdu == 1 else lay.raw_shape[0] - 1
    assert left.corner == (corner_row, 0) and right.corner == (corner_row, lay.raw_shape[1] - 1)
    # parallel virtual rows are read after the science rows: away from the readout corner.
    virt = lay.regions_of("parallel_virtual")[0].rows
    assert (virt[0] > lay.science_rows[0]) == (hdu == 1)


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_flt_keep_rows_match_raw_keep_rows(inst, hdu):
    lay = chip_layout(inst, hdu)
    assert _length(lay.flt_keep_rows) == SAMPLE_SHAPE[0]
    assert lay.flt_shape == (_length(lay.science_rows), SAMPLE_SHAPE[1])
    shift = lay.science_rows[0]
    assert (lay.keep_rows[0] - shift, lay.keep_rows[1] - shift) == lay.flt_keep_rows


def test_chip_identity():
    for inst, names in (("ACS/WFC", ("WFC2", "WFC1")), ("WFC3/UVIS", ("UVIS2", "UVIS1"))):
        det = detector(inst)
        assert det.chips[1].chip == names[0] and det.chips[4].chip == names[1]
        assert (det.chips[1].ccdchip, det.chips[4].ccdchip) == (2, 1)
        assert (det.chips[1].extver, det.chips[4].extver) == (1, 2)
        assert set(det.electronics) == {"A", "B", "C", "D"}
        for e in det.electronics.values():
            assert 1.0 < e.gain < 2.5 and 2.0 < e.read_noise < 6.0 and 1000 < e.bias < 5000
    assert DETECTORS["ACS/WFC"].instrume == "ACS" and DETECTORS["WFC3/UVIS"].detector == "UVIS"


def test_unknown_instrument_and_hdu_raise():
    with pytest.raises(ValueError, match="WFC3/IR"):
        detector("WFC3/IR")
    with pytest.raises(ValueError, match="HDU 2"):
        chip_layout("ACS/WFC", 2)
