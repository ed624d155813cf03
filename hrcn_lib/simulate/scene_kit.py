"""Pieces shared by the galaxy and nebula/cluster scene builders: body textures, stellar
populations split into resolved stars and diffuse light, compact sources (HII regions, young
clusters, globular clusters) and the sky context of a body.

Compact sources, at the body's distance:

* **HII regions** (:func:`hii_regions`): luminosity function ``dN/dL ~ L^-2``
  (Kennicutt, Edgar & Hodge 1989, ApJ 337, 761), diameters 10-300 pc growing as
  ``L^(1/3)`` (a Stromgren sphere of fixed density), i.e. 0.1-1 arcsec at
  10-20 Mpc; ionised gas (the ``gas`` component).
* **Young star clusters** (:func:`young_clusters`): mass function
  ``dN/dM ~ M^-2`` from 10^3 to 10^6 M_sun (Zhang & Fall 1999, ApJ 527, L81),
  effective radii 1-5 pc (Larsen 2004), ``M/L_V`` 0.01-0.1 (1-100 Myr).
* **Globular-cluster systems** (:func:`globular_system`): specific frequency
  ``S_N`` (Harris & van den Bergh 1981), Gaussian luminosity function
  ``M_V = -7.4 +- 1.2`` (Harris 1991, ARA&A 29, 543), half-light radii ~3 pc,
  spread 1.5x wider than the galaxy's light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hrcn_lib.simulate.bodies import Body
from hrcn_lib.simulate.context import (
    background_galaxies,
    extinction_av,
    field_star_density,
    field_stars,
    foreground_fraction,
)
from hrcn_lib.simulate.populations import (
    apparent_flux,
    clustered,
    population,
    power_law_flux,
    sample_raster,
)
from hrcn_lib.simulate.scene import Blobs, Galaxies, PointSources
from hrcn_lib.simulate.textures import (
    FINE_SPLIT,
    BodyRaster,
    FineTiles,
    band_sigma,
    make_tiles,
    raster_field,
)

__all__ = [
    "FIELD_MARGIN",
    "STAR_BUDGET",
    "Textures",
    "body_textures",
    "Context",
    "body_context",
    "resolve",
    "hii_regions",
    "young_clusters",
    "globular_system",
    "grid_of",
    "to_sky",
    "disk_frame",
    "arcsec",
]

#: Margin (arcsec) around a body's extent covered by its context catalogues.
FIELD_MARGIN = 260.0
#: Most stars of one population drawn one by one per body.
STAR_BUDGET = 250_000
_F = np.float32


def arcsec(size_pc: np.ndarray | float, distance_kpc: float) -> np.ndarray | float:
    """Angular size (arcsec) of ``size_pc`` at ``distance_kpc``."""
    return np.asarray(size_pc) / (distance_kpc * 1000.0) * 206_264.8


def disk_frame(u: np.ndarray, v: np.ndarray, pa: float, q: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deprojected disk coordinates: (x, y, r, theta) float32 for major-axis PA and axis ratio q."""
    c, s = _F(np.cos(np.radians(pa))), _F(np.sin(np.radians(pa)))
    x = u * c + v * s
    y = (-u * s + v * c) / _F(q)
    return x, y, np.sqrt(x * x + y * y), np.arctan2(y, x)


def to_sky(x: np.ndarray, y: np.ndarray, pa: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`disk_frame` for catalogue positions (float64)."""
    c, s = np.cos(np.radians(pa)), np.sin(np.radians(pa))
    yq = y * q
    return x * c - yq * s, x * s + yq * c


def grid_of(half: float, n: int = 512) -> tuple[np.ndarray, np.ndarray, float]:
    """(u, v) float32 texel centres of an ``n x n`` raster over ``[-half, half]`` (row 0 north),
    and the texel area (arcsec^2)."""
    t = 2.0 * half / n
    c = (-half + (np.arange(n) + 0.5) * t).astype(np.float32)
    return c[None, :].repeat(n, 0), -c[:, None].repeat(n, 1), t * t


@dataclass(frozen=True)
class Textures:
    """A body's multi-scale fields: coarse rasters (one per use) and the fine tiles.

    Attributes:
        emission: raster of the textured emission's field (unit variance).
        dust: raster of the dust's field.
        tiles: the fine band (:class:`FineTiles`).
        sigma: ``{"young"|"gas"|"dust": (coarse sigma, fine sigma)}``.
    """

    emission: BodyRaster
    dust: BodyRaster
    tiles: FineTiles
    sigma: dict


def body_textures(rng: np.random.Generator, half: float, beta: float,
                  sigmas: dict[str, float]) -> Textures:
    """Rasters and tiles of one body: ``sigmas`` gives each use's total log-normal sigma,
    split between the bands by :func:`.textures.band_sigma`."""
    emission = raster_field(rng, half, beta)
    dust = raster_field(rng, half, beta)
    texel = emission.texel
    split = {k: band_sigma(s, beta, texel, 2 * half) for k, s in sigmas.items()}
    tiles = make_tiles(rng, beta, 1.0 / (FINE_SPLIT * texel))
    return Textures(emission, dust, tiles, split)


def lognormal(field: np.ndarray, sigma: float) -> np.ndarray:
    """``exp(sigma G - sigma^2 / 2)`` (mean 1), float32."""
    return np.exp(_F(sigma) * field - _F(0.5 * sigma * sigma))


@dataclass(frozen=True)
class Context:
    """Sky context of a body: foreground stars, background galaxies, extinctions (mag V)."""

    field: PointSources
    galaxies: Galaxies
    av_body: float
    av_context: float


def body_context(rng: np.random.Generator, body: Body, extent: float,
                 extra_stars: list[PointSources] | None = None) -> Context:
    """Foreground stars and background galaxies around a body (from its Galactic latitude)."""
    half = extent + FIELD_MARGIN
    av = extinction_av(body.gal_b)
    galactic_object = body.label == "NSC" and not body.host
    av_body = av * foreground_fraction(body.gal_b, body.distance_kpc) if galactic_object else av
    stars = field_stars(rng, field_star_density(body.gal_l, body.gal_b), half)
    field_ = PointSources.concat([stars, *(extra_stars or [])])
    return Context(field_, background_galaxies(rng, half), av_body, av)


def resolve(rng: np.random.Generator, kind: str, age_gyr: float, raster: np.ndarray,
            texel_area: float, half: float, distance_kpc: float, av: float,
            budget: int = STAR_BUDGET, cluster: float = 0.0
            ) -> tuple[PointSources, float, float]:
    """Resolved stars of one component and what stays diffuse.

    Args:
        kind, age_gyr: template population (:func:`.populations.population`).
        raster: the component's reference-band surface brightness (e-/s/arcsec^2)
            on a raster over ``[-half, half]`` (row 0 north).
        texel_area: arcsec^2 per raster texel.
        distance_kpc, av: distance and V extinction (mag).
        budget: most stars drawn.
        cluster: fraction of the stars moved into hierarchical associations
            (young populations).

    Returns:
        (stars, resolved_fraction, lbar): the stars brighter than the flux limit,
        the fraction of the component's light they hold (the diffuse light keeps
        ``1 - fraction``) and the SBF flux (e-/s) of the fainter ones.
    """
    total = float(np.asarray(raster, dtype=np.float64).sum() * texel_area)
    if total <= 0:
        return PointSources.empty(), 0.0, 0.0
    pop = population(kind, age_gyr)
    f_res, n_res, frac, lbar = pop.split(distance_kpc, total, budget, av=av)
    n = int(rng.poisson(n_res)) if n_res > 0 else 0
    u, v = sample_raster(rng, n, raster, half)
    if cluster > 0 and n:
        texel = math.sqrt(texel_area)
        u, v = clustered(rng, u, v, cluster, max(0.05, 0.3 * texel), 4.0 * texel)
    flux, colour = pop.draw(rng, n, f_res, distance_kpc, av)
    ext = 10.0 ** (-0.4 * av)  # the catalogue holds fluxes before extinction (scene applies it)
    return PointSources(u, v, (flux / ext).astype(_F), colour), frac, lbar / ext


def hii_regions(rng: np.random.Generator, n: int, u: np.ndarray, v: np.ndarray,
                distance_kpc: float, total_gas_flux: float) -> Blobs:
    """``n`` HII regions at positions (u, v) holding ``total_gas_flux`` e-/s between them."""
    if n == 0:
        return Blobs.empty("gas")
    lum = power_law_flux(rng, n, 1.0, 1000.0, 2.0).astype(np.float64)  # dN/dL ~ L^-2
    diam_pc = 10.0 * lum ** (1.0 / 3.0) * rng.lognormal(0.0, 0.25, n)
    sigma = arcsec(diam_pc, distance_kpc) / 2.355
    flux = lum / lum.sum() * total_gas_flux
    return Blobs(u, v, flux.astype(_F), np.asarray(sigma, _F), np.zeros(n, _F), "gas")


def young_clusters(rng: np.random.Generator, n: int, u: np.ndarray, v: np.ndarray,
                   distance_kpc: float) -> Blobs:
    """``n`` young star clusters at (u, v): mass function ``M^-2``, M/L_V 0.01-0.1
    (fluxes before extinction)."""
    if n == 0:
        return Blobs.empty()
    mass = power_law_flux(rng, n, 1e3, 1e6, 2.0).astype(np.float64)
    ml = 10 ** rng.uniform(-2.0, -1.0, n)
    mv = 4.83 - 2.5 * np.log10(mass / ml)
    flux = apparent_flux(mv, distance_kpc)
    sigma = arcsec(rng.uniform(1.0, 5.0, n), distance_kpc) / 1.18  # r_eff -> Gaussian sigma
    return Blobs(u, v, flux, np.asarray(sigma, _F), rng.uniform(0.0, 0.25, n).astype(_F))


def globular_system(rng: np.random.Generator, galaxy_flux: float, distance_kpc: float,
                    specific_frequency: float, radius: float, extent: float) -> Blobs:
    """A galaxy's globular clusters (Plummer-like, scale ``radius`` arcsec, out to ``extent``;
    ``galaxy_flux`` e-/s before extinction)."""
    from hrcn_lib.simulate.populations import distance_modulus, plummer_radii, polar

    mv_gal = -2.5 * math.log10(max(galaxy_flux, 1e-3)) + 26.5 - distance_modulus(distance_kpc)
    n = int(rng.poisson(min(specific_frequency * 10 ** (-0.4 * (mv_gal + 15.0)), 20_000)))
    if n == 0:
        return Blobs.empty()
    r = plummer_radii(rng, n, radius, extent)
    u, v = polar(rng, r)
    flux = apparent_flux(rng.normal(-7.4, 1.2, n), distance_kpc)
    sigma = arcsec(rng.lognormal(math.log(3.0), 0.3, n), distance_kpc) / 1.18
    return Blobs(u, v, flux, np.asarray(sigma, _F), rng.uniform(0.7, 1.0, n).astype(_F))
