"""Filters, per-component colour tables and sky levels: the paper's Eq. (1) in table form.

The paper (Sec. 2.3, Eq. 1) writes the counts of a source as
``C = t * A_eff * integral S(lambda) tau(lambda) lambda / (h c) dlambda``. LCID-sim
evaluates that integral once per *component SED* and filter and keeps the result
as a table of relative photon rates (:data:`COLOUR`): a scene gives each
component's surface brightness in the reference band (ACS/WFC F606W, in
e-/s/arcsec^2), and the counts in another filter are that brightness times the
component's colour in the filter, the instrument's relative efficiency, the
pixel area and the exposure time (:func:`rate_factor`).

Component SEDs (the colour numbers are rounded from typical templates, not fits):

* ``old``: an old (5-10 Gyr) stellar population (bulges, ellipticals, globular
  clusters); red, faint in the UV.
* ``young``: a young (<100 Myr) population (spiral arms, OB stars, open clusters);
  blue, bright in the UV.
* ``gas``: an HII-region emission-line spectrum dominated by H-alpha + [NII]
  (bright in F656N/F657N/F658N, nearly absent in F814W and the UV).
* ``oiii``: high-excitation gas dominated by [OIII] 5007 (planetary-nebula shells,
  gas next to O stars): bright in F502N and F475W/F555W.

A narrow-band filter passes ~1/30 of a continuum source's broad-band photons but
keeps most of an emission line's; the UV filters dim old populations ~30x: that
is how a filter "mismatched" to a body makes a blurry, low S/N sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "Filter",
    "FILTERS",
    "COMPONENTS",
    "COLOUR",
    "REFERENCE_FILTER",
    "filters_for",
    "rate_factor",
    "sky_rate",
    "dust_k",
    "INSTRUMENT_EFFICIENCY",
]

#: The band in which scenes give surface brightness (e-/s/arcsec^2 on ACS/WFC).
REFERENCE_FILTER = "F606W"

#: Light components a scene can hold (keys of :data:`COLOUR`).
COMPONENTS: tuple[str, ...] = ("old", "young", "gas", "oiii")


@dataclass(frozen=True)
class Filter:
    """One HST filter.

    Attributes:
        name: e.g. ``"F606W"``.
        kind: ``"broad"``, ``"narrow"`` or ``"uv"``.
        pivot_nm: pivot wavelength (nm), used for the PSF and the dust law.
        instruments: cameras that have it (``"ACS/WFC"``, ``"WFC3/UVIS"``).
    """

    name: str
    kind: str
    pivot_nm: float
    instruments: tuple[str, ...]


_A, _W = "ACS/WFC", "WFC3/UVIS"
#: Filters of the two cameras used by LCID-sim (ACS/WFC has no UV filters).
FILTERS: dict[str, Filter] = {f.name: f for f in (
    Filter("F225W", "uv", 236.0, (_W,)),
    Filter("F275W", "uv", 271.0, (_W,)),
    Filter("F336W", "uv", 335.5, (_W,)),
    Filter("F435W", "broad", 432.0, (_A,)),
    Filter("F438W", "broad", 432.5, (_W,)),
    Filter("F475W", "broad", 474.5, (_A, _W)),
    Filter("F555W", "broad", 536.0, (_A, _W)),
    Filter("F606W", "broad", 589.0, (_A, _W)),
    Filter("F625W", "broad", 631.0, (_A, _W)),
    Filter("F775W", "broad", 769.0, (_A, _W)),
    Filter("F814W", "broad", 805.0, (_A, _W)),
    Filter("F502N", "narrow", 502.0, (_A, _W)),
    Filter("F656N", "narrow", 656.1, (_W,)),
    Filter("F657N", "narrow", 656.7, (_W,)),
    Filter("F658N", "narrow", 658.4, (_A,)),
    Filter("F660N", "narrow", 659.9, (_A,)),
    Filter("F673N", "narrow", 676.6, (_W,)),
)}

#: Photon rate of each component in each filter relative to ACS/WFC F606W (Eq. 1 per SED).
COLOUR: dict[str, dict[str, float]] = {
    "old": {"F225W": 0.012, "F275W": 0.03, "F336W": 0.09, "F435W": 0.40, "F438W": 0.36,
            "F475W": 0.55, "F555W": 0.78, "F606W": 1.0, "F625W": 0.95, "F775W": 1.00,
            "F814W": 1.05, "F502N": 0.030, "F656N": 0.012, "F657N": 0.036, "F658N": 0.040,
            "F660N": 0.028, "F673N": 0.030},
    "young": {"F225W": 1.30, "F275W": 1.25, "F336W": 1.15, "F435W": 1.05, "F438W": 0.95,
              "F475W": 1.02, "F555W": 0.95, "F606W": 1.0, "F625W": 0.80, "F775W": 0.58,
              "F814W": 0.52, "F502N": 0.040, "F656N": 0.010, "F657N": 0.028, "F658N": 0.032,
              "F660N": 0.022, "F673N": 0.022},
    "gas": {"F225W": 0.03, "F275W": 0.04, "F336W": 0.10, "F435W": 0.22, "F438W": 0.20,
            "F475W": 0.45, "F555W": 0.40, "F606W": 1.0, "F625W": 1.10, "F775W": 0.06,
            "F814W": 0.05, "F502N": 0.18, "F656N": 0.85, "F657N": 1.05, "F658N": 0.95,
            "F660N": 0.35, "F673N": 0.20},
    "oiii": {"F225W": 0.05, "F275W": 0.06, "F336W": 0.25, "F435W": 0.35, "F438W": 0.32,
             "F475W": 1.35, "F555W": 1.25, "F606W": 1.0, "F625W": 0.30, "F775W": 0.05,
             "F814W": 0.04, "F502N": 1.20, "F656N": 0.20, "F657N": 0.25, "F658N": 0.25,
             "F660N": 0.08, "F673N": 0.06},
}

#: Zodiacal + earthshine background, e-/s/arcsec^2 on ACS/WFC (F606W ~0.1 e-/s/pixel).
_SKY: dict[str, float] = {
    "F225W": 0.10, "F275W": 0.15, "F336W": 0.60, "F435W": 16.0, "F438W": 14.0, "F475W": 24.0,
    "F555W": 28.0, "F606W": 40.0, "F625W": 30.0, "F775W": 24.0, "F814W": 32.0, "F502N": 1.1,
    "F656N": 0.35, "F657N": 1.2, "F658N": 1.2, "F660N": 0.6, "F673N": 1.0,
}

#: Throughput of each camera relative to ACS/WFC in the same filter (QE + optics).
INSTRUMENT_EFFICIENCY: dict[str, float] = {_A: 1.0, _W: 0.85}


def filters_for(instrument: str, kind: str | None = None) -> tuple[str, ...]:
    """Names of the filters of one camera, optionally of one ``kind``."""
    return tuple(n for n, f in FILTERS.items()
                 if instrument in f.instruments and (kind is None or f.kind == kind))


def _check(instrument: str, filt: str) -> Filter:
    """The :class:`Filter`, or ValueError if the camera does not have it."""
    if filt not in FILTERS or instrument not in FILTERS[filt].instruments:
        raise ValueError(f"filter {filt!r} is not a filter of {instrument} in LCID-sim: "
                         f"expected one of {filters_for(instrument)}")
    return FILTERS[filt]


def rate_factor(component: str, instrument: str, filt: str, pixel_scale: float) -> float:
    """e-/s per pixel produced by 1 e-/s/arcsec^2 (reference band) of ``component``.

    Args:
        component: one of :data:`COMPONENTS`.
        instrument, filt: camera and filter of the exposure.
        pixel_scale: arcsec per pixel.

    Returns:
        colour x instrument efficiency x pixel area (arcsec^2).
    """
    _check(instrument, filt)
    return COLOUR[component][filt] * INSTRUMENT_EFFICIENCY[instrument] * pixel_scale**2


def sky_rate(instrument: str, filt: str, pixel_scale: float) -> float:
    """Sky background in e-/s per pixel."""
    _check(instrument, filt)
    return _SKY[filt] * INSTRUMENT_EFFICIENCY[instrument] * pixel_scale**2


def dust_k(filt: str) -> float:
    """Dust optical depth in ``filt`` per unit V-band optical depth: ``(551 nm / pivot)^1.3``."""
    return math.pow(551.0 / FILTERS[filt].pivot_nm, 1.3)
