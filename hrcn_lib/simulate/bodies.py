"""The body catalogue of LCID-sim: names, classes, morphologies, positions, distances, hosts.

Every body is fixed by ``(seed, name)`` alone, so any file can be regenerated
without the rest of the catalogue:

* ``SIM-G001``.. galaxies and ``SIM-N001``.. nebulae/star clusters of LCID;
* ``SIM-BG001``.. and ``SIM-BN001``.. the separate LCID-Blurry bodies
  (disjoint names, as the paper's blurry validation bodies are disjoint from
  its train/test bodies).

The morphology follows from the index, cycling through :data:`GALAXY_TYPES` /
:data:`NSC_TYPES` so that even a small catalogue covers every type; the
parameters are drawn from a generator seeded by ``(seed, name)``.

**Where and how far** (:func:`_place`). Galaxies lie anywhere on the sky
(isotropic; the Galactic dust makes the zone of avoidance). Galactic open
clusters, emission nebulae and young massive clusters lie in the thin disc
(``|b|`` a few degrees), planetary nebulae in a thicker layer, globular clusters
in the halo around the Galactic centre. A share of the clusters and nebulae are
extragalactic, in a host: the Large/Small Magellanic Clouds (open and globular
clusters, 30 Doradus-like nebulae) or M33 (NGC 604-like giant HII regions) --
their chips show the host's crowded stars and diffuse light around the object.
Distances follow from each body's angular size and a physical size drawn for
its type (galaxies 3-30 Mpc: the nearer ones resolve into stars).

Built-in confusions (the paper's Sec. 5.2), recorded in ``Body.lookalike``:

* ``elliptical_core~globular_core``: ellipticals with a globular-cluster system
  and a smooth, SBF-mottled core; globular clusters with a crowded core;
* ``irregular_clumps~open_cluster``: irregulars whose star-forming clumps resolve
  into young stars; open clusters with sub-clusters and nebulosity;
* ``arm_segment~nebula_filament``: spirals with HII-lit arms and dust; emission
  nebulae with long bright rims;
* ``resolved_stars~star_cluster``: nearby galaxies resolved into stars (the
  paper's NGC 6744 example), young massive clusters;
* ``dust_lane~dark_nebula``: edge-on discs; nebulae with dark clouds;
* ``nebula_in_galaxy`` / ``cluster_in_galaxy``: an NSC inside a host galaxy;
* ``dense_foreground``: a galaxy seen through a crowded Milky Way star field.

Chips that see only the edge of a body get ``edge_view`` at the row level.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import numpy as np

from hrcn_lib.simulate.context import equatorial, galactic

__all__ = [
    "Body",
    "GALAXY_TYPES",
    "NSC_TYPES",
    "HOSTS",
    "body_name",
    "parse_body_name",
    "make_body",
    "catalogue",
    "body_rng",
    "mag_to_sb",
]

#: Galaxy morphologies, in the order a catalogue cycles through them.
GALAXY_TYPES: tuple[str, ...] = (
    "spiral", "elliptical", "irregular", "barred_spiral", "edge_on", "lenticular",
)
#: Nebula / star-cluster morphologies, in cycle order.
NSC_TYPES: tuple[str, ...] = (
    "globular_cluster", "emission_nebula", "open_cluster", "planetary_nebula",
    "young_massive_cluster",
)
#: Host galaxies of extragalactic NSCs: (l, b) deg, distance kpc, kind.
HOSTS: dict[str, tuple[float, float, float, str]] = {
    "lmc": (280.47, -32.89, 50.0, "dwarf_irregular"),
    "smc": (302.80, -44.30, 62.0, "dwarf_irregular"),
    "m33": (133.61, -31.33, 840.0, "spiral"),
}

_NAME = re.compile(r"^SIM-(G|N|BG|BN)(\d{3,4})$")
_KIND_OFFSET = {"G": 0, "N": 1, "BG": 2, "BN": 3}
_ARCSEC_PER_RAD = 206_264.8


def mag_to_sb(mu: float) -> float:
    """mag/arcsec^2 (AB, ACS F606W, zero point 26.5) -> e-/s/arcsec^2."""
    return float(10.0 ** (-0.4 * (mu - 26.5)))


@dataclass(frozen=True)
class Body:
    """One celestial object of LCID-sim.

    Attributes:
        name: e.g. ``"SIM-G007"``.
        label: ``"galaxy"`` or ``"NSC"``.
        morphology: one of :data:`GALAXY_TYPES` / :data:`NSC_TYPES`.
        subset: ``"lcid"`` or ``"blurry"``.
        index: 1-based index within its kind.
        ordinal: number unique over all kinds (used for OBSIDs).
        ra, dec: degrees, body centre (ICRS).
        seed: seed of the body's own random draws.
        lookalike: built-in confusions, ``";"``-joined (``""`` none).
        params: morphology parameters (angles in degrees, sizes in arcsec,
            surface brightness in e-/s/arcsec^2 of the reference band).
        gal_l, gal_b: Galactic coordinates (deg).
        distance_kpc: distance.
        host: ``""`` or a key of :data:`HOSTS`.
    """

    name: str
    label: str
    morphology: str
    subset: str
    index: int
    ordinal: int
    ra: float
    dec: float
    seed: int
    lookalike: str
    params: dict = field(hash=False, compare=False)
    gal_l: float = 0.0
    gal_b: float = 90.0
    distance_kpc: float = 10_000.0
    host: str = ""


def body_name(kind: str, index: int) -> str:
    """``body_name("G", 7) == "SIM-G007"`` (kinds ``G``, ``N``, ``BG``, ``BN``)."""
    if kind not in _KIND_OFFSET or not 1 <= index <= 9999:
        raise ValueError(f"body kind must be one of {sorted(_KIND_OFFSET)} and index 1..9999, "
                         f"got {kind!r}, {index}")
    return f"SIM-{kind}{index:03d}"


def parse_body_name(name: str) -> tuple[str, int]:
    """``"SIM-BN002" -> ("BN", 2)``; ValueError for anything else."""
    m = _NAME.match(name)
    if not m or int(m.group(2)) < 1:
        raise ValueError(f"body name {name!r} is not an LCID-sim name: expected SIM-G###, "
                         "SIM-N###, SIM-BG### or SIM-BN### (index from 001)")
    return m.group(1), int(m.group(2))


def body_rng(seed: int, name: str, *stream: int) -> np.random.Generator:
    """Generator seeded by (seed, name, *stream): independent of any other body or call."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode()), *stream])


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _distance(size_arcsec: float, size_kpc: float) -> float:
    """Distance (kpc) at which ``size_kpc`` subtends ``size_arcsec``."""
    return size_kpc * _ARCSEC_PER_RAD / size_arcsec


def _galaxy_params(morph: str, rng: np.random.Generator) -> tuple[dict, str, float]:
    """Parameters of a galaxy (sizes arcsec, SB e-/s/arcsec^2 F606W), lookalike, distance."""
    p: dict = {"pa": _u(rng, 0, 180)}
    look = ""
    if morph in ("spiral", "barred_spiral"):
        p.update(h=_u(rng, 35, 90), q=_u(rng, 0.45, 1.0), disk_sb=mag_to_sb(_u(rng, 20.3, 21.6)),
                 bulge_n=_u(rng, 1.5, 4.0), bulge_re=_u(rng, 4, 14),
                 bulge_sb=mag_to_sb(_u(rng, 18.5, 20.5)), arms=int(rng.choice([2, 2, 3, 4])),
                 pitch=_u(rng, 12, 28), arm_amp=_u(rng, 0.5, 0.9), young_frac=_u(rng, 0.3, 0.6),
                 dust_tau=_u(rng, 0.3, 1.2), n_hii=int(rng.integers(300, 1200)),
                 phase=_u(rng, 0, 360), beta=_u(rng, 2.6, 3.1))
        if morph == "barred_spiral":
            p.update(bar_len=_u(rng, 25, 60), bar_q=_u(rng, 0.2, 0.35),
                     bar_sb=mag_to_sb(_u(rng, 19.5, 20.5)), arms=2)
        dist = _distance(p["h"], _u(rng, 1.2, 5.0))
        look = "resolved_stars~star_cluster" if dist < 9000 else "arm_segment~nebula_filament"
    elif morph in ("elliptical", "lenticular"):
        p.update(n=_u(rng, 3.0, 5.5) if morph == "elliptical" else _u(rng, 2.0, 3.5),
                 re=_u(rng, 20, 70), q=_u(rng, 0.6, 1.0) if morph == "elliptical" else
                 _u(rng, 0.35, 0.6), sb_e=mag_to_sb(_u(rng, 20.2, 21.5)),
                 s_n=_u(rng, 1.0, 6.0), beta=_u(rng, 2.6, 3.1))
        if morph == "lenticular":
            p.update(h=_u(rng, 30, 60), disk_sb=mag_to_sb(_u(rng, 20.5, 21.5)),
                     dust_ring=bool(rng.random() < 0.5))
        dist = _distance(p["re"], _u(rng, 1.5, 7.0))
        look = "elliptical_core~globular_core"
    elif morph == "irregular":
        p.update(h=_u(rng, 25, 60), q=_u(rng, 0.5, 0.9), disk_sb=mag_to_sb(_u(rng, 21.3, 22.5)),
                 n_clumps=int(rng.integers(6, 16)), starburst=bool(rng.random() < 0.5),
                 dust_tau=_u(rng, 0.4, 1.5), beta=_u(rng, 2.6, 3.0))
        dist = _distance(p["h"], _u(rng, 0.5, 2.0))
        look = "irregular_clumps~open_cluster"
    elif morph == "edge_on":
        p.update(h=_u(rng, 40, 90), z0=_u(rng, 3, 8), disk_sb=mag_to_sb(_u(rng, 19.0, 20.0)),
                 bulge_re=_u(rng, 6, 15), bulge_sb=mag_to_sb(_u(rng, 19.0, 20.5)),
                 dust_tau=_u(rng, 1.5, 4.0), n_hii=int(rng.integers(40, 160)),
                 beta=_u(rng, 2.6, 3.1))
        dist = _distance(p["h"], _u(rng, 2.0, 5.0))
        look = "dust_lane~dark_nebula"
    else:
        raise ValueError(f"unknown galaxy morphology {morph!r}")
    return p, look, dist


def _nsc_params(morph: str, rng: np.random.Generator, host: str) -> tuple[dict, str, float]:
    """Parameters of a nebula / star cluster, its lookalike and distance (kpc)."""
    p: dict = {"pa": _u(rng, 0, 180)}
    look = ""
    host_d = HOSTS[host][2] if host else 0.0
    if morph == "globular_cluster":
        p.update(rc=_u(rng, 6, 25), c=_u(rng, 1.3, 2.0), mass=10 ** _u(rng, 5.0, 6.0),
                 age=_u(rng, 10.0, 13.0))
        p["rt"] = p["rc"] * 10 ** p["c"]
        dist = host_d or _distance(p["rc"], _u(rng, 0.4, 1.5) / 1000.0)
        look = "globular_core~elliptical_core"
    elif morph == "open_cluster":
        p.update(r_c=_u(rng, 20, 60), c=_u(rng, 0.6, 1.1), age=10 ** _u(rng, -2.0, -0.3),
                 n_sub=int(rng.integers(0, 5)), nebulosity=bool(rng.random() < 0.6),
                 neb_sb=mag_to_sb(_u(rng, 21.5, 23.0)), beta=_u(rng, 2.7, 3.1))
        p["rt"] = p["r_c"] * 10 ** p["c"]
        p["mass"] = 10 ** (_u(rng, 4.0, 5.0) if host else _u(rng, 2.7, 3.8))
        dist = host_d or _distance(p["r_c"], _u(rng, 0.3, 1.5) / 1000.0)
        look = "open_cluster~irregular_clumps" if p["n_sub"] >= 2 or p["nebulosity"] else ""
    elif morph in ("emission_nebula", "young_massive_cluster"):
        radius = _u(rng, 40, 120) if host == "m33" else _u(rng, 150, 400)
        p.update(radius=radius, gas_sb=mag_to_sb(_u(rng, 19.0, 20.8)),
                 n_embedded=int(rng.integers(100, 600)), dust_tau=_u(rng, 0.5, 2.0),
                 src_u=_u(rng, -0.2, 0.2) * radius, src_v=_u(rng, -0.2, 0.2) * radius,
                 cloud_cover=_u(rng, 0.08, 0.25), polar=bool(rng.random() < 0.6),
                 beta=_u(rng, 2.7, 3.2))
        if morph == "young_massive_cluster":
            p.update(a_eff=_u(rng, 1.5, 5.0), mass=10 ** _u(rng, 4.0, 5.0),
                     age=_u(rng, 0.001, 0.005), cavity=_u(rng, 0.1, 0.25) * radius)
            look = "resolved_stars~star_cluster"
        else:
            look = "nebula_filament~arm_segment" if p["polar"] else "dust_lane~dark_nebula"
        dist = host_d or _distance(radius, _u(rng, 3.0, 12.0) / 1000.0)
    elif morph == "planetary_nebula":
        p.update(r_shell=_u(rng, 15, 70), q=_u(rng, 0.6, 1.0), bipolar=bool(rng.random() < 0.5),
                 shell_sb=mag_to_sb(_u(rng, 18.0, 19.5)), n_knots=int(rng.integers(0, 400)),
                 star_mag=_u(rng, 14.0, 19.0), beta=_u(rng, 2.8, 3.3))
        dist = _distance(p["r_shell"], _u(rng, 0.1, 0.4) / 1000.0)
    else:
        raise ValueError(f"unknown NSC morphology {morph!r}")
    if host:
        p["host_sb"] = mag_to_sb(_u(rng, 21.0, 22.5) if HOSTS[host][3] == "spiral"
                                 else _u(rng, 21.5, 23.0))
        look = ";".join(x for x in (look, "nebula_in_galaxy" if "nebula" in morph
                                    or morph == "young_massive_cluster"
                                    else "cluster_in_galaxy") if x)
    return p, look, dist


def _host_for(morph: str, rng: np.random.Generator) -> str:
    """Extragalactic share of each NSC type (the rest are in the Milky Way)."""
    share = {"globular_cluster": ("lmc", 0.25), "open_cluster": ("lmc", 0.4),
             "emission_nebula": ("m33", 0.3), "young_massive_cluster": ("lmc", 0.5),
             "planetary_nebula": ("", 0.0)}[morph]
    if rng.random() >= share[1]:
        return ""
    if share[0] == "lmc" and rng.random() < 0.35:
        return "smc"
    return share[0]


def _place(rng: np.random.Generator, label: str, morph: str, host: str) -> tuple[float, float]:
    """Galactic (l, b) of a body (see the module docstring)."""
    if host:
        l0, b0, _, _ = HOSTS[host]
        return (l0 + float(rng.normal(0, 2.0))) % 360.0, b0 + float(rng.normal(0, 1.5))
    if label == "galaxy":
        return float(rng.uniform(0, 360)), float(np.degrees(np.arcsin(rng.uniform(-1, 1))))
    if morph == "globular_cluster":  # halo: r^-3.5 around the centre, R0 = 8.2 kpc
        r = 1.0 * (1.0 - rng.random()) ** (-1 / 0.5)  # kpc, p(r) ~ r^-1.5 on r > 1
        r = min(r, 40.0)
        d = rng.normal(size=3)
        x, y, z = 8.2 - r * d[0] / np.linalg.norm(d), r * d[1] / np.linalg.norm(d), \
            r * d[2] / np.linalg.norm(d)
        return float(np.degrees(np.arctan2(y, x)) % 360.0), \
            float(np.degrees(np.arctan2(z, np.hypot(x, y))))
    width = 8.0 if morph == "planetary_nebula" else 2.5
    ell = float(rng.normal(0.0, 60.0)) % 360.0  # concentrated towards the inner Galaxy
    return ell, float(np.clip(rng.normal(0.0, width), -60, 60))


def make_body(seed: int, name: str) -> Body:
    """The body ``name`` of the catalogue with master ``seed`` (deterministic).

    Raises:
        ValueError: ``name`` is not an LCID-sim body name.
    """
    kind, index = parse_body_name(name)
    rng = body_rng(seed, name, 0)
    galaxy = kind in ("G", "BG")
    types = GALAXY_TYPES if galaxy else NSC_TYPES
    # blurry bodies start the cycle elsewhere so that they are not copies of LCID's first types
    morph = types[(index - 1 + (2 if kind.startswith("B") else 0)) % len(types)]
    host = "" if galaxy else _host_for(morph, rng)
    if galaxy:
        params, look, dist = _galaxy_params(morph, rng)
    else:
        params, look, dist = _nsc_params(morph, rng, host)
    ell, b = _place(rng, "galaxy" if galaxy else "NSC", morph, host)
    ra, dec = equatorial(ell, b)
    ell, b = galactic(round(ra, 9), round(dec, 9))
    if galaxy and abs(b) < 12.0:
        look = ";".join(x for x in (look, "dense_foreground") if x)
    return Body(name=name, label="galaxy" if galaxy else "NSC", morphology=morph,
                subset="blurry" if kind.startswith("B") else "lcid", index=index,
                ordinal=_KIND_OFFSET[kind] * 10_000 + index, ra=round(ra, 9), dec=round(dec, 9),
                seed=int(rng.integers(0, 2**31 - 1)), lookalike=look, params=params,
                gal_l=ell, gal_b=b, distance_kpc=float(dist), host=host)


def catalogue(seed: int, bodies_galaxy: int, bodies_nsc: int, blurry_galaxy: int = 0,
              blurry_nsc: int = 0) -> list[Body]:
    """All bodies of a dataset: LCID galaxies, LCID NSCs, blurry galaxies, blurry NSCs.

    Raises:
        ValueError: for a negative count or more than 9999 bodies of a kind.
    """
    counts = {"G": bodies_galaxy, "N": bodies_nsc, "BG": blurry_galaxy, "BN": blurry_nsc}
    for kind, n in counts.items():
        if not isinstance(n, (int, np.integer)) or not 0 <= n <= 9999:
            raise ValueError(f"number of {kind} bodies must be an integer in 0..9999, got {n!r}")
    return [make_body(seed, body_name(k, i)) for k, n in counts.items() for i in range(1, n + 1)]


def angular(size_kpc: float, distance_kpc: float) -> float:
    """Arcsec subtended by ``size_kpc`` at ``distance_kpc``."""
    return size_kpc / distance_kpc * _ARCSEC_PER_RAD

