"""The point-spread function of one exposure: a GalSim core stamp, an analytic far halo and
diffraction spikes out to the chip edge, with focus breathing.

Parts (all normalised so that a point source's light sums to 1):

* **Core** (:func:`psf_model`): GalSim ``OpticalPSF`` -- HST's 2.4 m pupil with
  its 0.33 linear central obscuration and four 0.04-wide spider struts at 45 deg
  (the telescope's spikes), small fixed residual astigmatism and coma (ACS IHB
  2005 §5.6.6: residual aberrations ~1/20 wave rms at 5500 A for WFC), and the
  exposure's focus offset -- convolved with CCD charge diffusion (a Gaussian of
  sigma :data:`DIFFUSION_PX` pixels: the ACS IHB §5.6.1 WFC kernel at 4000 A,
  ``[[.04 .11 .04] [.11 .40 .11] [.04 .11 .04]]``, is a pixel-integrated Gaussian of
  sigma ~0.55 pixel) and drawn pixel-integrated on a :data:`PSF_STAMP`-pixel
  stamp at the filter's pivot wavelength. The stamp is faded to zero between
  radii :data:`R_IN` and :data:`R_OUT` (a cosine taper), so there is no square edge.
* **Far halo** (:func:`halo_kernel`): beyond the stamp the diffraction wings of an
  obscured aperture fall as ``r^-3``; the halo continues the core's own
  azimuthally averaged profile (its amplitude is measured on the stamp between
  ``R_IN - 4`` and ``R_IN``, spikes excluded), fading in with the complement of the
  core's taper and extending to the chip edge, so core and halo join without a
  step. It holds ~1-3 % of the light (:attr:`PSFModel.far`). Drawn by one coarse FFT
  of the whole scene (:mod:`.scene`).
* **Spikes** (:func:`spike_amplitude`): beyond ``R_IN`` the four spikes of bright
  stars are drawn analytically to the chip edge (:func:`.draw_kernels.add_spikes`), with
  the ``s^-2`` fall-off of a thin strut's diffraction pattern, their amplitude
  matched to the stamp's own spikes at ``R_IN``.
* **Breathing**: HST's focus changes by a few microns of secondary-mirror despace
  over an orbit and secularly (ACS IHB 2005 §5.6.6: 5 um of breathing ~ 1/18
  wave rms). An exposure's offset (``Exposure.focus``, um) is rounded to
  :data:`FOCUS_STEP_UM` and turned into GalSim ``defocus`` waves; it changes the
  peak pixel by several per cent and the FWHM by ~1 % (measured in the
  benchmarks).

Stamps are cached per process by (pixel scale, filter, focus step).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import galsim
import numpy as np

from hrcn_lib.simulate.photometry import FILTERS

__all__ = [
    "PSF_STAMP",
    "R_IN",
    "R_OUT",
    "DIFFUSION_PX",
    "FOCUS_STEP_UM",
    "WAVES_PER_UM",
    "SPIKE_ANGLES",
    "PSFModel",
    "psf_model",
    "measure_fwhm",
    "halo_kernel",
]

#: Side of the core stamp (pixels, odd).
PSF_STAMP = 65
#: Radii (pixels) between which the core fades out and the analytic halo/spikes fade in.
R_IN, R_OUT = 22.0, 31.0
#: Sigma (pixels) of the CCD charge-diffusion Gaussian (ACS IHB §5.6.1 kernel at 4000 A).
DIFFUSION_PX = 0.55
#: Focus offsets are rounded to this step (um of secondary-mirror despace).
FOCUS_STEP_UM = 1.0
#: Waves rms of defocus per um of despace (ACS IHB 2005 §5.6.6: 5 um ~ 1/18 wave).
WAVES_PER_UM = 1.0 / 90.0
#: Spike directions in the detector frame (radians from +col towards +row).
SPIKE_ANGLES = np.radians([45.0, 135.0, 225.0, 315.0])
_DIAM, _OBSC, _STRUT = 2.4, 0.33, 0.04


@dataclass(frozen=True)
class PSFModel:
    """The PSF of one exposure.

    Attributes:
        stamp: float32 (PSF_STAMP, PSF_STAMP), tapered core, sums to ``1 - far``.
        fwhm: arcsec, FWHM of the untapered pixelated core (``measure_fwhm``).
        fwhm_optical: arcsec, FWHM before pixelation (what handbooks tabulate).
        peak: fraction of a centred point source's light in its brightest pixel.
        far: fraction of the light in the halo beyond the core (the r^-3 wings).
        spike: spike amplitude ``A`` such that a star of flux F has ``F A / s^2``
            e- per pixel along a spike at ``s`` pixels (``s > R_IN``).
        scale: arcsec per pixel.
    """

    stamp: np.ndarray
    fwhm: float
    fwhm_optical: float
    peak: float
    far: float
    spike: float
    scale: float


def measure_fwhm(stamp: np.ndarray, scale: float) -> float:
    """FWHM (arcsec) of a centred, centrally peaked PSF stamp (GalSim ``calculateFWHM``)."""
    return float(galsim.Image(np.ascontiguousarray(stamp, dtype=np.float64),
                              scale=scale).calculateFWHM())


def _taper(n: int) -> np.ndarray:
    """Cosine fade from 1 at ``R_IN`` to 0 at ``R_OUT`` (float64 (n, n), centred)."""
    c = (n - 1) / 2.0
    y, x = np.mgrid[:n, :n]
    r = np.hypot(x - c, y - c)
    t = np.clip((r - R_IN) / (R_OUT - R_IN), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


def _halo_amplitude(stamp: np.ndarray) -> float:
    """``A`` with the stamp's off-spike azimuthal mean ~ ``A r^-3`` at ``R_IN - 4 .. R_IN``."""
    n = stamp.shape[0]
    c = (n - 1) / 2.0
    y, x = np.mgrid[:n, :n]
    r = np.hypot(x - c, y - c)
    ang = np.arctan2(y - c, x - c) % (np.pi / 2)
    off = np.abs(ang - np.pi / 4) > 0.25  # spikes at 45 deg + k 90 deg
    ring = (r >= R_IN - 4) & (r <= R_IN) & off
    return float(np.median(stamp[ring] * r[ring] ** 3))


@functools.lru_cache(maxsize=128)
def _core(scale: float, filt: str, focus_step: int
          ) -> tuple[np.ndarray, float, float, float, float]:
    """(pixelated untapered stamp float64, FWHM, optical FWHM, spike amplitude, halo A)."""
    lam = FILTERS[filt].pivot_nm
    optics = galsim.OpticalPSF(lam=lam, diam=_DIAM, obscuration=_OBSC, nstruts=4,
                               strut_thick=_STRUT, strut_angle=45 * galsim.degrees,
                               defocus=focus_step * FOCUS_STEP_UM * WAVES_PER_UM,
                               astig1=0.012, astig2=-0.006, coma1=0.006, coma2=0.004)
    psf = galsim.Convolve(optics, galsim.Gaussian(sigma=DIFFUSION_PX * scale))
    stamp = psf.drawImage(nx=PSF_STAMP, ny=PSF_STAMP, scale=scale).array.astype(np.float64)
    fine = psf.drawImage(nx=129, ny=129, scale=scale / 4, method="no_pixel").array
    fwhm_opt = float(galsim.Image(np.ascontiguousarray(fine, dtype=np.float64),
                                  scale=scale / 4).calculateFWHM())
    # spike amplitude: mean intensity along the spike directions at R_IN..R_IN+4, times s^2,
    # minus the azimuthal mean (the halo) at the same radius
    c = (PSF_STAMP - 1) / 2.0
    amps = []
    for s in np.arange(R_IN - 4, R_IN + 1):
        on = [stamp[int(round(c + s * np.sin(a))), int(round(c + s * np.cos(a)))]
              for a in SPIKE_ANGLES]
        off = [stamp[int(round(c + s * np.sin(a + 0.3))), int(round(c + s * np.cos(a + 0.3)))]
               for a in SPIKE_ANGLES]
        amps.append(max(np.mean(on) - np.mean(off), 0.0) * s * s)
    return (stamp, measure_fwhm(stamp, scale), fwhm_opt, float(np.median(amps)),
            _halo_amplitude(stamp))


def psf_model(scale: float, filt: str, focus_um: float = 0.0) -> PSFModel:
    """The PSF of an exposure (see the module docstring).

    Args:
        scale: arcsec per pixel of the detector.
        filt: filter name (its pivot wavelength is used).
        focus_um: focus offset (um of secondary-mirror despace), rounded to
            :data:`FOCUS_STEP_UM`.

    Returns:
        :class:`PSFModel`.
    """
    step = int(round(focus_um / FOCUS_STEP_UM))
    raw, fwhm, fwhm_opt, spike, amp = _core(float(scale), filt, step)
    tapered = raw * _taper(PSF_STAMP)
    far = amp * _halo_integral()
    total = float(tapered.sum()) + far
    tapered /= total
    return PSFModel(stamp=tapered.astype(np.float32), fwhm=fwhm, fwhm_optical=fwhm_opt,
                    peak=float(raw.max() / total), far=far / total, spike=spike / total,
                    scale=float(scale))


@functools.lru_cache(maxsize=1)
def _halo_integral() -> float:
    """``sum fade(r) r^-3`` over detector pixels out to 4096 (the halo of amplitude 1)."""
    r = np.arange(0.5, 4096.0, 0.5)
    t = np.clip((r - R_IN) / (R_OUT - R_IN), 0.0, 1.0)
    fade = 0.5 * (1.0 - np.cos(np.pi * t))
    return float(np.sum(fade * np.maximum(r, R_IN) ** -3.0 * 2 * np.pi * r * 0.5))


def halo_kernel(far: float, factor: int, half: int) -> np.ndarray:
    """The far halo sampled on a grid ``factor`` times coarser than the detector.

    ``h(r) ~ r^-3`` beyond ``R_IN`` pixels, faded in with the complement of the
    core's taper, normalised to ``far`` (:attr:`PSFModel.far`); float32
    ``(2 half + 1, 2 half + 1)`` coarse pixels (each the sum over its
    ``factor x factor`` detector pixels).
    """
    n = 2 * half + 1
    y, x = np.mgrid[:n, :n]
    sub = (np.arange(2) + 0.5) / 2 - 0.5  # 2 x 2 samples per coarse pixel
    acc = np.zeros((n, n))
    for dy in sub:  # sample each coarse pixel at factor x factor points
        for dx in sub:
            r = np.hypot((x - half + dy) * factor, (y - half + dx) * factor)
            t = np.clip((r - R_IN) / (R_OUT - R_IN), 0.0, 1.0)
            fade = 0.5 * (1.0 - np.cos(np.pi * t))
            acc += fade * np.maximum(r, R_IN) ** -3.0
    acc *= far / acc.sum()
    return acc.astype(np.float32)
