"""Context of a body on the sky: Galactic extinction, foreground stars and background galaxies,
all following the Galactic coordinates of its RA/Dec (astropy) -- for both classes.

* **Extinction** (:func:`extinction_av`): a plane-parallel dust layer seen from the
  Sun (the classical cosecant law), ``A_V = 0.1 mag csc|b|``, capped at 6 mag; a
  Galactic object at distance ``d`` sees the part of the layer (scale height
  110 pc) in front of it (:func:`foreground_fraction`).
* **Foreground stars** (:func:`field_star_density`): star counts grow towards the
  plane as the path through a plane-parallel disc, ``csc|b|`` (the disc term of
  Bahcall & Soneira 1980, ApJS 44, 73), plus a bulge term towards the Galactic
  centre; at the poles deep HST fields hold of order 10^-3 stars per arcsec^2 down
  to ~26.5 AB mag (F606W ~1 e-/s). Faint stars behind the dust drop out
  (``10^(-0.1 A_V)``). Fluxes follow ``dN/dF ~ F^-1.5`` (``dN/dm ~ 10^(0.2 m)``),
  from 0.3 e-/s to saturating stars.
* **Background galaxies** (:func:`background_galaxies`): number counts
  ``log10 N(<m) = 5.3 + 0.3 (m - 25)`` per deg^2 (deep-field counts, ~0.015
  arcsec^-2 to 25 AB mag), down to 27 AB mag; half-light radii shrink with
  magnitude (0.35 arcsec at 24 mag, 0.25 dex scatter); discs (Sersic n = 1, 70 %)
  and spheroids (n = 4). Seen through the Galactic dust (dimmed in the
  exposure's filter by :mod:`.scene`), so the zone of avoidance thins them out.

Confusable cases in both directions follow from this: a galaxy at low latitude
sits behind a crowded star field; a cluster or nebula at high latitude (in the
Magellanic Clouds, M31, M33) has background galaxies and its host's disc around
it (:mod:`.bodies`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from hrcn_lib.simulate.scene import Galaxies, PointSources

__all__ = [
    "galactic",
    "equatorial",
    "extinction_av",
    "foreground_fraction",
    "field_star_density",
    "field_stars",
    "background_galaxies",
    "AB_ZERO_POINT",
]

#: AB magnitude of 1 e-/s in the reference band (ACS/WFC F606W).
AB_ZERO_POINT = 26.5
_POLE_DENSITY = 1.0e-3  # stars / arcsec^2 brighter than 1 e-/s at the Galactic poles
_DUST_HEIGHT_KPC = 0.11


@functools.lru_cache(maxsize=4096)
def galactic(ra: float, dec: float) -> tuple[float, float]:
    """Galactic (l, b) in degrees of ICRS (ra, dec) degrees (astropy)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    g = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, frame="icrs").galactic
    return float(g.l.deg), float(g.b.deg)


def equatorial(l_deg: float, b_deg: float) -> tuple[float, float]:
    """ICRS (ra, dec) in degrees of Galactic (l, b) degrees (astropy)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    c = SkyCoord(l=l_deg * u.deg, b=b_deg * u.deg, frame="galactic").icrs
    return float(c.ra.deg), float(c.dec.deg)


def _csc(b_deg: float) -> float:
    return 1.0 / math.sin(math.radians(max(abs(b_deg), 1.0)))


def extinction_av(b_deg: float) -> float:
    """V-band extinction (mag) through the whole Galactic dust layer at latitude ``b``."""
    return min(0.1 * _csc(b_deg), 6.0)


def foreground_fraction(b_deg: float, distance_kpc: float) -> float:
    """Fraction of the dust layer in front of a Galactic object at ``distance_kpc``."""
    height = distance_kpc * math.sin(math.radians(max(abs(b_deg), 0.5)))
    return 1.0 - math.exp(-height / _DUST_HEIGHT_KPC)


def field_star_density(l_deg: float, b_deg: float) -> float:
    """Foreground stars per arcsec^2 brighter than 1 e-/s (reference band) at (l, b)."""
    cos_psi = math.cos(math.radians(l_deg)) * math.cos(math.radians(b_deg))
    psi = math.degrees(math.acos(max(-1.0, min(1.0, cos_psi))))  # angle from the centre
    bulge = 8.0 * math.exp(-psi / 12.0)
    dust = 10.0 ** (-0.1 * extinction_av(b_deg))
    return min(_POLE_DENSITY * (_csc(b_deg) + bulge) * dust, 0.25)


def field_stars(rng: np.random.Generator, density: float, half: float) -> PointSources:
    """Foreground stars over a square of side ``2 half`` arcsec (body frame).

    Args:
        density: stars per arcsec^2 brighter than 1 e-/s.
        half: half-side (arcsec).

    Returns:
        stars with ``dN/dF ~ F^-1.5`` from 0.3 e-/s to 3e7 e-/s; colours of a
        foreground population (mostly G/K dwarfs, some blue turn-off stars).
    """
    f_min, f_max = 0.3, 3e7
    n = int(rng.poisson(density * f_min**-0.5 * (2 * half) ** 2))
    x = rng.random(n)
    flux = (f_min**-0.5 - x * (f_min**-0.5 - f_max**-0.5)) ** -2.0
    colour = np.where(rng.random(n) < 0.25, rng.uniform(0.05, 0.4, n), rng.uniform(0.55, 1.0, n))
    return PointSources(rng.uniform(-half, half, n), rng.uniform(-half, half, n),
                        flux.astype(np.float32), colour.astype(np.float32))


def background_galaxies(rng: np.random.Generator, half: float, m_max: float = 27.0
                        ) -> Galaxies:
    """Background galaxies over a square of side ``2 half`` arcsec (body frame, before any
    Galactic extinction).

    Args:
        half: half-side (arcsec).
        m_max: faintest AB magnitude drawn.
    """
    m_min = 16.0
    per_arcsec2 = 10.0 ** (5.3 + 0.3 * (m_max - 25.0)) / 3600.0**2
    n = int(rng.poisson(per_arcsec2 * (2 * half) ** 2))
    # dN/dm ~ 10^(0.3 m) on [m_min, m_max]
    a = 0.3 * math.log(10.0)
    x = rng.random(n)
    m = m_min + np.log1p(x * np.expm1(a * (m_max - m_min))) / a
    flux = 10.0 ** (-0.4 * (m - AB_ZERO_POINT))
    re = 0.35 * 10.0 ** (-0.1 * (m - 24.0) + rng.normal(0.0, 0.25, n))
    disc = rng.random(n) < 0.7
    q = np.where(disc, rng.uniform(0.2, 1.0, n), rng.uniform(0.5, 1.0, n))
    colour = np.where(disc, rng.uniform(0.2, 0.8, n), rng.uniform(0.6, 1.0, n))
    return Galaxies(rng.uniform(-half, half, n), rng.uniform(-half, half, n),
                    flux.astype(np.float32), re.astype(np.float32),
                    np.where(disc, 1.0, 4.0).astype(np.float32), q.astype(np.float32),
                    rng.uniform(0, np.pi, n).astype(np.float32), colour.astype(np.float32))
