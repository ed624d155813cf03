"""The detector model: PSF, noise, defects, and the raw DN array of one chip.

Order of a chip's life (all in electrons until :func:`to_raw`):

1. object signal convolved with the PSF (:func:`psf_stamp`, GalSim ``OpticalPSF``
   with HST's 2.4 m aperture, 0.33 central obscuration and 4 spider struts,
   convolved with CCD charge diffusion and optional pointing jitter);
2. + sky + dark current (+ hot pixels), then Poisson noise (exact Poisson below
   :data:`POISSON_EXACT_BELOW` e-, its Gaussian limit ``N(lambda, lambda)`` above:
   the two differ by less than 0.5 % in variance there, and it halves the cost);
3. + cosmic rays (:func:`add_cosmic_rays`), satellite trails (:func:`add_satellite`);
4. saturation at the full well with charge bleeding along columns (:func:`bleed`);
5. :func:`to_raw`: per-amplifier gain and bias, read noise on every pixel
   (science and overscan), rounding to uint16 DN. Prescan/overscan pixels hold
   bias + read noise only.
"""

from __future__ import annotations

import functools

import galsim
import numpy as np
from scipy.ndimage import gaussian_filter

from hrcn_lib.instruments import ChipLayout, Detector
from hrcn_lib.simulate.photometry import FILTERS

__all__ = [
    "PSF_STAMP",
    "CR_PIXEL_RATE",
    "CR_LENGTH_PMF",
    "HOT_PIXEL_FRACTION",
    "POISSON_EXACT_BELOW",
    "psf_stamp",
    "measure_fwhm",
    "poisson_noise",
    "add_cosmic_rays",
    "hot_pixel_rates",
    "bleed",
    "add_satellite",
    "ghost_image",
    "to_raw",
]

#: Side of PSF stamps (pixels, odd).
PSF_STAMP = 65
#: Fraction of pixels hit by cosmic rays per second of exposure (ACS: 1.5-3 % per 1000 s).
CR_PIXEL_RATE = 2.0e-5
#: Probability of a cosmic-ray track covering n = 1, 2, ... pixels (geometric, mean ~4.3).
CR_LENGTH_PMF: np.ndarray = (lambda p: p / p.sum())(0.23 * 0.77 ** np.arange(40))
#: Fraction of hot pixels (dark rate lognormal, median 0.08 e-/s).
HOT_PIXEL_FRACTION = 2e-3
#: Mean (e-) below which Poisson noise is drawn exactly.
POISSON_EXACT_BELOW = 10.0
#: HST primary mirror (m), linear central obscuration, charge-diffusion sigma (arcsec).
_DIAM, _OBSC, _DIFFUSION = 2.4, 0.33, 0.018


@functools.lru_cache(maxsize=64)
def _optical_stamp(scale: float, filt: str, defocus: float) -> np.ndarray:
    """Optical PSF (diffraction + struts + defocus + pixel) drawn at ``scale`` arcsec/pixel."""
    lam = FILTERS[filt].pivot_nm
    psf = galsim.OpticalPSF(lam=lam, diam=_DIAM, obscuration=_OBSC, nstruts=4,
                            strut_thick=0.04, strut_angle=45 * galsim.degrees, defocus=defocus)
    img = psf.drawImage(nx=PSF_STAMP, ny=PSF_STAMP, scale=scale)
    return img.array.astype(np.float64)


def measure_fwhm(stamp: np.ndarray, scale: float) -> float:
    """FWHM (arcsec) of a centred PSF stamp.

    GalSim's ``Image.calculateFWHM`` (half of the central value) for centrally
    peaked PSFs; for a defocused "donut" PSF, whose centre is not its maximum,
    twice the outermost radius where the azimuthal mean profile is at half its
    maximum.
    """
    n = stamp.shape[0]
    c = (n - 1) / 2.0
    y, x = np.mgrid[:n, :n]
    b = np.rint(np.hypot(x - c, y - c) * 2).astype(np.int64).ravel()
    prof = np.bincount(b, stamp.ravel()) / np.maximum(np.bincount(b), 1)
    if int(np.argmax(prof)) == 0:
        return float(galsim.Image(np.ascontiguousarray(stamp, dtype=np.float64),
                                  scale=scale).calculateFWHM())
    half = prof.max() / 2.0
    k = int(np.flatnonzero(prof >= half).max())
    frac = (prof[k] - half) / max(prof[k] - prof[k + 1], 1e-30)
    return float(2.0 * (k + frac) / 2.0 * scale)


def psf_stamp(scale: float, filt: str, jitter: float = 0.0,
              defocus: float = 0.0) -> tuple[np.ndarray, float]:
    """The PSF of one exposure and its FWHM.

    Args:
        scale: arcsec per pixel of the detector.
        filt: filter name (sets the wavelength).
        jitter: arcsec, sigma of Gaussian pointing jitter (0 = fine guiding).
        defocus: waves of defocus.

    Returns:
        (stamp, fwhm): float32 (PSF_STAMP, PSF_STAMP) summing to 1; FWHM in arcsec.
    """
    stamp = _optical_stamp(float(scale), filt, float(defocus))
    sigma = np.hypot(_DIFFUSION, jitter) / scale
    stamp = gaussian_filter(stamp, sigma, mode="constant")
    stamp /= stamp.sum()
    return stamp.astype(np.float32), measure_fwhm(stamp, scale)


def poisson_noise(rng: np.random.Generator, lam: np.ndarray) -> np.ndarray:
    """Photon noise on a float32 mean image ``lam`` (e-); returns float32 e-."""
    out = np.empty_like(lam)
    low = lam < POISSON_EXACT_BELOW
    out[low] = rng.poisson(lam[low])
    high = ~low
    lh = lam[high]
    out[high] = lh + np.sqrt(lh) * rng.standard_normal(lh.size, dtype=np.float32)
    return out


def add_cosmic_rays(rng: np.random.Generator, image: np.ndarray, exptime: float,
                    rate: float = CR_PIXEL_RATE) -> np.ndarray:
    """Add cosmic-ray tracks (e-) to ``image`` in place; returns the boolean hit mask.

    The number of events is Poisson with mean ``rate * exptime * npix / E[n]`` so
    that the expected fraction of hit pixels is ``rate * exptime``. Each event is a
    straight track of n pixels (:data:`CR_LENGTH_PMF`: mostly 2-6, a tail of long
    grazing tracks) at a random angle, stepping one pixel along its major axis;
    its charge (lognormal, median 1000 e-, >= 300 e-) is shared between its pixels
    with gamma-distributed weights (Landau-like fluctuations).
    """
    nr, nc = image.shape
    lengths = np.arange(1, CR_LENGTH_PMF.size + 1)
    mean_len = float((lengths * CR_LENGTH_PMF).sum())
    n_ev = rng.poisson(rate * exptime * image.size / mean_len)
    mask = np.zeros(image.shape, dtype=bool)
    if n_ev == 0:
        return mask
    n = rng.choice(lengths, size=n_ev, p=CR_LENGTH_PMF)
    ang = rng.uniform(0, np.pi, n_ev)
    du, dv = np.cos(ang), np.sin(ang)
    big = np.maximum(np.abs(du), np.abs(dv))
    du, dv = du / big, dv / big
    r0, c0 = rng.uniform(0, nr, n_ev), rng.uniform(0, nc, n_ev)
    ev = np.repeat(np.arange(n_ev), n)
    k = np.arange(ev.size) - np.repeat(np.cumsum(n) - n, n)
    rows = np.floor(r0[ev] + k * dv[ev]).astype(np.int64)
    cols = np.floor(c0[ev] + k * du[ev]).astype(np.int64)
    ok = (rows >= 0) & (rows < nr) & (cols >= 0) & (cols < nc)
    charge = np.maximum(300.0, 1000.0 * np.exp(rng.normal(0, 0.6, n_ev)))
    w = rng.gamma(2.0, 1.0, ev.size)
    wsum = np.bincount(ev, weights=w)
    dep = charge[ev] * w / wsum[ev]
    flat = rows[ok] * nc + cols[ok]
    np.add.at(image.ravel(), flat, dep[ok].astype(image.dtype))
    mask.ravel()[flat] = True
    return mask


@functools.lru_cache(maxsize=8)
def hot_pixel_rates(instrument: str, hdu: int, shape: tuple[int, int]) -> np.ndarray:
    """Extra dark current (e-/s, float32 ``shape``) of the chip's hot pixels.

    Fixed per chip (a detector property, not an exposure one): seeded by
    instrument and HDU. Rates are lognormal with median 0.08 e-/s and a tail to
    several e-/s.
    """
    rng = np.random.default_rng([7, len(instrument), hdu, shape[0]])
    out = np.zeros(shape, dtype=np.float32)
    n = int(HOT_PIXEL_FRACTION * out.size)
    idx = rng.choice(out.size, size=n, replace=False)
    out.ravel()[idx] = np.exp(rng.normal(np.log(0.08), 1.3, n)).astype(np.float32)
    return out


def bleed(image: np.ndarray, full_well: float) -> np.ndarray:
    """Saturate at ``full_well`` and bleed the excess charge up and down the columns.

    Each run of saturated pixels in a column passes its excess charge to the
    pixels beyond both ends of the run, filling them to the full well in turn
    (a bleed trail). Modifies ``image`` in place; returns the mask of pixels at
    the full well.
    """
    over = image > full_well
    if not over.any():
        return over
    nr = image.shape[0]
    for col in np.flatnonzero(over.any(axis=0)):
        column = image[:, col]
        sat = column > full_well
        edges = np.flatnonzero(np.diff(np.concatenate([[0], sat.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            excess = float((column[start:stop] - full_well).sum())
            column[start:stop] = full_well
            up, down = start - 1, stop
            share = excess / 2.0
            for step in (-1, 1):
                left = share
                pos = up if step < 0 else down
                while left > 0 and 0 <= pos < nr:
                    room = full_well - column[pos]
                    take = min(room, left) if room > 0 else 0.0
                    column[pos] += take
                    left -= take
                    pos += step
    return image >= full_well


def add_satellite(rng: np.random.Generator, image: np.ndarray, x: np.ndarray | None = None,
                  line: tuple[float, float, float] | None = None, width: float = 2.5,
                  level: float = 800.0) -> None:
    """Add a satellite trail (Gaussian cross-section, ``level`` e- at its centre) in place.

    Args:
        line: ``(a, b, c)`` with ``a x + b y + c = 0`` in the image's (col, row)
            pixel coordinates, ``a^2 + b^2 = 1``; random if None.
        width: sigma of the trail (pixels).
    """
    nr, nc = image.shape
    if line is None:
        ang = rng.uniform(0, np.pi)
        a, b = -np.sin(ang), np.cos(ang)
        c = -(a * rng.uniform(0, nc) + b * rng.uniform(0, nr))
    else:
        a, b, c = line
    rows = np.arange(nr, dtype=np.float32)[:, None]
    cols = np.arange(nc, dtype=np.float32)[None, :]
    d = np.float32(a) * cols + np.float32(b) * rows + np.float32(c)
    near = np.abs(d) < 6 * width
    image[near] += np.float32(level) * np.exp(-0.5 * (d[near] / np.float32(width)) ** 2)


def ghost_image(shape: tuple[int, int], row: float, col: float, flux: float,
                rng: np.random.Generator) -> np.ndarray:
    """A "figure-8" optical ghost of a bright star (two touching rings), e-/s float32 ``shape``.

    The ghost sits 40-120 pixels from the star, rings of radius 14-22 pixels,
    holding 3e-4 of the star's flux in total (internal reflections in the filter).
    """
    out = np.zeros(shape, dtype=np.float32)
    rad = rng.uniform(14, 22)
    ang = rng.uniform(0, 2 * np.pi)
    dist = rng.uniform(40, 120)
    cr, cc = row + dist * np.sin(ang), col + dist * np.cos(ang)
    r0, r1 = int(max(0, cr - 3 * rad)), int(min(shape[0], cr + 3 * rad))
    c0, c1 = int(max(0, cc - 3 * rad)), int(min(shape[1], cc + 3 * rad))
    if r0 >= r1 or c0 >= c1:
        return out
    rr, cc_ = np.mgrid[r0:r1, c0:c1].astype(np.float32)
    ring = np.zeros(rr.shape, np.float32)
    for sign in (-1, 1):
        dr, dc = sign * rad * np.sin(ang + np.pi / 2), sign * rad * np.cos(ang + np.pi / 2)
        d = np.hypot(rr - (cr + dr), cc_ - (cc + dc))
        ring += np.exp(-0.5 * ((d - rad) / 1.5) ** 2)
    out[r0:r1, c0:c1] = ring * np.float32(3e-4 * flux / max(float(ring.sum()), 1e-9))
    return out


def to_raw(rng: np.random.Generator, science_e: np.ndarray, lay: ChipLayout,
           det: Detector) -> np.ndarray:
    """Electrons on the science area -> the chip's raw uint16 DN array.

    Args:
        science_e: float32 (science rows, 4096) in e- (signal + noise + defects,
            already saturated), raw orientation.
        lay, det: the chip layout and detector (:mod:`hrcn_lib.instruments`).

    Returns:
        uint16 ``lay.raw_shape``: per-amplifier ``bias + e-/gain + read noise``,
        prescan / overscan = bias + read noise only, clipped to 0..65535.
    """
    raw = rng.standard_normal(lay.raw_shape, dtype=np.float32)
    r0, r1 = lay.science_rows
    for k, amp in enumerate(lay.amps):
        el = det.electronics[amp.name]
        c0, c1 = amp.raw_cols
        raw[:, c0:c1] *= np.float32(el.read_noise / el.gain)
        raw[:, c0:c1] += np.float32(el.bias)
        s0, s1 = amp.science_cols
        raw[r0:r1, s0:s1] += science_e[:, 2048 * k:2048 * (k + 1)] / np.float32(el.gain)
    np.rint(raw, out=raw)
    np.clip(raw, 0, 65535, out=raw)
    return raw.astype(np.uint16)
