"""Scenes: a body's light in its own sky frame, and how it is drawn onto one chip.

A :class:`Scene` describes one body in a tangent-plane frame centred on it
(``u`` east, ``v`` north, arcsec). It has three kinds of light, drawn the way
``simulation_notes.md`` recommends for speed:

* ``smooth(u, v)``: analytic / textured surface brightness per component
  (e-/s/arcsec^2 in the reference band, see :mod:`.photometry`) plus a dust
  optical depth ``tau`` (V band). Evaluated in float32 on a grid 4x coarser
  than the detector and upsampled bilinearly (smooth light only).
* ``clumps``: small extended sources (HII knots, background galaxies, gas
  clumps) binned onto the coarse grid, so they come out ~2 coarse pixels wide.
* ``stars``: point sources binned onto the full-resolution grid (bilinear
  split between the 4 nearest pixels).

Everything is summed, multiplied by the exposure time and convolved once with
the PSF stamp by FFT (:func:`render_signal`). ``coverage(u, v)`` is the
reference-band surface brightness a human screener would call "the object"
(used for the screening rule, :mod:`.exposures`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import scipy.fft

from hrcn_lib.simulate.photometry import COMPONENTS, dust_k, rate_factor

__all__ = [
    "PointSources",
    "Scene",
    "ChipGrid",
    "COARSE",
    "sersic",
    "sersic_bn",
    "king",
    "elliptical_radius",
    "BodyRaster",
    "gaussian_random_field",
    "render_smooth",
    "render_signal",
    "fft_convolve",
]

#: Coarse-grid factor for smooth light (detector pixels per coarse pixel, each axis).
COARSE = 4

SmoothFn = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
CoverFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PointSources:
    """A catalogue of sources fixed in the body frame.

    Attributes:
        u, v: float64 arrays (N,), arcsec east / north of the body centre.
        flux: float32 (N,), e-/s in the reference band (ACS/WFC F606W).
        colour: float32 (N,) in [0, 1]: SED mix, 0 = ``young``, 1 = ``old``
            (``gas`` clumps use ``kind``).
        kind: component of the whole catalogue when not a star mix
            (``""`` = young/old mix by ``colour``; ``"gas"``/``"oiii"``).
    """

    u: np.ndarray
    v: np.ndarray
    flux: np.ndarray
    colour: np.ndarray
    kind: str = ""

    @staticmethod
    def empty() -> PointSources:
        z = np.zeros(0)
        return PointSources(z, z, z.astype(np.float32), z.astype(np.float32))

    def __len__(self) -> int:
        return int(self.u.size)

    def rate(self, instrument: str, filt: str, pixel_scale: float) -> np.ndarray:
        """e-/s per source in this exposure's band (float32, (N,))."""
        area = pixel_scale**2
        if self.kind:
            return self.flux * np.float32(rate_factor(self.kind, instrument, filt, pixel_scale)
                                          / area)
        old = rate_factor("old", instrument, filt, pixel_scale) / area
        young = rate_factor("young", instrument, filt, pixel_scale) / area
        return self.flux * (self.colour * np.float32(old - young) + np.float32(young))

    @staticmethod
    def concat(parts: list[PointSources]) -> PointSources:
        """One catalogue from several star (young/old mix) catalogues."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return PointSources.empty()
        return PointSources(np.concatenate([p.u for p in parts]),
                            np.concatenate([p.v for p in parts]),
                            np.concatenate([p.flux for p in parts]).astype(np.float32),
                            np.concatenate([p.colour for p in parts]).astype(np.float32))


@dataclass(frozen=True)
class Scene:
    """One body's light (see module docstring).

    Attributes:
        smooth: ``(u, v) -> {component: SB, "tau": optical depth}`` on float32 grids.
        coverage: ``(u, v) -> SB`` (reference band) defining the object's extent.
        stars: point sources (full resolution).
        clumps: small extended sources (coarse resolution), several catalogues.
        extent: arcsec, radius within which the body has light worth pointing at.
        notes: free-form facts about the scene (e.g. King radii), for tests/book.
    """

    smooth: SmoothFn
    coverage: CoverFn
    stars: PointSources
    clumps: tuple[PointSources, ...]
    extent: float
    notes: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- profiles


def sersic_bn(n: float) -> float:
    """Sersic ``b_n`` (Ciotti & Bertin 1999 expansion) so that r_e encloses half the light."""
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)


def elliptical_radius(u: np.ndarray, v: np.ndarray, pa_deg: float, q: float,
                      u0: float = 0.0, v0: float = 0.0) -> np.ndarray:
    """Elliptical radius (arcsec, float32) for major-axis position angle ``pa_deg`` and axis ratio q."""
    c, s = np.float32(np.cos(np.radians(pa_deg))), np.float32(np.sin(np.radians(pa_deg)))
    du, dv = u - np.float32(u0), v - np.float32(v0)
    x = du * c + dv * s
    y = (-du * s + dv * c) / np.float32(q)
    return np.sqrt(x * x + y * y)


def sersic(r: np.ndarray, n: float, r_e: float, i_e: float) -> np.ndarray:
    """Sersic surface brightness ``I_e exp(-b_n ((r/r_e)^(1/n) - 1))`` (float32, units of i_e)."""
    b = np.float32(sersic_bn(n))
    x = np.power(np.maximum(r, np.float32(1e-3)) / np.float32(r_e), np.float32(1.0 / n))
    return np.float32(i_e) * np.exp(-b * (x - np.float32(1.0)))


def king(r: np.ndarray, r_c: float, r_t: float, k: float) -> np.ndarray:
    """King (1962) surface density ``k [(1+(r/rc)^2)^-1/2 - (1+(rt/rc)^2)^-1/2]^2``, 0 beyond r_t."""
    r = np.asarray(r, dtype=np.float32)
    a = 1.0 / np.sqrt(1.0 + (r / np.float32(r_c)) ** 2)
    b = np.float32(1.0 / np.sqrt(1.0 + (r_t / r_c) ** 2))
    out = np.float32(k) * np.clip(a - b, 0.0, None) ** 2
    return np.where(r < r_t, out, np.float32(0.0)).astype(np.float32)


@dataclass(frozen=True)
class BodyRaster:
    """A texture fixed on the body: square float32 image covering ``[-half, half]`` arcsec."""

    data: np.ndarray
    half: float

    def sample(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Bilinear samples at (u, v) (float32, same shape); 0 outside the raster."""
        n = self.data.shape[0]
        scale = np.float32(n / (2.0 * self.half))
        mx = ((u + np.float32(self.half)) * scale - np.float32(0.5)).astype(np.float32)
        my = ((np.float32(self.half) - v) * scale - np.float32(0.5)).astype(np.float32)
        return cv2.remap(self.data, mx, my, interpolation=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def gaussian_random_field(rng: np.random.Generator, n: int, slope: float,
                          smallest: float = 1.0) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with power spectrum ``k^-slope``.

    Args:
        rng: generator (consumed).
        n: side of the square field (pixels).
        slope: power-law index (3 = clumpy, 4 = smooth filaments).
        smallest: smallest structure in pixels (Gaussian cut-off in k).

    Returns:
        float32 (n, n).
    """
    kx = np.fft.fftfreq(n)[:, None]
    ky = np.fft.rfftfreq(n)[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    amp = k ** (-slope / 2.0) * np.exp(-((k * smallest * np.pi) ** 2))
    amp[0, 0] = 0.0
    noise = rng.standard_normal((n, n // 2 + 1)) + 1j * rng.standard_normal((n, n // 2 + 1))
    field_ = np.fft.irfft2(noise * amp, s=(n, n))
    field_ -= field_.mean()
    return (field_ / field_.std()).astype(np.float32)


# ----------------------------------------------------------------------------- chip grid


@dataclass(frozen=True)
class ChipGrid:
    """Mapping between a chip's science pixels and the body frame.

    The science area is ``shape`` = (rows, 4096) in raw orientation. A science
    pixel (row, col) sits at focal-plane offset ``x = col + x0``, ``y = row + y0``
    (pixels from the WCS reference point); the sky offset is
    ``(u, v) = (pu, pv) + scale * M @ (x, y)`` with ``M`` the roll matrix of the
    CD matrix (``u`` east, ``v`` north, arcsec), or ``(pu, pv) + affine @ (x, y)``
    when ``affine`` (arcsec per pixel, 2x2) is given: the exact linear map from
    the pointing's tangent plane to the body's, which differ by the convergence
    of the meridians (a rotation of ``delta_RA sin(Dec)``).
    """

    shape: tuple[int, int]
    x0: float
    y0: float
    scale: float
    roll_deg: float
    pu: float
    pv: float
    affine: tuple[tuple[float, float], tuple[float, float]] | None = None

    @property
    def matrix(self) -> np.ndarray:
        """2x2 float64: pixel offset -> (u, v) arcsec (CD matrix x 3600, or ``affine``)."""
        if self.affine is not None:
            return np.array(self.affine, dtype=np.float64)
        c, s = np.cos(np.radians(self.roll_deg)), np.sin(np.radians(self.roll_deg))
        return self.scale * np.array([[-c, s], [s, c]])

    def coarse_uv(self, factor: int = COARSE) -> tuple[np.ndarray, np.ndarray]:
        """(u, v) float32 at the centres of the coarse pixels, shape ceil(shape / factor)."""
        nr, nc = -(-self.shape[0] // factor), -(-self.shape[1] // factor)
        rows = (np.arange(nr) + 0.5) * factor - 0.5 + self.y0
        cols = (np.arange(nc) + 0.5) * factor - 0.5 + self.x0
        m = self.matrix
        u = (self.pu + m[0, 0] * cols[None, :] + m[0, 1] * rows[:, None]).astype(np.float32)
        v = (self.pv + m[1, 0] * cols[None, :] + m[1, 1] * rows[:, None]).astype(np.float32)
        return u, v

    def to_pixels(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Science-area (row, col) float64 of body-frame positions."""
        inv = np.linalg.inv(self.matrix)
        du, dv = u - self.pu, v - self.pv
        x = inv[0, 0] * du + inv[0, 1] * dv
        y = inv[1, 0] * du + inv[1, 1] * dv
        return y - self.y0, x - self.x0


# ----------------------------------------------------------------------------- drawing


def _upsample(coarse: np.ndarray, shape: tuple[int, int], factor: int) -> np.ndarray:
    """Bilinear upsampling of a coarse grid (pixel centres aligned) cropped to ``shape``."""
    up = cv2.resize(coarse, (coarse.shape[1] * factor, coarse.shape[0] * factor),
                    interpolation=cv2.INTER_LINEAR)
    return up[: shape[0], : shape[1]]


def _bin_bilinear(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray,
                  shape: tuple[int, int]) -> np.ndarray:
    """Sum point weights onto a grid, each split bilinearly between its 4 nearest pixels."""
    out = np.zeros(shape[0] * shape[1], dtype=np.float64)
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = rows - r0, cols - c0
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    for dr, dc, w in ((0, 0, (1 - fr) * (1 - fc)), (1, 0, fr * (1 - fc)),
                      (0, 1, (1 - fr) * fc), (1, 1, fr * fc)):
        r, c = r0 + dr, c0 + dc
        ok = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
        out += np.bincount(r[ok] * shape[1] + c[ok], weights=(weights * w)[ok],
                           minlength=out.size)
    return out.reshape(shape).astype(np.float32)


def _source_pixels(src: PointSources, grid: ChipGrid, factor: int,
                   margin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (into ``src``) of sources on the (possibly coarse) grid, and their (row, col)."""
    if not len(src):
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    rows, cols = grid.to_pixels(src.u, src.v)
    ok = ((rows > -margin) & (rows < grid.shape[0] + margin)
          & (cols > -margin) & (cols < grid.shape[1] + margin))
    idx = np.flatnonzero(ok)
    # coarse pixel j has its centre at detector coordinate (j + 0.5) * factor - 0.5
    return idx, (rows[idx] + 0.5) / factor - 0.5, (cols[idx] + 0.5) / factor - 0.5


def render_smooth(scene: Scene, grid: ChipGrid, instrument: str, filt: str,
                  factor: int = COARSE) -> tuple[np.ndarray, np.ndarray]:
    """Smooth light + clumps on the coarse grid, in e-/s per *detector* pixel.

    Returns:
        (rate, coverage): float32 arrays of the coarse shape; ``coverage`` is the
        reference-band surface brightness (e-/s/arcsec^2) of :attr:`Scene.coverage`.
    """
    u, v = grid.coarse_uv(factor)
    comps = scene.smooth(u, v)
    rate = np.zeros(u.shape, dtype=np.float32)
    for comp in COMPONENTS:
        if comp in comps:
            rate += comps[comp] * np.float32(rate_factor(comp, instrument, filt, grid.scale))
    for clumps in scene.clumps:
        idx, r, c = _source_pixels(clumps, grid, factor, margin=8 * factor)
        if idx.size:
            rates = clumps.rate(instrument, filt, grid.scale)[idx] * grid.scale**2
            rate += _bin_bilinear(r, c, rates, u.shape)
    if "tau" in comps:
        rate *= np.exp(-comps["tau"] * np.float32(dust_k(filt)))
    return rate, scene.coverage(u, v).astype(np.float32)


_KERNEL_FT: dict[tuple, np.ndarray] = {}


def fft_convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``scipy.signal.fftconvolve(image, kernel, mode="same")`` in float32 with real FFTs.

    The kernel's transform is kept for the next call with the same kernel and
    image shape (both chips of an exposure share their PSF).
    """
    s0 = scipy.fft.next_fast_len(image.shape[0] + kernel.shape[0] - 1, real=True)
    s1 = scipy.fft.next_fast_len(image.shape[1] + kernel.shape[1] - 1, real=True)
    key = (kernel.tobytes(), kernel.shape, s0, s1)
    kft = _KERNEL_FT.get(key)
    if kft is None:
        _KERNEL_FT.clear()
        kft = _KERNEL_FT[key] = scipy.fft.rfft2(kernel.astype(np.float32), (s0, s1))
    full = scipy.fft.irfft2(scipy.fft.rfft2(image, (s0, s1)) * kft, (s0, s1))
    h0, h1 = kernel.shape[0] // 2, kernel.shape[1] // 2
    return np.ascontiguousarray(full[h0:h0 + image.shape[0], h1:h1 + image.shape[1]],
                                dtype=np.float32)


def render_signal(scene: Scene, grid: ChipGrid, instrument: str, filt: str, exptime: float,
                  psf: np.ndarray, extra: np.ndarray | None = None,
                  factor: int = COARSE) -> tuple[np.ndarray, np.ndarray]:
    """Noiseless object signal on one chip's science area.

    Args:
        scene, grid: what and where.
        instrument, filt, exptime: the exposure (s).
        psf: float32 PSF stamp (odd, normalised to 1) at the detector pixel scale.
        extra: optional e-/s image (science shape) added before the convolution (ghosts).

    Returns:
        (signal, coverage): signal float32 ``grid.shape`` in e- (PSF-convolved);
        coverage float32 on the coarse grid (see :func:`render_smooth`).
    """
    coarse, coverage = render_smooth(scene, grid, instrument, filt, factor)
    image = _upsample(coarse, grid.shape, factor)
    stars = scene.stars
    idx, _, _ = _source_pixels(stars, grid, 1, margin=psf.shape[0])
    if idx.size:
        rows, cols = grid.to_pixels(stars.u[idx], stars.v[idx])
        image = image + _bin_bilinear(rows, cols, stars.rate(instrument, filt, grid.scale)[idx],
                                      grid.shape)
    if extra is not None:
        image = image + extra
    image *= np.float32(exptime)
    return np.maximum(fft_convolve(image, psf), 0.0), coverage
