"""LCID-sim physics, piece by piece: PSF, charge transfer, textures, populations, context,
nebula masks, headers, detector response. (Dataset-level checks: test_simulate.py.)"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from astropy.io import fits

from hrcn_lib.instruments import detector
from hrcn_lib.simulate import kernels
from hrcn_lib.simulate.bodies import make_body
from hrcn_lib.simulate.context import (
    background_galaxies,
    extinction_av,
    field_star_density,
    galactic,
)
from hrcn_lib.simulate.populations import population
from hrcn_lib.simulate.psf import R_IN, R_OUT, halo_kernel, psf_model
from hrcn_lib.simulate.render import body_scene, render_exposure
from hrcn_lib.simulate.textures import band_sigma, power_law_field


def _radial_profile(img: np.ndarray, centre: tuple[float, float], r_max: int) -> np.ndarray:
    y, x = np.indices(img.shape)
    r = np.hypot(y - centre[0], x - centre[1])
    ang = np.arctan2(y - centre[0], x - centre[1]) % (np.pi / 2)
    off = np.abs(ang - np.pi / 4) > 0.3  # away from the spikes
    b = np.rint(r).astype(int)
    keep = off & (b < r_max)
    return np.bincount(b[keep], img[keep], r_max) / np.maximum(np.bincount(b[keep], None, r_max), 1)


def test_bright_star_has_no_truncation_edge_and_spikes_reach_the_chip_edge() -> None:
    """A saturating star: core stamp + r^-3 halo + spikes join smoothly (no step at the stamp
    edge) and the spikes run far beyond the stamp."""
    from hrcn_lib.simulate.scene import (
        Blobs,
        ChipGrid,
        Galaxies,
        PointSources,
        Scene,
        render_signal,
    )

    star = PointSources(np.zeros(1), np.zeros(1), np.array([2e7], np.float32),
                        np.zeros(1, np.float32))
    scene = Scene(lambda u, v: {}, lambda u, v: np.zeros_like(u), star, Blobs.empty(),
                  PointSources.empty(), Galaxies.empty(), 10.0)
    grid = ChipGrid((1024, 2048), -1023.5, -511.5, 0.05, 0.0, 0.0, 0.0)
    psf = psf_model(0.05, "F606W")
    sig = render_signal(scene, grid, "ACS/WFC", "F606W", 100.0, psf, 1).signal
    prof = _radial_profile(sig, (511.5, 1023.5), 200)
    smooth = np.convolve(prof, np.ones(6) / 6, mode="same")  # average over diffraction rings
    ring = smooth[int(R_IN) - 8:int(R_OUT) + 12]
    steps = ring[1:] / ring[:-1]
    assert np.all(steps < 1.03) and np.all(steps > 0.75)  # falls smoothly through the seam
    assert prof[150] > 0 and prof[60] / prof[150] == pytest.approx((150 / 60) ** 3, rel=0.35)
    # a spike at 45 degrees, 400 pixels out, stands above the halo beside it
    d = int(400 / math.sqrt(2))
    on = sig[511 + d, 1023 + d]
    off = sig[511 + d, 1023 + d - 12]
    assert on > 3 * off > 0
    assert psf.far == pytest.approx(halo_kernel(psf.far, 8, 256).sum(), rel=1e-3)


def test_psf_breathing_changes_the_core_by_a_few_percent() -> None:
    focus = [psf_model(0.05, "F814W", f) for f in (-4.0, 0.0, 4.0)]
    peaks = np.array([m.peak for m in focus])
    assert 0.01 < 1 - peaks[[0, 2]].max() / peaks[1] < 0.15
    fwhm = np.array([m.fwhm for m in focus])
    assert np.all(fwhm[[0, 2]] >= fwhm[1])
    # redder filters are wider (diffraction), UVIS pixels are finer than ACS's
    assert psf_model(0.05, "F814W").fwhm_optical > psf_model(0.05, "F435W").fwhm_optical
    assert 0.06 < psf_model(0.04, "F606W").fwhm_optical < 0.09


def test_cte_trails_away_from_the_register_and_keeps_the_charge() -> None:
    img = np.full((400, 8), 2.0, np.float32)
    img[300, 3] += 500.0
    before = float(img.sum())
    virt = kernels.cte_trails(img, 0, 1, 1, density=0.05, q_c=50.0, release=10.0, n_virtual=20)
    # charge is conserved but for what is still trapped after the 20 virtual rows
    assert float(img.sum() + virt.sum()) == pytest.approx(before, rel=5e-3)
    assert img[300, 3] < 500.0  # the star lost charge ...
    assert img[301:330, 3].sum() - img[301:330, 2].sum() > 2.0  # ... into a trail behind it
    assert abs(img[280:300, 3].sum() - img[280:300, 2].sum()) < 1.0  # nothing ahead of it
    # a bright sky fills the traps: a star on it loses less
    bright = np.full((400, 8), 200.0, np.float32)
    bright[300, 3] += 500.0
    kernels.cte_trails(bright, 0, 1, 1, 0.05, 50.0, 10.0, 20)
    assert bright[300, 3] - 200.0 > img[300, 3] - 2.0


def test_textures_have_the_power_law_spectrum_they_claim() -> None:
    rng = np.random.default_rng(0)
    beta = 2.8
    field = power_law_field(rng, 512, beta).astype(np.float64)
    power = np.abs(np.fft.rfft2(field)) ** 2
    kx = np.fft.fftfreq(512)[:, None]
    ky = np.fft.rfftfreq(512)[None, :]
    k = np.hypot(kx, ky)
    bins = np.geomspace(0.01, 0.2, 12)
    idx = np.digitize(k.ravel(), bins)
    mean = np.array([power.ravel()[idx == i].mean() for i in range(1, len(bins))])
    mid = np.sqrt(bins[1:] * bins[:-1])
    slope = np.polyfit(np.log(mid), np.log(mean), 1)[0]
    assert slope == pytest.approx(-beta, abs=0.3)
    coarse, fine = band_sigma(1.0, beta, 1.0, 1000.0)
    assert coarse**2 + fine**2 == pytest.approx(1.0)
    assert 0.0 < fine < 0.3  # small scales hold a small share of a steep spectrum's variance


def test_nearer_galaxies_resolve_into_more_stars() -> None:
    pop = population("old", 10.0)
    total = 1e6  # e-/s of the component's light at 3 Mpc; the same galaxy at 20 Mpc is dimmer
    near = pop.split(3000.0, total, 10**7)
    far = pop.split(20000.0, total * (3.0 / 20.0) ** 2, 10**7)
    assert near[1] > 10 * far[1] and near[2] > far[2]  # more stars, more of the light
    assert far[3] > 0  # the unresolved light of a distant galaxy fluctuates (SBF)
    budget = pop.split(3000.0, total, 1000)
    assert budget[1] <= 1000 and budget[0] > near[0]


def test_context_follows_galactic_latitude_for_both_classes() -> None:
    assert field_star_density(30.0, 2.0) > 5 * field_star_density(30.0, 60.0)
    assert field_star_density(0.0, 5.0) > field_star_density(180.0, 5.0)  # the bulge
    assert extinction_av(3.0) > 5 * extinction_av(80.0)
    ell, b = galactic(266.405, -28.936)  # Sgr A*
    assert abs(b) < 0.2 and (ell < 0.5 or ell > 359.5)
    rng = np.random.default_rng(1)
    assert 0.03 < len(background_galaxies(rng, 100.0)) / 200.0**2 < 0.12
    from hrcn_lib.simulate.bodies import catalogue

    bodies = catalogue(0, 30, 30)
    for label in ("galaxy", "NSC"):
        scenes = [body_scene(0, b.name)[1] for b in bodies if b.label == label][:3]
        assert all(len(s.field) and len(s.galaxies) for s in scenes)
    nsc_b = [abs(b.gal_b) for b in bodies if b.label == "NSC" and not b.host]
    gal_b = [abs(b.gal_b) for b in bodies if b.label == "galaxy"]
    assert np.median(nsc_b) < np.median(gal_b)  # Galactic clusters/nebulae hug the plane
    hosted = [b for b in bodies if b.host]
    assert hosted and all("in_galaxy" in b.lookalike for b in hosted)


def test_nebula_clouds_are_fractal_masks_with_source_facing_rims() -> None:
    body, scene = next((b, s) for b, s in (body_scene(0, f"SIM-N{i:03d}") for i in range(1, 40))
                       if b.morphology == "emission_nebula" and b.params["polar"])
    p = body.params
    half = 0.8 * p["radius"]
    g = np.linspace(-half, half, 600, dtype=np.float32)
    u, v = np.meshgrid(g, g)
    comps = scene.smooth(u, v)
    cloud = comps["cloud"] > scene.diffuse.threshold
    assert 0.01 < cloud.mean() < 0.5
    # irregular outline: perimeter^2 / area far above a disc's 4 pi
    edge = cloud ^ np.roll(cloud, 1, 0) | cloud ^ np.roll(cloud, 1, 1)
    assert edge.sum() ** 2 / cloud.sum() > 20 * 4 * np.pi
    # rims are brighter on the cloud edges facing the ionising source
    du, dv = u - p["src_u"], v - p["src_v"]
    rim = comps["rim"]
    toward = rim[np.roll(cloud, 2, 0) & ~cloud].mean() + rim[np.roll(cloud, -2, 0) & ~cloud].mean()
    assert np.isfinite(toward) and rim.max() > 0
    assert np.corrcoef(rim[rim > 0], -np.hypot(du, dv)[rim > 0])[0, 1] > 0  # lit by the source


def test_raw_header_has_the_pipeline_keywords(tmp_path) -> None:
    from hrcn_lib.preprocess import read_header_info
    from hrcn_lib.simulate import simulate_file

    for name in ("SIM-G001", "SIM-N002"):
        path = simulate_file(tmp_path, 0, name, 0)
        with fits.open(path) as hdul:
            h = hdul[0].header
            assert len(h) > 180
            for key in ("EXPSTART", "EXPEND", "DATE-OBS", "TIME-OBS", "DARKTIME", "OBSTYPE",
                        "TARGNAME", "CCDOFSTA", "CCDOFSTB", "CCDOFSTC", "CCDOFSTD", "BLEVCORR",
                        "DARKCORR", "FLATCORR", "BIASFILE", "DARKFILE", "PFLTFILE", "OSCNTAB",
                        "CCDTAB", "FLASHDUR", "FLASHSTA", "PROPOSID", "PA_V3"):
                assert key in h, (name, key)
            assert h["EXPEND"] - h["EXPSTART"] == pytest.approx(
                (h["EXPTIME"] + 0.2) / 86400.0, abs=2e-8)
            from astropy.time import Time

            t = Time(h["EXPSTART"], format="mjd").to_value("iso", subfmt="date_hms")
            assert t[:10] == h["DATE-OBS"] and t[11:19] == h["TIME-OBS"]
            assert h["DARKTIME"] > h["EXPTIME"]
            assert h["BIASFILE"].startswith(("jref$", "iref$"))
            assert hdul[1].header["ORIENTAT"] == pytest.approx(hdul[4].header["ORIENTAT"])
        info = read_header_info(path, 1)
        assert info.target == name and info.exptime == h["EXPTIME"]


def test_response_map_imprints_pixel_area_and_flat() -> None:
    from hrcn_lib.simulate.detector import PAM_RANGE, response_map

    for inst in ("ACS/WFC", "WFC3/UVIS"):
        resp = response_map(inst, 4)
        lo, hi = np.percentile(resp, [1, 99])
        assert 1 - 1.6 * PAM_RANGE[inst] < lo < 1 < hi < 1 + 1.6 * PAM_RANGE[inst]
        assert hi - lo > PAM_RANGE[inst]  # the distortion's area change shows
        pixel = np.std(resp[1000:1010, 1000:1010] - resp[1001:1011, 1000:1010]) / math.sqrt(2)
        assert 0.002 < pixel < 0.01  # pixel-to-pixel flat
        assert (resp < 0.95).mean() > 1e-4  # dust motes and weak columns


def test_stripes_are_common_to_both_chips_in_readout_order() -> None:
    """ACS post-SM4: the striping of a row is shared by the four amplifiers; chip 1 reads
    its rows in reverse raw order."""
    body, scene = body_scene(0, "SIM-G001")
    from hrcn_lib.simulate.exposures import make_exposure

    exp = make_exposure(0, body, 0, scene.extent)
    exp = dataclasses.replace(exp, instrument="ACS/WFC", filter="F606W", mjd=58000.0,
                              exptime=50.0, satellite=False)
    out = render_exposure(0, body.name, 0, exposure=exp)
    det = detector("ACS/WFC")
    rows = {}
    for hdu in (1, 4):
        lay = det.chips[hdu]
        raw = out.chips[hdu].astype(np.float64)
        pre = [raw[:, a.raw_cols[0] + 19:a.raw_cols[0] + 24].mean(axis=1) if a.corner[1] == 0
               else raw[:, a.raw_cols[1] - 24:a.raw_cols[1] - 19].mean(axis=1) for a in lay.amps]
        # ~0.45 DN of stripes under ~0.9 DN of averaged read noise: r ~ 0.2 (sigma_r ~ 0.02)
        assert np.corrcoef(pre[0], pre[1])[0, 1] > 0.1
        rows[hdu] = pre[0] if hdu == 1 else pre[0][::-1]
    assert np.corrcoef(rows[1], rows[4])[0, 1] > 0.1
    assert abs(np.corrcoef(rows[1], rows[4][::-1])[0, 1]) < 0.07  # not in raw row order


def test_bodies_are_deterministic_and_placed_by_class() -> None:
    a, b = make_body(3, "SIM-N005"), make_body(3, "SIM-N005")
    assert a == b and a.params == b.params
    g = make_body(3, "SIM-G001")
    assert 2_000 < g.distance_kpc < 40_000
