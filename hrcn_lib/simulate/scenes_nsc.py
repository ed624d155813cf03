"""Nebula / star-cluster scenes: globular and open clusters, emission and planetary nebulae,
young massive clusters inside their nebula -- in the Milky Way or inside a host galaxy.

* **Clusters** are King (1962) profiles (young massive clusters: Elson, Fall &
  Freeman 1987) of stars drawn from the Kroupa IMF at the cluster's age and
  distance (:mod:`.populations`): the brightest stars as point sources -- the
  core is crowded, stars overlap -- the rest as King-shaped diffuse light with
  its surface-brightness fluctuations.
* **Emission nebulae**: log-normal ionised gas with a power-law spectrum
  (:mod:`.textures`), dark clouds outlined by the level set of a multi-scale
  field (an irregular fractal mask; in polar coordinates around the ionising
  source it makes pillars pointing at it) with bright ionisation-front rims on
  the side facing the source, high-excitation [OIII] gas near the source,
  embedded and ionising stars.
* **Planetary nebulae**: a limb-brightened shell whose radius and brightness
  carry fractal perturbations, bipolar lobes, cometary knots, the central star.
* **Hosts**: clusters and nebulae in the Magellanic Clouds or M33 sit on their
  host's crowded stars and diffuse light (context light, not the object).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from hrcn_lib.simulate.bodies import HOSTS, Body, body_rng
from hrcn_lib.simulate.populations import (
    eff_radii,
    king_radii,
    plummer_radii,
    polar,
    population,
)
from hrcn_lib.simulate.scene import (
    Blobs,
    Diffuse,
    PointSources,
    Scene,
    elliptical_radius,
    king,
)
from hrcn_lib.simulate.scene_kit import (
    FIELD_MARGIN,
    STAR_BUDGET,
    body_context,
    body_textures,
    grid_of,
    lognormal,
    resolve,
)
from hrcn_lib.simulate.textures import BodyRaster, band_sigma, raster_field

__all__ = ["build_nsc_scene"]

_F = np.float32


def _age_key(age_gyr: float) -> float:
    """Ages rounded to 0.1 dex, so that template populations are shared."""
    return float(round(10 ** round(math.log10(age_gyr), 1), 6))


def _cluster(rng: np.random.Generator, mass: float, age_gyr: float, distance_kpc: float,
             radii, budget: int = STAR_BUDGET) -> tuple[PointSources, float, float, float]:
    """Stars of a cluster of ``mass`` M_sun: (stars, total flux e-/s, resolved fraction, lbar).

    ``radii(n)`` draws projected radii (arcsec) of the profile.
    """
    pop = population("cluster", _age_key(age_gyr))
    total = float(pop.light(distance_kpc).sum() * mass / pop.mass)
    f_res, n_res, frac, lbar = pop.split(distance_kpc, total, budget)
    n = int(rng.poisson(n_res))
    u, v = polar(rng, radii(n))
    flux, colour = pop.draw(rng, n, f_res, distance_kpc)
    return PointSources(u, v, flux, colour), total, frac, lbar


def _king_norm(r_c: float, r_t: float) -> float:
    """``integral king(r, rc, rt, 1) 2 pi r dr`` (arcsec^2)."""
    r = np.linspace(0.0, r_t, 4001)
    return float(np.trapezoid(king(r, r_c, r_t, 1.0) * 2 * np.pi * r, r))


def _host(rng: np.random.Generator, body: Body, half: float):
    """Host galaxy around an extragalactic NSC: (smooth ctx light fn, resolved host stars)."""
    if not body.host:
        return None, []
    p = body.params
    kind = HOSTS[body.host][3]
    ang = rng.uniform(0, 2 * np.pi)
    scale = rng.uniform(800.0, 3000.0)  # arcsec: gradient across the field
    tex = raster_field(rng, half, 3.0)

    def light(u, v):
        grad = np.exp(-(u * _F(math.cos(ang)) + v * _F(math.sin(ang))) / _F(scale))
        t = lognormal(tex.sample(u, v), 0.5)
        old = _F(p["host_sb"] * (0.6 if kind == "spiral" else 0.7)) * grad
        return old, old * _F(0.6) * t

    gu, gv, area = grid_of(half)
    old_r, young_r = light(gu, gv)
    dist = body.distance_kpc
    old_s, f_old, _ = resolve(rng, "old", 8.0, old_r, area, half, dist, 0.0)
    young_s, f_young, _ = resolve(rng, "young", 0.3, young_r, area, half, dist, 0.0, cluster=0.5)

    def smooth(u, v):
        old, young = light(u, v)
        return {"ctx_old": old * _F(1.0 - f_old), "ctx_young": young * _F(1.0 - f_young)}

    return smooth, [old_s, young_s]


def _scene(body: Body, rng: np.random.Generator, smooth, coverage, extent: float,
           stars: list[PointSources], blobs: list[Blobs], diffuse: Diffuse, notes: dict) -> Scene:
    """Add the host and the sky context and wrap everything into a :class:`Scene`."""
    host_smooth, host_stars = _host(rng, body, extent + FIELD_MARGIN)
    if host_smooth is not None:
        inner = smooth

        def smooth(u, v):  # noqa: F811 - the object's light plus its host's
            return {**inner(u, v), **host_smooth(u, v)}

    ctx = body_context(rng, body, extent, host_stars)
    notes = {**notes, "distance_kpc": body.distance_kpc, "host": body.host}
    return Scene(smooth, coverage, PointSources.concat(stars), Blobs.concat(blobs), ctx.field,
                 ctx.galaxies, extent, diffuse, ctx.av_body, ctx.av_context, notes)


def _globular(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    rc, rt, dist = p["rc"], p["rt"], body.distance_kpc
    extent = min(rt, 8.0 * rc)  # pointings aim at the core and inner halo
    stars, total, frac, lbar = _cluster(rng, p["mass"], p["age"], dist,
                                        lambda n: king_radii(rng, n, rc, rt))
    k_unres = total * (1.0 - frac) / _king_norm(rc, rt)
    k_all = total / _king_norm(rc, rt)

    def smooth(u, v):  # crowded core: the faint members blend into mottled light
        return {"old": king(np.sqrt(u * u + v * v), rc, rt, k_unres)}

    def coverage(u, v):
        return king(np.sqrt(u * u + v * v), rc, rt, k_all)

    return _scene(body, rng, smooth, coverage, extent, [stars], [],
                  Diffuse(textured=frozenset(), lbar=lbar),
                  {"rc": rc, "rt": rt, "n_cluster": len(stars)})


def _open_cluster(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    rc, rt, dist = p["r_c"], p["rt"], body.distance_kpc
    extent = min(rt, 4.0 * rc)
    stars, total, frac, lbar = _cluster(rng, p["mass"], p["age"], dist,
                                        lambda n: king_radii(rng, n, rc, rt))
    if p["n_sub"] and len(stars):  # sub-clusters: clumpy like an irregular's star-forming knots
        u, v = stars.u.copy(), stars.v.copy()
        for _ in range(p["n_sub"]):
            members = rng.random(u.size) < 0.06
            cu, cv = polar(rng, np.array([rng.uniform(0.3, 1.5) * rc]))
            size = rng.uniform(0.1, 0.3) * rc
            u[members] = cu[0] + size * rng.standard_normal(int(members.sum()))
            v[members] = cv[0] + size * rng.standard_normal(int(members.sum()))
        stars = PointSources(u, v, stars.flux, stars.colour)
    half = extent + 100.0
    tex = body_textures(rng, half, p["beta"], {"gas": 0.9, "dust": 0.8})
    k_unres = total * (1.0 - frac) / _king_norm(rc, rt)
    k_all = total / _king_norm(rc, rt)

    def smooth(u, v):
        r = np.sqrt(u * u + v * v)
        out = {"young": king(r, rc, rt, k_unres)}
        if p["nebulosity"]:  # reflection/emission nebulosity left from the parent cloud
            neb = _F(p["neb_sb"]) * lognormal(tex.emission.sample(u, v), tex.sigma["gas"][0]) \
                * np.exp(-r / _F(2 * rc))
            out["gas"] = neb * _F(0.5)
            out["young"] = out["young"] + neb
            out["tau"] = _F(0.4) * np.exp(-r / _F(2 * rc)) \
                * lognormal(tex.dust.sample(u, v), tex.sigma["dust"][0])
        return out

    def coverage(u, v):
        r = np.sqrt(u * u + v * v)
        out = king(r, rc, rt, k_all)
        if p["nebulosity"]:
            out = out + _F(p["neb_sb"]) * np.exp(-r / _F(2 * rc))
        return out

    diffuse = Diffuse(textured=frozenset({"gas"}), sigma_b=tex.sigma["gas"][1],
                      sigma_d=tex.sigma["dust"][1], lbar=lbar, sbf_colour="young",
                      tiles=tex.tiles)
    return _scene(body, rng, smooth, coverage, extent, [stars], [], diffuse,
                  {"r_c": rc, "rt": rt, "n_cluster": len(stars)})


def _polar_sampler(raster: BodyRaster, su: float, sv: float, r0: float, stretch: float):
    """Sample ``raster`` in (angle, log radius) around (su, sv): features become radial fingers
    ``stretch`` times longer than wide, periodic in angle."""
    n = raster.data.shape[0]
    texel = raster.texel

    def sample(u, v):
        du, dv = u - _F(su), v - _F(sv)
        d = np.sqrt(du * du + dv * dv) + _F(0.5)
        tx = (np.arctan2(dv, du) / _F(2 * np.pi)) * _F(n)
        ty = np.log(d / _F(r0)) / _F(stretch * 2 * np.pi / n)
        return raster.sample(tx * _F(texel) - _F(raster.half), _F(raster.half) - ty * _F(texel))

    return sample


def _nebula(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    R, dist = p["radius"], body.distance_kpc
    ymc = body.morphology == "young_massive_cluster"
    su, sv = p["src_u"], p["src_v"]
    extent = 1.3 * R
    half = extent + 100.0
    tex = body_textures(rng, half, p["beta"], {"gas": 1.0, "dust": 0.8})
    cloud_raster = raster_field(rng, half, p["beta"], wrap=p["polar"])
    cloud_at = (_polar_sampler(cloud_raster, su, sv, 0.3 * R, 4.0) if p["polar"]
                else cloud_raster.sample)
    c_coarse, c_fine = band_sigma(1.0, p["beta"], cloud_raster.texel, 2 * half)
    threshold = float(norm.ppf(1.0 - p["cloud_cover"]))
    step = _F(2.0 * cloud_raster.texel)

    def envelope(u, v):
        return np.exp(-((u * u + v * v) / _F(R * R)))

    def smooth(u, v):
        env = envelope(u, v)
        du, dv = u - _F(su), v - _F(sv)
        d = np.sqrt(du * du + dv * dv) + _F(1.0)
        t = tex.emission.sample(u, v)
        gas = _F(p["gas_sb"]) * env * lognormal(t, tex.sigma["gas"][0])
        if ymc:  # wind-blown cavity around the cluster
            gas = gas * (_F(1.0) - _F(0.85) * np.exp(-(d / _F(p["cavity"])) ** 2))
        cloud = cloud_at(u, v) * _F(c_coarse) - _F(4.0) * (_F(1.0) - np.sqrt(env))
        # rims: on cloud surfaces facing the source, lit in proportion to its flux
        ahead = cloud_at(u + du / d * step, v + dv / d * step) * _F(c_coarse)
        facing = np.clip((ahead - cloud_at(u, v) * _F(c_coarse)) * _F(3.0), 0.0, 1.0)
        rim = _F(6.0 * p["gas_sb"]) * facing * np.minimum(_F(1.0), (_F(0.3 * R) / d) ** 1.5) \
            * np.sqrt(env)
        oiii = _F(0.6 * p["gas_sb"]) * lognormal(t, tex.sigma["gas"][0]) \
            * np.exp(-d / _F(0.3 * R))
        tau = _F(p["dust_tau"]) * env * lognormal(tex.dust.sample(u, v), tex.sigma["dust"][0])
        return {"gas": gas, "oiii": oiii, "young": gas * _F(0.05), "tau": tau,
                "cloud": cloud, "rim": rim}

    def coverage(u, v):
        return _F(p["gas_sb"]) * envelope(u, v)

    # embedded young stars across the nebula and the ionising cluster at the source, behind
    # the nebula's own dust (A_V 1.5-4.5 mag in the Milky Way, 0.5-2 in the hosts' clouds)
    a_int = rng.uniform(0.5, 2.0) if body.host else rng.uniform(1.5, 4.5)
    dim = np.float32(10.0 ** (-0.4 * a_int))
    emb, _, _, _ = _cluster(rng, 10 ** rng.uniform(2.5, 3.5), 0.003, dist,
                            lambda n: plummer_radii(rng, n, 0.5 * R, R))
    parts = [PointSources(emb.u, emb.v, emb.flux * dim, emb.colour)]
    notes: dict = {"radius": R, "a_v_internal": a_int}
    if ymc:  # R136-like: Elson-Fall-Freeman (gamma = 2.5) compact cluster
        a = p["a_eff"]
        cl, _, _, lbar = _cluster(rng, p["mass"], p["age"], dist,
                                  lambda n: eff_radii(rng, n, a, 2.5, 60.0))
        parts.append(PointSources(cl.u + su, cl.v + sv, cl.flux * dim, cl.colour))
        notes["cluster"] = (su, sv, a)
    else:
        ob, _, _, _ = _cluster(rng, 10 ** rng.uniform(3.0, 3.8), 0.002, dist,
                               lambda n: plummer_radii(rng, n, 8.0, 40.0))
        parts.append(PointSources(ob.u + su, ob.v + sv, ob.flux * dim, ob.colour))
    diffuse = Diffuse(textured=frozenset({"gas", "oiii", "young"}), sigma_b=tex.sigma["gas"][1],
                      sigma_d=tex.sigma["dust"][1], cloud_fine=c_fine, threshold=threshold,
                      width=0.12, rim_width=0.07, tau_cloud=4.0, hole=0.9, tiles=tex.tiles)
    return _scene(body, rng, smooth, coverage, extent, parts, [], diffuse, notes)


def _planetary(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    rs, q, pa = p["r_shell"], p["q"], p["pa"]
    extent = 3.0 * rs
    half = extent + 50.0
    tex = body_textures(rng, half, p["beta"], {"gas": 0.6, "dust": 0.5})
    # angular perturbations of the shell radius: a Fourier series with a power-law spectrum
    # (amplitudes ~ m^-1.5, 8 % rms) -- a fractal outline, not a perfect ellipse
    m = np.arange(2, 24)
    amp = m**-1.5 * rng.standard_normal(m.size)
    amp *= 0.08 / np.sqrt(0.5 * np.sum(amp**2))
    phase = rng.uniform(0, 2 * np.pi, m.size)
    c, s = np.cos(np.radians(pa)), np.sin(np.radians(pa))

    def wobble_at(theta):
        out = np.ones_like(theta)
        for k in range(m.size):
            out += _F(amp[k]) * np.cos(_F(m[k]) * theta + _F(phase[k]))
        return out

    def light(u, v):
        r = elliptical_radius(u, v, pa, q)
        wobble = wobble_at(np.arctan2(v, u))
        shell = _F(p["shell_sb"]) * np.exp(-(((r - _F(rs) * wobble) / _F(0.13 * rs)) ** 2))
        inner = _F(p["shell_sb"] * 0.5) * np.exp(-((r / _F(0.8 * rs)) ** 2))
        halo = _F(p["shell_sb"] * 0.02) * np.exp(-r / _F(1.2 * rs))
        if p["bipolar"]:
            for sign in (-1.0, 1.0):
                lu, lv = _F(sign * 1.3 * rs * c), _F(sign * 1.3 * rs * s)
                rl = elliptical_radius(u, v, pa, 0.55, lu, lv)
                lobe = wobble_at(np.arctan2(v - lv, u - lu) + _F(sign))
                shell = shell + _F(0.6 * p["shell_sb"]) * np.exp(
                    -(((rl - _F(rs) * lobe) / _F(0.2 * rs)) ** 2))
        return shell, inner, halo

    def smooth(u, v):
        shell, inner, halo = light(u, v)
        t = lognormal(tex.emission.sample(u, v), tex.sigma["gas"][0])
        return {"gas": (shell + halo) * t, "oiii": inner * t + shell * _F(0.3)}

    def coverage(u, v):
        shell, inner, halo = light(u, v)
        return shell + inner + halo

    star_flux = np.array([10.0 ** (-0.4 * (p["star_mag"] - 26.5))], _F)  # apparent magnitude
    star = PointSources(np.zeros(1), np.zeros(1), star_flux, np.zeros(1, _F))
    nk = p["n_knots"]  # cometary knots just inside the shell (Helix-like): compact gas blobs
    ku, kv = polar(rng, rs * rng.uniform(0.7, 1.0, nk))
    knots = Blobs(ku, kv * q, rng.uniform(2.0, 60.0, nk).astype(_F),
                  rng.uniform(0.05, 0.3, nk).astype(_F), np.zeros(nk, _F), "gas")
    diffuse = Diffuse(textured=frozenset({"gas", "oiii"}), sigma_b=tex.sigma["gas"][1],
                      sigma_d=tex.sigma["dust"][1], tiles=tex.tiles)
    return _scene(body, rng, smooth, coverage, extent, [star], [knots], diffuse,
                  {"r_shell": rs})


_BUILDERS = {"globular_cluster": _globular, "open_cluster": _open_cluster,
             "emission_nebula": _nebula, "young_massive_cluster": _nebula,
             "planetary_nebula": _planetary}


def build_nsc_scene(body: Body) -> Scene:
    """The :class:`Scene` of a nebula / star-cluster body (deterministic in ``body.seed``).

    Raises:
        ValueError: ``body`` is not an NSC.
    """
    if body.label != "NSC" or body.morphology not in _BUILDERS:
        raise ValueError(f"{body.name}: not an NSC body (morphology {body.morphology!r})")
    return _BUILDERS[body.morphology](body, body_rng(body.seed, body.name, 1))

