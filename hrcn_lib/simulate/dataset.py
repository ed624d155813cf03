"""LCID-sim datasets: render exposures into raw files and write the two manifests.

* :func:`render_exposure` -- one exposure in memory: both chips' raw arrays,
  headers and manifest rows (pure function of ``(seed, body, index)``);
* :func:`simulate_file` -- write one raw file alone (regeneration);
* :func:`simulate_dataset` -- a whole profile-sized dataset, in parallel, with
  ``lcid_manifest.csv`` and ``blurry_manifest.csv``.

Files go to ``<out_dir>/raw/<obsid>_raw.fits``. :func:`simulate_dataset` writes
only files with at least one chip selected by the screening rule
(:mod:`.exposures`); a file none of whose chips would be selected is counted as
``screened_out`` and not written (:func:`simulate_file` always writes).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hrcn_lib.instruments import SCIENCE_HDUS, Detector, detector
from hrcn_lib.paths import BLURRY_MANIFEST, LCID_MANIFEST
from hrcn_lib.profiles import get_profile
from hrcn_lib.simulate import detector as det_model
from hrcn_lib.simulate.bodies import Body, catalogue, make_body
from hrcn_lib.simulate.exposures import (
    COVER_SB,
    EDGE_VIEW_FRACTION,
    Exposure,
    is_blurry,
    is_selected,
    make_exposure,
)
from hrcn_lib.simulate.photometry import sky_rate
from hrcn_lib.simulate.rawfile import default_sci_header, write_raw
from hrcn_lib.simulate.scene import COARSE, ChipGrid, Scene, render_signal
from hrcn_lib.simulate.scenes_galaxy import build_galaxy_scene
from hrcn_lib.simulate.scenes_nsc import build_nsc_scene

__all__ = [
    "SimulationError",
    "SimResult",
    "RenderedExposure",
    "body_scene",
    "chip_grid",
    "render_exposure",
    "simulate_file",
    "simulate_dataset",
    "file_bytes",
    "estimate_disk",
    "raw_path",
    "ACS_WHEEL1",
    "plan",
]

log = logging.getLogger(__name__)

#: ACS filters mounted on filter wheel 1 (the others are on wheel 2).
ACS_WHEEL1 = frozenset({"F475W", "F502N", "F555W", "F625W", "F658N", "F775W"})
#: Ghosts are cast by stars brighter than this (e- in the exposure).
GHOST_MIN_E = 5e6
_BLOCK = 2880


class SimulationError(ValueError):
    """Bad input to the simulator (profile, counts, output folder, disk space)."""


@dataclass(frozen=True)
class SimResult:
    """What :func:`simulate_dataset` did.

    Attributes:
        out_dir: dataset folder.
        lcid_manifest, blurry_manifest: the two manifest paths.
        n_files: raw files written.
        n_screened_out: exposures none of whose chips passed screening (not written).
        n_lcid_rows, n_blurry_rows: manifest rows.
        bytes_written: total size of the raw files.
        seconds: wall-clock time.
    """

    out_dir: Path
    lcid_manifest: Path
    blurry_manifest: Path
    n_files: int
    n_screened_out: int
    n_lcid_rows: int
    n_blurry_rows: int
    bytes_written: int
    seconds: float


@dataclass
class RenderedExposure:
    """One exposure in memory.

    Attributes:
        exposure: its parameters.
        body: its body.
        chips: ``{1: uint16 raw array, 4: ...}`` (empty when not rendered).
        primary, sci_headers: keywords for :func:`~hrcn_lib.simulate.rawfile.write_raw`.
        rows: one manifest row per chip (``selected`` says whether it passed screening).
        signal: optional ``{hdu: float32 noiseless object signal (e-)}`` (``keep_signal``).
        cr_masks: optional ``{hdu: bool mask of cosmic-ray pixels}`` (``keep_signal``).
    """

    exposure: Exposure
    body: Body
    chips: dict[int, np.ndarray]
    primary: dict
    sci_headers: dict[int, dict]
    rows: list[dict]
    signal: dict[int, np.ndarray] = field(default_factory=dict)
    cr_masks: dict[int, np.ndarray] = field(default_factory=dict)

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


def raw_path(out_dir: str | os.PathLike[str], obsid: str) -> Path:
    """``<out_dir>/raw/<obsid>_raw.fits``."""
    return Path(out_dir) / "raw" / f"{obsid}_raw.fits"


def chip_grid(exp: Exposure, hdu: int, body: Body | None = None) -> ChipGrid:
    """Pixel <-> body-frame mapping of one chip, consistent with the file's WCS.

    With ``body`` the map is exact to first order across the chip: focal-plane
    offsets go through the file's CD matrix to the sky (tangent plane at the
    pointing) and back to the body's tangent plane (an affine fit over the chip).
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


def _headers(exp: Exposure, body: Body) -> tuple[dict, dict[int, dict], float, float]:
    """Primary and SCI keywords; returns also the pointing (RA, Dec) in degrees."""
    ra_p, dec_p = _gnomonic_inverse(body.ra, body.dec, exp.offset_u / 3600, exp.offset_v / 3600)
    primary = {"ROOTNAME": exp.obsid, "TARGNAME": body.name, "RA_TARG": body.ra,
               "DEC_TARG": body.dec, "EXPTIME": exp.exptime, "DARKTIME": exp.exptime}
    if exp.instrument == "ACS/WFC":
        wheel1 = exp.filter in ACS_WHEEL1
        primary["FILTER1"] = exp.filter if wheel1 else "CLEAR1L"
        primary["FILTER2"] = "CLEAR2L" if wheel1 else exp.filter
    else:
        primary["FILTER"] = exp.filter
    scale = detector(exp.instrument).pixel_scale / 3600.0
    c, s = math.cos(math.radians(exp.roll)), math.sin(math.radians(exp.roll))
    sci = {hdu: {"CRVAL1": ra_p, "CRVAL2": dec_p, "CD1_1": -scale * c, "CD1_2": scale * s,
                 "CD2_1": scale * s, "CD2_2": scale * c, "ORIENTAT": exp.roll}
           for hdu in SCIENCE_HDUS}
    return primary, sci, ra_p, dec_p


def _chip_centre(grid: ChipGrid, ra_p: float, dec_p: float) -> tuple[float, float]:
    """RA/Dec (deg) of the centre of a chip's science area."""
    x = (grid.shape[1] - 1) / 2.0 + grid.x0
    y = (grid.shape[0] - 1) / 2.0 + grid.y0
    m = dataclasses.replace(grid, affine=None).matrix  # the file's CD matrix (x 3600)
    return _gnomonic_inverse(ra_p, dec_p, (m[0, 0] * x + m[0, 1] * y) / 3600,
                             (m[1, 0] * x + m[1, 1] * y) / 3600)


def _coverage_fraction(scene: Scene, grid: ChipGrid) -> tuple[float, np.ndarray]:
    u, v = grid.coarse_uv(COARSE)
    mask = scene.coverage(u, v) > COVER_SB
    return float(mask.mean()), mask


def _snr(signal: np.ndarray, mask: np.ndarray, background: float, read_noise: float) -> float:
    """Root-mean-square per-pixel S/N of the object signal over the (coarse) object mask.

    ``sqrt(mean(S^2 / (S + background + RN^2)))`` over the object's pixels
    (sampled at the coarse-pixel centres): dominated by the object's bright
    features (arms, knots, stars), so it means the same for smooth galaxies and
    for sparse star clusters.
    """
    if not mask.any():
        return 0.0
    s = signal[COARSE // 2::COARSE, COARSE // 2::COARSE][: mask.shape[0], : mask.shape[1]]
    s = s[mask[: s.shape[0], : s.shape[1]]].astype(np.float64)
    return float(np.sqrt(np.mean(s * s / (s + background + read_noise**2))))


def _ghost(scene: Scene, grid: ChipGrid, exp: Exposure, rng: np.random.Generator
           ) -> np.ndarray | None:
    """Ghost image (e-/s) of the brightest star on the chip, if it is bright enough."""
    stars = scene.stars
    if not exp.ghost or not len(stars):
        return None
    rows, cols = grid.to_pixels(stars.u, stars.v)
    on = (rows >= 0) & (rows < grid.shape[0]) & (cols >= 0) & (cols < grid.shape[1])
    if not on.any():
        return None
    rates = stars.rate(exp.instrument, exp.filter, grid.scale)[on]
    k = int(np.argmax(rates))
    if rates[k] * exp.exptime < GHOST_MIN_E:
        return None
    return det_model.ghost_image(grid.shape, rows[on][k], cols[on][k], float(rates[k]), rng)


def _satellite_line(exp: Exposure, rng: np.random.Generator) -> tuple[float, float, float]:
    """Trail line ``a x + b y + c = 0`` in focal-plane pixels (crosses both chips)."""
    ang = rng.uniform(0, np.pi)
    a, b = -math.sin(ang), math.cos(ang)
    x, y = rng.uniform(-1500, 1500), rng.uniform(-800, 800)
    return a, b, -(a * x + b * y)


def _render_chip(exp: Exposure, body: Body, scene: Scene, det: Detector, hdu: int,
                 psf: np.ndarray, rng: np.random.Generator,
                 sat_line: tuple[float, float, float] | None, keep: bool
                 ) -> tuple[np.ndarray, dict, np.ndarray | None, np.ndarray | None]:
    """One chip: signal, screening numbers, noise, defects, raw DN (see :mod:`.detector`)."""
    lay = det.chips[hdu]
    grid = chip_grid(exp, hdu, body)
    ghost = _ghost(scene, grid, exp, rng)
    signal, cov = render_signal(scene, grid, exp.instrument, exp.filter, exp.exptime, psf, ghost)
    mask = cov > COVER_SB
    sky = sky_rate(exp.instrument, exp.filter, grid.scale) * exp.exptime
    dark = det.dark_current * exp.exptime
    rn = float(np.mean([det.electronics[a.name].read_noise for a in lay.amps]))
    snr = _snr(signal, mask, sky + dark, rn)
    lam = signal + np.float32(sky + dark)
    lam += det_model.hot_pixel_rates(exp.instrument, hdu, grid.shape) * np.float32(exp.exptime)
    elec = det_model.poisson_noise(rng, lam)
    del lam
    cr = det_model.add_cosmic_rays(rng, elec, exp.exptime)
    defects = ["cosmic_rays", "hot_pixels"] if cr.any() else ["hot_pixels"]
    if sat_line is not None:
        a, b, c = sat_line
        det_model.add_satellite(rng, elec, line=(a, b, c + a * grid.x0 + b * grid.y0),
                                width=float(rng.uniform(1.5, 3.5)),
                                level=float(rng.uniform(200, 3000)))
        defects.append("satellite_trail")
    if det_model.bleed(elec, det.full_well).any():
        defects.append("saturation")
    if ghost is not None:
        defects.append("ghost")
    raw = det_model.to_raw(rng, elec, lay, det)
    info = {"object_fraction": float(mask.mean()), "snr": snr, "defects": ";".join(defects),
            "grid": grid}
    return raw, info, (signal if keep else None), (cr if keep else None)


def render_exposure(seed: int, body_name: str, index: int, *, screen_first: bool = False,
                    keep_signal: bool = False, exposure: Exposure | None = None
                    ) -> RenderedExposure:
    """Render one exposure (both chips) in memory.

    Args:
        seed: master seed.
        body_name: e.g. ``"SIM-G007"``.
        index: exposure number (>= 0).
        screen_first: skip rendering (``chips`` empty) when no chip would pass screening.
        keep_signal: keep the noiseless signal and cosmic-ray masks (tests, figures).
        exposure: use these exposure parameters instead of the scheduled ones
            (e.g. ``dataclasses.replace`` of one with another PSF; tests, figures).

    Raises:
        ValueError: bad body name or index.
    """
    if not isinstance(index, (int, np.integer)) or index < 0:
        raise SimulationError(f"exposure index must be an integer >= 0, got {index!r}")
    body, scene = body_scene(int(seed), body_name)
    exp = exposure if exposure is not None else make_exposure(seed, body, int(index),
                                                              scene.extent)
    det = detector(exp.instrument)
    primary, sci, ra_p, dec_p = _headers(exp, body)
    grids = {hdu: chip_grid(exp, hdu, body) for hdu in SCIENCE_HDUS}
    fractions = {hdu: _coverage_fraction(scene, grids[hdu])[0] for hdu in SCIENCE_HDUS}
    out = RenderedExposure(exp, body, {}, primary, sci, [])
    psf, fwhm = det_model.psf_stamp(det.pixel_scale, exp.filter, exp.jitter, exp.defocus)
    if screen_first and not any(is_selected(f) for f in fractions.values()):
        out.rows = [_row(exp, body, hdu, grids[hdu], ra_p, dec_p, fwhm,
                         {"object_fraction": fractions[hdu], "snr": 0.0, "defects": ""})
                    for hdu in SCIENCE_HDUS]
        return out
    rng = np.random.default_rng([exp.noise_seed, 1])
    sat_line = _satellite_line(exp, rng) if exp.satellite else None
    for hdu in SCIENCE_HDUS:
        raw, info, sig, cr = _render_chip(exp, body, scene, det, hdu, psf, rng, sat_line,
                                          keep_signal)
        out.chips[hdu] = raw
        out.rows.append(_row(exp, body, hdu, info["grid"], ra_p, dec_p, fwhm, info))
        if keep_signal:
            out.signal[hdu], out.cr_masks[hdu] = sig, cr
    return out


def _row(exp: Exposure, body: Body, hdu: int, grid: ChipGrid, ra_p: float, dec_p: float,
         fwhm: float, info: dict) -> dict:
    ra, dec = _chip_centre(grid, ra_p, dec_p)
    frac = info["object_fraction"]
    looks = [x for x in (body.lookalike, "edge_view" if frac < EDGE_VIEW_FRACTION else "") if x]
    return {"body": body.name, "instrument": exp.instrument, "obsid": exp.obsid,
            "exposure": exp.index,
            "filter": exp.filter, "ra": round(ra, 6), "dec": round(dec, 6), "hdu": hdu,
            "label": body.label, "path": "", "subset": body.subset,
            "blurry": is_blurry(fwhm, info["snr"]), "psf_fwhm": round(fwhm, 4),
            "snr": round(info["snr"], 3), "morphology": body.morphology,
            "defects": info["defects"], "exptime": exp.exptime,
            "object_fraction": round(frac, 4), "lookalike": ";".join(looks),
            "condition": exp.condition, "selected": is_selected(frac)}


def simulate_file(out_dir: str | os.PathLike[str], seed: int, body_name: str,
                  exposure: int) -> Path:
    """Regenerate one raw file alone (byte-identical to the one a dataset run writes).

    Returns:
        ``<out_dir>/raw/<obsid>_raw.fits``.
    """
    rendered = render_exposure(seed, body_name, exposure)
    path = raw_path(out_dir, rendered.exposure.obsid)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_raw(path, rendered.exposure.instrument, rendered.chips,
                     primary=rendered.primary, sci_headers=rendered.sci_headers)


def _work(task: tuple[Path, int, str, int]) -> tuple[str, int, list[dict], int]:
    """Worker: render one exposure, write it if selected; returns (body, index, rows, bytes)."""
    out_dir, seed, name, index = task
    rendered = render_exposure(seed, name, index, screen_first=True)
    size = 0
    if rendered.selected:
        path = raw_path(out_dir, rendered.exposure.obsid)
        write_raw(path, rendered.exposure.instrument, rendered.chips,
                  primary=rendered.primary, sci_headers=rendered.sci_headers)
        size = path.stat().st_size
        for row in rendered.rows:
            row["path"] = str(path)
    return name, index, rendered.rows, size


def file_bytes(instrument: str) -> int:
    """Size (bytes) of one full-frame raw file of ``instrument`` (7 header blocks + 2 chips)."""
    data = 0
    for hdu in SCIENCE_HDUS:
        shape = detector(instrument).chips[hdu].raw_shape
        data += -(-shape[0] * shape[1] * 2 // _BLOCK) * _BLOCK
    return data + 7 * _BLOCK


def estimate_disk(n_files: int) -> int:
    """Upper bound (bytes) of ``n_files`` raw files plus manifests."""
    return n_files * max(file_bytes(i) for i in ("ACS/WFC", "WFC3/UVIS")) + 1_000_000


def _existing_parent(path: Path) -> Path:
    p = path.resolve()
    while not p.exists():
        p = p.parent
    return p


def _check_counts(**counts: object) -> None:
    for key, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise SimulationError(f"{key} must be an integer, got {n!r}")
        low = 1 if key.startswith("exposures") else 0
        if not low <= n <= 9999:
            raise SimulationError(f"{key} must be between {low} and 9999, got {n}")
    if counts["bodies_galaxy"] + counts["bodies_nsc"] == 0:
        raise SimulationError("the LCID part needs at least one body (bodies_galaxy + bodies_nsc "
                              "is 0)")


def _check_out_dir(out_dir: Path, need: int) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise SimulationError(f"output {out_dir} exists and is not a directory")
    parent = _existing_parent(out_dir)
    try:
        if not parent.is_dir():
            raise OSError(f"{parent} is not a directory")
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise SimulationError(f"output directory {out_dir} is not writable ({exc})") from None
    free = shutil.disk_usage(parent).free
    if need > free:
        raise SimulationError(f"not enough disk space for {out_dir}: the dataset needs "
                              f"{need / 1e9:.2f} GB, {free / 1e9:.2f} GB are free")


def _sizes(profile: str, bodies_galaxy: int | None, bodies_nsc: int | None,
           exposures: int | None, seed: int) -> dict[str, int]:
    """Validated body/exposure counts of a dataset (profile values unless overridden)."""
    try:
        prof = get_profile(profile)
    except ValueError as exc:
        raise SimulationError(str(exc)) from None
    sizes = {"bodies_galaxy": prof.bodies_galaxy if bodies_galaxy is None else bodies_galaxy,
             "bodies_nsc": prof.bodies_nsc if bodies_nsc is None else bodies_nsc,
             "exposures": prof.exposures_per_body if exposures is None else exposures,
             "blurry_bodies_galaxy": prof.blurry_bodies_galaxy,
             "blurry_bodies_nsc": prof.blurry_bodies_nsc,
             "exposures_blurry": prof.blurry_exposures_per_body,
             "exposures_nsc_factor": prof.nsc_exposure_factor}
    _check_counts(**sizes)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SimulationError(f"seed must be an integer >= 0, got {seed!r}")
    sizes["files"] = ((sizes["bodies_galaxy"]
                       + sizes["bodies_nsc"] * sizes["exposures_nsc_factor"]) * sizes["exposures"]
                      + (sizes["blurry_bodies_galaxy"] + sizes["blurry_bodies_nsc"])
                      * sizes["exposures_blurry"])
    return sizes


def _n_exposures(body: Body, sizes: dict[str, int]) -> int:
    """Exposures of one body: LCID NSC bodies get ``exposures_nsc_factor`` times a galaxy's."""
    if body.subset != "lcid":
        return sizes["exposures_blurry"]
    factor = sizes["exposures_nsc_factor"] if body.label == "NSC" else 1
    return sizes["exposures"] * factor


def plan(profile: str = "smoke", *, bodies_galaxy: int | None = None,
         bodies_nsc: int | None = None, exposures: int | None = None, seed: int = 0
         ) -> tuple[list[tuple[str, int]], dict]:
    """The (body, exposure) list of a dataset and its sizes, after validating the input.

    Raises:
        SimulationError: unknown profile or impossible counts.
    """
    sizes = _sizes(profile, bodies_galaxy, bodies_nsc, exposures, seed)
    bodies = catalogue(seed, sizes["bodies_galaxy"], sizes["bodies_nsc"],
                       sizes["blurry_bodies_galaxy"], sizes["blurry_bodies_nsc"])
    tasks = [(b.name, i) for b in bodies for i in range(_n_exposures(b, sizes))]
    return tasks, sizes


def simulate_dataset(out_dir: str | os.PathLike[str], profile: str = "smoke", *,
                     bodies_galaxy: int | None = None, bodies_nsc: int | None = None,
                     exposures: int | None = None, seed: int = 0, jobs: int = 1,
                     progress: bool = True, announce: bool | None = None) -> SimResult:
    """Simulate a dataset: raw files in ``out_dir/raw`` plus the two manifests.

    Args:
        out_dir: dataset folder (created; must be writable).
        profile: ``"smoke"``, ``"cpu"`` or ``"paper"`` (:mod:`hrcn_lib.profiles`): body
            and exposure counts, including the LCID-Blurry bodies.
        bodies_galaxy, bodies_nsc, exposures: override the profile's LCID counts.
        seed: master seed; the same call with the same seed writes byte-identical files.
        jobs: worker processes (1 = in this process).
        progress: show a tqdm progress bar.
        announce: log (INFO, logger ``hrcn_lib.simulate.dataset``) the disk space the call
            will use before writing (default: ``progress``).

    Returns:
        :class:`SimResult`.

    Raises:
        SimulationError: unknown profile, impossible counts, unwritable ``out_dir``
            or not enough disk space -- before anything is written.
    """
    t0 = time.perf_counter()
    sizes = _sizes(profile, bodies_galaxy, bodies_nsc, exposures, seed)
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise SimulationError(f"jobs must be an integer >= 1, got {jobs!r}")
    out_dir = Path(out_dir)
    need = estimate_disk(sizes["files"])
    _check_out_dir(out_dir, need)
    tasks, _ = plan(profile, bodies_galaxy=bodies_galaxy, bodies_nsc=bodies_nsc,
                    exposures=exposures, seed=seed)
    if progress if announce is None else announce:
        log.info("hrcn simulate: %d exposures -> %s: at most %.2f GB of disk", len(tasks),
                 out_dir, need / 1e9)
    (out_dir / "raw").mkdir(parents=True, exist_ok=True)
    results = _run(tasks, out_dir, int(seed), int(jobs), progress)
    order = {t: k for k, t in enumerate(tasks)}
    results.sort(key=lambda r: order[(r[0], r[1])])
    rows = [row for _, _, rr, _ in results for row in rr if row["selected"] and row["path"]]
    lcid, blurry = _manifests(rows, out_dir)
    n_files = sum(1 for r in results if r[3])
    return SimResult(out_dir, out_dir / LCID_MANIFEST, out_dir / BLURRY_MANIFEST,
                     n_files, len(results) - n_files, len(lcid), len(blurry),
                     sum(r[3] for r in results), time.perf_counter() - t0)


def _run(tasks: Sequence[tuple[str, int]], out_dir: Path, seed: int, jobs: int,
         progress: bool) -> list:
    from tqdm.auto import tqdm

    work = [(out_dir, seed, name, i) for name, i in tasks]
    bar = tqdm(total=len(work), desc="simulate", unit="file", disable=not progress)
    results = []
    try:
        if jobs == 1:
            for w in work:
                results.append(_work(w))
                bar.update()
        else:
            ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = [pool.submit(_work, w) for w in work]
                for fut in as_completed(futures):
                    results.append(fut.result())
                    bar.update()
    finally:
        bar.close()
    return results


def _manifests(rows: list[dict], out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from hrcn_lib.manifest import write_manifest

    cols = ["body", "instrument", "obsid", "filter", "ra", "dec", "hdu", "label", "path",
            "subset", "blurry", "psf_fwhm", "snr", "morphology", "defects", "exptime",
            "object_fraction", "lookalike", "condition", "exposure"]
    df = pd.DataFrame(rows, columns=cols)
    lcid = df[df["subset"] == "lcid"].reset_index(drop=True)
    blurry = df[(df["subset"] == "blurry") & df["blurry"]].reset_index(drop=True)
    write_manifest(lcid, out_dir / LCID_MANIFEST)
    write_manifest(blurry, out_dir / BLURRY_MANIFEST)
    return lcid, blurry
