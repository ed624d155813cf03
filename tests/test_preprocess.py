"""Preprocessing: crop, per-amplifier bias, normalisation, flt input, bad input, CLI, raw writer."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from rawfixtures import (
    MARKER_BASE,
    bias_chip,
    flt_from_sample,
    marker_value,
    science_pattern,
    write_bias_raw,
    write_flt,
    write_marker_raw,
)

from hrcn_lib import preprocess as pp
from hrcn_lib.instruments import SAMPLE_SHAPE, SCIENCE_HDUS, detector
from hrcn_lib.preprocess import PreprocessError, fitsheader, kernels
from hrcn_lib.preprocess import frame as pframe
from hrcn_lib.simulate.rawfile import write_raw

INSTRUMENTS = ("ACS/WFC", "WFC3/UVIS")
CHIPS = [(inst, hdu) for inst in INSTRUMENTS for hdu in SCIENCE_HDUS]
BIASES = {1: (2150.0, 2290.0), 4: (2080.0, 2400.0)}  # DN per (left, right) amp


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> dict[str, Path]:
    """Full-size fixture files, written once per session."""
    d = tmp_path_factory.mktemp("pre")
    out: dict[str, Path] = {}
    for inst, tag in (("ACS/WFC", "acs"), ("WFC3/UVIS", "uvis")):
        prim = {"ROOTNAME": f"{tag}0marker", "TARGNAME": "NGC-TEST", "EXPTIME": 339.0}
        if tag == "acs":
            prim.update(FILTER1="CLEAR1L", FILTER2="F814W")
        else:
            prim["FILTER"] = "F555W"
        out[f"{tag}_marker"] = write_marker_raw(d / f"{tag}_marker_raw.fits", inst, **prim)
        out[f"{tag}_bias"] = write_bias_raw(d / f"{tag}_bias_raw.fits", inst, BIASES)
        flt = {h: flt_from_sample(inst, h, science_pattern(h).astype(np.float32), -1.0)
               for h in SCIENCE_HDUS}
        out[f"{tag}_flt"] = write_flt(d / f"{tag}_pattern_flt.fits", inst, flt)
    return out


def _tag(inst: str) -> str:
    return "acs" if inst == "ACS/WFC" else "uvis"


# --------------------------------------------------------------------------- crop


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_extract_science_keeps_exactly_the_science_pixels_in_order(files, inst, hdu):
    sample = pp.extract_science(files[f"{_tag(inst)}_marker"], hdu)
    assert sample.dtype == np.float32 and sample.shape == SAMPLE_SHAPE
    assert sample.max() < MARKER_BASE, "a prescan/overscan/virtual/gap marker leaked in"
    np.testing.assert_array_equal(sample, science_pattern(hdu).astype(np.float32))


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_marker_fixture_has_every_region_marked(files, inst, hdu):
    """The fixture itself: each non-science region holds its own marker (so the crop test bites)."""
    with fits.open(files[f"{_tag(inst)}_marker"]) as hdul:
        raw = hdul[hdu].data
        assert raw.dtype == np.uint16
        lay = detector(inst).chips[hdu]
        for reg in lay.regions:
            if reg.kind == "science":
                continue
            block = raw[slice(*reg.rows), slice(*reg.cols)]
            assert np.all(block == marker_value(reg.kind, reg.amp, hdu)), reg.name


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_flt_input_is_cropped_to_the_same_rows(files, inst, hdu):
    sample = pp.extract_science(files[f"{_tag(inst)}_flt"], hdu)
    np.testing.assert_array_equal(sample, science_pattern(hdu).astype(np.float32))
    info = pp.read_header_info(files[f"{_tag(inst)}_flt"], hdu)
    assert info.kind == "flt"


# --------------------------------------------------------------------------- header info


def test_read_header_info_acs(files):
    info = pp.read_header_info(files["acs_marker"], 4)
    assert info == pp.HeaderInfo(
        path=files["acs_marker"], hdu=4, instrument="ACS/WFC", detector="WFC", chip="WFC1",
        ccdchip=1, filter="F814W", exptime=339.0, rootname="acs0marker", target="NGC-TEST",
        subarray=False, kind="raw",
    )


def test_read_header_info_uvis(files):
    info = pp.read_header_info(str(files["uvis_marker"]), 1)
    assert (info.instrument, info.chip, info.ccdchip, info.filter, info.kind) == (
        "WFC3/UVIS", "UVIS2", 2, "F555W", "raw")


def test_header_scan_agrees_with_astropy(files):
    headers, size, _ = fitsheader.scan_headers(files["uvis_bias"], 6)
    assert size == files["uvis_bias"].stat().st_size
    with fits.open(files["uvis_bias"]) as hdul:
        assert len(headers) == len(hdul) == 7
        for h in headers:
            for key, value in h.cards.items():
                assert hdul[h.index].header[key] == value, (h.index, key)
            assert h.data_offset == hdul[h.index]._data_offset


@pytest.mark.parametrize("field,expected", [
    ("'F814W   '           / filter", "F814W"), ("'O''Neil'", "O'Neil"), ("T", True),
    ("F / flag", False), ("  32768 / zero", 32768), ("-1.5E+01", -15.0), ("2.0D0", 2.0), ("", None),
])
def test_parse_value(field, expected):
    assert fitsheader.parse_value(field) == expected


# --------------------------------------------------------------------------- bias and normalisation


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_per_amplifier_bias_is_measured_from_each_amps_overscan(files, inst, hdu):
    b_left, b_right = pp.amp_biases(files[f"{_tag(inst)}_bias"], hdu)
    assert b_left == pytest.approx(BIASES[hdu][0], abs=0.2)
    assert b_right == pytest.approx(BIASES[hdu][1], abs=0.2)


def _reference_sample(path: Path, hdu: int) -> np.ndarray:
    """The documented recipe, written plainly in float64."""
    x = pp.extract_science(path, hdu).astype(np.float64)
    b_left, b_right = pp.amp_biases(path, hdu)
    x[:, :2048] -= b_left
    x[:, 2048:] -= b_right
    s = pp.SUBSAMPLE_STEP
    sub = np.concatenate([x[::s, :2048:s].ravel(), x[::s, 2048::s].ravel()])
    med = np.median(sub)
    sigma = max(1.4826 * np.median(np.abs(sub - med)), pp.NOISE_FLOOR)
    return np.arcsinh((x - med) / (pp.STRETCH * sigma))


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_load_sample_is_the_documented_recipe(files, inst, hdu):
    path = files[f"{_tag(inst)}_bias"]
    sample = pp.load_sample(path, hdu)
    assert sample.dtype == np.float32 and sample.shape == SAMPLE_SHAPE
    np.testing.assert_allclose(sample, _reference_sample(path, hdu), atol=2e-4, rtol=0)


@pytest.mark.parametrize("inst", INSTRUMENTS)
def test_bias_removal_leaves_no_step_between_amplifiers(files, inst):
    sample = pp.load_sample(files[f"{_tag(inst)}_bias"], 4)
    left, right = np.median(sample[:, 1800:2048]), np.median(sample[:, 2048:2300])
    # The two amps' biases differ by 320 DN (~35 sigma) in the file; after removal the
    # sky on both sides sits at 0 within a small fraction of the noise (asinh ~ linear here).
    assert abs(left) < 0.05 and abs(right) < 0.05
    # sky noise (3 DN) over a 3-sigma stretch -> per-pixel spread ~ 1/3
    assert 0.25 < float(np.std(sample[100:600, 100:600])) < 0.45
    # the saturated source is compressed, not clipped
    assert 8.0 < float(sample.max()) < 10.5


@pytest.mark.parametrize("inst,hdu", CHIPS)
def test_sample_from_raw_equals_load_sample_of_the_file(files, inst, hdu):
    """The array-level entry point (used by the simulator's screening) is bit-identical to
    reading the same chip from its file."""
    path = files[f"{_tag(inst)}_bias"]
    with fits.open(path) as hdul:
        raw = np.asarray(hdul[hdu].data).astype(np.uint16)
    np.testing.assert_array_equal(pp.sample_from_raw(raw, inst, hdu), pp.load_sample(path, hdu))
    with pytest.raises(PreprocessError, match="uint16 array of shape"):
        pp.sample_from_raw(raw.astype(np.float32), inst, hdu)
    with pytest.raises(PreprocessError, match="uint16 array of shape"):
        pp.sample_from_raw(raw[:, :-1], inst, hdu)
    with pytest.raises(PreprocessError, match="HDU 2"):
        pp.sample_from_raw(raw, inst, 2)


def test_numpy_fallback_and_parallel_kernel_match_the_default(files, monkeypatch):
    pp.warm_up()
    path = files["uvis_bias"]
    default = pp.load_sample(path, 1)
    monkeypatch.setenv("HRCN_PREPROCESS_THREADS", "2")
    np.testing.assert_array_equal(pp.load_sample(path, 1), default)
    monkeypatch.setattr(kernels, "_KERNELS", {False: None, True: None})  # as without numba
    np.testing.assert_array_equal(pp.load_sample(path, 1), default)


def test_unusual_scaling_falls_back_to_astropy(tmp_path, files):
    """A raw SCI with BZERO = 30000 is read through astropy's scaling, not the fast path."""
    src = files["acs_bias"]
    headers, _, _ = fitsheader.scan_headers(src, 4)
    data = bytearray(src.read_bytes())
    card = data.rfind(b"BZERO   =                32768", 0, headers[4].data_offset)
    data[card : card + 30] = b"BZERO   =                30000"
    path = tmp_path / "bzero_raw.fits"
    path.write_bytes(bytes(data))
    assert not pframe.open_frame(path, 4).fast_raw
    np.testing.assert_array_equal(pp.extract_science(path, 4), pp.extract_science(src, 4) - 2768)
    # a constant offset moves bias and background alike: the sample does not change
    np.testing.assert_allclose(pp.load_sample(path, 4), pp.load_sample(src, 4), atol=1e-5)


def _fpack(src: Path, dst: Path) -> Path:
    """``dst``: ``src`` with every image extension tile-compressed (Rice, lossless), as fpack."""
    with fits.open(src) as hdul:
        hdus = [hdul[0].copy()] + [fits.CompImageHDU(h.data, h.header) if h.is_image else h.copy()
                                   for h in hdul[1:]]
        fits.HDUList(hdus).writeto(dst)
    return dst


def test_gzip_and_fpack_files_are_read_through_astropy(tmp_path, files):
    """``x_raw.fits.gz`` and ``x_raw.fits.fz`` give the sample of the uncompressed file."""
    src = files["acs_bias"]
    gz = tmp_path / "acs_bias_raw.fits.gz"
    gz.write_bytes(gzip.compress(src.read_bytes(), compresslevel=1))
    fz = _fpack(src, tmp_path / "acs_bias_raw.fits.fz")
    for path in (gz, fz):
        for hdu in SCIENCE_HDUS:
            frame = pframe.open_frame(path, hdu)
            assert frame.compressed and not frame.fast_raw
            info = pp.read_header_info(path, hdu)
            assert replace(info, path=src) == pp.read_header_info(src, hdu)
            np.testing.assert_array_equal(pp.extract_science(path, hdu), pp.extract_science(src, hdu))
            np.testing.assert_allclose(pp.load_sample(path, hdu), pp.load_sample(src, hdu),
                                       atol=1e-5, rtol=0)


def test_broken_compressed_files_name_file_and_hdu(tmp_path, files):
    data = gzip.compress(files["acs_bias"].read_bytes(), compresslevel=1)
    cut = tmp_path / "cut_raw.fits.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(PreprocessError, match=r"cut_raw\.fits\.gz \[HDU 4\]") as err:
        pp.load_sample(cut, 4)
    assert str(err.value).count(str(cut)) == 1
    junk = tmp_path / "junk_raw.fits.gz"
    junk.write_bytes(gzip.compress(b"this is not FITS" * 400))
    _expect(junk, 1, "junk_raw.fits.gz [HDU 1]", "not a readable (compressed) FITS file")


@pytest.mark.parametrize("inst", INSTRUMENTS)
def test_flt_and_raw_of_the_same_exposure_give_the_same_sample(tmp_path, inst):
    """Unit invariance: a flt (bias removed, x gain, in electrons) normalises like its raw."""
    det = detector(inst)
    raw = {h: bias_chip(det.chips[h], BIASES[h], seed=h) for h in SCIENCE_HDUS}
    raw_path = write_raw(tmp_path / "x_raw.fits", inst, raw)
    flt = {}
    for h in SCIENCE_HDUS:
        science = pp.extract_science(raw_path, h).astype(np.float64)
        b = pp.amp_biases(raw_path, h)
        science[:, :2048] -= b[0]
        science[:, 2048:] -= b[1]
        flt[h] = flt_from_sample(inst, h, (science * 1.6).astype(np.float32), 0.0)
    flt_path = write_flt(tmp_path / "x_flt.fits", inst, flt)
    for h in SCIENCE_HDUS:
        np.testing.assert_allclose(pp.load_sample(flt_path, h), pp.load_sample(raw_path, h),
                                   atol=2e-3)


def test_flt_nan_pixels_become_background(tmp_path):
    data = {h: flt_from_sample("ACS/WFC", h, np.random.default_rng(h).normal(
        10, 4, SAMPLE_SHAPE).astype(np.float32), 0.0) for h in SCIENCE_HDUS}
    data[4][5:10, 7:9] = np.nan
    path = write_flt(tmp_path / "nan_flt.fits", "ACS/WFC", data)
    sample = pp.load_sample(path, 4)
    assert np.isfinite(sample).all() and np.all(sample[5:10, 7:9] == 0.0)


# --------------------------------------------------------------------------- bad input


def _expect(path: Path, hdu: int, *fragments: str) -> None:
    for func in (pp.read_header_info, pp.extract_science, pp.load_sample, pp.check_input):
        with pytest.raises(PreprocessError) as err:
            func(path, hdu)
        msg = str(err.value)
        assert str(path) in msg, msg
        for fragment in fragments:
            assert fragment in msg, msg
    assert issubclass(PreprocessError, ValueError)


def _small_file(path: Path, primary: dict, sci_shape=(64, 64), nsci=2, dtype=np.int16) -> Path:
    prim = fits.PrimaryHDU()
    for k, v in primary.items():
        prim.header[k] = v
    hdus = [prim]
    for ver in range(1, nsci + 1):
        hdus += [fits.ImageHDU(np.zeros(sci_shape, dtype), name="SCI", ver=ver),
                 fits.ImageHDU(name="ERR", ver=ver), fits.ImageHDU(name="DQ", ver=ver)]
    fits.HDUList(hdus).writeto(path)
    return path


def test_missing_file(tmp_path):
    _expect(tmp_path / "nope_raw.fits", 1, "HDU 1", "no such file")


def test_not_fits(tmp_path):
    path = tmp_path / "notes_raw.fits"
    path.write_text("this is not a FITS file\n" * 200)
    _expect(path, 1, "not a FITS file")
    empty = tmp_path / "empty_raw.fits"
    empty.write_bytes(b"")
    _expect(empty, 4, "not a FITS file")


@pytest.mark.parametrize("cut", ["mid_data", "mid_header", "block_boundary"])
def test_truncated_file(tmp_path, files, cut):
    src = files["acs_marker"]
    headers, size, _ = fitsheader.scan_headers(src, 6)
    end = {"mid_data": headers[4].data_offset + 1000,
           "mid_header": headers[4].data_offset - 2880 - 100,
           "block_boundary": headers[4].data_offset - 2880}[cut]
    path = tmp_path / f"cut_{cut}_raw.fits"
    with open(src, "rb") as fin, open(path, "wb") as fout:
        fout.write(fin.read(end))
    _expect(path, 4, "HDU 4", "truncated")
    _expect(path, 1, "HDU 1", "truncated")  # a cut file is refused as a whole


@pytest.mark.parametrize("instrume,det", [("WFC3", "IR"), ("ACS", "HRC"), ("ACS", "SBC"),
                                          ("STIS", "CCD")])
def test_other_instruments_are_refused(tmp_path, instrume, det):
    path = _small_file(tmp_path / f"{instrume}_{det}_raw.fits",
                       {"INSTRUME": instrume, "DETECTOR": det, "NEXTEND": 6})
    _expect(path, 1, "HDU 1", f"{instrume}/{det}", "expected ACS/WFC or WFC3/UVIS")


def test_subarray_is_refused(tmp_path, files):
    path = _small_file(tmp_path / "sub_raw.fits", {"INSTRUME": "ACS", "DETECTOR": "WFC",
                       "SUBARRAY": True, "NEXTEND": 3, "APERTURE": "WFC1A-2K"},
                       sci_shape=(2068, 2072), nsci=1)
    _expect(path, 1, "HDU 1", "subarray", "full-frame")
    # a full-size file that says SUBARRAY = T is refused too
    det = detector("WFC3/UVIS")
    chips = {h: np.zeros(det.chips[h].raw_shape, np.uint16) for h in SCIENCE_HDUS}
    flagged = write_raw(tmp_path / "flag_raw.fits", "WFC3/UVIS", chips, primary={"SUBARRAY": True})
    _expect(flagged, 4, "HDU 4", "subarray")


@pytest.mark.parametrize("hdu,fragment", [(7, "out of range"), (12, "out of range"),
                                          (-1, "out of range"), (0, "not a SCI extension"),
                                          (2, "not a SCI extension"), (6, "not a SCI extension")])
def test_bad_hdu_index(files, hdu, fragment):
    _expect(files["uvis_marker"], hdu, f"HDU {hdu}", fragment)


def test_hdu_index_must_be_an_integer(files):
    for bad in ("1", 1.0, True):
        with pytest.raises(PreprocessError, match="HDU index must be an integer"):
            pp.read_header_info(files["acs_marker"], bad)


def test_unexpected_shape(tmp_path):
    path = _small_file(tmp_path / "shape_raw.fits", {"INSTRUME": "ACS", "DETECTOR": "WFC",
                       "SUBARRAY": False, "NEXTEND": 6}, sci_shape=(2068, 4000))
    _expect(path, 4, "HDU 4", "unexpected SCI array shape (2068, 4000)", "(2068, 4144)")


def test_inconsistent_ltv_is_refused(tmp_path):
    det = detector("ACS/WFC")
    chips = {h: np.zeros(det.chips[h].raw_shape, np.uint16) for h in SCIENCE_HDUS}
    path = write_raw(tmp_path / "ltv_raw.fits", "ACS/WFC", chips, sci_headers={4: {"LTV2": 0.0}})
    _expect(path, 4, "HDU 4", "LTV2 = 0.0", "20.0")
    assert pp.extract_science(path, 1).shape == SAMPLE_SHAPE  # the other chip is fine


def test_all_nan_flt(tmp_path):
    data = {h: np.full(detector("WFC3/UVIS").chips[h].flt_shape, np.nan, np.float32)
            for h in SCIENCE_HDUS}
    data[1][0, 0] = 1.0  # chip 1 has one finite pixel: no statistic can be measured
    path = write_flt(tmp_path / "nan_flt.fits", "WFC3/UVIS", data)
    for func in (pp.extract_science, pp.load_sample, pp.check_input):
        with pytest.raises(PreprocessError, match=r"HDU 4\].*all NaN"):
            func(path, 4)
    for func in (pp.load_sample, pp.check_input):
        with pytest.raises(PreprocessError, match=r"HDU 1\]: only 1 finite science pixels"):
            func(path, 1)
    data[1][:64, :64] = np.random.default_rng(0).normal(5.0, 1.0, (64, 64))  # 4096 finite
    path = write_flt(tmp_path / "few_flt.fits", "WFC3/UVIS", data)
    sample = pp.load_sample(path, 1)
    assert sample.shape == SAMPLE_SHAPE and np.isfinite(sample).all()
    assert 0.2 < float(sample[:64, :64].std()) < 0.5  # scaled by the block's own noise


# --------------------------------------------------------------------------- raw writer


def test_write_raw_is_deterministic_and_readable(tmp_path):
    det = detector("WFC3/UVIS")
    chips = {h: bias_chip(det.chips[h], (2500.0, 2550.0), seed=h) for h in SCIENCE_HDUS}
    a = write_raw(tmp_path / "a_raw.fits", "WFC3/UVIS", chips, primary={"ROOTNAME": "iabc01xyq"})
    first = hashlib.sha256(a.read_bytes()).hexdigest()
    write_raw(a, "WFC3/UVIS", chips, primary={"ROOTNAME": "iabc01xyq"})
    assert hashlib.sha256(a.read_bytes()).hexdigest() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_raw.fits"]  # no temp files left
    with fits.open(a) as hdul:
        hdul.verify("exception")
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "ERR", "DQ", "SCI", "ERR", "DQ"]
        prim = hdul[0].header
        assert (prim["INSTRUME"], prim["DETECTOR"], prim["NEXTEND"], prim["SUBARRAY"]) == (
            "WFC3", "UVIS", 6, False)
        for h in SCIENCE_HDUS:
            head = hdul[h].header
            assert (head["BITPIX"], head["BZERO"], head["EXTVER"]) == (16, 32768, 1 if h == 1 else 2)
            assert (head["LTV1"], head["LTV2"]) == det.chips[h].ltv
            assert head["CCDCHIP"] == det.chips[h].ccdchip
            np.testing.assert_array_equal(hdul[h].data, chips[h])
            err = hdul[h + 1].header
            assert (err["NAXIS"], err["BITPIX"], err["NPIX1"], err["NPIX2"]) == (
                0, -32, det.chips[h].raw_shape[1], det.chips[h].raw_shape[0])


def test_write_raw_rejects_bad_chips(tmp_path):
    det = detector("ACS/WFC")
    good = {h: np.zeros(det.chips[h].raw_shape, np.uint16) for h in SCIENCE_HDUS}
    with pytest.raises(ValueError, match="uint16 array of shape"):
        write_raw(tmp_path / "x.fits", "ACS/WFC", {**good, 4: good[4].astype(np.int32)})
    with pytest.raises(ValueError, match=r"\(2068, 4144\)"):
        write_raw(tmp_path / "x.fits", "ACS/WFC", {**good, 1: good[1][:-1]})
    with pytest.raises(ValueError, match="keys"):
        write_raw(tmp_path / "x.fits", "ACS/WFC", {1: good[1]})
    with pytest.raises(ValueError, match="unknown instrument"):
        write_raw(tmp_path / "x.fits", "WFC3/IR", good)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- CLI


def test_cli_writes_samples_and_previews(tmp_path, files):
    from hrcn_lib.cli import main

    out = tmp_path / "out"
    assert main(["preprocess", str(files["acs_bias"]), str(files["uvis_flt"]), "--out", str(out),
                 "--png"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{stem}_hdu{h}.{ext}" for stem in ("acs_bias_raw", "uvis_pattern_flt")
                           for h in SCIENCE_HDUS for ext in ("npy", "png"))
    np.testing.assert_array_equal(np.load(out / "acs_bias_raw_hdu4.npy"),
                                  pp.load_sample(files["acs_bias"], 4))
    import cv2

    png = cv2.imread(str(out / "uvis_pattern_flt_hdu1.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and png.shape == (1024, 2048) and png.max() > png.min()


def test_cli_hdu_option(tmp_path, files):
    from hrcn_lib.cli import main

    assert main(["preprocess", str(files["uvis_marker"]), "--hdu", "4", "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["uvis_marker_raw_hdu4.npy"]


def test_cli_writes_nothing_for_bad_input(tmp_path, files, capsys):
    from hrcn_lib.cli import main

    bad = tmp_path / "bad_raw.fits"
    shutil.copyfile(files["acs_marker"], bad)
    with open(bad, "r+b") as fh:
        fh.truncate(bad.stat().st_size - 5760)  # the last two headers (ERR,2 and DQ,2) are gone
    out = tmp_path / "out"
    code = main(["preprocess", str(files["acs_marker"]), str(bad), "--out", str(out), "--png"])
    assert code == 1  # a runtime error (bad input file), not a usage error
    assert not out.exists()
    err = capsys.readouterr().err
    assert "bad_raw.fits" in err and "HDU 4" in err and "truncated" in err


def test_preview_image():
    sample = np.zeros(SAMPLE_SHAPE, np.float32)
    sample[:2, :] = 5.0  # bright first rows -> bottom of the (ds9-oriented) preview
    img = pp.preview_image(sample)
    assert img.shape == (1024, 2048) and img.dtype == np.uint8
    assert img[-1].min() == 255 and img[0].max() == 0
    with pytest.raises(ValueError, match="divisible"):
        pp.preview_image(np.zeros((5, 5), np.float32))
