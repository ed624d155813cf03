"""Galaxy scenes: spirals, barred spirals, ellipticals, lenticulars, irregulars, edge-on discs.

Each builder turns a :class:`~hrcn_lib.simulate.bodies.Body` into a
:class:`~hrcn_lib.simulate.scene.Scene`. Light components follow the paper's
Eq. (1) through :mod:`.photometry`: bulges, ellipticals and old discs are
``old``, arms and clumps ``young``, ionised gas ``gas``. At the body's distance
each stellar component is split (:func:`.scene_kit.resolve`) into resolved stars
(drawn from its luminosity function) and diffuse light with surface-brightness
fluctuations; arms carry HII regions and young clusters (0.1-1 arcsec),
ellipticals a globular-cluster system; young light, gas and dust carry
multi-scale log-normal structure (:mod:`.textures`), and every galaxy sits in its
sky context (foreground stars and background galaxies from its Galactic latitude).
"""

from __future__ import annotations

import numpy as np

from hrcn_lib.simulate.bodies import Body, body_rng
from hrcn_lib.simulate.populations import sample_raster
from hrcn_lib.simulate.scene import (
    Blobs,
    Diffuse,
    PointSources,
    Scene,
    elliptical_radius,
    sersic,
)
from hrcn_lib.simulate.scene_kit import (
    body_context,
    body_textures,
    disk_frame,
    globular_system,
    grid_of,
    hii_regions,
    lognormal,
    resolve,
    to_sky,
    young_clusters,
)

__all__ = ["build_galaxy_scene"]

_F = np.float32
_OLD_AGE, _YOUNG_AGE = 10.0, 0.3  # Gyr: old single age; young constant star formation


def _arm_pattern(r: np.ndarray, theta: np.ndarray, m: int, pitch: float, phase: float,
                 shift: float = 0.0, sharp: float = 4.0) -> np.ndarray:
    """Logarithmic-spiral arm density in [0, 1]: ``(0.5 (1 + cos(m (theta - ln r / tan p))))^sharp``."""
    psi = _F(m) * (theta - np.log(np.maximum(r, _F(1.0))) / _F(np.tan(np.radians(pitch))))
    psi = psi + _F(np.radians(phase) + shift)
    return (_F(0.5) * (_F(1.0) + np.cos(psi))) ** _F(sharp)


def _blend(old_l: float, old_lbar: float, young_l: float, young_lbar: float) -> float:
    """Light-weighted SBF flux of two unresolved populations."""
    total = old_l + young_l
    return (old_l * old_lbar + young_l * young_lbar) / total if total > 0 else 0.0


def _finish(body: Body, rng: np.random.Generator, smooth, coverage, extent: float, tex,
            stars: list[PointSources], blobs: list[Blobs], lbar: float,
            textured: frozenset, notes: dict) -> Scene:
    """Add the sky context and wrap everything into a :class:`Scene`."""
    ctx = body_context(rng, body, extent)
    diffuse = Diffuse(textured=textured, sigma_b=tex.sigma.get("gas", tex.sigma["young"])[1],
                      sigma_d=tex.sigma["dust"][1], lbar=lbar, tiles=tex.tiles)
    notes = {**notes, "distance_kpc": body.distance_kpc, "n_stars": sum(len(s) for s in stars)}
    return Scene(smooth, coverage, PointSources.concat(stars), Blobs.concat(blobs), ctx.field,
                 ctx.galaxies, extent, diffuse, ctx.av_body, ctx.av_context, notes)


def _spiral(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    h, q, pa, dist = p["h"], p["q"], p["pa"], body.distance_kpc
    barred = body.morphology == "barred_spiral"
    r_in = p["bar_len"] if barred else 2.0 * p["bulge_re"]
    extent = 4.5 * h
    tex = body_textures(rng, extent + 100, p["beta"], {"young": 0.7, "gas": 1.1, "dust": 0.8})
    yf = _F(p["young_frac"])

    def parts(u, v):
        _, _, r, th = disk_frame(u, v, pa, q)
        disk = _F(p["disk_sb"]) * np.exp(-r / _F(h))
        start = _F(1.0) - np.exp(-((r / _F(r_in)) ** 2))
        arm = _arm_pattern(r, th, p["arms"], p["pitch"], p["phase"]) * start
        lane = _arm_pattern(r, th, p["arms"], p["pitch"], p["phase"], -0.45, 6.0) * start
        old = disk * (_F(1.0) - yf) + sersic(elliptical_radius(u, v, pa, min(1.0, q + 0.2)),
                                              p["bulge_n"], p["bulge_re"], p["bulge_sb"])
        if barred:
            xb, yb, _, _ = disk_frame(u, v, pa + 20.0, 1.0)
            rb = np.sqrt((xb / _F(p["bar_len"])) ** 2 + (yb / _F(p["bar_len"] * p["bar_q"])) ** 2)
            old = old + _F(p["bar_sb"]) * np.exp(-(rb**4))
        young = disk * yf * (_F(0.25) + _F(3.0 * p["arm_amp"]) * arm)
        gas = disk * yf * _F(1.5) * arm * arm
        tau = _F(p["dust_tau"]) * np.exp(-r / _F(1.5 * h)) * (_F(0.25) + _F(2.0) * lane)
        return old, young, gas, tau

    gu, gv, area = grid_of(extent)
    old_r, young_r, gas_r, _ = parts(gu, gv)
    te = tex.emission.sample(gu, gv)
    young_r = young_r * lognormal(te, tex.sigma["young"][0])
    gas_r = gas_r * lognormal(te, tex.sigma["gas"][0])
    old_s, f_old, lb_old = resolve(rng, "old", _OLD_AGE, old_r, area, extent, dist, 0.0)
    young_s, f_young, lb_young = resolve(rng, "young", _YOUNG_AGE, young_r, area, extent, dist,
                                         0.0, cluster=0.6)
    gas_total = float(gas_r.sum() * area)
    uh, vh = sample_raster(rng, p["n_hii"], gas_r, extent)
    hii = hii_regions(rng, p["n_hii"], uh, vh, dist, 0.4 * gas_total)
    uc, vc = sample_raster(rng, p["n_hii"] // 2, young_r, extent)
    clusters = young_clusters(rng, p["n_hii"] // 2, uc, vc, dist)
    gcs = globular_system(rng, float(old_r.sum() * area), dist, 1.0, 2.0 * p["bulge_re"], extent)
    lbar = _blend(float(old_r.sum()) * (1 - f_old), lb_old,
                  float(young_r.sum()) * (1 - f_young), lb_young)

    def smooth(u, v):
        old, young, gas, tau = parts(u, v)
        t = tex.emission.sample(u, v)
        return {"old": old * _F(1.0 - f_old),
                "young": young * _F(1.0 - f_young) * lognormal(t, tex.sigma["young"][0]),
                "gas": gas * _F(0.6) * lognormal(t, tex.sigma["gas"][0]),
                "tau": tau * lognormal(tex.dust.sample(u, v), tex.sigma["dust"][0])}

    def coverage(u, v):
        _, _, r, _ = disk_frame(u, v, pa, q)
        bulge = sersic(elliptical_radius(u, v, pa, min(1.0, q + 0.2)), p["bulge_n"],
                       p["bulge_re"], p["bulge_sb"])
        return _F(p["disk_sb"]) * np.exp(-r / _F(h)) * _F(1.0 + 0.5 * p["young_frac"]) + bulge

    return _finish(body, rng, smooth, coverage, extent, tex, [old_s, young_s],
                   [clusters, gcs, hii], lbar, frozenset({"young", "gas"}),
                   {"h": h, "q": q, "pa": pa})


def _early_type(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    pa, q, re_, n, dist = p["pa"], p["q"], p["re"], p["n"], body.distance_kpc
    lenticular = body.morphology == "lenticular"
    extent = 5.0 * re_ if not lenticular else max(5.0 * re_, 4.0 * p["h"])
    tex = body_textures(rng, extent + 100, p["beta"], {"young": 0.3, "dust": 0.8})

    def light(u, v):
        out = sersic(elliptical_radius(u, v, pa, q), n, re_, p["sb_e"])
        if lenticular:
            _, _, r, _ = disk_frame(u, v, pa, q)
            out = out + _F(p["disk_sb"]) * np.exp(-r / _F(p["h"]))
        return out

    gu, gv, area = grid_of(extent)
    old_r = light(gu, gv)
    total = float(old_r.sum() * area)
    stars, f_old, lbar = resolve(rng, "old", 11.0, old_r, area, extent, dist, 0.0)
    gcs = globular_system(rng, total, dist, p["s_n"], 1.5 * re_, extent)

    def smooth(u, v):
        out = {"old": light(u, v) * _F(1.0 - f_old)}
        if lenticular and p["dust_ring"]:
            _, _, r, _ = disk_frame(u, v, pa, q)
            ring = _F(0.8) * np.exp(-(((r - _F(0.6 * re_)) / _F(0.12 * re_)) ** 2))
            out["tau"] = ring * lognormal(tex.dust.sample(u, v), tex.sigma["dust"][0])
        return out

    return _finish(body, rng, smooth, light, extent, tex, [stars], [gcs], lbar, frozenset(),
                   {"n": n, "re": re_, "q": q, "pa": pa})


def _irregular(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    pa, q, h, dist = p["pa"], p["q"], p["h"], body.distance_kpc
    extent = 4.0 * h
    tex = body_textures(rng, extent + 100, p["beta"], {"young": 1.0, "gas": 1.3, "dust": 0.9})
    nc = p["n_clumps"]
    rc = rng.gamma(2.0, 0.6 * h, nc)
    pc = rng.uniform(0, 2 * np.pi, nc)
    uc, vc = to_sky(rc * np.cos(pc), rc * np.sin(pc), pa, q)
    sc = rng.uniform(3.0, 9.0, nc)
    ac = _F(p["disk_sb"]) * rng.uniform(2.0, 8.0, nc).astype(_F)

    def parts(u, v):
        x, y, r, _ = disk_frame(u, v, pa, q)
        disk = _F(p["disk_sb"]) * np.exp(-r / _F(h))
        clumps = np.zeros_like(u)
        for i in range(nc):
            d2 = (u - _F(uc[i])) ** 2 + (v - _F(vc[i])) ** 2
            clumps += ac[i] * np.exp(-d2 / _F(2 * (1.8 * sc[i]) ** 2))
        return disk, clumps, r

    gu, gv, area = grid_of(extent)
    disk_r, clump_r, _ = parts(gu, gv)
    te = tex.emission.sample(gu, gv)
    young_r = (disk_r * _F(0.5) + clump_r * _F(0.3)) * lognormal(te, tex.sigma["young"][0])
    gas_r = clump_r * lognormal(te, tex.sigma["gas"][0])
    old_s, f_old, lb_old = resolve(rng, "old", 8.0, disk_r * _F(0.6), area, extent, dist, 0.0)
    young_s, f_young, lb_young = resolve(rng, "young", _YOUNG_AGE, young_r, area, extent, dist,
                                         0.0, cluster=0.7)
    n_hii = int(rng.integers(60, 250))
    uh, vh = sample_raster(rng, n_hii, gas_r, extent)
    hii = hii_regions(rng, n_hii, uh, vh, dist, 0.4 * float(gas_r.sum() * area))
    uy, vy = sample_raster(rng, n_hii, clump_r, extent)
    clusters = young_clusters(rng, n_hii, uy, vy, dist)
    lbar = _blend(float(disk_r.sum()) * 0.6 * (1 - f_old), lb_old,
                  float(young_r.sum()) * (1 - f_young), lb_young)

    def smooth(u, v):
        disk, clumps, r = parts(u, v)
        t = tex.emission.sample(u, v)
        out = {"old": disk * _F(0.6 * (1.0 - f_old)),
               "young": (disk * _F(0.5) + clumps * _F(0.3)) * _F(1.0 - f_young)
               * lognormal(t, tex.sigma["young"][0]),
               "gas": clumps * _F(0.6) * lognormal(t, tex.sigma["gas"][0]),
               "tau": _F(p["dust_tau"]) * np.exp(-r / _F(2 * h))
               * lognormal(tex.dust.sample(u, v), tex.sigma["dust"][0]) * _F(0.5)}
        if p["starburst"]:  # H-alpha outflow filaments along the minor axis (M82-like)
            x, y, _, _ = disk_frame(u, v, pa, 1.0)
            streak = tex.dust.sample(x * _F(0.15), y * _F(0.6))
            out["gas"] = out["gas"] + _F(p["disk_sb"] * 3.0) * np.clip(streak - _F(0.8), 0, None) \
                * np.exp(-np.abs(x) / _F(0.6 * h)) * np.exp(-np.abs(y) / _F(2.5 * h))
        return out

    def coverage(u, v):
        _, _, r, _ = disk_frame(u, v, pa, q)
        return _F(p["disk_sb"] * 1.1) * np.exp(-r / _F(h))

    return _finish(body, rng, smooth, coverage, extent, tex, [old_s, young_s],
                   [clusters, hii], lbar, frozenset({"young", "gas"}), {"h": h, "q": q, "pa": pa})


def _edge_on(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    pa, h, z0, dist = p["pa"], p["h"], p["z0"], body.distance_kpc
    extent = 4.5 * h
    tex = body_textures(rng, extent + 100, p["beta"], {"young": 0.6, "gas": 1.0, "dust": 0.9})
    c, s = np.cos(np.radians(pa)), np.sin(np.radians(pa))

    def parts(u, v):
        x, z, _, _ = disk_frame(u, v, pa, 1.0)
        zc = np.clip(z / _F(z0), -20, 20)
        disk = _F(p["disk_sb"]) * np.exp(-np.abs(x) / _F(h)) * (
            _F(1.0) / np.cosh(zc) ** 2 + _F(0.08) / np.cosh(zc / _F(3.5)) ** 2)  # thin + thick
        bulge = sersic(elliptical_radius(u, v, pa, 0.6), 2.0, p["bulge_re"], p["bulge_sb"])
        thin = _F(p["disk_sb"]) * np.exp(-np.abs(x) / _F(h)) / np.cosh(zc * _F(2.0)) ** 2
        lane = _F(p["dust_tau"]) * np.exp(-np.abs(x) / _F(1.5 * h)) \
            * np.exp(-((z / _F(0.45 * z0)) ** 2))
        return disk, bulge, thin, lane

    gu, gv, area = grid_of(extent)
    disk_r, bulge_r, thin_r, _ = parts(gu, gv)
    old_r = disk_r * _F(0.8) + bulge_r
    old_s, f_old, lbar = resolve(rng, "old", _OLD_AGE, old_r, area, extent, dist, 0.0)
    n = p["n_hii"]
    xk, zk = rng.laplace(0, h, n), rng.normal(0, 0.4 * z0, n)
    hii = hii_regions(rng, n, xk * c - zk * s, xk * s + zk * c, dist,
                      0.3 * float(thin_r.sum() * area) * 0.3)

    def smooth(u, v):
        disk, bulge, thin, lane = parts(u, v)
        t = tex.emission.sample(u, v)
        return {"old": (disk * _F(0.8) + bulge) * _F(1.0 - f_old),
                "young": thin * _F(0.25) * lognormal(t, tex.sigma["young"][0]),
                "gas": thin * _F(0.2) * lognormal(t, tex.sigma["gas"][0]),
                "tau": lane * lognormal(tex.dust.sample(u, v), tex.sigma["dust"][0])}

    def coverage(u, v):
        disk, bulge, _, _ = parts(u, v)
        return disk + bulge

    return _finish(body, rng, smooth, coverage, extent, tex, [old_s], [hii], lbar,
                   frozenset({"young", "gas"}), {"h": h, "z0": z0, "pa": pa})


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
