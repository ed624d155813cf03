"""LCID-sim: realism (measure what was put in), manifests, determinism, bad input."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from scipy import stats
from scipy.optimize import curve_fit

from hrcn_lib.instruments import SCIENCE_HDUS, detector
from hrcn_lib.simulate import (
    BLURRY_SNR,
    DatasetSizes,
    SimulationError,
    catalogue,
    make_body,
    plan,
    render_exposure,
    simulate_dataset,
    simulate_file,
)
from hrcn_lib.simulate.dataset import body_scene, chip_grid
from hrcn_lib.simulate.exposures import make_exposure, make_obsid
from hrcn_lib.simulate.populations import king_cdf
from hrcn_lib.simulate.psf import psf_model
from hrcn_lib.simulate.scene import ChipGrid, render_signal, sersic_bn

AUTHOR_HEADER = ",ID,Instrument,OBSID,Filter,RA,DEC,HDU Index,Label"


def _manifest(root: Path, name: str = "lcid_manifest.csv") -> pd.DataFrame:
    df = pd.read_csv(root / name, index_col=0, keep_default_na=False)
    df["path"] = [str(root / p) for p in df["path"]]
    return df


# ----------------------------------------------------------------------------- manifests


def test_manifest_columns_and_obsids(smoke_data: Path) -> None:
    for name in ("lcid_manifest.csv", "blurry_manifest.csv"):
        header = (smoke_data / name).read_text().splitlines()[0]
        assert header.startswith(AUTHOR_HEADER + ",path,subset,blurry,psf_fwhm,snr,morphology,"
                                 "defects,exptime,object_fraction,lookalike,condition,exposure,"
                                 "edge_view,detected_fraction")
    lcid, blurry = _manifest(smoke_data), _manifest(smoke_data, "blurry_manifest.csv")
    assert set(lcid["Label"]) == {"galaxy", "NSC"}
    assert set(lcid["HDU Index"]) <= {1, 4}
    assert set(lcid["Instrument"]) == {"ACS/WFC", "WFC3/UVIS"}
    assert all(re.fullmatch(r"SIM-[GN]\d{3}", b) for b in lcid["ID"])
    assert all(re.fullmatch(r"SIM-B[GN]\d{3}", b) for b in blurry["ID"])
    assert len(blurry) > 0 and blurry["blurry"].all()
    assert lcid["blurry"].any() and not lcid["blurry"].all()  # LCID holds some blurry samples
    for _, row in pd.concat([lcid, blurry]).iterrows():
        prefix = "j" if row["Instrument"] == "ACS/WFC" else "i"
        assert re.fullmatch(prefix + r"[a-z0-9]{7}q", row["OBSID"])
        assert Path(row["path"]).name == f"{row['OBSID']}_raw.fits"
        assert Path(row["path"]).is_file()
        assert row["blurry"] == (row["snr"] < BLURRY_SNR)  # blur is low S/N, nothing else
        assert 0.0 <= row["object_fraction"] <= 1.0
        assert row["edge_view"] == (row["object_fraction"] < 0.3)
        assert row["detected_fraction"] >= 0.02  # every labelled chip shows its object
    # one OBSID per file, one row per (file, HDU)
    allrows = pd.concat([lcid, blurry])
    assert not allrows.duplicated(["OBSID", "HDU Index"]).any()
    assert allrows.groupby("OBSID")["path"].nunique().max() == 1


def test_chip_positions_from_pointing(smoke_data: Path) -> None:
    lcid = _manifest(smoke_data)
    for obsid, rows in lcid.groupby("OBSID"):
        body = make_body(0, rows["ID"].iloc[0])
        for _, row in rows.iterrows():
            sep = np.hypot((row["RA"] - body.ra) * np.cos(np.radians(body.dec)),
                           row["DEC"] - body.dec) * 3600
            assert sep < 1500, (obsid, sep)  # within the body's reach
            hdu = int(row["HDU Index"])
            with fits.open(row["path"]) as hdul:
                head = hdul[hdu].header
                assert head["EXTNAME"] == "SCI"
                assert hdul[0].header["ROOTNAME"] == obsid
                assert hdul[0].header["TARGNAME"] == row["ID"]
            # the manifest's RA/DEC is the chip centre of the file's WCS, and the scene is
            # drawn where that WCS puts it (to 0.05 pixel)
            wcs = WCS(head)
            lay = detector(row["Instrument"]).chips[hdu]
            n_rows = lay.science_rows[1] - lay.science_rows[0]
            ra, dec = wcs.all_pix2world(lay.ltv[0] + 2047.5, lay.science_rows[0]
                                        + (n_rows - 1) / 2, 0)
            assert abs(ra - row["RA"]) * 3600 * np.cos(np.radians(dec)) < 0.01
            assert abs(dec - row["DEC"]) * 3600 < 0.01
            _, scene = body_scene(0, body.name)
            grid = chip_grid(make_exposure(0, body, int(row["exposure"]), scene.extent), hdu,
                             body)
            x, y = wcs.all_world2pix(body.ra, body.dec, 0)
            r, c = grid.to_pixels(np.zeros(1), np.zeros(1))
            assert abs(float(x) - (c[0] + lay.ltv[0])) < 0.05
            assert abs(float(y) - (r[0] + lay.science_rows[0])) < 0.05
            if row["Instrument"] == "WFC3/UVIS":  # the B/D half: alternate WCS "B" is exact
                wcs_b = WCS(head, key="B")
                col = 3000.0  # a sample column in the B/D half
                ra_b, dec_b = wcs_b.all_pix2world(col - 2048 + lay.amps[1].science_cols[0],
                                                  lay.science_rows[0] + 100.0, 0)
                r, c = grid.to_pixels(*_sky_offsets(body, float(ra_b), float(dec_b)))
                assert abs(c[0] - col) < 0.05 and abs(r[0] - 100.0) < 0.05
                ra_a, _ = wcs.all_pix2world(col - 2048 + lay.amps[1].science_cols[0],
                                            lay.science_rows[0] + 100.0, 0)
                assert abs(float(ra_a) - float(ra_b)) * 3600 > 1.0  # primary WCS is off there
        if len(rows) == 2:  # the two chips see different parts of the sky (~100 arcsec apart)
            ra, dec = rows["RA"].to_numpy(), rows["DEC"].to_numpy()
            sep = np.hypot(np.diff(ra)[0] * np.cos(np.radians(dec[0])), np.diff(dec)[0]) * 3600
            assert 60 < sep < 140


def _sky_offsets(body, ra: float, dec: float) -> tuple[np.ndarray, np.ndarray]:
    """Body-frame (u, v) arcsec of a sky position (gnomonic about the body centre)."""
    from hrcn_lib.simulate.render import _gnomonic_forward

    xi, eta = _gnomonic_forward(body.ra, body.dec, ra, dec)
    return np.array([xi * 3600.0]), np.array([eta * 3600.0])


def test_obsids_unique_and_deterministic() -> None:
    bodies = catalogue(3, 48, 23, 10, 8)
    ids = {make_obsid(3, b, i, "ACS/WFC") for b in bodies for i in range(60)}
    assert len(ids) == len(bodies) * 60
    assert all(re.fullmatch(r"j[a-z0-9]{7}q", x) for x in ids)
    assert make_obsid(3, bodies[5], 7, "WFC3/UVIS") == make_obsid(3, bodies[5], 7, "WFC3/UVIS")
    assert {b.morphology for b in bodies if b.label == "galaxy"} >= {
        "spiral", "barred_spiral", "elliptical", "lenticular", "irregular", "edge_on"}
    assert {b.morphology for b in bodies if b.label == "NSC"} >= {
        "globular_cluster", "open_cluster", "emission_nebula", "planetary_nebula",
        "young_massive_cluster"}


# ----------------------------------------------------------------------------- detector


def test_overscan_holds_bias_and_read_noise(smoke_data: Path) -> None:
    """Prescan/overscan: the exposure's bias (drifting by a few DN between exposures), read
    noise, the start-of-line decay of the first columns read, no science signal."""
    lcid = _manifest(smoke_data)
    levels = {}
    for inst in ("ACS/WFC", "WFC3/UVIS"):
        det = detector(inst)
        for path in lcid[lcid["Instrument"] == inst]["path"].unique()[:2]:
            with fits.open(path) as hdul:
                for hdu in SCIENCE_HDUS:
                    data = hdul[hdu].data.astype(np.float64)
                    lay = det.chips[hdu]
                    rows = slice(*lay.science_rows)
                    for amp in lay.amps:
                        el = det.electronics[amp.name]
                        over = data[rows, amp.bias_cols[0]:amp.bias_cols[1]]
                        assert abs(np.median(over) - el.bias) < 15, (inst, hdu, amp.name)
                        expect = np.sqrt((el.read_noise / el.gain) ** 2 + 1 / 12)
                        clipped = over[np.abs(over - np.median(over)) < 5 * expect]
                        # read noise, plus the bias's column pattern and striping (< 1 DN)
                        assert expect < clipped.std() < 1.3 * expect, (inst, hdu, amp.name)
                        levels.setdefault((inst, hdu, amp.name), []).append(np.median(over))
                        # the first columns read are raised and decay towards the bias
                        first = amp.raw_cols[0] if amp.corner[1] == 0 else amp.raw_cols[1] - 1
                        step = 1 if amp.corner[1] == 0 else -1
                        prof = [np.median(data[rows, first + k * step]) for k in range(20)]
                        assert prof[0] >= np.median(prof[12:]) + 2, (inst, hdu, amp.name)
                        assert np.mean(prof[:3]) > np.mean(prof[3:6]) > np.mean(prof[12:]) - 1
    drift = [abs(v[0] - v[1]) for v in levels.values() if len(v) == 2]
    assert drift and max(drift) > 0.5  # bias levels differ between exposures


def test_cosmic_rays_have_handbook_rates_and_shapes() -> None:
    """1.5-3 % of pixels hit per 1000 s (ACS IHB), ~4-5 pixels and ~1000 e- per event,
    compact blobs with a tail of long tracks and curved worms."""
    from scipy import ndimage

    from hrcn_lib.simulate.cosmics import HIT_THRESHOLD, add_cosmic_rays

    rng = np.random.default_rng(1)
    img = np.zeros((2048, 4096), np.float32)
    charge, n = add_cosmic_rays(rng, img, 1000.0, want_image=True)
    hit = charge > HIT_THRESHOLD
    assert 0.015 <= hit.mean() <= 0.03
    assert np.array_equal(img, charge)
    labels, n_lab = ndimage.label(charge > 15.0, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    totals = ndimage.sum(charge, labels, np.arange(1, n_lab + 1))
    assert 3 <= np.median(np.bincount(ndimage.label(hit, np.ones((3, 3)))[0].ravel())[1:]) <= 7
    assert 700 < np.median(totals) < 1400
    assert (sizes > 30).mean() > 0.01 and (sizes <= 12).mean() > 0.6  # blobs + long tracks
    # worms are curved: their pixels do not lie on one line (second moment ratio)
    bent = 0
    for k in np.flatnonzero(sizes > 40)[:200]:
        rr, cc = np.nonzero(labels == k + 1)
        ev = np.linalg.eigvalsh(np.cov(np.stack([rr, cc])))
        bent += ev[0] / ev[1] > 0.05
    assert bent > 0


def test_bleed_trails_run_along_columns() -> None:
    from hrcn_lib.simulate.kernels import bleed_columns

    img = np.full((200, 50), 100.0, np.float32)
    img[100, 20] = 10 * 1000.0
    total = img.sum()
    assert bleed_columns(img, 1000.0) == 1
    assert img.sum() == pytest.approx(total)
    assert (img[:, 20] >= 1000.0).sum() >= 8 and (img[:, [19, 21]] >= 1000.0).sum() == 0
    assert img.max() <= 1000.0


# ----------------------------------------------------------------------------- scenes


def test_globular_cluster_star_counts_follow_king_profile() -> None:
    body, scene = body_scene(0, "SIM-N001")
    assert body.morphology == "globular_cluster"
    n = scene.notes["n_cluster"]
    r = np.hypot(scene.stars.u[:n], scene.stars.v[:n])
    rc, rt = scene.notes["rc"], scene.notes["rt"]
    assert stats.kstest(r, lambda x: king_cdf(x, rc, rt)).pvalue > 0.01
    # binned counts agree with the King expectation (chi^2 per bin ~ 1)
    edges = np.concatenate([[0], np.geomspace(rc / 4, rt, 12)])
    counts, _ = np.histogram(r, edges)
    expect = n * np.diff(king_cdf(edges, rc, rt))
    chi2 = ((counts - expect) ** 2 / np.maximum(expect, 1)).sum()
    assert chi2 / len(counts) < 3.0
    # and the profile is not a Plummer-like one with the same core (King is truncated at rt)
    assert r.max() <= rt


def test_elliptical_radial_profile_follows_sersic_index() -> None:
    body, scene = body_scene(0, "SIM-G002")
    assert body.morphology == "elliptical"
    n_true, re_, q, pa = (scene.notes[k] for k in ("n", "re", "q", "pa"))
    grid = ChipGrid((2048, 4096), -2047.5, -1023.5, 0.05, 0.0, 0.0, 0.0)  # centred on the body
    signal = render_signal(scene, grid, "ACS/WFC", "F814W", 500.0, psf_model(0.05, "F814W"),
                           3).signal
    noisy = np.random.default_rng(2).poisson(signal + 60.0).astype(np.float32) - 60.0
    rows, cols = np.mgrid[0:2048:2, 0:4096:2]
    u = -0.05 * (cols - 2047.5)
    v = 0.05 * (rows - 1023.5)
    c, s = np.cos(np.radians(pa)), np.sin(np.radians(pa))
    rad = np.hypot(u * c + v * s, (-u * s + v * c) / q)
    img = noisy[::2, ::2]
    edges = np.geomspace(0.15 * re_, min(1.5 * re_, 48.0), 16)
    mid = np.sqrt(edges[1:] * edges[:-1])
    prof = np.array([np.median(img[(rad >= a) & (rad < b)]) for a, b in zip(edges[:-1], edges[1:],
                                                                           strict=True)])

    def model(r, log_ie, n):
        return log_ie - sersic_bn(n) * ((r / re_) ** (1 / n) - 1) / np.log(10)

    (_, n_fit), _ = curve_fit(model, mid, np.log10(prof), p0=(np.log10(prof[len(prof) // 2]), 3))
    assert n_fit == pytest.approx(n_true, rel=0.15)


# ----------------------------------------------------------------------------- blur


def _star_fwhm(signal: np.ndarray, scale: float, k: int = 15) -> float:
    """Median half-maximum FWHM (arcsec) of the 40 brightest isolated, unsaturated stars."""
    from scipy.ndimage import maximum_filter

    from hrcn_lib.simulate.psf import measure_fwhm

    peaks = (signal == maximum_filter(signal, size=2 * k + 1)) & (signal > 0)
    r, c = np.nonzero(peaks[k:-k, k:-k])
    r, c = r + k, c + k
    order = np.argsort(signal[r, c])[::-1][:40]
    out = []
    for i in order:
        cut = signal[r[i] - k:r[i] + k + 1, c[i] - k:c[i] + k + 1].astype(np.float64)
        cut = cut - np.median(np.concatenate([cut[0], cut[-1], cut[:, 0], cut[:, -1]]))
        out.append(measure_fwhm(cut, scale))
    return float(np.median(out))


def test_blur_is_low_snr_and_the_psf_stays_sharp(smoke_data: Path) -> None:
    """The same exposure, long and short: same PSF (measured), lower S/N, blurry only when
    short; blurry rows of the dataset have low contrast after preprocessing."""
    body, scene = body_scene(0, "SIM-N003")  # an open cluster: isolated stars
    exp = make_exposure(0, body, 0, scene.extent)
    exp = dataclasses.replace(exp, exptime=300.0, satellite=False)
    long_ = render_exposure(0, body.name, 0, keep_signal=True, exposure=exp)
    short = render_exposure(0, body.name, 0, keep_signal=True,
                            exposure=dataclasses.replace(exp, exptime=0.5))
    scale = detector(exp.instrument).pixel_scale
    f_long = _star_fwhm(long_.signal[4], scale)
    assert f_long == pytest.approx(long_.rows[1]["psf_fwhm"], rel=0.25)
    assert long_.rows[1]["psf_fwhm"] == short.rows[1]["psf_fwhm"]  # no defocus, no jitter
    assert short.rows[1]["snr"] < 0.1 * long_.rows[1]["snr"]
    assert not long_.rows[1]["blurry"] and short.rows[1]["blurry"]
    from hrcn_lib.preprocess import load_sample

    lcid = _manifest(smoke_data)
    low = lcid[lcid["blurry"]]
    high = lcid[lcid["snr"] > 2.0]
    assert len(low) and len(high)

    def contrast(rows: pd.DataFrame) -> float:
        return float(np.median([np.percentile(load_sample(p, h), 99)
                                for p, h in zip(rows["path"], rows["HDU Index"], strict=True)]))

    assert contrast(low) < contrast(high)


# ----------------------------------------------------------------------------- files


def test_regenerated_file_is_byte_identical(smoke_data: Path, tmp_path: Path) -> None:
    lcid = _manifest(smoke_data)
    row = lcid.iloc[0]
    path = simulate_file(tmp_path, 0, row["ID"], int(row["exposure"]))
    assert path.name == Path(row["path"]).name
    assert path.read_bytes() == Path(row["path"]).read_bytes()
    other = simulate_file(tmp_path / "s1", 1, row["ID"], int(row["exposure"]))
    assert other.read_bytes() != path.read_bytes()


def test_preprocessing_turns_every_hdu_into_a_sample(smoke_data: Path) -> None:
    from hrcn_lib import preprocess

    files = sorted((smoke_data / "raw").glob("*_raw.fits"))
    log = pd.read_csv(smoke_data / "screening.csv")
    written = log.groupby("obsid")["screening"].apply(lambda x: (x == "selected").any())
    assert len(files) == int(written.sum()) >= 8  # files with at least one selected chip
    for path in files:
        with fits.open(path) as hdul:
            inst = "ACS/WFC" if hdul[0].header["INSTRUME"] == "ACS" else "WFC3/UVIS"
            raws = {h: hdul[h].data.astype(np.float32) for h in SCIENCE_HDUS}
        for hdu in SCIENCE_HDUS:
            lay = detector(inst).chips[hdu]
            sample = preprocess.load_sample(path, hdu)
            assert sample.shape == (2048, 4096) and sample.dtype == np.float32
            assert np.isfinite(sample).all()
            sci = preprocess.extract_science(path, hdu)
            expect = np.hstack([raws[hdu][lay.keep_rows[0]:lay.keep_rows[1], a:b]
                                for a, b in lay.science_col_blocks])
            np.testing.assert_array_equal(sci, expect)  # exactly the science pixels, no overscan


def test_screening_keeps_only_chips_that_show_their_object() -> None:
    """Off the object: not rendered; on it but undetectable (too short an exposure in a
    mismatched filter): rejected; the same pointing and filter with a long exposure: kept."""
    body, scene = body_scene(0, "SIM-N004")
    exp = make_exposure(0, body, 0, scene.extent)
    far = dataclasses.replace(exp, offset_u=scene.extent * 4, offset_v=0.0)
    out = render_exposure(0, body.name, 0, exposure=far, screen_first=True)
    assert not out.selected and out.chips == {}
    assert all(r["screening"] == "off_object" for r in out.rows)
    centre = dataclasses.replace(exp, offset_u=0.0, offset_v=0.0, satellite=False,
                                 filter="F814W", instrument="WFC3/UVIS")
    faint = render_exposure(0, body.name, 0, exposure=dataclasses.replace(centre, exptime=0.5))
    deep = render_exposure(0, body.name, 0, exposure=dataclasses.replace(centre, exptime=1500.0))
    best = max(faint.rows, key=lambda r: r["object_fraction"])
    assert best["screening"] == "undetected" and best["detected_fraction"] < 0.02
    best = max(deep.rows, key=lambda r: r["object_fraction"])
    assert best["screening"] == "selected" and best["detected_fraction"] > 0.1


@pytest.mark.parametrize("sizes, kwargs, message", [
    ("a profile name", {}, "sizes must be a DatasetSizes"),
    ({"bodies_galaxy": -1}, {}, "bodies_galaxy must be between"),
    ({"exposures_per_body": 0}, {}, "exposures must be between"),
    ({"bodies_nsc": 2.5}, {}, "bodies_nsc must be an integer"),
    ({"bodies_galaxy": 0, "bodies_nsc": 0}, {}, "at least one body"),
    ({"exposures_per_body": 9999, "bodies_galaxy": 9999}, {}, "not enough disk space"),
    ({}, {"jobs": 0}, "jobs must be"),
    ({}, {"seed": -1}, "seed must be"),
])
def test_bad_input_fails_before_writing(tmp_path: Path, sizes, kwargs: dict, message: str) -> None:
    from hrcn_lib.profiles import get_profile

    out = tmp_path / "out"
    if isinstance(sizes, dict):
        sizes = dataclasses.replace(DatasetSizes.of(get_profile("smoke")), **sizes)
    with pytest.raises(SimulationError, match=message):
        simulate_dataset(out, sizes, **kwargs, progress=False)
    assert not out.exists()


def test_dataset_sizes_of_a_profile_with_overrides() -> None:
    from hrcn_lib.profiles import get_profile

    prof = get_profile("cpu")
    sizes = DatasetSizes.of(prof, bodies_galaxy=3, exposures_per_body=None)
    assert sizes.bodies_galaxy == 3 and sizes.exposures_per_body == prof.exposures_per_body
    assert sizes.nsc_exposure_factor == prof.nsc_exposure_factor
    assert sizes.files == ((3 + prof.bodies_nsc * prof.nsc_exposure_factor)
                           * prof.exposures_per_body
                           + (prof.blurry_bodies_galaxy + prof.blurry_bodies_nsc)
                           * prof.blurry_exposures_per_body)
    with pytest.raises(SimulationError, match="holds no dataset sizes"):
        DatasetSizes.of(object())


def test_unwritable_output_and_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SimulationError, match="is a file, so no folder can be made"):
        simulate_dataset(blocker / "sub", DatasetSizes(1, 1, 1), progress=False)
    with pytest.raises(SimulationError, match="exists and is not a folder"):
        simulate_dataset(blocker, DatasetSizes(1, 1, 1), progress=False)
    assert blocker.read_text() == "x"
    from hrcn_lib.cli import main

    assert main(["simulate", "--profile", "nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown profile 'nope'" in err[0]
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="not an LCID-sim name"):
        simulate_file(tmp_path, 0, "NGC628", 0)


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_nsc_bodies_get_the_profiles_exposure_factor(profile: str) -> None:
    from collections import Counter

    from hrcn_lib.profiles import get_profile

    prof = get_profile(profile)
    tasks, sizes = plan(DatasetSizes.of(prof))
    per_body = Counter(name for name, _ in tasks)
    galaxy = {n for n in per_body if n.startswith("SIM-G")}
    nsc = {n for n in per_body if n.startswith("SIM-N")}
    assert len(galaxy) == prof.bodies_galaxy and len(nsc) == prof.bodies_nsc
    assert {per_body[n] for n in galaxy} == {prof.exposures_per_body}
    assert {per_body[n] for n in nsc} == {prof.exposures_per_body * prof.nsc_exposure_factor}
    assert sizes["files"] == len(tasks)
    # exposure indices of a body are 0..k-1, so any file can be regenerated from its index
    assert sorted(i for name, i in tasks if name in nsc and name.endswith("001")) == list(
        range(prof.exposures_per_body * prof.nsc_exposure_factor))


def test_realism_measurements_on_the_smoke_data(smoke_data: Path) -> None:
    """The chapter-1 measurements run on a dataset and land where the handbooks say."""
    from hrcn_lib.manifest import read_manifest
    from hrcn_lib.simulate import realism

    lcid = read_manifest(smoke_data / "lcid_manifest.csv")
    table = realism.handbook_table(lcid, seed=0, n_sky=1, cr_trials=1)
    for quantity in ("read noise", "cosmic-ray pixels per 1000 s", "saturation"):
        rows = table[table["quantity"] == quantity]
        assert len(rows) >= 1, quantity
        for _, r in rows.iterrows():  # every measured value within the published range
            assert r["published_low"] * 0.97 <= r["measured"] <= r["published_high"] * 1.03, r
    assert set(table.loc[table["quantity"] == "sky", "unit"]) == {"e-/s/pixel"}
    psf = table[table["quantity"] == "PSF FWHM"]
    assert (psf["measured"] < psf["measured_pixelated"]).all()
    stats = realism.statistics_table(lcid)
    aucs = realism.single_statistic_auc(stats)
    assert set(aucs["feature"]) == set(realism.FEATURES)
    assert aucs["auc"].is_monotonic_decreasing and (aucs["auc"] >= 0.5).all()
    sep = realism.separability(stats, folds=2)
    assert 0.0 <= sep["logreg_accuracy"] <= 1.0 and sep["bodies"] == lcid["body"].nunique()
    det = realism.detectability(lcid, smoke_data / "screening.csv")
    assert det.set_index("subset").loc["all", "labelled"] == len(lcid)
    assert 0.0 <= det.set_index("subset").loc["all", "rejected_fraction"] < 1.0
    fine = realism.fine_scale_variance(lcid, n_per_class=1)
    assert set(fine["label"]) == {"galaxy", "NSC"}
    assert ((fine["linear"] > 0) & (fine["linear"] < 1) & (fine["stretched"] < 1)).all()
    crops = realism.resolution_crops(lcid)
    assert len(crops) == lcid.groupby(["label", "morphology"]).ngroups
    assert all(c["crop"].shape == (400, 400) and c["resized"].shape == (224, 448)
               for c in crops)
