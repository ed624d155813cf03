"""Rendering one exposure: both chips of a raw file, from the body's scene to uint16 DN,
with the manifest rows and the screening of each chip.

:func:`render_exposure` is a pure function of ``(seed, body, index)``: the same
arguments give the same arrays and headers. The order of a chip's life is in
:mod:`.detector`; screening in :mod:`.screening`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field

import numpy as np

from hrcn_lib.instruments import SCIENCE_HDUS, Detector, detector
from hrcn_lib.preprocess import sample_from_raw
from hrcn_lib.simulate import detector as det_model
from hrcn_lib.simulate import kernels
from hrcn_lib.simulate.bodies import Body, make_body
from hrcn_lib.simulate.cosmics import HIT_THRESHOLD, add_cosmic_rays
from hrcn_lib.simulate.exposures import Exposure, is_blurry, make_exposure
from hrcn_lib.simulate.headers import primary_header, sci_extras
from hrcn_lib.simulate.photometry import sky_rate
from hrcn_lib.simulate.psf import PSFModel, psf_model
from hrcn_lib.simulate.rawfile import default_sci_header
from hrcn_lib.simulate.scene import COARSE, ChipGrid, Rendered, Scene, render_signal
from hrcn_lib.simulate.scenes_galaxy import build_galaxy_scene
from hrcn_lib.simulate.scenes_nsc import build_nsc_scene
from hrcn_lib.simulate.screening import (
    COVER_SB,
    CR_DISCOUNT,
    EDGE_VIEW_FRACTION,
    MIN_OBJECT_FRACTION,
    Screening,
    footprint_fraction,
    screen_chip,
)

__all__ = [
    "SimulationError",
    "RenderedExposure",
    "body_scene",
    "chip_grid",
    "render_exposure",
    "GHOST_MIN_E",
]

#: Ghosts are cast by stars brighter than this (e- in the exposure).
GHOST_MIN_E = 5e6
_CTE_QC, _CTE_RELEASE = 50.0, 10.0  # e- and transfers, see kernels.cte_trails


class SimulationError(ValueError):
    """Bad input to the simulator (profile, counts, output folder, disk space)."""


@dataclass
class RenderedExposure:
    """One exposure in memory.

    Attributes:
        exposure: its parameters.
        body: its body.
        chips: ``{1: uint16 raw array, 4: ...}`` (empty when not rendered).
        primary, sci_headers: keywords for :func:`~hrcn_lib.simulate.rawfile.write_raw`.
        rows: one manifest row per chip (``selected`` says whether it passed screening).
        signal: optional ``{hdu: float32 noiseless signal (e-)}`` (``keep_signal``).
        cr_masks: optional ``{hdu: bool mask of cosmic-ray pixels}`` (``keep_signal``).
        screening: ``{hdu: Screening}`` of the rendered chips.
        psf: the exposure's PSF.
    """

    exposure: Exposure
    body: Body
    chips: dict[int, np.ndarray]
    primary: object
    sci_headers: dict[int, dict]
    rows: list[dict]
    signal: dict[int, np.ndarray] = field(default_factory=dict)
    cr_masks: dict[int, np.ndarray] = field(default_factory=dict)
    screening: dict[int, Screening] = field(default_factory=dict)
    psf: PSFModel | None = None

    @property
    def selected(self) -> bool:
        """Whether any chip passed screening."""
        return any(r["selected"] for r in self.rows)


@functools.lru_cache(maxsize=4)
def body_scene(seed: int, name: str) -> tuple[Body, Scene]:
    """The body and its scene (cached per process: scenes hold star catalogues)."""
    body = make_body(seed, name)
    scene = build_galaxy_scene(body) if body.label == "galaxy" else build_nsc_scene(body)
    return body, scene


def chip_grid(exp: Exposure, hdu: int, body: Body | None = None) -> ChipGrid:
    """Pixel <-> body-frame mapping of one chip, consistent with the file's WCS.

    With ``body`` the map is exact to first order across the chip: focal-plane
    offsets go through the file's CD matrix to the sky (tangent plane at the
    pointing) and back to the body's tangent plane (an affine fit over the chip).
    The science columns are contiguous on the sky (the UVIS virtual overscan is not),
    so the grid matches the primary WCS on the A/C half and the alternate WCS ``B``
    on the B/D half of a UVIS chip (:mod:`.rawfile`).
    """
    det = detector(exp.instrument)
    lay = det.chips[hdu]
    head = default_sci_header(exp.instrument, hdu)
    n_rows = lay.science_rows[1] - lay.science_rows[0]
    grid = ChipGrid(shape=(n_rows, 4096), x0=lay.ltv[0] - (head["CRPIX1"] - 1.0),
                    y0=lay.science_rows[0] - (head["CRPIX2"] - 1.0), scale=det.pixel_scale,
                    roll_deg=exp.roll, pu=exp.offset_u, pv=exp.offset_v)
    if body is None:
        return grid
    ra_p, dec_p = _gnomonic_inverse(body.ra, body.dec, exp.offset_u / 3600,
                                    exp.offset_v / 3600)
    cd = grid.matrix / 3600.0
    step = 2000.0
    pts = []
    for x, y in ((0.0, 0.0), (step, 0.0), (0.0, step)):
        ra, dec = _gnomonic_inverse(ra_p, dec_p, cd[0, 0] * x + cd[0, 1] * y,
                                    cd[1, 0] * x + cd[1, 1] * y)
        pts.append(np.array(_gnomonic_forward(body.ra, body.dec, ra, dec)) * 3600.0)
    affine = np.stack([(pts[1] - pts[0]) / step, (pts[2] - pts[0]) / step], axis=1)
    return dataclasses.replace(grid, pu=float(pts[0][0]), pv=float(pts[0][1]),
                               affine=tuple(tuple(float(a) for a in row) for row in affine))


def _gnomonic_forward(ra0: float, dec0: float, ra: float, dec: float) -> tuple[float, float]:
    """Tangent-plane offsets (xi east, eta north; deg) of (ra, dec) about (ra0, dec0)."""
    a0, d0, a, d = (math.radians(t) for t in (ra0, dec0, ra, dec))
    cosc = math.sin(d0) * math.sin(d) + math.cos(d0) * math.cos(d) * math.cos(a - a0)
    xi = math.cos(d) * math.sin(a - a0) / cosc
    eta = (math.cos(d0) * math.sin(d) - math.sin(d0) * math.cos(d) * math.cos(a - a0)) / cosc
    return math.degrees(xi), math.degrees(eta)


def _gnomonic_inverse(ra0: float, dec0: float, xi: float, eta: float) -> tuple[float, float]:
    """Sky position (deg) of tangent-plane offsets (xi east, eta north; deg) about (ra0, dec0)."""
    a0, d0 = math.radians(ra0), math.radians(dec0)
    x, y = math.radians(xi), math.radians(eta)
    denom = math.cos(d0) - y * math.sin(d0)
    ra = a0 + math.atan2(x, denom)
    dec = math.atan2(math.sin(d0) + y * math.cos(d0), math.hypot(x, denom))
    return math.degrees(ra) % 360.0, math.degrees(dec)


def _headers(exp: Exposure, body: Body) -> tuple[object, dict[int, dict], float, float]:
    """Primary header and SCI keywords; returns also the pointing (RA, Dec) in degrees."""
    ra_p, dec_p = _gnomonic_inverse(body.ra, body.dec, exp.offset_u / 3600, exp.offset_v / 3600)
    rng = np.random.default_rng([exp.noise_seed, 7])
    primary = primary_header(
        exp.instrument, rootname=exp.obsid, targname=body.name, ra_targ=body.ra,
        dec_targ=body.dec, filt=exp.filter, exptime=exp.exptime, mjd=exp.mjd, roll=exp.roll,
        proposid=int(10000 + (exp.seed * 131 + body.ordinal * 17) % 7000),
        sun=float(rng.uniform(50, 175)), moon=float(rng.uniform(15, 175)),
        filename=f"{exp.obsid}_raw.fits")
    scale = detector(exp.instrument).pixel_scale / 3600.0
    c, s = math.cos(math.radians(exp.roll)), math.sin(math.radians(exp.roll))
    extras = sci_extras(exp.instrument, exp.roll, ra_p, dec_p)
    sci = {hdu: {"CRVAL1": ra_p, "CRVAL2": dec_p, "CD1_1": -scale * c, "CD1_2": scale * s,
                 "CD2_1": scale * s, "CD2_2": scale * c, **extras}
           for hdu in SCIENCE_HDUS}
    return primary, sci, ra_p, dec_p


def _chip_centre(grid: ChipGrid, ra_p: float, dec_p: float) -> tuple[float, float]:
    """RA/Dec (deg) of the centre of a chip's science area."""
    x = (grid.shape[1] - 1) / 2.0 + grid.x0
    y = (grid.shape[0] - 1) / 2.0 + grid.y0
    m = dataclasses.replace(grid, affine=None).matrix  # the file's CD matrix (x 3600)
    return _gnomonic_inverse(ra_p, dec_p, (m[0, 0] * x + m[0, 1] * y) / 3600,
                             (m[1, 0] * x + m[1, 1] * y) / 3600)


def _coverage_fraction(scene: Scene, grid: ChipGrid) -> float:
    u, v = grid.coarse_uv(COARSE)
    return footprint_fraction(scene.coverage(u, v))


def _snr(signal: np.ndarray, coverage: np.ndarray, background: float, read_noise: float) -> float:
    """Root-mean-square per-pixel S/N of the object signal over the (coarse) object mask.

    ``sqrt(mean(S^2 / (S + background + RN^2)))`` over the object's pixels
    (sampled at the coarse-pixel centres): dominated by the object's bright
    features (arms, knots, stars), so it means the same for smooth galaxies and
    for sparse star clusters.
    """
    mask = coverage > COVER_SB
    if not mask.any():
        return 0.0
    s = signal[COARSE // 2::COARSE, COARSE // 2::COARSE][: mask.shape[0], : mask.shape[1]]
    s = s[mask[: s.shape[0], : s.shape[1]]].astype(np.float64)
    return float(np.sqrt(np.mean(s * s / (s + background + read_noise**2))))


def _ghost(scene: Scene, grid: ChipGrid, exp: Exposure, rng: np.random.Generator
           ) -> np.ndarray | None:
    """Ghost image (e-/s) of the brightest star on the chip, if it is bright enough."""
    best_rate, best = 0.0, None
    for stars in (scene.stars, scene.field):
        idx, rows, cols = grid.on_chip(stars.u, stars.v, 0.0)
        if not idx.size:
            continue
        rates = stars.rate(exp.instrument, exp.filter, grid.scale)[idx]
        k = int(np.argmax(rates))
        if rates[k] > best_rate:
            best_rate, best = float(rates[k]), (rows[k], cols[k])
    if not exp.ghost or best is None or best_rate * exp.exptime < GHOST_MIN_E:
        return None
    return det_model.ghost_image(grid.shape, best[0], best[1], best_rate, rng)


def _satellite_line(rng: np.random.Generator) -> tuple[float, float, float]:
    """Trail line ``a x + b y + c = 0`` in focal-plane pixels (crosses both chips)."""
    ang = rng.uniform(0, np.pi)
    a, b = -math.sin(ang), math.cos(ang)
    x, y = rng.uniform(-1500, 1500), rng.uniform(-800, 800)
    return a, b, -(a * x + b * y)


@dataclass
class _ExposureState:
    """Per-exposure draws shared by both chips."""

    psf: PSFModel
    bias: dict[str, float]
    stripe: np.ndarray
    sat_line: tuple[float, float, float] | None


@dataclass
class _Chip:
    """A chip between the two phases: its noiseless signal and what goes with it."""

    hdu: int
    grid: ChipGrid
    rend: Rendered
    ghost: bool
    seeds: np.ndarray


def _background(exp: Exposure, det: Detector, grid: ChipGrid) -> float:
    """Sky + dark (e- per pixel) of a chip."""
    return (sky_rate(exp.instrument, exp.filter, grid.scale)
            + det_model.dark_rate(det, exp.mjd)) * exp.exptime


def _signal(exp: Exposure, body: Body, scene: Scene, det: Detector, hdu: int,
            state: _ExposureState, rng: np.random.Generator, exptime: float) -> _Chip:
    """Phase 1 of a chip: the noiseless signal for ``exptime`` seconds."""
    lay = det.chips[hdu]
    grid = chip_grid(exp, hdu, body)
    ghost = _ghost(scene, grid, exp, rng)
    seeds = rng.integers(0, 2**62, 3)
    rend = render_signal(scene, grid, exp.instrument, exp.filter, exptime, state.psf,
                         int(seeds[0]), ghost, lay.keep_rows[0] - lay.science_rows[0])
    return _Chip(hdu, grid, rend, ghost is not None, seeds)


def _target_exptime(exp: Exposure, det: Detector, chips: list[_Chip]) -> float:
    """Exposure time (s) at which the chip with more of the object reaches ``snr_target``
    (the chips' signals are for 1 s)."""
    main = max(chips, key=lambda c: footprint_fraction(c.rend.coverage))
    lay = det.chips[main.hdu]
    rn = float(np.mean([det.electronics[a.name].read_noise for a in lay.amps]))
    rate = (sky_rate(exp.instrument, exp.filter, main.grid.scale)
            + det_model.dark_rate(det, exp.mjd))
    lo, hi = math.log(0.5), math.log(3000.0)
    for _ in range(40):  # the RMS S/N grows monotonically with the exposure time
        mid = 0.5 * (lo + hi)
        t = math.exp(mid)
        snr = _snr(main.rend.signal * np.float32(t), main.rend.coverage, rate * t, rn)
        lo, hi = (mid, hi) if snr < exp.snr_target else (lo, mid)
    return float(np.round(math.exp(0.5 * (lo + hi)), 1))


def _scale(chip: _Chip, t: float) -> None:
    f = np.float32(t)
    chip.rend.signal *= f
    chip.rend.object_view *= f
    chip.rend.context_view *= f


def _detect(exp: Exposure, det: Detector, chip: _Chip, state: _ExposureState,
            rng: np.random.Generator, keep: bool) -> dict:
    """Phase 2 of a chip: noise, defects, raw DN, screening (see :mod:`.detector`)."""
    hdu, grid, rend = chip.hdu, chip.grid, chip.rend
    lay = det.chips[hdu]
    keep_offset = lay.keep_rows[0] - lay.science_rows[0]
    t = exp.exptime
    background = _background(exp, det, grid)
    dark = det_model.dark_rate(det, exp.mjd) * t
    elec = kernels.photon_noise(rend.signal, det_model.response_map(exp.instrument, hdu),
                                background - dark, dark, int(chip.seeds[1]))
    idx, hot = det_model.hot_pixels(exp.instrument, hdu, grid.shape, exp.mjd)
    elec.ravel()[idx] += rng.poisson(hot.astype(np.float64) * t).astype(np.float32)
    cr, n_cr = add_cosmic_rays(rng, elec, t, exp.cr_factor, want_image=True)
    defects = ["hot_pixels", "cte"] + (["cosmic_rays"] if n_cr else [])
    if state.sat_line is not None:
        a, b, c = state.sat_line
        det_model.add_satellite(rng, elec, line=(a, b, c + a * grid.x0 + b * grid.y0),
                                width=float(rng.uniform(1.5, 3.5)),
                                level=float(rng.uniform(200, 3000)))
        defects.append("satellite_trail")
    if kernels.bleed_columns(elec, det.full_well):
        defects.append("saturation")
    if chip.ghost:
        defects.append("ghost")
    first, step, dist0, n_virtual = det_model.readout(lay)
    virt = kernels.cte_trails(elec, first, step, dist0,
                              det_model.cte_density(exp.instrument, exp.mjd), _CTE_QC,
                              _CTE_RELEASE, n_virtual)
    nrow = lay.raw_shape[0]
    stripe = state.stripe[:nrow] if hdu == 1 else state.stripe[:nrow][::-1]
    raw = det_model.chip_to_raw(elec, lay, det, state.bias, np.ascontiguousarray(stripe), virt,
                                int(chip.seeds[2]))
    del elec
    sample = sample_from_raw(raw, exp.instrument, hdu)
    # the screener discounts cosmic-ray hits and the detector's known hot pixels
    sample[cr[keep_offset:keep_offset + sample.shape[0]] > CR_DISCOUNT] = 0.0
    hr, hc = np.divmod(idx, grid.shape[1])
    hr -= keep_offset
    ok = (hr >= 0) & (hr < sample.shape[0])
    sample[hr[ok], hc[ok]] = 0.0
    rn = float(np.mean([det.electronics[a.name].read_noise for a in lay.amps]))
    scr = screen_chip(sample, rend.coverage, rend.object_view, rend.context_view, keep_offset,
                      background, rn)
    snr = _snr(rend.signal, rend.coverage, background, rn)
    return {"raw": raw, "screening": scr, "snr": snr, "defects": ";".join(defects),
            "signal": rend.signal if keep else None, "cr": cr > HIT_THRESHOLD if keep else None}


def render_exposure(seed: int, body_name: str, index: int, *, screen_first: bool = False,
                    keep_signal: bool = False, exposure: Exposure | None = None
                    ) -> RenderedExposure:
    """Render one exposure (both chips) in memory.

    Args:
        seed: master seed.
        body_name: e.g. ``"SIM-G007"``.
        index: exposure number (>= 0).
        screen_first: skip rendering (``chips`` empty) when no chip has enough of the
            object's footprint to be selected.
        keep_signal: keep the noiseless signal and cosmic-ray masks (tests, figures).
        exposure: use these exposure parameters instead of the scheduled ones
            (e.g. ``dataclasses.replace`` of one with another exposure time).

    Raises:
        SimulationError: bad index; ValueError: bad body name.
    """
    if not isinstance(index, (int, np.integer)) or index < 0:
        raise SimulationError(f"exposure index must be an integer >= 0, got {index!r}")
    body, scene = body_scene(int(seed), body_name)
    exp = exposure if exposure is not None else make_exposure(seed, body, int(index),
                                                              scene.extent)
    det = detector(exp.instrument)
    grids = {hdu: chip_grid(exp, hdu, body) for hdu in SCIENCE_HDUS}
    fractions = {hdu: _coverage_fraction(scene, grids[hdu]) for hdu in SCIENCE_HDUS}
    psf = psf_model(det.pixel_scale, exp.filter, exp.focus)
    if screen_first and not any(f >= MIN_OBJECT_FRACTION for f in fractions.values()):
        primary, sci, ra_p, dec_p = _headers(exp, body)
        out = RenderedExposure(exp, body, {}, primary, sci, [], psf=psf)
        out.rows = [_row(exp, body, hdu, grids[hdu], ra_p, dec_p, psf.fwhm,
                         Screening(fractions[hdu], 0, 0.0, False, "off_object"), 0.0, "")
                    for hdu in SCIENCE_HDUS]
        return out
    rng = np.random.default_rng([exp.noise_seed, 1])
    state = _ExposureState(psf, det_model.bias_drift(rng, det),
                           det_model.stripes(rng, exp.instrument, exp.mjd, 2100),
                           _satellite_line(rng) if exp.satellite else None)
    targeted = exp.snr_target > 0
    chips = [_signal(exp, body, scene, det, hdu, state, rng, 1.0 if targeted else exp.exptime)
             for hdu in SCIENCE_HDUS]
    if targeted:
        exp = dataclasses.replace(exp, exptime=_target_exptime(exp, det, chips))
        for chip in chips:
            _scale(chip, exp.exptime)
    primary, sci, ra_p, dec_p = _headers(exp, body)
    out = RenderedExposure(exp, body, {}, primary, sci, [], psf=psf)
    for chip in chips:
        info = _detect(exp, det, chip, state, rng, keep_signal)
        out.chips[chip.hdu] = info["raw"]
        out.screening[chip.hdu] = info["screening"]
        out.rows.append(_row(exp, body, chip.hdu, chip.grid, ra_p, dec_p, psf.fwhm,
                             info["screening"], info["snr"], info["defects"]))
        if keep_signal:
            out.signal[chip.hdu], out.cr_masks[chip.hdu] = info["signal"], info["cr"]
        chip.rend = None  # free the signal before the next chip's detector pass
    return out


def _row(exp: Exposure, body: Body, hdu: int, grid: ChipGrid, ra_p: float, dec_p: float,
         fwhm: float, scr: Screening, snr: float, defects: str) -> dict:
    ra, dec = _chip_centre(grid, ra_p, dec_p)
    frac = scr.object_fraction
    edge = frac < EDGE_VIEW_FRACTION
    looks = [x for x in (*body.lookalike.split(";"), "edge_view" if edge else "") if x]
    return {"body": body.name, "instrument": exp.instrument, "obsid": exp.obsid,
            "exposure": exp.index,
            "filter": exp.filter, "ra": round(ra, 6), "dec": round(dec, 6), "hdu": hdu,
            "label": body.label, "path": "", "subset": body.subset,
            "blurry": is_blurry(snr), "psf_fwhm": round(fwhm, 4),
            "snr": round(snr, 3), "morphology": body.morphology,
            "defects": defects, "exptime": exp.exptime,
            "object_fraction": round(frac, 4), "lookalike": ";".join(looks),
            "condition": exp.condition, "edge_view": bool(edge),
            "detected_fraction": round(scr.detected_fraction, 4),
            "expected_detected": round(scr.expected_detected, 4),
            "screening": "selected" if scr.selected else scr.reason,
            "gal_b": round(body.gal_b, 3), "distance_mpc": round(body.distance_kpc / 1000, 4),
            "host": body.host, "selected": scr.selected}


