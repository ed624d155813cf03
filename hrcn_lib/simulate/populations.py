"""Point-source populations: luminosity functions and spatial distributions.

All positions are body-frame arcsec (``u`` east, ``v`` north); fluxes are e-/s
in the reference band (ACS/WFC F606W); see :mod:`.scene`.
"""

from __future__ import annotations

import numpy as np

from hrcn_lib.simulate.scene import PointSources, king

__all__ = [
    "power_law_flux",
    "giant_branch_flux",
    "king_radii",
    "king_cdf",
    "plummer_radii",
    "rotate",
    "field_stars",
    "background_galaxies",
    "gaussian_clump",
]


def power_law_flux(rng: np.random.Generator, n: int, f_min: float, f_max: float,
                   alpha: float) -> np.ndarray:
    """``n`` fluxes from ``dN/dF ~ F^-alpha`` on [f_min, f_max] (alpha != 1), float32."""
    a = 1.0 - alpha
    x = rng.random(n)
    return ((f_min**a + x * (f_max**a - f_min**a)) ** (1.0 / a)).astype(np.float32)


def giant_branch_flux(rng: np.random.Generator, n: int, f_tip: float,
                      depth_mag: float = 6.0, slope: float = 0.35) -> np.ndarray:
    """Luminosity function of an old population: ``dN/dm ~ 10^(slope m)`` below the tip.

    Stars are ``depth_mag`` magnitudes deep below the tip flux ``f_tip`` (the
    red-giant-branch tip); faint stars dominate, as in a real cluster.
    Returns float32 (n,).
    """
    k = slope * np.log(10.0)
    x = rng.random(n)
    dm = np.log1p(x * np.expm1(k * depth_mag)) / k
    return (f_tip * 10.0 ** (-0.4 * dm)).astype(np.float32)


def king_cdf(r: np.ndarray, r_c: float, r_t: float) -> np.ndarray:
    """Fraction of a King (1962) cluster's stars projected within radius ``r`` (numerical)."""
    grid = np.linspace(0.0, r_t, 20_001)
    dens = king(grid, r_c, r_t, 1.0).astype(np.float64) * 2.0 * np.pi * grid
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    return np.interp(r, grid, cum / cum[-1])


def king_radii(rng: np.random.Generator, n: int, r_c: float, r_t: float) -> np.ndarray:
    """Projected radii (arcsec) of ``n`` stars following a King surface-density profile."""
    grid = np.linspace(0.0, r_t, 20_001)
    cdf = king_cdf(grid, r_c, r_t)
    return np.interp(rng.random(n), cdf, grid)


def plummer_radii(rng: np.random.Generator, n: int, a: float, r_max: float) -> np.ndarray:
    """Projected radii of a Plummer sphere (``Sigma ~ (1 + r^2/a^2)^-2``), truncated at r_max."""
    x_max = r_max**2 / (r_max**2 + a**2)
    x = rng.random(n) * x_max
    return a * np.sqrt(x / (1.0 - x))


def rotate(u: np.ndarray, v: np.ndarray, pa_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate body-frame offsets by ``pa_deg`` (counter-clockwise from +u)."""
    c, s = np.cos(np.radians(pa_deg)), np.sin(np.radians(pa_deg))
    return u * c - v * s, u * s + v * c


def _polar(rng: np.random.Generator, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    phi = rng.uniform(0, 2 * np.pi, r.size)
    return r * np.cos(phi), r * np.sin(phi)


def field_stars(rng: np.random.Generator, density: float, half: float) -> PointSources:
    """Foreground Milky-Way stars: uniform over a square of side ``2 half`` arcsec.

    Args:
        density: stars per arcsec^2 brighter than 1 e-/s.
        half: half-side of the square (arcsec).

    Returns:
        stars with ``dN/dF ~ F^-1.7`` on [1, 3e6] e-/s (a few saturate), mixed colours.
    """
    n = rng.poisson(density * (2 * half) ** 2)
    return PointSources(rng.uniform(-half, half, n), rng.uniform(-half, half, n),
                        power_law_flux(rng, n, 1.0, 3e6, 1.7),
                        rng.uniform(0.2, 1.0, n).astype(np.float32))


def gaussian_clump(rng: np.random.Generator, n: int, u0: float, v0: float, sigma: float,
                   flux: np.ndarray, colour: float | np.ndarray,
                   kind: str = "") -> PointSources:
    """``n`` sources scattered as a 2-D Gaussian (sigma arcsec) around (u0, v0)."""
    col = np.broadcast_to(np.asarray(colour, dtype=np.float32), (n,)).copy()
    return PointSources(u0 + sigma * rng.standard_normal(n), v0 + sigma * rng.standard_normal(n),
                        np.asarray(flux, dtype=np.float32), col, kind)


def background_galaxies(rng: np.random.Generator, density: float, half: float) -> PointSources:
    """Distant galaxies as small clumps (rendered on the coarse grid): 6 sub-points each.

    Returns a young/old mix catalogue of ``6 x N`` points (N ~ Poisson(density x area)).
    """
    n = rng.poisson(density * (2 * half) ** 2)
    u0, v0 = rng.uniform(-half, half, n), rng.uniform(-half, half, n)
    size = rng.uniform(0.15, 0.8, n)
    flux = power_law_flux(rng, n, 2.0, 200.0, 2.0)
    col = rng.uniform(0.0, 1.0, n)
    k = 6
    d = rng.standard_normal((2, n, k)) * size[None, :, None] * np.array([1.0, 0.5])[:, None, None]
    ang = rng.uniform(0, np.pi, n)[:, None]
    uu = u0[:, None] + d[0] * np.cos(ang) - d[1] * np.sin(ang)
    vv = v0[:, None] + d[0] * np.sin(ang) + d[1] * np.cos(ang)
    return PointSources(uu.ravel(), vv.ravel(), np.repeat(flux / k, k).astype(np.float32),
                        np.repeat(col, k).astype(np.float32))
