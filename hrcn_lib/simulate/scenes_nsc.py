"""Nebula / star-cluster scenes: globular and open clusters, emission and planetary nebulae,
young massive clusters inside their nebula.

Emission-line gas is drawn as textures fixed on the body (:class:`BodyRaster`):
a log-normal Gaussian random field for the turbulent gas, filaments and arcs
drawn with OpenCV polylines, pillars and globules as dust masks with bright
ionisation fronts (rims) on their edges.
"""

from __future__ import annotations

import cv2
import numpy as np

from hrcn_lib.simulate.bodies import Body, body_rng
from hrcn_lib.simulate.exposures import COVER_SB
from hrcn_lib.simulate.populations import (
    field_stars,
    gaussian_clump,
    giant_branch_flux,
    king_radii,
    plummer_radii,
    power_law_flux,
)
from hrcn_lib.simulate.scene import (
    BodyRaster,
    PointSources,
    Scene,
    elliptical_radius,
    gaussian_random_field,
    king,
)
from hrcn_lib.simulate.scenes_galaxy import FIELD_MARGIN

__all__ = ["build_nsc_scene"]

_F = np.float32
_N = 1024  # side of nebula rasters (pixels)


def _polar_points(rng: np.random.Generator, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    phi = rng.uniform(0, 2 * np.pi, r.size)
    return r * np.cos(phi), r * np.sin(phi)


def _globular(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    rc, rt = p["rc"], p["rt"]
    extent = min(rt, 8.0 * rc)  # pointings aim at the core and inner halo
    n = p["n_stars"]
    r = king_radii(rng, n, rc, rt)
    u, v = _polar_points(rng, r)
    flux = giant_branch_flux(rng, n, p["f_tip"])
    colour = rng.uniform(0.8, 1.0, n).astype(_F)
    hb = rng.random(n) < 0.08  # horizontal branch / blue stragglers
    flux[hb] = (p["f_tip"] * rng.uniform(0.02, 0.08, hb.sum())).astype(_F)
    colour[hb] = rng.uniform(0.0, 0.3, hb.sum()).astype(_F)
    k0 = float(king(np.zeros(1), rc, rt, 1.0)[0])

    def unresolved(u_, v_):  # crowded core: the faint members blend into smooth light
        return king(np.sqrt(u_ * u_ + v_ * v_), rc, rt, p["core_sb"] / k0)

    def smooth(u_, v_):
        return {"old": unresolved(u_, v_)}

    fs = field_stars(rng, p["field_density"], extent + FIELD_MARGIN)
    return Scene(smooth, unresolved, PointSources.concat([PointSources(u, v, flux, colour), fs]),
                 (), extent, {"rc": rc, "rt": rt, "n_cluster": n})


def _open_cluster(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    a = p["r_pl"]
    extent = 4.0 * a
    n = p["n_stars"]
    r = plummer_radii(rng, n, a, extent)
    u, v = _polar_points(rng, r)
    flux = power_law_flux(rng, n, 5.0, p["f_max"], 2.0)
    colour = np.where(rng.random(n) < 0.1, _F(0.9), rng.uniform(0.0, 0.35, n)).astype(_F)
    parts = [PointSources(u, v, flux, colour)]
    for _ in range(p["n_sub"]):  # sub-clusters: clumpy like an irregular's star-forming knots
        ns = int(rng.integers(40, 200))
        cu, cv = _polar_points(rng, np.array([rng.uniform(0.3, 1.5) * a]))
        parts.append(gaussian_clump(rng, ns, cu[0], cv[0], rng.uniform(4, 12),
                                    power_law_flux(rng, ns, 5.0, p["f_max"] / 3, 2.0),
                                    rng.uniform(0.0, 0.3, ns)))
    tex = BodyRaster(np.exp(0.8 * gaussian_random_field(rng, _N, 3.2, 2.0)), extent + 100)

    def smooth(u_, v_):
        if not p["nebulosity"]:
            return {}
        neb = _F(p["neb_sb"]) * tex.sample(u_, v_) * np.exp(-np.sqrt(u_ * u_ + v_ * v_) / _F(2 * a))
        return {"young": neb, "gas": neb * _F(0.5)}

    # A screener sees the cluster where its members outnumber the field stars (F > 5 e-/s):
    # coverage reaches COVER_SB where the member density equals that field density.
    members = sum(len(pp) for pp in parts)
    field5 = p["field_density"] * 5.0 ** -0.7

    def coverage(u_, v_):
        dens = _F(members / (np.pi * a * a)) / (_F(1.0) + (u_ * u_ + v_ * v_) / _F(a * a)) ** 2
        out = dens * _F(COVER_SB / field5)
        if p["nebulosity"]:
            out = out + _F(p["neb_sb"]) * np.exp(-np.sqrt(u_ * u_ + v_ * v_) / _F(2 * a))
        return out

    fs = field_stars(rng, p["field_density"], extent + FIELD_MARGIN)
    return Scene(smooth, coverage, PointSources.concat([*parts, fs]), (), extent,
                 {"r_pl": a})


def _draw_filaments(rng: np.random.Generator, p: dict, half: float) -> np.ndarray:
    """Raster (float32 0..1) of thin filaments: random walks and, if ``arcs``, spiral-like arcs."""
    img = np.zeros((_N, _N), np.float32)
    scale = _N / (2 * half)

    def pix(u, v):
        return np.stack([(u + half) * scale, (half - v) * scale], axis=1).astype(np.int32)

    for _ in range(p["n_filaments"]):
        n = 40
        step = rng.uniform(2, 6)
        ang = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.12, n))
        u0, v0 = _polar_points(rng, np.array([rng.uniform(0, p["radius"])]))
        u = u0[0] + np.cumsum(step * np.cos(ang))
        v = v0[0] + np.cumsum(step * np.sin(ang))
        cv2.polylines(img, [pix(u, v)], False, float(rng.uniform(0.4, 1.0)),
                      thickness=int(rng.integers(1, 4)), lineType=cv2.LINE_AA)
    if p["arcs"]:  # long arcs around the ionising source, like arm segments
        for _ in range(int(rng.integers(2, 5))):
            th = np.linspace(0, rng.uniform(1.5, 3.5), 80) + rng.uniform(0, 2 * np.pi)
            r = rng.uniform(0.2, 0.5) * p["radius"] * np.exp(rng.uniform(0.15, 0.4) * (th - th[0]))
            cv2.polylines(img, [pix(p["src_u"] + r * np.cos(th), p["src_v"] + r * np.sin(th))],
                          False, float(rng.uniform(0.6, 1.0)), thickness=int(rng.integers(3, 8)),
                          lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 1.5)


def _draw_dust(rng: np.random.Generator, p: dict, half: float) -> tuple[np.ndarray, np.ndarray]:
    """(mask, rim) rasters: pillars pointing at the source and dark globules; rim = ionisation front."""
    mask = np.zeros((_N, _N), np.float32)
    scale = _N / (2 * half)
    for _ in range(p["n_pillars"]):
        ang = rng.uniform(0, 2 * np.pi)
        d_tip = rng.uniform(0.25, 0.6) * p["radius"]
        length = rng.uniform(0.2, 0.5) * p["radius"]
        w_tip, w_base = rng.uniform(4, 10), rng.uniform(12, 30)
        c, s = np.cos(ang), np.sin(ang)
        tip = np.array([p["src_u"] + d_tip * c, p["src_v"] + d_tip * s])
        base = tip + length * np.array([c, s])
        perp = np.array([-s, c])
        poly = np.array([tip + w_tip * perp, tip - w_tip * perp, base - w_base * perp,
                         base + w_base * perp])
        pts = np.stack([(poly[:, 0] + half) * scale, (half - poly[:, 1]) * scale], 1)
        cv2.fillPoly(mask, [pts.astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
        cv2.circle(mask, tuple(int(x) for x in pts[:2].mean(0)), max(1, int(w_tip * scale)), 1.0,
                   -1, lineType=cv2.LINE_AA)
    for _ in range(p["n_globules"]):
        gu, gv = _polar_points(rng, np.array([rng.uniform(0.1, 0.9) * p["radius"]]))
        cv2.circle(mask, (int((gu[0] + half) * scale), int((half - gv[0]) * scale)),
                   max(1, int(rng.uniform(1.5, 8) * scale)), 1.0, -1, lineType=cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), 2.5)  # soft, irregular edges
    rim = np.clip(cv2.GaussianBlur(mask, (0, 0), 2.5) - mask, 0, None)
    return mask, rim / max(float(rim.max()), 1e-6)


def _nebula(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    R = p["radius"]
    extent = 1.3 * R
    half = extent + 100.0
    gas_tex = BodyRaster(np.exp(0.9 * gaussian_random_field(rng, _N, 3.3, 1.5)), half)
    dust_tex = BodyRaster(gaussian_random_field(rng, _N, 3.6, 1.5), half)
    fil = BodyRaster(_draw_filaments(rng, p, half), half)
    mask, rim = _draw_dust(rng, p, half)
    dmask, drim = BodyRaster(mask, half), BodyRaster(rim, half)
    ymc = body.morphology == "young_massive_cluster"
    su, sv = p["src_u"], p["src_v"]

    def envelope(u_, v_):
        return np.exp(-((u_ * u_ + v_ * v_) / _F(R * R)))

    def smooth(u_, v_):
        env = envelope(u_, v_)
        m = dmask.sample(u_, v_)
        d2 = (u_ - _F(su)) ** 2 + (v_ - _F(sv)) ** 2
        t = gas_tex.sample(u_, v_)
        gas = _F(p["gas_sb"]) * (env * t * (_F(1.0) - _F(0.9) * m)
                                 + _F(2.5) * fil.sample(u_, v_) * env
                                 + _F(4.0) * drim.sample(u_, v_) * np.sqrt(env))
        if ymc:  # wind-blown cavity around the cluster
            gas = gas * (_F(1.0) - _F(0.85) * np.exp(-d2 / _F(p["cavity"] ** 2)))
        oiii = _F(0.6 * p["gas_sb"]) * t * np.exp(-np.sqrt(d2) / _F(0.3 * R)) * (_F(1.0) - m)
        tau = _F(p["dust_tau"]) * (_F(2.0) * m + _F(0.4) * np.clip(dust_tex.sample(u_, v_), 0, None)
                                   * env)
        return {"gas": gas, "oiii": oiii, "young": gas * _F(0.05), "tau": tau}

    def coverage(u_, v_):
        return _F(p["gas_sb"]) * envelope(u_, v_)

    ne = p["n_embedded"]
    eu, ev = _polar_points(rng, R * np.sqrt(rng.random(ne)))
    emb = PointSources(eu, ev, power_law_flux(rng, ne, 5.0, 2e4, 1.9),
                       np.where(rng.random(ne) < 0.3, _F(0.95), rng.uniform(0.0, 0.3, ne))
                       .astype(_F))
    no = int(rng.integers(8, 40))  # the ionising OB stars
    obs = gaussian_clump(rng, no, su, sv, 12.0, power_law_flux(rng, no, 1e3, 3e5, 1.5),
                         rng.uniform(0.0, 0.1, no))
    parts = [emb, obs]
    notes: dict = {"radius": R}
    if ymc:  # R136-like: Elson-Fall-Freeman (gamma = 2.5 ~ Plummer-like core) compact cluster
        nc = p["n_cluster"]
        r = plummer_radii(rng, nc, p["a_eff"], 60.0)
        cu, cv = _polar_points(rng, r)
        parts.append(PointSources(su + cu, sv + cv, power_law_flux(rng, nc, 20.0, p["f_max"], 2.1),
                                  rng.uniform(0.0, 0.2, nc).astype(_F)))
        notes["cluster"] = (su, sv, p["a_eff"])
    parts.append(field_stars(rng, p["field_density"], extent + FIELD_MARGIN))
    return Scene(smooth, coverage, PointSources.concat(parts), (), extent, notes)


def _planetary(body: Body, rng: np.random.Generator) -> Scene:
    p = body.params
    rs, q, pa = p["r_shell"], p["q"], p["pa"]
    extent = 3.0 * rs
    tex = BodyRaster(np.exp(0.5 * gaussian_random_field(rng, 512, 3.0, 1.5)), extent + 50)
    c, s = np.cos(np.radians(pa)), np.sin(np.radians(pa))

    def light(u_, v_):
        r = elliptical_radius(u_, v_, pa, q)
        shell = _F(p["shell_sb"]) * np.exp(-(((r - _F(rs)) / _F(0.15 * rs)) ** 2))
        inner = _F(p["shell_sb"] * 0.5) * np.exp(-((r / _F(0.8 * rs)) ** 2))
        halo = _F(p["shell_sb"] * 0.02) * np.exp(-r / _F(1.2 * rs))
        if p["bipolar"]:
            for sign in (-1.0, 1.0):
                lu, lv = _F(sign * 1.3 * rs * c), _F(sign * 1.3 * rs * s)
                rl = elliptical_radius(u_, v_, pa, 0.55, lu, lv)
                shell = shell + _F(0.6 * p["shell_sb"]) * np.exp(-(((rl - _F(rs)) / _F(0.2 * rs))
                                                                   ** 2))
        return shell, inner, halo

    def smooth(u_, v_):
        shell, inner, halo = light(u_, v_)
        t = tex.sample(u_, v_)
        return {"gas": (shell + halo) * t, "oiii": inner * t + shell * _F(0.3)}

    def coverage(u_, v_):
        shell, inner, halo = light(u_, v_)
        return shell + inner + halo

    star = PointSources(np.zeros(1), np.zeros(1), np.array([p["star_flux"]], _F),
                        np.zeros(1, _F))
    nk = p["n_knots"]  # cometary knots just inside the shell (Helix-like)
    kr = rs * rng.uniform(0.7, 1.0, nk)
    ku, kv = _polar_points(rng, kr)
    knots = PointSources(ku, kv * q, power_law_flux(rng, nk, 2.0, 60.0, 2.0),
                         np.zeros(nk, _F), "gas")
    fs = field_stars(rng, p["field_density"], extent + FIELD_MARGIN)
    return Scene(smooth, coverage, PointSources.concat([star, fs]), (knots,), extent,
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
