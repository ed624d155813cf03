"""Exposures: instrument, filter, time, pointing and roll of each raw file; the rules
that decide which chips are screened in and which samples are blurry.

An exposure is fixed by ``(seed, body, index)`` (:func:`make_exposure`).

Observing conditions:

* ``clear``: a filter matched to the body, 100-1500 s, nominal PSF.
* ``short``: 0.5-8 s (acquisition-like): low S/N.
* ``mismatched_filter``: a band where the body's light is faint (UV for old
  populations, narrow-band continuum for galaxies, F814W/UV for gas) and 20-150 s.
* ``jitter``: gyro-guided pointing: the PSF is convolved with a Gaussian of
  sigma 0.07-0.18 arcsec.
* ``defocus``: a focus offset: 0.4 or 0.6 waves of defocus (a ring-shaped PSF).

LCID bodies get a blurry condition on a fixed schedule (``(ordinal + index) % 6 == 2``,
one exposure in six, cycling through the four blurry conditions); LCID-Blurry
bodies get one on every exposure, always together with jitter or defocus.

Rules (documented in the book):

* **Screening** (the paper's manual selection): a chip is selected when at least
  :data:`MIN_OBJECT_FRACTION` of its science pixels lie on the object, i.e.
  where the body's reference-band surface brightness (``Scene.coverage``)
  exceeds :data:`COVER_SB` e-/s/arcsec^2 (~25.5 mag/arcsec^2 in F606W).
* **Edge view**: a selected chip with ``object_fraction < EDGE_VIEW_FRACTION``
  gets ``edge_view`` in ``lookalike`` (the paper's "insufficient features").
* **Blurry**: ``psf_fwhm > BLURRY_FWHM`` arcsec or ``snr < BLURRY_SNR``, where
  ``snr`` is the root-mean-square, over the chip's object pixels, of the
  per-pixel ``S / sqrt(S + sky + dark + RN^2)`` of the noiseless signal ``S`` (e-).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hrcn_lib.instruments import detector
from hrcn_lib.simulate.bodies import Body, body_rng
from hrcn_lib.simulate.photometry import filters_for

__all__ = [
    "Exposure",
    "make_exposure",
    "make_obsid",
    "CONDITIONS",
    "COVER_SB",
    "MIN_OBJECT_FRACTION",
    "EDGE_VIEW_FRACTION",
    "BLURRY_FWHM",
    "BLURRY_SNR",
    "is_blurry",
    "is_selected",
]

#: Observing conditions; all but ``clear`` make blurry samples.
CONDITIONS: tuple[str, ...] = ("clear", "short", "mismatched_filter", "jitter", "defocus")
#: e-/s/arcsec^2 (F606W reference band): surface brightness that counts as "object".
COVER_SB = 2.5
#: A chip with less of its area on the object is not selected (screening rule).
MIN_OBJECT_FRACTION = 0.08
#: Selected chips below this object fraction are "edge views".
EDGE_VIEW_FRACTION = 0.3
#: arcsec: PSF FWHM above which a sample is blurry (HST's nominal PSF is ~0.07-0.1").
BLURRY_FWHM = 0.16
#: RMS per-pixel S/N of the object below which a sample is blurry.
BLURRY_SNR = 0.5

_BLURRY_KINDS = ("short", "mismatched_filter", "jitter", "defocus")
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"

#: Filters that suit each morphology (used for ``clear`` exposures), by kind.
_GAS_RICH = {"emission_nebula", "planetary_nebula", "young_massive_cluster"}
_OLD = {"elliptical", "lenticular", "globular_cluster"}


@dataclass(frozen=True)
class Exposure:
    """One simulated raw file.

    Attributes:
        body: body name.
        index: exposure number of the body (0-based).
        seed: master seed.
        obsid: HST-like rootname (9 characters).
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"``.
        filter: filter name.
        exptime: s.
        condition: one of :data:`CONDITIONS`.
        offset_u, offset_v: arcsec east/north of the body centre of the pointing
            (the WCS reference point in the chip gap).
        roll: degrees, orientation of the detector y axis east of north.
        jitter: arcsec, sigma of the Gaussian pointing jitter added to the PSF.
        defocus: waves of defocus in the optical PSF.
        satellite: whether a satellite trail crosses the frame.
        ghost: whether a bright star (if any) casts an optical ghost.
        noise_seed: seed of the noise and defect draws.
    """

    body: str
    index: int
    seed: int
    obsid: str
    instrument: str
    filter: str
    exptime: float
    condition: str
    offset_u: float
    offset_v: float
    roll: float
    jitter: float
    defocus: float
    satellite: bool
    ghost: bool
    noise_seed: int


def _base36(value: int, width: int) -> str:
    out = ""
    for _ in range(width):
        value, d = divmod(value, 36)
        out = _ALNUM[d] + out
    return out


def make_obsid(seed: int, body: Body, index: int, instrument: str) -> str:
    """A 9-character HST-like rootname, unique per (seed, body, exposure).

    Layout as in real rootnames (``jc1373esq``): instrument letter (``j`` ACS,
    ``i`` WFC3), 3-character programme (from seed and body ordinal), 2-character
    visit and 2-character exposure (from the exposure index), final ``q``.

    Raises:
        ValueError: index outside 0..1,679,615 (36^4 - 1).
    """
    if not 0 <= index < 36**4:
        raise ValueError(f"exposure index {index} out of range 0..{36**4 - 1}")
    # bijections modulo 36^k (multipliers coprime to 6): distinct bodies -> distinct
    # programmes, distinct exposures of a body -> distinct visit/exposure codes
    prog = (int(seed) * 7919 + body.ordinal * 12347 + 4321) % 36**3
    visit = ((index + body.ordinal * 37) * 1679 + 123457) % 36**4
    return detector(instrument).rootname_prefix + _base36(prog, 3) + _base36(visit, 4) + "q"


def _condition(body: Body, index: int) -> str:
    if body.subset == "blurry":
        return _BLURRY_KINDS[(body.index + index) % len(_BLURRY_KINDS)]
    if (body.ordinal + index) % 6 == 2:
        return _BLURRY_KINDS[((body.ordinal + index) // 6) % len(_BLURRY_KINDS)]
    return "clear"


def _clear_filter(rng: np.random.Generator, body: Body, instrument: str) -> str:
    if body.morphology in _GAS_RICH:
        kind = "narrow" if rng.random() < 0.55 else "broad"
    elif body.morphology in _OLD:
        kind = "broad"
    else:
        r = rng.random()
        kind = "narrow" if r < 0.12 else "uv" if r < 0.22 and instrument == "WFC3/UVIS" else "broad"
    names = filters_for(instrument, kind)
    if body.morphology in _OLD:
        names = tuple(f for f in names if f not in ("F435W", "F438W")) or names
    return str(rng.choice(names))


def _mismatched_filter(rng: np.random.Generator, body: Body, instrument: str) -> str:
    if body.morphology in _GAS_RICH:
        choices = ("F814W", "F775W") if instrument == "ACS/WFC" else ("F225W", "F275W", "F814W")
    elif body.morphology in _OLD or body.label == "galaxy":
        choices = ("F502N", "F660N") if instrument == "ACS/WFC" else ("F225W", "F656N", "F673N")
    else:  # open clusters: continuum only, narrow bands starve them
        choices = ("F502N", "F660N") if instrument == "ACS/WFC" else ("F656N", "F673N")
    return str(rng.choice(choices))


def make_exposure(seed: int, body: Body, index: int, extent: float) -> Exposure:
    """The exposure ``index`` of ``body`` (deterministic in seed, body name and index).

    Args:
        seed: master seed.
        body: the body.
        index: exposure number (>= 0).
        extent: arcsec, the body's extent (``Scene.extent``): pointings fall within it.
    """
    rng = body_rng(seed, body.name, 100 + index)
    cond = _condition(body, index)
    if index == 0:  # both cameras in every catalogue, even with one exposure per body
        instrument = "ACS/WFC" if body.ordinal % 2 else "WFC3/UVIS"
    else:
        instrument = "ACS/WFC" if rng.random() < 0.55 else "WFC3/UVIS"
    filt = (_mismatched_filter if cond == "mismatched_filter" else _clear_filter)(rng, body,
                                                                                   instrument)
    exptime = float(np.round(np.exp(rng.uniform(np.log(100), np.log(1500))), 1))
    if cond == "short":
        exptime = float(np.round(rng.uniform(0.5, 8.0), 1))
    elif cond == "mismatched_filter":
        exptime = float(np.round(rng.uniform(20, 150), 1))
    jitter, defocus = 0.0, 0.0
    if cond == "jitter" or (body.subset == "blurry" and cond in ("short", "mismatched_filter")):
        jitter = float(rng.uniform(0.07, 0.18))
    if cond == "defocus":
        defocus = float(rng.choice([0.4, 0.6]))
    # pointings: near the centre first (index 0, blurry bodies), anywhere on the body later
    reach = 0.25 if index == 0 or body.subset == "blurry" else 0.75
    rad = extent * reach * np.sqrt(rng.random())
    ang = rng.uniform(0, 2 * np.pi)
    return Exposure(
        body=body.name, index=index, seed=int(seed), obsid=make_obsid(seed, body, index,
                                                                      instrument),
        instrument=instrument, filter=filt, exptime=exptime, condition=cond,
        offset_u=float(rad * np.cos(ang)), offset_v=float(rad * np.sin(ang)),
        roll=float(rng.uniform(0, 360)), jitter=jitter, defocus=defocus,
        satellite=bool(rng.random() < 0.05), ghost=bool(rng.random() < 0.5),
        noise_seed=int(rng.integers(0, 2**31 - 1)))


def is_selected(object_fraction: float) -> bool:
    """Screening rule: enough of the chip is on the object."""
    return object_fraction >= MIN_OBJECT_FRACTION


def is_blurry(psf_fwhm: float, snr: float) -> bool:
    """Blurry rule: broad PSF or low S/N (see module docstring)."""
    return psf_fwhm > BLURRY_FWHM or snr < BLURRY_SNR
