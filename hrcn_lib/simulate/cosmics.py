"""Cosmic rays: compact blobs, straight grazing tracks and curved "worms", with charge diffusion.

Physics (ACS IHB 2005 §4.3.? "Cosmic rays" and ACS ISR 2002-07 for the numbers we
compare with in the benchmarks):

* **Rate.** HST meets ~:data:`CR_FLUX` particle events per cm^2 per second
  outside the South Atlantic Anomaly (varying with geomagnetic latitude; each
  exposure draws a factor 0.7-1.3). A 15 um pixel is 2.25e-6 cm^2, so a
  2048 x 4096 chip (18.9 cm^2) meets ~30 events per second. The handbook's
  census -- 1.5-3 % of pixels affected per 1000 s, for WFC and WFC3/UVIS alike
  (WFC3 IHB §6.10.2: "comparable to ACS") -- is an outcome, measured by
  :func:`hrcn_lib.simulate.realism` rather than put in.
* **Deposit.** A minimum-ionising particle frees ~80 e- per um of silicon along
  its path; the charge collected comes from an effective depth :data:`COLLECT_UM`
  (8 um, chosen so that the deposits match the handbook's distribution: median
  ~1000 e-, a sharp cut-off near 500 e-), over a path ``depth / cos(theta)`` at
  incidence ``theta``; energy-loss fluctuations follow a Landau (Moyal)
  distribution. The track's projected length follows the CCD's full thickness
  :data:`THICKNESS_UM` (12-17 um for WFC).
* **Shape.** An isotropic flux through a plane has ``p(cos theta) ~ cos theta``:
  most tracks project to under two pixels (compact blobs after diffusion);
  grazing ones make straight tracks of tens of pixels. A fraction
  :data:`WORM_FRACTION` are low-energy electrons (delta rays, stopping
  particles) that random-walk through the silicon: curved "worms" whose
  ionisation grows towards their end. Every deposit spreads by charge diffusion
  (Gaussian, sigma 0.4-0.6 pixel), which is why events cover ~4-5 pixels above
  :data:`HIT_THRESHOLD` e-.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from hrcn_lib.simulate.draw_kernels import splat_gaussians

__all__ = [
    "CR_FLUX",
    "THICKNESS_UM",
    "COLLECT_UM",
    "WORM_FRACTION",
    "PIXEL_CM2",
    "HIT_THRESHOLD",
    "add_cosmic_rays",
]

#: Particle events per cm^2 per s (HST outside the SAA).
CR_FLUX = 1.6
#: Depleted silicon thickness (um) of the CCDs (WFC: 12-17 um, ACS IHB 2005 §5.6.6).
THICKNESS_UM = 15.0
#: Effective charge-collection depth (um) for the deposit.
COLLECT_UM = 8.0
#: e- of cosmic-ray charge above which a pixel counts as hit (~10 sigma of the read noise).
HIT_THRESHOLD = 40.0
#: Fraction of events that are curved low-energy tracks.
WORM_FRACTION = 0.08
#: Area of a 15 um pixel (cm^2).
PIXEL_CM2 = (15e-4) ** 2
_E_PER_UM = 80.0
_STEP = 0.5  # pixels between deposit points along a track


def _tracks(rng: np.random.Generator, n: int, shape: tuple[int, int]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Straight tracks: deposit points (row, col, e-) and the event index of each point."""
    cos_t = np.sqrt(rng.random(n))  # p(cos) ~ cos: isotropic flux through a plane
    cos_t = np.maximum(cos_t, 0.02)
    path = COLLECT_UM / cos_t
    length = THICKNESS_UM * np.sqrt(1.0 - cos_t**2) / cos_t / 15.0  # projected, pixels
    length = np.minimum(length, 300.0)
    charge = _E_PER_UM * path * np.clip(stats.moyal.rvs(loc=1.0, scale=0.15, size=n,
                                                        random_state=rng), 0.75, 6.0)
    npts = np.maximum(1, np.ceil(length / _STEP).astype(np.int64))
    phi = rng.uniform(0, 2 * np.pi, n)
    r0, c0 = rng.uniform(-5, shape[0] + 5, n), rng.uniform(-5, shape[1] + 5, n)
    ev = np.repeat(np.arange(n), npts)
    k = np.arange(ev.size) - np.repeat(np.cumsum(npts) - npts, npts)
    frac = (k + 0.5) / npts[ev] - 0.5
    rows = r0[ev] + frac * length[ev] * np.sin(phi[ev])
    cols = c0[ev] + frac * length[ev] * np.cos(phi[ev])
    w = rng.gamma(4.0, 1.0, ev.size)  # ionisation fluctuates along the track
    wsum = np.bincount(ev, weights=w)
    return rows, cols, charge[ev] * w / wsum[ev], ev


def _worms(rng: np.random.Generator, n: int, shape: tuple[int, int]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Curved tracks of low-energy electrons: persistent random walks, 6-40 pixels."""
    npts = rng.integers(12, 80, n)
    ev = np.repeat(np.arange(n), npts)
    k = np.arange(ev.size) - np.repeat(np.cumsum(npts) - npts, npts)
    turn = rng.normal(0.0, 0.25, ev.size)
    turn[k == 0] = 0.0
    ang = rng.uniform(0, 2 * np.pi, n)[ev] + _segment_cumsum(turn, ev)
    rows = _segment_cumsum(_STEP * np.sin(ang), ev) + rng.uniform(0, shape[0], n)[ev]
    cols = _segment_cumsum(_STEP * np.cos(ang), ev) + rng.uniform(0, shape[1], n)[ev]
    # ionisation rises towards the end of the track (the electron slows down)
    rise = 1.0 + 2.0 * (k / npts[ev]) ** 3
    charge = rng.uniform(500.0, 2500.0, n)
    w = rise * rng.gamma(3.0, 1.0, ev.size)
    wsum = np.bincount(ev, weights=w)
    return rows, cols, charge[ev] * w / wsum[ev], ev


def _segment_cumsum(values: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each new event (``ev`` sorted)."""
    total = np.cumsum(values)
    starts = np.flatnonzero(np.diff(np.concatenate([[-1], ev])))
    offset = np.repeat(total[starts] - values[starts], np.diff(np.append(starts, ev.size)))
    return total - offset


def add_cosmic_rays(rng: np.random.Generator, image: np.ndarray, exptime: float,
                    flux_factor: float = 1.0, want_image: bool = False
                    ) -> tuple[np.ndarray | None, int]:
    """Add the cosmic rays of one exposure to a chip (e-, in place).

    Args:
        rng: generator (consumed).
        image: float32 (rows, cols) electrons.
        exptime: s of exposure.
        flux_factor: multiplier of :data:`CR_FLUX` for this exposure (orbit position).
        want_image: also return the cosmic-ray charge alone (costs a full-frame temporary).

    Returns:
        (charge, events): float32 e- of cosmic-ray charge per pixel (None unless
        ``want_image``; pixels above :data:`HIT_THRESHOLD` count as hit) and the
        number of events.
    """
    area = image.size * PIXEL_CM2
    n = int(rng.poisson(CR_FLUX * flux_factor * area * exptime))
    target = np.zeros(image.shape, dtype=np.float32) if want_image else image
    if n:
        n_worm = int(rng.binomial(n, WORM_FRACTION))
        parts = [_tracks(rng, n - n_worm, image.shape)]
        if n_worm:
            parts.append(_worms(rng, n_worm, image.shape))
        rows = np.concatenate([p[0] for p in parts])
        cols = np.concatenate([p[1] for p in parts])
        charge = np.concatenate([p[2] for p in parts])
        sigma = rng.uniform(0.4, 0.6, rows.size)  # diffusion depth varies along the path
        splat_gaussians(target, rows, cols, charge, sigma)
    if not want_image:
        return None, n
    image += target
    return target, n
