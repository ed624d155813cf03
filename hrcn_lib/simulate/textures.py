"""Multi-scale fractal structure: power-law Gaussian random fields fixed on each body.

The interstellar medium and the young stellar light of star-forming discs are
scale-free over a wide range of scales: the 2-D power spectrum of HI and dust
column density is ``P(k) ~ k^-beta`` with ``beta`` ~2.7-3.1 (SMC HI: 3.04,
Stanimirovic et al. 1999, MNRAS 302, 417; LMC HI: 2.66 on large scales,
Elmegreen, Kim & Staveley-Smith 2001, ApJ 548, 749; review: Elmegreen & Scalo
2004, ARA&A 42, 211), and optical images of star-forming discs show the same
power-law spectrum of their young-star light up to the disc thickness
(Elmegreen, Elmegreen & Leitner 2003, ApJ 590, 271). Emission is log-normal in
such turbulent media, so a component's light is ``I exp(sigma G - sigma^2/2)``
with ``G`` a unit-variance field of spectrum ``k^-beta``.

A body spans up to ~1000 arcsec while the PSF is 0.05-0.1 arcsec, so one field
is split into two bands that are added:

* a **coarse raster** (:class:`BodyRaster`, 1024^2 texels over the body, texels of
  0.2-1.2 arcsec) holds the scales above :data:`FINE_SPLIT` texels, sampled
  bilinearly wherever the body is drawn (on the 4x coarse grid, :mod:`.scene`);
* **fine tiles** (:class:`FineTiles`): two periodic 512^2 and 400^2 tiles of
  :data:`TEXEL` arcsec texels with the same spectrum between the raster's
  resolution and the PSF scale, anchored on the body at two different
  orientations (their incommensurate periods hide any repetition), sampled at
  half the detector resolution by a numba kernel (:func:`.draw_kernels.sample_tiles`).

Both are fixed on the body (seeded by it), so every exposure of a body shows the
same structure. :func:`band_sigma` splits a component's total log-normal sigma
between the two bands in proportion to the variance the power law puts in each:
with ``beta ~ 3`` the small scales hold a percent or so of it -- the physics
decides how much detail full resolution adds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "TEXEL",
    "FINE_SPLIT",
    "PSF_SCALE",
    "BodyRaster",
    "FineTiles",
    "power_law_field",
    "band_variance",
    "band_sigma",
    "make_tiles",
    "raster_field",
]

#: Texel of the fine tiles (arcsec).
TEXEL = 0.05
#: The coarse raster keeps scales above this many of its texels (its Gaussian cut-off).
FINE_SPLIT = 2.5
#: Smallest scale of the fine tiles (arcsec): below it the PSF removes structure anyway.
PSF_SCALE = 0.12


def power_law_field(rng: np.random.Generator, n: int, beta: float, k_low: float = 0.0,
                    k_high: float = 0.5) -> np.ndarray:
    """Zero-mean, unit-variance periodic Gaussian random field with ``P(k) ~ k^-beta``.

    Args:
        rng: generator (consumed).
        n: side (texels).
        beta: 2-D power-spectrum index.
        k_low, k_high: band edges in cycles per texel: Gaussian roll-off above
            ``k_high``, Gaussian high-pass below ``k_low`` (0: none).

    Returns:
        float32 (n, n).
    """
    kx = np.fft.fftfreq(n)[:, None]
    ky = np.fft.rfftfreq(n)[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    amp = k ** (-beta / 2.0) * np.exp(-0.5 * (k / k_high) ** 2)
    if k_low > 0:
        amp *= 1.0 - np.exp(-0.5 * (k / k_low) ** 2)
    amp[0, 0] = 0.0
    noise = rng.standard_normal((n, n // 2 + 1)) + 1j * rng.standard_normal((n, n // 2 + 1))
    field = np.fft.irfft2(noise * amp, s=(n, n))
    field -= field.mean()
    return (field / field.std()).astype(np.float32)


def band_variance(beta: float, k1: float, k2: float) -> float:
    """Variance a ``k^-beta`` 2-D spectrum puts between wavenumbers ``k1 < k2`` (any unit)."""
    if k2 <= k1:
        return 0.0
    if abs(beta - 2.0) < 1e-6:
        return math.log(k2 / k1)
    return (k1 ** (2.0 - beta) - k2 ** (2.0 - beta)) / (beta - 2.0)


def band_sigma(sigma_total: float, beta: float, raster_texel: float, raster_side: float
               ) -> tuple[float, float]:
    """Split a log-normal sigma between the coarse raster and the fine tiles.

    Args:
        sigma_total: sigma of ``G`` over all scales.
        beta: spectral index.
        raster_texel: arcsec per raster texel.
        raster_side: arcsec, the raster's extent (its largest scale).

    Returns:
        (sigma_coarse, sigma_fine) with ``sigma_coarse^2 + sigma_fine^2 = sigma_total^2``.
    """
    k_split = 1.0 / (FINE_SPLIT * raster_texel)
    coarse = band_variance(beta, 1.0 / raster_side, k_split)
    fine = band_variance(beta, k_split, 1.0 / PSF_SCALE)
    frac = fine / (coarse + fine) if coarse + fine > 0 else 0.0
    return sigma_total * math.sqrt(1.0 - frac), sigma_total * math.sqrt(frac)


@dataclass(frozen=True)
class BodyRaster:
    """A texture fixed on the body: square float32 image covering ``[-half, half]`` arcsec.

    ``wrap=True`` samples it periodically (for fields in polar coordinates).
    """

    data: np.ndarray
    half: float
    wrap: bool = False

    @property
    def texel(self) -> float:
        """Arcsec per texel."""
        return 2.0 * self.half / self.data.shape[0]

    def sample(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Bilinear samples at (u, v) (float32, same shape); 0 outside unless ``wrap``."""
        n = self.data.shape[0]
        scale = np.float32(n / (2.0 * self.half))
        mx = ((u + np.float32(self.half)) * scale - np.float32(0.5)).astype(np.float32)
        my = ((np.float32(self.half) - v) * scale - np.float32(0.5)).astype(np.float32)
        if self.wrap:
            mx = np.mod(mx, np.float32(n))
            my = np.mod(my, np.float32(n))
            return cv2.remap(self.data, mx, my, interpolation=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_WRAP)
        return cv2.remap(self.data, mx, my, interpolation=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def raster_field(rng: np.random.Generator, half: float, beta: float, n: int = 1024,
                 wrap: bool = False) -> BodyRaster:
    """A :class:`BodyRaster` holding the large-scale band of a ``k^-beta`` field."""
    return BodyRaster(power_law_field(rng, n, beta, 0.0, 1.0 / FINE_SPLIT), half, wrap)


@dataclass(frozen=True)
class FineTiles:
    """The small-scale band of a body's fields: two periodic tiles and their anchoring.

    Attributes:
        a, b: float32 square tiles (zero mean, unit variance), periods 512 and 400
            texels of :data:`TEXEL` arcsec.
        angles: radians, orientation of each tile for field 1 and field 2
            (``(a1, b1, a2, b2)``).
        offsets: texels, shift of each tile for field 1 and field 2 (4 x 2).
    """

    a: np.ndarray
    b: np.ndarray
    angles: tuple[float, float, float, float]
    offsets: np.ndarray

    def affine(self, which: int, grid_matrix: np.ndarray, origin: tuple[float, float],
               step: float, x0: float, y0: float) -> tuple[np.ndarray, np.ndarray]:
        """Affine maps (half-res (col, row, 1) -> texel (x, y)) of tiles a and b for field
        ``which`` (1 or 2).

        Args:
            grid_matrix: 2x2 arcsec per detector pixel, focal-plane (x, y) -> (u, v).
            origin: (u, v) arcsec of focal-plane offset (0, 0).
            step: detector pixels per sampled pixel (2 at half resolution).
            x0, y0: focal-plane offset of detector pixel (0, 0).
        """
        out = []
        for t in range(2):
            ang = self.angles[2 * (which - 1) + t]
            c, s = math.cos(ang), math.sin(ang)
            rot = np.array([[c, -s], [s, c]]) / TEXEL
            # sampled pixel (i, j) sits at detector (j * step + (step - 1) / 2, i * step + ...)
            half = (step - 1) / 2.0
            lin = rot @ grid_matrix * step  # per sampled (col, row)
            base = rot @ (np.asarray(origin) + grid_matrix @ np.array([x0 + half, y0 + half]))
            base = base + self.offsets[2 * (which - 1) + t]
            out.append(np.array([[lin[0, 0], lin[0, 1], base[0]],
                                 [lin[1, 0], lin[1, 1], base[1]]]))
        return out[0], out[1]


def make_tiles(rng: np.random.Generator, beta: float, k_low_arcsec: float) -> FineTiles:
    """The fine tiles of a body.

    Args:
        rng: generator (consumed).
        beta: spectral index.
        k_low_arcsec: cycles per arcsec below which the tiles hold no power (the
            coarse raster's band edge, ``1 / (FINE_SPLIT x raster texel)``).
    """
    k_low = k_low_arcsec * TEXEL
    k_high = TEXEL / PSF_SCALE / 2.0
    a = power_law_field(rng, 512, beta, k_low, k_high)
    b = power_law_field(rng, 400, beta, k_low, k_high)
    angles = tuple(float(x) for x in rng.uniform(0, 2 * np.pi, 4))
    return FineTiles(a, b, angles, rng.uniform(0, 400, (4, 2)))
