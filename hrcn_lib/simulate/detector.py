"""The detector model: response, dark, defects, charge transfer and the raw DN array of a chip.

Order of a chip's life (all in electrons until :func:`chip_to_raw`):

1. the PSF-convolved signal (:mod:`.scene`) plus sky, times the **response**
   (:func:`response_map`): the pixel-area map of the geometric distortion (ACS/WFC
   ±9 %, ACS IHB §5.2; WFC3/UVIS ±3 %, an assumption of the same shape), a
   low-order L-flat (±1.5 %), a pixel-to-pixel P-flat (0.4 % rms), dust-mote
   "donuts" and low-sensitivity column segments. Raw files are not flat-fielded,
   so sky and object carry this imprint;
2. + dark current (growing from 30 % to 100 % of the detector's current value
   over its years in orbit) and **hot pixels / warm columns**
   (:func:`hot_pixels`), then photon noise (:func:`.kernels.photon_noise`);
3. + cosmic rays (:mod:`.cosmics`), satellite trails (:func:`add_satellite`);
4. saturation at the full well with charge bleeding along columns;
5. **parallel CTE** (:func:`.kernels.cte_trails`): trap density growing linearly
   with time since installation, trails away from the amplifiers and into the
   virtual overscan rows;
6. :func:`chip_to_raw`: per-amplifier gain, bias drifting between exposures,
   a fixed column pattern of the bias, ACS's post-SM4 1/f **bias striping**
   (rows common to all four amplifiers in readout order, sigma ~0.9 e-; the
   destripe page of the ACS team), the start-of-line **prescan decay** of the
   first columns read (ACS DHB §4.2: the first ~18 prescan columns decay towards
   the bias level), serial-CTE trails into the first overscan columns, read noise
   on every pixel, rounding to uint16 DN.

Fixed detector properties (response, hot pixels, bias column pattern) are
seeded by instrument and chip only, and cached per process.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from hrcn_lib.instruments import ChipLayout, Detector, detector
from hrcn_lib.simulate import kernels
from hrcn_lib.simulate.exposures import SERVICE_MJD
from hrcn_lib.simulate.textures import power_law_field

__all__ = [
    "HOT_PIXEL_FRACTION",
    "PAM_RANGE",
    "response_map",
    "hot_pixels",
    "dark_rate",
    "cte_density",
    "bias_drift",
    "stripes",
    "chip_to_raw",
    "add_satellite",
    "ghost_image",
    "readout",
]

#: Fraction of hot pixels (dark rate lognormal, median 0.08 e-/s).
HOT_PIXEL_FRACTION = 2e-3
#: Half-range of the pixel-area map (ACS IHB §5.2: ±9 % for WFC; UVIS: assumed).
PAM_RANGE = {"ACS/WFC": 0.09, "WFC3/UVIS": 0.03}
#: Trap capacity per transfer per year in orbit (e-), see :func:`cte_density`.
_CTE_PER_YEAR = 0.006
#: Reference date of the detectors' dark currents (Cycle 32, ACS IHB Table 3.1).
_DARK_REF_MJD = 60766.0
_STRIPE_SIGMA = 0.9  # e-, ACS post-SM4
_SM4_MJD = 54970.0


def _chip_rng(instrument: str, hdu: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([7, 0 if instrument == "ACS/WFC" else 1, hdu, stream])


def readout(lay: ChipLayout) -> tuple[int, int, int, int]:
    """(first science row read, row step, transfers of that row, virtual rows read after).

    Chip ``[SCI,1]`` is read at row 0 (virtual rows at the top), ``[SCI,2]`` at its
    last row (virtual rows at the bottom).
    """
    n = lay.science_rows[1] - lay.science_rows[0]
    n_virtual = lay.raw_shape[0] - n
    if lay.hdu == 1:
        return 0, 1, 1, n_virtual
    return n - 1, -1, 1, n_virtual


@functools.lru_cache(maxsize=4)
def response_map(instrument: str, hdu: int) -> np.ndarray:
    """Pixel-area map x flat field of one chip (float32, science shape; mean ~1).

    Raises:
        ValueError: unknown instrument or HDU.
    """
    det = detector(instrument)
    lay = det.chips[hdu]
    nr = lay.science_rows[1] - lay.science_rows[0]
    rng = _chip_rng(instrument, hdu, 1)
    # pixel area: a smooth quadratic over the whole focal plane (both chips), +-PAM_RANGE
    ys = (np.arange(0, nr, 8) + (0 if hdu == 4 else -nr)) / nr  # -1..1 over both chips
    xs = np.arange(0, 4096, 8) / 2048.0 - 1.0
    x, y = np.meshgrid(xs, ys)
    pam = 0.55 * x + 0.35 * y + 0.1 * x * y + 0.1 * x * x
    pam = 1.0 + PAM_RANGE[instrument] * pam / 1.1
    lflat = 1.0 + 0.015 * power_law_field(_chip_rng(instrument, hdu, 2), 512, 4.0)[
        : pam.shape[0], : pam.shape[1]] / 2.5
    coarse = (pam * lflat).astype(np.float32)
    out = cv2.resize(coarse, (coarse.shape[1] * 8, coarse.shape[0] * 8),
                     interpolation=cv2.INTER_LINEAR)[:nr, :4096]
    out = np.ascontiguousarray(out, dtype=np.float32)
    out *= (1.0 + 0.004 * rng.standard_normal(out.shape)).astype(np.float32)  # P-flat
    yy, xx = np.ogrid[:nr, :4096]
    for _ in range(int(rng.integers(10, 25))):  # dust motes: shallow "donut" rings
        r0, c0 = rng.uniform(0, nr), rng.uniform(0, 4096)
        rad, depth = rng.uniform(10, 40), rng.uniform(0.01, 0.04)
        a0, a1 = int(max(0, r0 - 2 * rad)), int(min(nr, r0 + 2 * rad))
        b0, b1 = int(max(0, c0 - 2 * rad)), int(min(4096, c0 + 2 * rad))
        d = np.hypot(yy[a0:a1] - r0, xx[:, b0:b1] - c0)
        out[a0:a1, b0:b1] *= (1.0 - depth * np.exp(-0.5 * ((d - 0.7 * rad) / (0.25 * rad)) ** 2)
                              ).astype(np.float32)
    for _ in range(int(rng.integers(3, 9))):  # low-sensitivity column segments (traps)
        c = int(rng.integers(0, 4096))
        a = int(rng.integers(0, nr - 50))
        out[a:a + int(rng.integers(50, nr - a)), c] *= np.float32(rng.uniform(0.3, 0.9))
    return out


@functools.lru_cache(maxsize=8)
def _hot(instrument: str, hdu: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rng = _chip_rng(instrument, hdu, 3)
    size = shape[0] * shape[1]
    n = int(HOT_PIXEL_FRACTION * size)
    idx = rng.choice(size, size=n, replace=False)
    rate = np.exp(rng.normal(math.log(0.08), 1.3, n))
    cols, rates = [], []
    for _ in range(int(rng.integers(4, 10))):  # warm columns
        c = int(rng.integers(0, shape[1]))
        a = int(rng.integers(0, shape[0] - 20))
        rows = np.arange(a, min(shape[0], a + int(rng.integers(20, shape[0]))))
        cols.append(rows * shape[1] + c)
        rates.append(np.full(rows.size, rng.uniform(0.02, 0.2)))
    return (np.concatenate([idx, *cols]).astype(np.int64),
            np.concatenate([rate, *rates]).astype(np.float32))


def hot_pixels(instrument: str, hdu: int, shape: tuple[int, int], mjd: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Hot pixels and warm columns: (flat indices, extra dark e-/s), more of them later in the
    mission (radiation damage between anneals)."""
    idx, rate = _hot(instrument, hdu, shape)
    age = _years(instrument, mjd) / 20.0
    keep = max(1, int(idx.size * min(1.0, 0.35 + age)))
    return idx[:keep], rate[:keep]


def _years(instrument: str, mjd: float) -> float:
    return max(0.0, (mjd - SERVICE_MJD[instrument][0][0]) / 365.25)


def dark_rate(det: Detector, mjd: float) -> float:
    """Dark current (e-/s/pixel) at ``mjd``: 30 % of the reference value at installation,
    growing linearly to it at the reference date."""
    years = _years(det.instrument, mjd)
    span = (_DARK_REF_MJD - SERVICE_MJD[det.instrument][0][0]) / 365.25
    return det.dark_current * (0.3 + 0.7 * min(years / span, 1.2))


def cte_density(instrument: str, mjd: float) -> float:
    """Trap capacity (e-) per parallel transfer: ``_CTE_PER_YEAR`` x years in orbit."""
    return _CTE_PER_YEAR * max(_years(instrument, mjd), 0.1)


def bias_drift(rng: np.random.Generator, det: Detector) -> dict[str, float]:
    """Bias levels (DN) of the amplifiers for one exposure: the typical level plus a common
    drift (3 DN rms) and a small per-amplifier change (0.7 DN rms)."""
    common = float(rng.normal(0.0, 3.0))
    return {a: el.bias + common + float(rng.normal(0.0, 0.7)) for a, el in det.electronics.items()}


def stripes(rng: np.random.Generator, instrument: str, mjd: float, n_rows: int) -> np.ndarray:
    """Row offsets (e-) in readout order, common to all amplifiers: ACS/WFC after SM4 shows
    1/f striping of ~0.9 e- rms; other cases none (zeros)."""
    if instrument != "ACS/WFC" or mjd < _SM4_MJD:
        return np.zeros(n_rows, np.float32)
    k = np.fft.rfftfreq(n_rows)
    k[0] = 1.0
    spec = (rng.standard_normal(k.size) + 1j * rng.standard_normal(k.size)) / np.sqrt(k)
    spec[0] = 0.0
    series = np.fft.irfft(spec, n_rows)
    white = rng.standard_normal(n_rows)
    series = 0.6 * series / series.std() + 0.8 * white
    return (_STRIPE_SIGMA * series / series.std()).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _column_bias(instrument: str, hdu: int, ncol: int) -> np.ndarray:
    return (0.6 * _chip_rng(instrument, hdu, 4).standard_normal(ncol)).astype(np.float32)


def _amp_arrays(lay: ChipLayout, det: Detector, bias: dict[str, float]) -> dict:
    acs = det.instrument == "ACS/WFC"
    out: dict[str, list] = {k: [] for k in ("c0", "c1", "s0", "s1", "k0", "gain", "rn", "bias",
                                            "first", "step", "decay_amp", "decay_len")}
    for k, amp in enumerate(lay.amps):
        el = det.electronics[amp.name]
        out["c0"].append(amp.raw_cols[0])
        out["c1"].append(amp.raw_cols[1])
        out["s0"].append(amp.science_cols[0])
        out["s1"].append(amp.science_cols[1])
        out["k0"].append(2048 * k)
        out["gain"].append(el.gain)
        out["rn"].append(el.read_noise)
        out["bias"].append(bias[amp.name])
        left = amp.corner[1] == 0
        out["first"].append(amp.raw_cols[0] if left else amp.raw_cols[1] - 1)
        out["step"].append(1 if left else -1)
        out["decay_amp"].append(6.0 if acs else 4.0)
        out["decay_len"].append(3.5 if acs else 3.0)
    ints = ("c0", "c1", "s0", "s1", "k0", "first", "step")
    return {k: np.asarray(v, dtype=np.int64 if k in ints else np.float64) for k, v in out.items()}


def chip_to_raw(science_e: np.ndarray, lay: ChipLayout, det: Detector, bias: dict[str, float],
                stripe: np.ndarray, virtual_e: np.ndarray, seed: int) -> np.ndarray:
    """Electrons on the science area -> the chip's raw uint16 DN array.

    Args:
        science_e: float32 (science rows, 4096) e- (raw orientation).
        lay, det: the chip layout and detector.
        bias: amplifier -> bias level (DN) of this exposure (:func:`bias_drift`).
        stripe: float32 e- per raw row of readout-correlated bias noise
            (:func:`stripes`, already in this chip's raw row order).
        virtual_e: float32 (virtual rows, 4096) e- trailed into the parallel virtual
            overscan, in readout order (:func:`.kernels.cte_trails`).
        seed: read-noise seed.

    Returns:
        uint16 ``lay.raw_shape``.
    """
    virt_r0 = lay.science_rows[1] if lay.hdu == 1 else 0
    virt = virtual_e if lay.hdu == 1 else virtual_e[::-1]  # chip 1 reads its bottom rows last
    return kernels.to_raw(science_e, lay.raw_shape, lay.science_rows[0],
                          _amp_arrays(lay, det, bias),
                          _column_bias(det.instrument, lay.hdu, lay.raw_shape[1]), stripe,
                          np.ascontiguousarray(virt, dtype=np.float32), virt_r0, 1e-3, seed)


def add_satellite(rng: np.random.Generator, image: np.ndarray,
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
