"""Exposures: instrument, filter, time, date, pointing, roll and focus of each raw file, and the
rule that decides which samples are blurry.

An exposure is fixed by ``(seed, body, index)`` (:func:`make_exposure`).

Observing conditions -- every one an ordinary HST exposure; "blurry" comes out of
the photon counts (the paper's Eq. 1: SED x filter x exposure time), never from a
degraded PSF:

* ``clear``: a filter matched to the body, 100-1500 s.
* ``short``: 1-40 s (snapshots, acquisitions, bright-target programmes).
* ``mismatched_filter``: a band where the body's light is faint (UV for old
  populations, narrow-band continuum for galaxies, F814W/UV for gas), 20-300 s.
* ``low_surface_brightness``: a clear filter and time, pointed at the body's
  faint outskirts (1.0-1.6 x its extent from the centre).

LCID bodies get a blurry condition on a fixed schedule (``(ordinal + index) % 6 == 2``,
one exposure in six, cycling through the three); LCID-Blurry bodies get one on
every exposure, with an S/N target (``snr_target``, 0.15-0.45): the renderer sets
the exposure time that gives the object that RMS S/N (:mod:`.render`) -- the
paper's blurry samples are real archive exposures selected for being blurry.

Every exposure has a date (``mjd``, EXPSTART) within its camera's years of service
(ACS/WFC 2002-2007 and 2009 on; WFC3/UVIS 2009 on), an HST focus offset
(``focus``, um: orbital breathing + secular drift, :mod:`.psf`) and a cosmic-ray
flux factor (position in the orbit).

**Blurry** (:func:`is_blurry`): ``snr < BLURRY_SNR``, where ``snr`` is the
root-mean-square, over the chip's object pixels, of the per-pixel
``S / sqrt(S + sky + dark + RN^2)`` of the noiseless signal ``S`` (e-).
"""

from __future__ import annotations

import math
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
    "BLURRY_SNR",
    "is_blurry",
    "SERVICE_MJD",
]

#: Observing conditions; all but ``clear`` tend to make blurry samples.
CONDITIONS: tuple[str, ...] = ("clear", "short", "mismatched_filter", "low_surface_brightness")
#: RMS per-pixel S/N of the object below which a sample is blurry.
BLURRY_SNR = 0.5
#: MJD ranges of service: ACS/WFC (installed 2002-03, failed 2007-01, repaired 2009-05),
#: WFC3/UVIS (installed 2009-05). CTEDATE0 of ACS headers is 52334.86.
SERVICE_MJD: dict[str, tuple[tuple[float, float], ...]] = {
    "ACS/WFC": ((52334.9, 54130.0), (54970.0, 60600.0)),
    "WFC3/UVIS": ((54975.0, 60600.0),),
}

_BLURRY_KINDS = ("short", "mismatched_filter", "low_surface_brightness")
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"
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
        mjd: EXPSTART (modified Julian date).
        focus: um of secondary-mirror despace relative to nominal (PSF breathing).
        cr_factor: multiplier of the cosmic-ray flux.
        snr_target: LCID-Blurry exposures: the object's RMS S/N the exposure time is
            set for (0: ``exptime`` as drawn).
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
    mjd: float
    focus: float
    cr_factor: float
    snr_target: float
    satellite: bool
    ghost: bool
    noise_seed: int


def base36(value: int, width: int) -> str:
    """``value`` in ``width`` base-36 digits (0-9, a-z), as HST rootnames and CRDS names use."""
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
    return detector(instrument).rootname_prefix + base36(prog, 3) + base36(visit, 4) + "q"


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


def _date(rng: np.random.Generator, instrument: str) -> float:
    spans = SERVICE_MJD[instrument]
    lengths = np.array([b - a for a, b in spans])
    k = int(rng.choice(len(spans), p=lengths / lengths.sum()))
    return float(np.round(rng.uniform(*spans[k]), 8))


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
    exptime = float(np.exp(rng.uniform(np.log(100), np.log(1500))))
    if cond == "short":
        exptime = float(np.exp(rng.uniform(np.log(1.0), np.log(40.0))))
    elif cond == "mismatched_filter":
        exptime = float(rng.uniform(20, 300))
    # pointings: near the centre first (index 0, blurry bodies), anywhere on the body later,
    # the outskirts for low-surface-brightness exposures
    if cond == "low_surface_brightness":
        rad = extent * rng.uniform(1.0, 1.6)
    else:
        reach = 0.25 if index == 0 or body.subset == "blurry" else 0.75
        rad = extent * reach * np.sqrt(rng.random())
    ang = rng.uniform(0, 2 * np.pi)
    offset_u, offset_v = float(rad * np.cos(ang)), float(rad * np.sin(ang))
    target = float(rng.uniform(0.15, 0.45)) if body.subset == "blurry" else 0.0
    exptime = float(np.round(exptime, 1))
    mjd = _date(rng, instrument)
    orbit = 2.0 * math.sin(2 * math.pi * rng.random())  # breathing within the orbit
    focus = float(np.clip(orbit + rng.normal(0.0, 1.5), -5.0, 5.0))
    return Exposure(
        body=body.name, index=index, seed=int(seed), obsid=make_obsid(seed, body, index,
                                                                      instrument),
        instrument=instrument, filter=filt, exptime=exptime, condition=cond,
        offset_u=offset_u, offset_v=offset_v, roll=float(rng.uniform(0, 360)), mjd=mjd,
        focus=focus, cr_factor=float(rng.uniform(0.7, 1.3)), snr_target=target,
        satellite=bool(rng.random() < 0.05), ghost=bool(rng.random() < 0.5),
        noise_seed=int(rng.integers(0, 2**31 - 1)))


def is_blurry(snr: float) -> bool:
    """Blurry rule: the object's RMS per-pixel S/N is below :data:`BLURRY_SNR`."""
    return snr < BLURRY_SNR
