"""Screening: is a chip's object detectable in that very exposure? (The paper's manual
selection, Sec. 2.2: "only one image may be selected or none".)

The rule works on what a screener would look at -- the noisy chip after the real
preprocessing (:func:`hrcn_lib.preprocess.sample_from_raw`, bit-identical to
``load_sample`` of the written file) -- and on the simulator's knowledge of where
the object is:

1. **Screen view**: the preprocessed sample averaged over
   :data:`SCREEN_BIN` x :data:`SCREEN_BIN` blocks (a 2048 x 4096 frame on a
   monitor: 256 x 512 screen pixels) -- and, as a screener also steps back from the
   screen, over :data:`ZOOM` x :data:`ZOOM` blocks of those (faint diffuse light
   shows there) -- with cosmic-ray hits (pixels holding more
   than :data:`CR_DISCOUNT` e- of cosmic-ray charge) and the detector's hot pixels
   and warm columns set to the background level first: a screener discounts them,
   and the simulator knows them exactly.
2. **Noise** ``sigma``: 1.4826 x the median absolute difference between
   horizontally adjacent screen pixels, / sqrt(2) (smooth light cancels out).
3. **Background**: the 10th percentile of the view plus 1.28 sigma -- the sky
   level whenever at least a tenth of the chip is sky, the faintest part of the
   object when the object fills the chip.
4. **Object pixels**: screen pixels inside the object's footprint (reference-band
   surface brightness above :data:`COVER_SB`, ~25.5 mag/arcsec^2 in F606W), minus
   those where foreground stars, background galaxies or a host galaxy outshine
   the object (noiseless, before the PSF).
5. **Detected fraction**: the fraction of object pixels above background +
   :data:`DETECT_SIGMA` sigma (a pure-noise view gives ~0.1 %) where the object's
   own light contributes at least one sigma of that screen pixel's noise (from the
   noiseless signal: the screener attributes a bright blob to the object, not to a
   satellite trail, a bleed or the halo of a foreground star).

An independent audit, ``expected_detected``: the fraction of object pixels whose
*noiseless* object signal stands :data:`DETECT_SIGMA` sigma above the background,
sigma from the photon, dark and read noise of a screen pixel (64 detector pixels).

A chip is **selected** when its footprint covers at least
:data:`MIN_OBJECT_FRACTION` of it and, at either scale, at least
:data:`MIN_DETECTED_FRACTION` of its object pixels are detected. The audit takes the
larger of its two scales too. Selected chips with a footprint below
:data:`EDGE_VIEW_FRACTION` are *edge views* (the paper's "insufficient features").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hrcn_lib.simulate.scene import COARSE, SCREEN_BIN, bin_mean

__all__ = [
    "COVER_SB",
    "MIN_OBJECT_FRACTION",
    "EDGE_VIEW_FRACTION",
    "DETECT_SIGMA",
    "MIN_DETECTED_FRACTION",
    "SCREEN_BIN",
    "CR_DISCOUNT",
    "ZOOM",
    "Screening",
    "screen_view",
    "screen_chip",
    "footprint_fraction",
]

#: e-/s/arcsec^2 (F606W reference band): surface brightness that counts as "object".
COVER_SB = 2.5
#: A chip with less of its area on the object is not selected.
MIN_OBJECT_FRACTION = 0.08
#: Selected chips below this object fraction are "edge views".
EDGE_VIEW_FRACTION = 0.3
#: Screen pixels this many sigma above the background count as detected.
DETECT_SIGMA = 3.0
#: Fraction of the object's screen pixels that must be detected (15x a pure-noise view's).
MIN_DETECTED_FRACTION = 0.02
#: e- of cosmic-ray charge above which a pixel is discounted in the screen view.
CR_DISCOUNT = 8.0
#: The zoomed-out view averages ZOOM x ZOOM screen pixels.
ZOOM = 4


@dataclass(frozen=True)
class Screening:
    """The screening numbers of one chip.

    Attributes:
        object_fraction: fraction of the chip inside the object's footprint.
        object_pixels: screen pixels counted as the object's (footprint minus context).
        detected_fraction: fraction of them above background + DETECT_SIGMA sigma.
        expected_detected: fraction of them expected above DETECT_SIGMA sigma from the
            noiseless signal (the audit).
        selected: whether the chip is kept.
        reason: ``""`` if selected, else ``"off_object"``, ``"outshone"`` or ``"undetected"``.
    """

    object_fraction: float
    object_pixels: int
    detected_fraction: float
    selected: bool
    reason: str
    expected_detected: float = 0.0


def footprint_fraction(coverage: np.ndarray) -> float:
    """Fraction of a chip's coarse pixels inside the footprint (SB above :data:`COVER_SB`)."""
    return float((coverage > COVER_SB).mean())


def screen_view(sample: np.ndarray, zoom: int = 1) -> tuple[np.ndarray, float, float]:
    """(view, background, sigma) of a preprocessed (2048, 4096) sample (see module docstring);
    ``zoom`` > 1 averages ``zoom x zoom`` screen pixels further."""
    view = bin_mean(sample, SCREEN_BIN * zoom)
    return (view, *_level_and_noise(view))


def _level_and_noise(view: np.ndarray) -> tuple[float, float]:
    diff = np.diff(view, axis=1).ravel()
    sigma = 1.4826 * float(np.median(np.abs(diff - np.median(diff)))) / np.sqrt(2.0)
    sigma = max(sigma, 1e-6)
    return float(np.percentile(view, 10.0)) + 1.2816 * sigma, sigma


def _footprint_view(coverage: np.ndarray, keep_offset: int, shape: tuple[int, int]
                    ) -> np.ndarray:
    """Footprint on the screen grid (coarse coverage, shifted to the sample's rows)."""
    k = SCREEN_BIN // COARSE
    row0 = int(round(keep_offset / COARSE))
    cov = (coverage[row0:row0 + shape[0] * k, : shape[1] * k] > COVER_SB).astype(np.float32)
    if cov.shape[0] < shape[0] * k:
        cov = np.pad(cov, ((0, shape[0] * k - cov.shape[0]), (0, 0)), mode="edge")
    return bin_mean(cov, k) >= 0.5


def screen_chip(sample: np.ndarray, coverage: np.ndarray, object_view: np.ndarray,
                context_view: np.ndarray, keep_offset: int = 0, background_e: float = 0.0,
                read_noise: float = 0.0) -> Screening:
    """Apply the screening rule to one chip.

    Args:
        sample: float32 (2048, 4096) preprocessed noisy chip.
        coverage: float32 coarse grid (:data:`.scene.COARSE`) of the body's reference-band SB.
        object_view, context_view: float32 screen-grid noiseless e- per pixel of the
            object and of everything else on the sky (:class:`.scene.Rendered`).
        keep_offset: first science row of the sample (UVIS chip 1: 3).
        background_e, read_noise: sky + dark (e- per pixel) and read noise (e-) for
            the audit ``expected_detected``.

    Returns:
        :class:`Screening`.
    """
    frac = footprint_fraction(coverage)
    if frac < MIN_OBJECT_FRACTION:
        return Screening(frac, 0, 0.0, False, "off_object")
    view = bin_mean(sample, SCREEN_BIN)
    foot = _footprint_view(coverage, keep_offset, view.shape).astype(np.float32)
    mask = (foot > 0.5) & (object_view >= context_view)
    n = int(mask.sum())
    if n < 0.25 * MIN_OBJECT_FRACTION * view.size:
        return Screening(frac, n, 0.0, False, "outshone")
    det, expected = 0.0, 0.0
    for zoom in (1, ZOOM):
        if zoom > 1:
            view = bin_mean(view, zoom)
            obj_v, ctx_v = bin_mean(object_view, zoom), bin_mean(context_view, zoom)
            m = (bin_mean(foot, zoom) > 0.5) & (obj_v >= ctx_v)
        else:
            obj_v, ctx_v, m = object_view, context_view, mask
        if not m.any():
            continue
        background, sigma = _level_and_noise(view)
        obj = obj_v[m]
        noise = np.sqrt((obj + ctx_v[m] + background_e + read_noise**2)
                        / (SCREEN_BIN * zoom) ** 2)
        det = max(det, float(((view[m] > background + DETECT_SIGMA * sigma)
                              & (obj > noise)).mean()))
        expected = max(expected, float((obj > DETECT_SIGMA * noise).mean()))
    ok = det >= MIN_DETECTED_FRACTION
    return Screening(frac, n, det, ok, "" if ok else "undetected", expected)
