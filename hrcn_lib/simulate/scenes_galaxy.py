"""Galaxy scenes: spirals, barred spirals, ellipticals, lenticulars, irregulars, edge-on disks.

Each builder turns a :class:`~hrcn_lib.simulate.bodies.Body` into a
:class:`~hrcn_lib.simulate.scene.Scene` (light in the body frame). Light
components follow the paper's Eq. (1) through :mod:`.photometry`: bulges and
ellipticals are ``old``, arms and clumps ``young``, HII regions ``gas``.
"""

from __future__ import annotations

import numpy as np

from hrcn_lib.simulate.bodies import Body, body_rng
from hrcn_lib.simulate.populations import (
    background_galaxies,
    field_stars,
    gaussian_clump,
    giant_branch_flux,
    plummer_radii,
    power_law_flux,
)
from hrcn_lib.simulate.scene import (
    BodyRaster,
    PointSources,
    Scene,
    elliptical_radius,
    gaussian_random_field,
    sersic,
)

__all__ = ["build_galaxy_scene", "radial_samples", "disk_frame"]

_F = np.float32
#: Margin (arcsec) around a body's extent covered by field stars (pointings reach past the body).
FIELD_MARGIN = 260.0


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


def radial_samples(rng: np.random.Generator, n: int, profile, r_max: float) -> np.ndarray:
    """``n`` radii drawn from a surface-brightness ``profile(r)`` (inverse CDF of 2 pi r I(r))."""
    grid = np.linspace(0.0, r_max, 8001)
    dens = np.asarray(profile(grid.astype(np.float32)), dtype=np.float64) * grid
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]))])
    return np.interp(rng.random(n), cdf / cdf[-1], grid)


def _arm_pattern(r: np.ndarray, theta: np.ndarray, m: int, pitch: float, phase: float,
                 shift: float = 0.0, sharp: float = 4.0) -> np.ndarray:
    """Logarithmic-spiral arm density in [0, 1]: ``(0.5 (1 + cos(m (theta - ln r / tan p))))^sharp``."""
    psi = _F(m) * (theta - np.log(np.maximum(r, _F(1.0))) / _F(np.tan(np.radians(pitch))))
    psi = psi + _F(np.radians(phase) + shift)
    return (_F(0.5) * (_F(1.0) + np.cos(psi))) ** _F(sharp)


def _arm_positions(rng: np.random.Generator, n: int, p: dict, r_in: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Disk-frame (x, y) of ``n`` points on the arm ridges (exponential in radius)."""
    r = r_in + rng.gamma(2.0, p["h"] * 0.7, n)
    arm = rng.integers(0, p["arms"], n)
    theta = (np.log(r) / np.tan(np.radians(p["pitch"]))
             + (2 * np.pi * arm - np.radians(p["phase"])) / p["arms"]
             + rng.normal(0, 0.12, n))
    return r * np.cos(theta), r * np.sin(theta)


def _field(rng: np.random.Generator, p: dict, extent: float) -> tuple[PointSources, PointSources]:
    half = extent + FIELD_MARGIN
    return field_stars(rng, p["field_density"], half), background_galaxies(rng, 0.004, half)


def _spiral(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    h, q, pa = p["h"], p["q"], p["pa"]
    barred = body.morphology == "barred_spiral"
    r_in = p["bar_len"] if barred else 2.0 * p["bulge_re"]
    extent = 4.5 * h
    tex = BodyRaster(np.exp(0.6 * gaussian_random_field(rng, 1024, 3.0, 2.0)), extent + 100)

    def smooth(u, v):
        x, y, r, th = disk_frame(u, v, pa, q)
        disk = _F(p["disk_sb"]) * np.exp(-r / _F(h))
        start = _F(1.0) - np.exp(-((r / _F(r_in)) ** 2))
        arm = _arm_pattern(r, th, p["arms"], p["pitch"], p["phase"]) * start
        lane = _arm_pattern(r, th, p["arms"], p["pitch"], p["phase"], shift=-0.45,
                            sharp=6.0) * start
        t = tex.sample(u, v)
        bulge = sersic(elliptical_radius(u, v, pa, min(1.0, q + 0.2)), p["bulge_n"],
                       p["bulge_re"], p["bulge_sb"])
        yf = _F(p["young_frac"])
        out = {"old": disk * (_F(1.0) - yf) + bulge,
               "young": disk * yf * (_F(0.25) + _F(3.0 * p["arm_amp"]) * arm * t),
               "gas": disk * yf * _F(1.5) * arm * arm * t * t,
               "tau": _F(p["dust_tau"]) * np.exp(-r / _F(1.5 * h)) * (_F(0.25) + _F(2.0) * lane)
               * t}
        if barred:
            xb, yb, _, _ = disk_frame(u, v, pa + 20.0, 1.0)
            rb = np.sqrt((xb / _F(p["bar_len"])) ** 2 + (yb / _F(p["bar_len"] * p["bar_q"])) ** 2)
            out["old"] = out["old"] + _F(p["bar_sb"]) * np.exp(-(rb**4))
        return out

    def coverage(u, v):
        _, _, r, _ = disk_frame(u, v, pa, q)
        return _F(p["disk_sb"]) * np.exp(-r / _F(h)) * _F(1.0 + 0.5 * p["young_frac"])

    # HII knots: gas clumps + young star clusters on the arm ridges
    xk, yk = _arm_positions(rng, p["n_knots"], p, r_in)
    uk, vk = to_sky(xk, yk, pa, q)
    fk = power_law_flux(rng, p["n_knots"], 20.0, 2000.0, 1.8)
    sub = 8
    sig = rng.uniform(0.3, 1.2, p["n_knots"])
    kd = rng.standard_normal((2, p["n_knots"], sub)) * sig[None, :, None]
    gas = PointSources((uk[:, None] + kd[0]).ravel(), (vk[:, None] + kd[1]).ravel(),
                       np.repeat(fk / sub, sub).astype(_F), np.zeros(p["n_knots"] * sub, _F),
                       "gas")
    young = PointSources((uk[:, None] + 0.6 * kd[1]).ravel(), (vk[:, None] + 0.6 * kd[0]).ravel(),
                         np.repeat(0.5 * fk / sub, sub).astype(_F),
                         np.zeros(p["n_knots"] * sub, _F))
    fs, bg = _field(rng, p, extent)
    stars = [fs]
    if p["nearby"]:  # resolved supergiants along the arms (NGC 6744-like)
        n = int(rng.integers(15_000, 40_000))
        xs, ys = _arm_positions(rng, n, p, r_in)
        xs, ys = xs + rng.normal(0, 3.0, n), ys + rng.normal(0, 3.0, n)
        us, vs = to_sky(xs, ys, pa, q)
        col = np.where(rng.random(n) < 0.15, _F(0.95), rng.uniform(0.0, 0.3, n)).astype(_F)
        stars.append(PointSources(us, vs, power_law_flux(rng, n, 1.0, 400.0, 2.1), col))
    return Scene(smooth, coverage, PointSources.concat(stars), (gas, young, bg), extent,
                 {"h": h, "q": q, "pa": pa})


def _early_type(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    pa, q, re_, n = p["pa"], p["q"], p["re"], p["n"]
    lenticular = body.morphology == "lenticular"
    extent = 5.0 * re_ if not lenticular else max(5.0 * re_, 4.0 * p["h"])

    def light(u, v):
        out = sersic(elliptical_radius(u, v, pa, q), n, re_, p["sb_e"])
        if lenticular:
            _, _, r, _ = disk_frame(u, v, pa, q)
            out = out + _F(p["disk_sb"]) * np.exp(-r / _F(p["h"]))
        return out

    def smooth(u, v):
        out = {"old": light(u, v)}
        if lenticular and p["dust_ring"]:
            _, _, r, _ = disk_frame(u, v, pa, q)
            out["tau"] = _F(0.8) * np.exp(-(((r - _F(0.6 * re_)) / _F(0.12 * re_)) ** 2))
        return out

    # globular-cluster system: extended Plummer-like, Gaussian GCLF (sigma 1.2 mag)
    ngc = p["n_gc"]
    rg = plummer_radii(rng, ngc, 1.2 * re_, extent)
    phi = rng.uniform(0, 2 * np.pi, ngc)
    gcs = PointSources(rg * np.cos(phi), rg * np.sin(phi),
                       (p["gc_peak"] * 10 ** (-0.4 * rng.normal(0, 1.2, ngc))).astype(_F),
                       rng.uniform(0.6, 1.0, ngc).astype(_F))
    stars = [gcs]
    if p["resolved_halo"]:  # M32-like: the halo resolves into giants, the core stays smooth
        nh = int(rng.integers(20_000, 60_000))
        rr = radial_samples(rng, nh, lambda r: sersic(r, n, re_, 1.0), extent)
        ph = rng.uniform(0, 2 * np.pi, nh)
        x, y = rr * np.cos(ph), rr * np.sin(ph) * q
        c, s = np.cos(np.radians(pa)), np.sin(np.radians(pa))
        stars.append(PointSources(x * c - y * s, x * s + y * c,
                                  giant_branch_flux(rng, nh, rng.uniform(30, 200)),
                                  rng.uniform(0.8, 1.0, nh).astype(_F)))
    fs, bg = _field(rng, p, extent)
    stars.append(fs)
    return Scene(smooth, light, PointSources.concat(stars), (bg,), extent,
                 {"n": n, "re": re_, "q": q, "pa": pa})


def _irregular(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    pa, q, h = p["pa"], p["q"], p["h"]
    extent = 4.0 * h
    half = extent + 100
    tex = BodyRaster(np.exp(0.9 * gaussian_random_field(rng, 1024, 3.0, 2.0)), half)
    dust = BodyRaster(gaussian_random_field(rng, 1024, 3.5, 1.5), half)
    fil = BodyRaster(gaussian_random_field(rng, 1024, 3.5, 1.0), half)
    nc = p["n_clumps"]
    rc = rng.gamma(2.0, 0.6 * h, nc)
    pc = rng.uniform(0, 2 * np.pi, nc)
    uc, vc = to_sky(rc * np.cos(pc), rc * np.sin(pc), pa, q)
    sc = rng.uniform(3.0, 9.0, nc)
    ac = _F(p["disk_sb"]) * rng.uniform(2.0, 8.0, nc).astype(_F)

    def smooth(u, v):
        _, _, r, _ = disk_frame(u, v, pa, q)
        disk = _F(p["disk_sb"]) * np.exp(-r / _F(h))
        t = tex.sample(u, v)
        gas = np.zeros_like(u)
        for i in range(nc):
            d2 = (u - _F(uc[i])) ** 2 + (v - _F(vc[i])) ** 2
            gas += ac[i] * np.exp(-d2 / _F(2 * (1.8 * sc[i]) ** 2))
        out = {"old": disk * _F(0.6), "young": disk * _F(0.5) * t + gas * _F(0.3),
               "gas": gas * t,
               "tau": _F(p["dust_tau"]) * np.clip(dust.sample(u, v) - _F(0.6), 0, None)
               * np.exp(-r / _F(2 * h))}
        if p["starburst"]:  # H-alpha outflow filaments along the minor axis (M82-like)
            x, y, _, _ = disk_frame(u, v, pa, 1.0)
            streak = fil.sample(x * _F(0.15), y * _F(0.6))
            out["gas"] = out["gas"] + _F(p["disk_sb"] * 3.0) * np.clip(streak - _F(0.8), 0, None) \
                * np.exp(-np.abs(x) / _F(0.6 * h)) * np.exp(-np.abs(y) / _F(2.5 * h))
        return out

    def coverage(u, v):
        _, _, r, _ = disk_frame(u, v, pa, q)
        return _F(p["disk_sb"] * 1.1) * np.exp(-r / _F(h))

    clumps = []
    for i in range(nc):  # each star-forming clump resolves into young stars (open-cluster-like)
        ns = int(rng.integers(80, 500))
        clumps.append(gaussian_clump(rng, ns, uc[i], vc[i], sc[i],
                                     power_law_flux(rng, ns, 3.0, 3000.0, 2.0),
                                     rng.uniform(0.0, 0.25, ns)))
    fs, bg = _field(rng, p, extent)
    return Scene(smooth, coverage, PointSources.concat([*clumps, fs]), (bg,), extent,
                 {"h": h, "q": q, "pa": pa})


def _edge_on(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    pa, h, z0 = p["pa"], p["h"], p["z0"]
    extent = 4.5 * h
    tex = BodyRaster(np.exp(0.5 * gaussian_random_field(rng, 1024, 3.0, 2.0)), extent + 100)

    def light(u, v):
        x, z, _, _ = disk_frame(u, v, pa, 1.0)
        zc = np.clip(z / _F(z0), -30, 30)
        disk = _F(p["disk_sb"]) * np.exp(-np.abs(x) / _F(h)) * (
            _F(1.0) / np.cosh(zc) ** 2 + _F(0.08) / np.cosh(zc / _F(3.5)) ** 2)  # thin + thick
        bulge = sersic(elliptical_radius(u, v, pa, 0.6), 2.0, p["bulge_re"], p["bulge_sb"])
        return disk, bulge

    def smooth(u, v):
        disk, bulge = light(u, v)
        x, z, _, _ = disk_frame(u, v, pa, 1.0)
        t = tex.sample(u, v)
        lane = _F(p["dust_tau"]) * np.exp(-np.abs(x) / _F(1.5 * h)) \
            * np.exp(-((z / _F(0.45 * z0)) ** 2)) * t
        return {"old": disk * _F(0.8) + bulge, "young": disk * _F(0.25) * t,
                "gas": disk * _F(0.15) * t * t, "tau": lane}

    def coverage(u, v):
        disk, bulge = light(u, v)
        return disk + bulge

    n = p["n_knots"]
    xk = rng.laplace(0, h, n)
    zk = rng.normal(0, 0.5 * z0, n)
    c, s = np.cos(np.radians(pa)), np.sin(np.radians(pa))
    knots = gaussian_clump(rng, 0, 0, 0, 1, np.zeros(0), 0.0)
    if n:
        sub = 6
        uu = np.repeat(xk * c - zk * s, sub) + rng.normal(0, 0.8, n * sub)
        vv = np.repeat(xk * s + zk * c, sub) + rng.normal(0, 0.8, n * sub)
        knots = PointSources(uu, vv, np.repeat(power_law_flux(rng, n, 20, 800, 1.8) / sub, sub),
                             np.zeros(n * sub, _F), "gas")
    fs, bg = _field(rng, p, extent)
    return Scene(smooth, coverage, fs, (knots, bg), extent, {"h": h, "z0": z0, "pa": pa})


_BUILDERS = {"spiral": _spiral, "barred_spiral": _spiral, "elliptical": _early_type,
             "lenticular": _early_type, "irregular": _irregular, "edge_on": _edge_on}


def build_galaxy_scene(body: Body) -> Scene:
    """The :class:`Scene` of a galaxy body (deterministic in ``body.seed``).

    Raises:
        ValueError: ``body`` is not a galaxy.
    """
    if body.label != "galaxy" or body.morphology not in _BUILDERS:
        raise ValueError(f"{body.name}: not a galaxy body (morphology {body.morphology!r})")
    return _BUILDERS[body.morphology](body, body_rng(body.seed, body.name, 1))
