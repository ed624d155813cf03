"""Stellar populations: initial mass function, luminosities at the body's distance, and which
stars are drawn one by one and which stay in the diffuse light.

* **IMF** (:func:`kroupa_masses`): Kroupa (2001, MNRAS 322, 231), ``dN/dm ~ m^-1.3``
  below 0.5 M_sun and ``m^-2.3`` above.
* **Luminosities** (:func:`stellar_mags`): an approximate main-sequence
  mass-luminosity relation (``L ~ m^4`` below 2 M_sun, ``~ m^3.5`` above, with a
  bolometric correction for hot stars) and, for stars past the main sequence
  (lifetime ``10 Gyr m^-2.5``), giant / supergiant phases; an old population's
  evolved stars follow a red-giant-branch luminosity function
  ``dN/dM_V ~ 10^(0.3 M_V)`` from M_V = +3.5 to the tip at -3, a horizontal branch
  at M_V ~ +0.6 and a few AGB stars. Absolute V magnitudes become reference-band
  fluxes with the distance modulus and extinction (:func:`apparent_flux`).
* **Resolved or diffuse** (:class:`Population`): a template sample of a
  population's stars gives, for a flux limit ``F_res``, the fraction of the light
  in stars brighter than it (drawn as point sources, at most a budget of stars
  per body), the number of such stars per unit light, and the SBF flux ``lbar``
  of the fainter ones (Tonry & Schneider 1988): the diffuse light keeps the rest
  and fluctuates with it (:func:`.draw_kernels.add_sbf`). Nearby galaxies therefore
  resolve into stars and distant ones do not, from the same rule.
* **Spatial profiles**: King (1962) for globular/open clusters (:func:`king_radii`),
  Elson, Fall & Freeman (1987) for young massive clusters (:func:`eff_radii`),
  Plummer, and sampling from a surface-brightness raster for galaxy discs
  (:func:`sample_raster`), with young stars clustered hierarchically in
  associations (:func:`clustered`, Elmegreen & Efremov 1996).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from hrcn_lib.simulate.context import AB_ZERO_POINT
from hrcn_lib.simulate.scene import king

__all__ = [
    "kroupa_masses",
    "stellar_mags",
    "apparent_flux",
    "distance_modulus",
    "Population",
    "population",
    "king_radii",
    "king_cdf",
    "eff_radii",
    "plummer_radii",
    "polar",
    "sample_raster",
    "clustered",
    "power_law_flux",
]


def distance_modulus(distance_kpc: float) -> float:
    """``5 log10(d / 10 pc)`` for ``d`` in kpc."""
    return 5.0 * math.log10(distance_kpc * 100.0)


def apparent_flux(abs_mag: np.ndarray, distance_kpc: float, av: float = 0.0) -> np.ndarray:
    """Reference-band flux (e-/s, float32) of stars of absolute V magnitude at ``distance_kpc``
    behind ``av`` magnitudes of V extinction (V ~ F606W AB for these colours)."""
    m = np.asarray(abs_mag) + distance_modulus(distance_kpc) + av
    return (10.0 ** (-0.4 * (m - AB_ZERO_POINT))).astype(np.float32)


def kroupa_masses(rng: np.random.Generator, n: int, m_lo: float = 0.08,
                  m_hi: float = 100.0) -> np.ndarray:
    """``n`` masses (M_sun) from the Kroupa (2001) IMF on [m_lo, m_hi] (inverse CDF)."""
    grid = np.geomspace(m_lo, m_hi, 4000)
    pdf = np.where(grid < 0.5, (grid / 0.5) ** -1.3, (grid / 0.5) ** -2.3)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    return np.interp(rng.random(n) * cdf[-1], cdf, grid)


def _ms_mag(m: np.ndarray) -> np.ndarray:
    """Main-sequence absolute V magnitude of mass ``m`` (M_sun), approximately."""
    lum = np.where(m < 2.0, m**4.0, 1.4 * m**3.5)
    bc = -3.0 * np.log10(np.maximum(m / 1.6, 1.0))  # hot stars emit in the UV
    faint = np.where(m < 0.5, 3.0 * (0.5 - m) / 0.4, 0.0)  # M dwarfs are redder in V
    return 4.83 - 2.5 * np.log10(lum) - bc + faint


def stellar_mags(rng: np.random.Generator, masses: np.ndarray, age_gyr: np.ndarray | float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Absolute V magnitudes and colours (0 = young/blue ... 1 = old/red) of stars.

    A star of mass ``m`` lives ``10 Gyr m^-2.5`` on the main sequence; after it,
    for 12 % of that time, it is a giant (old populations: the RGB/HB/AGB
    luminosity functions of the module docstring) or a supergiant (massive
    stars); later it is a remnant (removed: magnitude +30).
    """
    age = np.broadcast_to(np.asarray(age_gyr, dtype=np.float64), masses.shape)
    life = 10.0 * masses**-2.5
    mag = _ms_mag(masses)
    colour = np.clip(0.95 - 0.35 * np.log10(np.maximum(masses, 0.1) / 0.1), 0.0, 1.0)
    evolved = age > life
    giant = evolved & (age < 1.12 * life)
    dead = evolved & ~giant
    n = int(giant.sum())
    if n:
        low = masses[giant] < 2.5  # low-mass giants: RGB / HB / AGB
        k = 0.3 * math.log(10.0)
        rgb = 3.5 - np.log1p(rng.random(n) * np.expm1(k * 6.5)) / k  # dN/dM ~ 10^(0.3 M)
        phase = rng.random(n)
        gmag = np.where(phase < 0.1, rng.normal(0.6, 0.2, n),
                        np.where(phase < 0.15, rng.uniform(-3.8, -1.0, n), rgb))
        gcol = np.where(phase < 0.1, rng.uniform(0.2, 0.55, n), rng.uniform(0.85, 1.0, n))
        sg = mag[giant] - rng.uniform(0.5, 2.5, n)  # supergiants: brighter than on the MS
        sgcol = np.where(rng.random(n) < 0.4, rng.uniform(0.85, 1.0, n),
                         rng.uniform(0.0, 0.2, n))
        mag[giant] = np.where(low, gmag, sg)
        colour[giant] = np.where(low, gcol, sgcol)
    mag[dead] = 30.0
    return mag, colour


@dataclass(frozen=True)
class Population:
    """A template of one stellar population: its stars' absolute magnitudes and colours, from
    which the resolved/diffuse split at any distance follows.

    Attributes:
        mags: float64 (N,) absolute V magnitudes, brightest first.
        colours: float32 (N,) colours.
        mass: M_sun of stars the template represents (all masses, incl. remnants).
    """

    mags: np.ndarray
    colours: np.ndarray
    mass: float

    def light(self, distance_kpc: float, av: float = 0.0) -> np.ndarray:
        """Reference-band fluxes (e-/s) of the template's stars at that distance."""
        return apparent_flux(self.mags, distance_kpc, av).astype(np.float64)

    def split(self, distance_kpc: float, total_flux: float, budget: int, floor: float = 0.15,
              av: float = 0.0) -> tuple[float, float, float, float]:
        """Where to draw the line between point sources and diffuse light.

        Args:
            distance_kpc: distance.
            total_flux: e-/s (reference band) of the whole component on the body.
            budget: most stars to draw one by one.
            floor: e-/s below which stars are never drawn individually.
            av: V extinction (mag).

        Returns:
            ``(f_res, n_res, frac_res, lbar)``: flux limit (e-/s), number of stars
            brighter than it on the body, fraction of the light they hold, and the
            SBF flux (e-/s) of the fainter ones.
        """
        flux = self.light(distance_kpc, av)
        cum_light = np.cumsum(flux)
        scale = total_flux / cum_light[-1]  # template stars per body star
        n_all = np.arange(1, flux.size + 1) * scale
        ok = (flux >= floor) & (n_all <= budget)
        k = int(np.flatnonzero(ok).max()) + 1 if ok.any() else 0
        f_res = float(flux[k - 1]) if k else float(flux[0]) * 1.001
        frac = float(cum_light[k - 1] / cum_light[-1]) if k else 0.0
        faint = flux[k:]
        lbar = float((faint**2).sum() / max(faint.sum(), 1e-30)) if faint.size else 0.0
        return f_res, float(k * scale), frac, lbar

    def draw(self, rng: np.random.Generator, n: int, f_res: float, distance_kpc: float,
             av: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` stars brighter than ``f_res``: (flux e-/s float32, colour float32)."""
        flux = self.light(distance_kpc, av)
        k = int(np.searchsorted(-flux, -f_res, side="right"))
        if k == 0 or n == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        pick = rng.integers(0, k, n)
        return flux[pick].astype(np.float32), self.colours[pick]


@functools.lru_cache(maxsize=8)
def population(kind: str, age_gyr: float = 12.0, size: int = 300_000) -> Population:
    """A template population (cached): ``"old"`` (single age ``age_gyr``), ``"young"``
    (constant star formation over the last ``age_gyr``) or ``"cluster"`` (single age).

    Raises:
        ValueError: unknown kind.
    """
    rng = np.random.default_rng([11, size, int(age_gyr * 1000), len(kind)])
    if kind == "old" or kind == "cluster":
        m = kroupa_masses(rng, size, 0.08, 100.0)
        ages = age_gyr
    elif kind == "young":
        m = kroupa_masses(rng, size, 0.08, 100.0)
        ages = rng.uniform(0.0, age_gyr, size)
    else:
        raise ValueError(f"unknown population kind {kind!r}: expected old, young or cluster")
    mags, colours = stellar_mags(rng, m, ages)
    order = np.argsort(mags)
    return Population(mags[order], colours[order].astype(np.float32), float(m.sum()))


# ----------------------------------------------------------------------------- positions


def king_cdf(r: np.ndarray, r_c: float, r_t: float) -> np.ndarray:
    """Fraction of a King (1962) cluster's stars projected within radius ``r`` (numerical)."""
    grid = np.linspace(0.0, r_t, 20_001)
    dens = king(grid, r_c, r_t, 1.0).astype(np.float64) * 2.0 * np.pi * grid
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    return np.interp(r, grid, cum / cum[-1])


def king_radii(rng: np.random.Generator, n: int, r_c: float, r_t: float) -> np.ndarray:
    """Projected radii (arcsec) of ``n`` stars following a King surface-density profile."""
    grid = np.linspace(0.0, r_t, 20_001)
    return np.interp(rng.random(n), king_cdf(grid, r_c, r_t), grid)


def eff_radii(rng: np.random.Generator, n: int, a: float, gamma: float, r_max: float
              ) -> np.ndarray:
    """Projected radii of an Elson, Fall & Freeman (1987) cluster,
    ``Sigma ~ (1 + r^2/a^2)^(-gamma/2)``, truncated at ``r_max``."""
    grid = np.linspace(0.0, r_max, 20_001)
    dens = (1.0 + (grid / a) ** 2) ** (-gamma / 2.0) * grid
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]))])
    return np.interp(rng.random(n), cdf / cdf[-1], grid)


def plummer_radii(rng: np.random.Generator, n: int, a: float, r_max: float) -> np.ndarray:
    """Projected radii of a Plummer sphere (``Sigma ~ (1 + r^2/a^2)^-2``), truncated at r_max."""
    x_max = r_max**2 / (r_max**2 + a**2)
    x = rng.random(n) * x_max
    return a * np.sqrt(x / (1.0 - x))


def polar(rng: np.random.Generator, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of radii ``r`` at random position angles."""
    phi = rng.uniform(0, 2 * np.pi, r.size)
    return r * np.cos(phi), r * np.sin(phi)


def sample_raster(rng: np.random.Generator, n: int, image: np.ndarray, half: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions (u, v arcsec) drawn from a non-negative raster covering ``[-half, half]``
    (row 0 = north edge), uniform within each texel."""
    side = image.shape[0]
    p = np.asarray(image, dtype=np.float64).ravel()
    cdf = np.cumsum(p)
    if n == 0 or cdf[-1] <= 0:
        return np.zeros(0), np.zeros(0)
    idx = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), p.size - 1)
    row, col = np.divmod(idx, side)
    texel = 2.0 * half / side
    u = -half + (col + rng.random(n)) * texel
    v = half - (row + rng.random(n)) * texel
    return u, v


def clustered(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, fraction: float,
              size_min: float, size_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Hierarchically clustered positions: a ``fraction`` of the stars move into associations
    (groups of ~20-2000 stars centred on randomly chosen stars) of Gaussian sizes from a
    power law ``dN/ds ~ s^-2`` between ``size_min`` and ``size_max`` arcsec; sub-groups inside
    the largest ones give the second level of the hierarchy."""
    n = u.size
    k = int(fraction * n)
    if k == 0:
        return u, v
    u, v = u.copy(), v.copy()
    members = rng.choice(n, k, replace=False)
    n_groups = max(1, k // 200)
    centres = rng.choice(n, n_groups, replace=False)
    size = 1.0 / rng.uniform(1.0 / size_max, 1.0 / size_min, n_groups)  # dN/ds ~ s^-2
    grp = rng.integers(0, n_groups, k)
    sub = rng.random(k) < 0.5  # half of each group in a sub-group at 0.2x the size
    sub_off = rng.standard_normal((2, n_groups, 4)) * size[None, :, None]
    which = rng.integers(0, 4, k)
    cu = u[centres][grp] + np.where(sub, sub_off[0, grp, which], 0.0)
    cv = v[centres][grp] + np.where(sub, sub_off[1, grp, which], 0.0)
    s = np.where(sub, 0.2, 1.0) * size[grp]
    u[members] = cu + s * rng.standard_normal(k)
    v[members] = cv + s * rng.standard_normal(k)
    return u, v


def power_law_flux(rng: np.random.Generator, n: int, f_min: float, f_max: float,
                   alpha: float) -> np.ndarray:
    """``n`` values from ``dN/dF ~ F^-alpha`` on [f_min, f_max] (alpha != 1), float32."""
    a = 1.0 - alpha
    x = rng.random(n)
    return ((f_min**a + x * (f_max**a - f_min**a)) ** (1.0 / a)).astype(np.float32)
