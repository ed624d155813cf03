"""Scenes: a body's light in its own sky frame, and how it is drawn onto one chip.

A :class:`Scene` describes one body in a tangent-plane frame centred on it
(``u`` east, ``v`` north, arcsec):

* ``smooth(u, v)``: analytic surface brightness per light component (e-/s/arcsec^2
  in the reference band, :mod:`.photometry`) with the body's large-scale texture
  (coarse rasters, :mod:`.textures`), plus ``tau`` (V-band dust optical depth),
  and for nebulae ``cloud`` (a multi-scale field whose level set outlines dark
  clouds) and ``rim`` (the surface brightness of their ionised rims). Evaluated
  on a grid 4x coarser than the detector, where it is smooth.
* :class:`Diffuse`: how the diffuse light gets structure below the coarse grid:
  fine fractal tiles (log-normal modulation of the textured components and the
  dust, and the cloud edges), and surface-brightness fluctuations of unresolved
  stars. Combined at half the detector resolution (:func:`.draw_kernels.combine_diffuse`),
  upsampled once: the PSF (FWHM ~2 pixels) removes anything finer.
* ``stars`` and ``blobs``: the body's resolved stars (point sources) and its
  compact extended sources (young clusters, HII regions, globular clusters of a
  galaxy: Gaussian blobs), drawn at full resolution.
* ``field`` and ``galaxies``: foreground stars and background galaxies (not the
  object; :mod:`.context`), drawn at full resolution, kept apart for screening.

:func:`render_signal` multiplies by the exposure time and convolves everything
once by FFT with the PSF's core stamp, adds the far halo (a coarse FFT of the
same image) and the spikes of bright stars to the chip edge (:mod:`.psf`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import scipy.fft

from hrcn_lib.simulate import draw_kernels as kernels
from hrcn_lib.simulate.photometry import COMPONENTS, dust_k, rate_factor
from hrcn_lib.simulate.psf import R_IN, SPIKE_ANGLES, PSFModel, halo_kernel
from hrcn_lib.simulate.textures import BodyRaster, FineTiles

__all__ = [
    "PointSources",
    "Blobs",
    "Galaxies",
    "Diffuse",
    "Scene",
    "ChipGrid",
    "Rendered",
    "COARSE",
    "SCREEN_BIN",
    "sersic",
    "sersic_bn",
    "king",
    "elliptical_radius",
    "BodyRaster",
    "render_signal",
    "fft_convolve",
    "bin_mean",
]

#: Coarse-grid factor for smooth light (detector pixels per coarse pixel, each axis).
COARSE = 4
#: Block size of the screening view (detector pixels per screen pixel, each axis).
SCREEN_BIN = 8
_HALO = 8  # coarse factor of the far-halo convolution
_HALO_MARGIN = 48  # halo cells (of _HALO pixels) beyond each chip edge
_SPIKE_FLOOR = 0.3  # e- per pixel where a spike stops being drawn
_SBF_MIN_E = 0.5  # e-: SBF flux x exposure below which the fluctuations are not drawn

SmoothFn = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
CoverFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


@dataclass(frozen=True)
class PointSources:
    """A catalogue of point sources fixed in the body frame.

    Attributes:
        u, v: float64 (N,), arcsec east / north of the body centre.
        flux: float32 (N,), e-/s in the reference band (ACS/WFC F606W).
        colour: float32 (N,) in [0, 1]: SED mix, 0 = ``young``, 1 = ``old``; a negative
            colour marks ionised gas (the ``gas`` component: HII regions, knots).
        kind: component of the whole catalogue when not a star mix (``"gas"``...).
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
        out = self.flux * (self.colour * np.float32(old - young) + np.float32(young))
        gas = self.colour < 0
        if gas.any():
            out[gas] = self.flux[gas] * np.float32(rate_factor("gas", instrument, filt,
                                                               pixel_scale) / area)
        return out

    @staticmethod
    def concat(parts: list[PointSources]) -> PointSources:
        """One mixed catalogue from several (a ``gas`` catalogue gets colour -1)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return PointSources.empty()
        colour = [np.full(len(p), -1.0, np.float32) if p.kind == "gas" else p.colour
                  for p in parts]
        return PointSources(np.concatenate([p.u for p in parts]),
                            np.concatenate([p.v for p in parts]),
                            _f32(np.concatenate([p.flux for p in parts])),
                            _f32(np.concatenate(colour)))


@dataclass(frozen=True)
class Blobs:
    """Compact extended sources: circular Gaussians of ``sigma`` arcsec (see PointSources)."""

    u: np.ndarray
    v: np.ndarray
    flux: np.ndarray
    sigma: np.ndarray
    colour: np.ndarray
    kind: str = ""

    @staticmethod
    def empty(kind: str = "") -> Blobs:
        z = np.zeros(0)
        return Blobs(z, z, _f32(z), _f32(z), _f32(z), kind)

    def __len__(self) -> int:
        return int(self.u.size)

    def points(self) -> PointSources:
        """The blobs as a catalogue of their centres (for colours and positions)."""
        return PointSources(self.u, self.v, self.flux, self.colour, self.kind)

    @staticmethod
    def concat(parts: list[Blobs]) -> Blobs:
        """One mixed catalogue (gas blobs get colour -1)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Blobs.empty()
        colour = [np.full(len(p), -1.0, np.float32) if p.kind == "gas" else p.colour
                  for p in parts]
        return Blobs(np.concatenate([p.u for p in parts]), np.concatenate([p.v for p in parts]),
                     _f32(np.concatenate([p.flux for p in parts])),
                     _f32(np.concatenate([p.sigma for p in parts])), _f32(np.concatenate(colour)))


@dataclass(frozen=True)
class Galaxies:
    """Background galaxies: Sersic profiles (``re`` arcsec, ``pa`` radians east of north...)."""

    u: np.ndarray
    v: np.ndarray
    flux: np.ndarray
    re: np.ndarray
    n: np.ndarray
    q: np.ndarray
    pa: np.ndarray
    colour: np.ndarray

    @staticmethod
    def empty() -> Galaxies:
        z = _f32(np.zeros(0))
        return Galaxies(np.zeros(0), np.zeros(0), z, z, z, z, z, z)

    def __len__(self) -> int:
        return int(self.u.size)


@dataclass(frozen=True)
class Diffuse:
    """Fine structure of a scene's diffuse light (see :func:`.draw_kernels.combine_diffuse`).

    Attributes:
        textured: components modulated by the fine field ``g1`` (the others stay smooth).
        sigma_b: log-normal sigma of that modulation (the fine band of the body's field).
        sigma_d: log-normal sigma of the dust's fine structure.
        cloud_fine, threshold, width, rim_width, tau_cloud, hole: cloud-mask parameters.
        lbar: SBF flux (reference band e-/s) of the unresolved stars of ``sbf_colour``.
        sbf_colour: component whose colour the unresolved stars have.
        tiles: the body's fine tiles (None: no fine structure).
    """

    textured: frozenset = frozenset({"young", "gas", "oiii"})
    sigma_b: float = 0.0
    sigma_d: float = 0.0
    cloud_fine: float = 0.0
    threshold: float = 0.0
    width: float = 0.2
    rim_width: float = 0.08
    tau_cloud: float = 0.0
    hole: float = 0.0
    lbar: float = 0.0
    sbf_colour: str = "old"
    tiles: FineTiles | None = None


@dataclass(frozen=True)
class Scene:
    """One body's light (see the module docstring).

    Attributes:
        smooth: ``(u, v) -> {component: SB, "tau", "cloud", "rim"}`` on float32 grids.
        coverage: ``(u, v) -> SB`` (reference band) defining the object's extent.
        stars, blobs: the body's own point sources and compact sources.
        field, galaxies: foreground stars and background galaxies (context).
        extent: arcsec, radius within which the body has light worth pointing at.
        diffuse: fine-structure parameters.
        av_body, av_context: V extinction (mag) in front of the body / of the
            background galaxies.
        notes: facts about the scene (radii, distances), for tests and the book.
    """

    smooth: SmoothFn
    coverage: CoverFn
    stars: PointSources
    blobs: Blobs
    field: PointSources
    galaxies: Galaxies
    extent: float
    diffuse: Diffuse = Diffuse()
    av_body: float = 0.0
    av_context: float = 0.0
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

    def on_chip(self, u: np.ndarray, v: np.ndarray, margin: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices of positions within ``margin`` pixels of the chip and their (row, col)."""
        if u.size == 0:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        rows, cols = self.to_pixels(u, v)
        ok = ((rows > -margin) & (rows < self.shape[0] + margin)
              & (cols > -margin) & (cols < self.shape[1] + margin))
        idx = np.flatnonzero(ok)
        return idx, rows[idx], cols[idx]


# ----------------------------------------------------------------------------- drawing


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
        if len(_KERNEL_FT) > 4:
            _KERNEL_FT.clear()
        kft = _KERNEL_FT[key] = scipy.fft.rfft2(kernel.astype(np.float32), (s0, s1))
    full = scipy.fft.irfft2(scipy.fft.rfft2(image, (s0, s1)) * kft, (s0, s1))
    h0, h1 = kernel.shape[0] // 2, kernel.shape[1] // 2
    return np.ascontiguousarray(full[h0:h0 + image.shape[0], h1:h1 + image.shape[1]],
                                dtype=np.float32)


def bin_mean(image: np.ndarray, k: int) -> np.ndarray:
    """Mean over ``k x k`` blocks (rows/cols beyond a multiple of ``k`` dropped), float32."""
    out = kernels.block_sum(np.ascontiguousarray(image), k)
    out *= np.float32(1.0 / (k * k))
    return out


def _upsample2(image: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """Bilinear x2 (pixel centres aligned), cropped to ``shape``."""
    if image is None:
        return None
    up = cv2.resize(image, (image.shape[1] * 2, image.shape[0] * 2),
                    interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(up[: shape[0], : shape[1]])


def _fine_fields(tiles: FineTiles | None, grid: ChipGrid, shape: tuple[int, int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The two fine fields at half resolution (zeros without tiles)."""
    if tiles is None:
        z = np.zeros(shape, np.float32)
        return z, z
    m = grid.matrix
    out = []
    for which in (1, 2):
        ma, mb = tiles.affine(which, m, (grid.pu, grid.pv), 2.0, grid.x0, grid.y0)
        out.append(kernels.sample_tiles(shape, tiles.a, tiles.b, ma, mb))
    return out[0], out[1]


def _context_light(comps: dict, grid: ChipGrid, instrument: str, filt: str, ext: float
                   ) -> np.ndarray | None:
    """Diffuse light of a host galaxy around the object (``ctx_<component>`` keys), e-/s per
    pixel at full resolution, or None."""
    rate = None
    for key, sb in comps.items():
        if key.startswith("ctx_"):
            r = sb * np.float32(rate_factor(key[4:], instrument, filt, grid.scale) * ext)
            rate = r if rate is None else rate + r
    if rate is None:
        return None
    up = cv2.resize(rate, (rate.shape[1] * COARSE, rate.shape[0] * COARSE),
                    interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(up[: grid.shape[0], : grid.shape[1]])


def _diffuse(scene: Scene, grid: ChipGrid, instrument: str, filt: str, seed: int,
             exptime: float) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Diffuse light of the body and of its host (e-/s per pixel, full resolution; host None
    if it has none) and the coarse coverage."""
    u, v = grid.coarse_uv(COARSE)
    comps = scene.smooth(u, v)
    coverage = scene.coverage(u, v).astype(np.float32)
    d = scene.diffuse
    ext = np.float32(10.0 ** (-0.4 * scene.av_body * dust_k(filt)))
    a = np.zeros(u.shape, np.float32)
    b = None
    for comp in COMPONENTS:
        if comp not in comps:
            continue
        rate = comps[comp] * np.float32(rate_factor(comp, instrument, filt, grid.scale)) * ext
        if comp in d.textured:
            b = rate if b is None else b + rate
        else:
            a += rate
    rim = comps.get("rim")
    if rim is not None:
        rim = rim * np.float32(rate_factor("gas", instrument, filt, grid.scale)) * ext
    tau = comps.get("tau")
    if tau is not None:
        tau = tau * np.float32(dust_k(filt))
    half = (-(-grid.shape[0] // 2), grid.shape[1] // 2)
    g1, g2 = _fine_fields(d.tiles, grid, half)
    h = kernels.combine_diffuse(
        _upsample2(a, half), _upsample2(b, half), _upsample2(tau, half),
        _upsample2(comps.get("cloud"), half), _upsample2(rim, half), g1, g2,
        sigma_b=d.sigma_b if b is not None else 0.0, sigma_d=d.sigma_d,
        cloud_fine=d.cloud_fine, threshold=d.threshold, width=d.width,
        rim_width=d.rim_width, tau_cloud=d.tau_cloud, hole=d.hole)
    full = _upsample2(h, grid.shape)
    if d.lbar > 0:
        lbar = d.lbar * rate_factor(d.sbf_colour, instrument, filt, grid.scale) / grid.scale**2
        # after the PSF (sharpness ~0.1) the fluctuations add ~0.1 x lbar x t (e-) times the
        # photon variance: below 0.05 they are invisible and are skipped
        if lbar * ext * exptime > _SBF_MIN_E:
            kernels.add_sbf(full, float(lbar) * float(ext), seed)
    return full, _context_light(comps, grid, instrument, filt, float(ext)), coverage


@dataclass
class Rendered:
    """The noiseless signal of one chip.

    Attributes:
        signal: float32 (science rows, 4096) e-, PSF-convolved (halo and spikes included).
        coverage: float32 coarse grid (``COARSE``): the body's reference-band SB.
        object_view, context_view: float32 ``SCREEN_BIN``-binned e- per pixel (before
            the PSF) of the object's own light and of foreground stars + background
            galaxies, on the sample's 2048 rows (``keep_offset`` rows skipped).
        bright: (rows, cols, e-) of point sources bright enough for spikes and ghosts.
    """

    signal: np.ndarray
    coverage: np.ndarray
    object_view: np.ndarray
    context_view: np.ndarray
    bright: tuple[np.ndarray, np.ndarray, np.ndarray]


def _draw_points(out: np.ndarray, src: PointSources, grid: ChipGrid, instrument: str,
                 filt: str, ext: float, margin: float) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Splat sources within the chip (plus ``margin``) into ``out``; returns all of them
    (off-chip ones within the margin too) as (rows, cols, e-/s)."""
    idx, r, c = grid.on_chip(src.u, src.v, margin)
    if not idx.size:
        return r, c, np.zeros(0, np.float32)
    rate = src.rate(instrument, filt, grid.scale)[idx] * np.float32(ext)
    inside = (r > -2) & (r < grid.shape[0] + 1) & (c > -2) & (c < grid.shape[1] + 1)
    kernels.splat_points(out, r[inside], c[inside], rate[inside])
    return r, c, rate


def render_signal(scene: Scene, grid: ChipGrid, instrument: str, filt: str, exptime: float,
                  psf: PSFModel, seed: int, extra: np.ndarray | None = None,
                  keep_offset: int = 0) -> Rendered:
    """Noiseless signal of one chip (see the module docstring).

    Args:
        scene, grid: what and where.
        instrument, filt, exptime: the exposure (s).
        psf: the exposure's PSF (:func:`.psf.psf_model`).
        seed: seed of the surface-brightness fluctuations.
        extra: optional e-/s image (science shape) added before the PSF (ghosts).
        keep_offset: first science row of the 2048-row sample (UVIS chip 1: 3).

    Returns:
        :class:`Rendered`.
    """
    obj, host, coverage = _diffuse(scene, grid, instrument, filt, seed, exptime)
    ext_b = 10.0 ** (-0.4 * scene.av_body * dust_k(filt))
    ext_c = 10.0 ** (-0.4 * scene.av_context * dust_k(filt))
    margin = 1000.0
    br = [_draw_points(obj, scene.stars, grid, instrument, filt, ext_b, margin)]
    blobs = scene.blobs
    if len(blobs):
        idx, r, c = grid.on_chip(blobs.u, blobs.v, 40.0)
        if idx.size:
            rate = blobs.points().rate(instrument, filt, grid.scale)[idx] * np.float32(ext_b)
            kernels.splat_gaussians(obj, r, c, rate, blobs.sigma[idx] / grid.scale)
    ctx = host if host is not None else np.zeros(grid.shape, np.float32)
    br.append(_draw_points(ctx, scene.field, grid, instrument, filt, 1.0, margin))
    gal = scene.galaxies
    if len(gal):
        idx, r, c = grid.on_chip(gal.u, gal.v, 60.0)
        if idx.size:
            mix = PointSources(gal.u[idx], gal.v[idx], gal.flux[idx], gal.colour[idx])
            rate = mix.rate(instrument, filt, grid.scale) * np.float32(ext_c)
            m = grid.matrix
            rot = np.arctan2(m[1, 0], m[0, 0])  # sky angle of the +col axis
            angle = gal.pa[idx] - rot if np.linalg.det(m) > 0 else rot - gal.pa[idx]
            kernels.splat_sersic(ctx, r, c, rate, gal.re[idx] / grid.scale, gal.n[idx],
                                 gal.q[idx], angle)
    k0 = keep_offset
    t = np.float32(exptime)
    object_view = bin_mean(obj[k0:k0 + 2048], SCREEN_BIN) * t
    context_view = bin_mean(ctx[k0:k0 + 2048], SCREEN_BIN) * t
    total = obj
    total += ctx
    del ctx
    if extra is not None:
        total += extra
    total *= t
    signal = fft_convolve(total, psf.stamp)
    rows = np.concatenate([b[0] for b in br])
    cols = np.concatenate([b[1] for b in br])
    elec = np.concatenate([b[2] for b in br]) * t
    _add_halo(signal, total, psf, rows, cols, elec)
    del total
    bright = elec * psf.spike / R_IN**2 > _SPIKE_FLOOR
    if bright.any():
        kernels.add_spikes(signal, rows[bright], cols[bright], elec[bright] * psf.spike,
                           SPIKE_ANGLES, R_IN, 0.8, _SPIKE_FLOOR)
    np.maximum(signal, 0.0, out=signal)
    hot = elec > 1e5
    return Rendered(signal, coverage, object_view, context_view,
                    (rows[hot], cols[hot], elec[hot]))


@functools.lru_cache(maxsize=16)
def _halo_kernel(far: float, factor: int, half: int) -> np.ndarray:
    return halo_kernel(far, factor, half)


def _add_halo(signal: np.ndarray, total: np.ndarray, psf: PSFModel, rows: np.ndarray,
              cols: np.ndarray, elec: np.ndarray) -> None:
    """Add the PSF's far halo: a coarse FFT of the scene (plus bright stars off the chip)."""
    f, m = _HALO, _HALO_MARGIN
    nr, nc = -(-total.shape[0] // f), -(-total.shape[1] // f)
    grid = np.zeros((nr + 2 * m, nc + 2 * m), np.float32)
    grid[m:m + nr, m:m + nc] = kernels.block_sum(total, f, (nr, nc))
    off = (rows < 0) | (rows >= total.shape[0]) | (cols < 0) | (cols >= total.shape[1])
    if off.any():
        gr = np.clip(np.floor(rows[off] / f).astype(np.int64) + m, 0, nr + 2 * m - 1)
        gc = np.clip(np.floor(cols[off] / f).astype(np.int64) + m, 0, nc + 2 * m - 1)
        np.add.at(grid, (gr, gc), elec[off].astype(np.float32))
    kern = _halo_kernel(psf.far, f, 256)
    conv = fft_convolve(grid, kern)[m:m + nr, m:m + nc] / np.float32(f * f)
    up = cv2.resize(conv, (nc * f, nr * f), interpolation=cv2.INTER_LINEAR)
    signal += up[: signal.shape[0], : signal.shape[1]]
