"""The body catalogue of LCID-sim: names, classes, morphologies and their parameters.

Every body is fixed by ``(seed, name)`` alone, so any file can be regenerated
without the rest of the catalogue:

* ``SIM-G001``.. galaxies and ``SIM-N001``.. nebulae/star clusters of LCID;
* ``SIM-BG001``.. and ``SIM-BN001``.. the separate LCID-Blurry bodies
  (disjoint names, as the paper's blurry validation bodies are disjoint from
  its train/test bodies).

The morphology follows from the index, cycling through :data:`GALAXY_TYPES` /
:data:`NSC_TYPES` so that even a small catalogue covers every type; the
parameters are drawn from a generator seeded by ``(seed, name)``.

Built-in confusions (the paper's Sec. 5.2), recorded in ``Body.lookalike``:

* ``elliptical_core~globular_core``: ellipticals with a resolved globular-cluster
  population and a bright smooth core; globular clusters with an unresolved core;
* ``irregular_clumps~open_cluster``: irregulars whose star-forming clumps are
  resolved into young stars; open clusters with sub-clusters and nebulosity;
* ``arm_segment~nebula_filament``: spirals with strong, HII-lit arms and dust;
  emission nebulae whose filaments are long arcs;
* ``resolved_stars~star_cluster``: nearby spirals resolved into stars (the
  paper's NGC 6744 example), young massive clusters;
* ``dust_lane~dark_nebula``: edge-on disks; nebulae with dark lanes.

Chips that see only the edge of a body get ``edge_view`` at the row level
(:mod:`.exposures`).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Body",
    "GALAXY_TYPES",
    "NSC_TYPES",
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

_NAME = re.compile(r"^SIM-(G|N|BG|BN)(\d{3,4})$")
_KIND_OFFSET = {"G": 0, "N": 1, "BG": 2, "BN": 3}


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
        ra, dec: degrees, body centre.
        seed: seed of the body's own random draws.
        lookalike: built-in confusion (``""`` none).
        params: morphology parameters (angles in degrees, sizes in arcsec,
            surface brightness in e-/s/arcsec^2 of the reference band).
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


def _galaxy_params(morph: str, rng: np.random.Generator) -> tuple[dict, str]:
    """Parameters of a galaxy (sizes arcsec, SB e-/s/arcsec^2 F606W) and its lookalike."""
    p: dict = {"pa": _u(rng, 0, 180), "field_density": _u(rng, 0.002, 0.02)}
    look = ""
    if morph in ("spiral", "barred_spiral"):
        p.update(h=_u(rng, 35, 90), q=_u(rng, 0.45, 1.0), disk_sb=mag_to_sb(_u(rng, 20.3, 21.6)),
                 bulge_n=_u(rng, 1.5, 4.0), bulge_re=_u(rng, 4, 14),
                 bulge_sb=mag_to_sb(_u(rng, 18.5, 20.5)), arms=int(rng.choice([2, 2, 3, 4])),
                 pitch=_u(rng, 12, 28), arm_amp=_u(rng, 0.5, 0.9), young_frac=_u(rng, 0.3, 0.6),
                 dust_tau=_u(rng, 0.3, 1.2), n_knots=int(rng.integers(400, 1200)),
                 nearby=bool(rng.random() < 0.5), phase=_u(rng, 0, 360))
        if morph == "barred_spiral":
            p.update(bar_len=_u(rng, 25, 60), bar_q=_u(rng, 0.2, 0.35),
                     bar_sb=mag_to_sb(_u(rng, 19.5, 20.5)), arms=2)
        look = "resolved_stars~star_cluster" if p["nearby"] else "arm_segment~nebula_filament"
    elif morph in ("elliptical", "lenticular"):
        p.update(n=_u(rng, 3.0, 5.5) if morph == "elliptical" else _u(rng, 2.0, 3.5),
                 re=_u(rng, 20, 70), q=_u(rng, 0.6, 1.0) if morph == "elliptical" else
                 _u(rng, 0.35, 0.6), sb_e=mag_to_sb(_u(rng, 20.2, 21.5)),
                 n_gc=int(rng.integers(300, 1500)), gc_peak=_u(rng, 1.0, 10.0),
                 resolved_halo=bool(rng.random() < 0.5))
        if morph == "lenticular":
            p.update(h=_u(rng, 30, 60), disk_sb=mag_to_sb(_u(rng, 20.5, 21.5)),
                     dust_ring=bool(rng.random() < 0.5))
        look = "elliptical_core~globular_core"
    elif morph == "irregular":
        p.update(h=_u(rng, 25, 60), q=_u(rng, 0.5, 0.9), disk_sb=mag_to_sb(_u(rng, 21.3, 22.5)),
                 n_clumps=int(rng.integers(6, 16)), starburst=bool(rng.random() < 0.5),
                 dust_tau=_u(rng, 0.4, 1.5))
        look = "irregular_clumps~open_cluster"
    elif morph == "edge_on":
        p.update(h=_u(rng, 40, 90), z0=_u(rng, 3, 8), disk_sb=mag_to_sb(_u(rng, 19.0, 20.0)),
                 bulge_re=_u(rng, 6, 15), bulge_sb=mag_to_sb(_u(rng, 19.0, 20.5)),
                 dust_tau=_u(rng, 1.5, 4.0), n_knots=int(rng.integers(40, 120)))
        look = "dust_lane~dark_nebula"
    else:
        raise ValueError(f"unknown galaxy morphology {morph!r}")
    return p, look


def _nsc_params(morph: str, rng: np.random.Generator) -> tuple[dict, str]:
    """Parameters of a nebula / star cluster and its lookalike."""
    p: dict = {"pa": _u(rng, 0, 180), "field_density": _u(rng, 0.01, 0.08)}
    look = ""
    if morph == "globular_cluster":
        p.update(rc=_u(rng, 6, 25), c=_u(rng, 1.3, 2.0), n_stars=int(rng.integers(30_000, 90_000)),
                 f_tip=_u(rng, 200, 2000), core_sb=mag_to_sb(_u(rng, 16.5, 18.5)),
                 field_density=_u(rng, 0.002, 0.03))
        p["rt"] = p["rc"] * 10 ** p["c"]
        look = "globular_core~elliptical_core"
    elif morph == "open_cluster":
        p.update(r_pl=_u(rng, 40, 110), n_stars=int(rng.integers(800, 3000)),
                 field_density=_u(rng, 0.003, 0.02),
                 f_max=_u(rng, 2e4, 2e5), n_sub=int(rng.integers(0, 5)),
                 nebulosity=bool(rng.random() < 0.6), neb_sb=mag_to_sb(_u(rng, 21.5, 23.0)))
        look = "open_cluster~irregular_clumps" if p["n_sub"] >= 2 or p["nebulosity"] else ""
    elif morph in ("emission_nebula", "young_massive_cluster"):
        p.update(radius=_u(rng, 150, 400), gas_sb=mag_to_sb(_u(rng, 19.0, 20.8)),
                 n_filaments=int(rng.integers(10, 30)), arcs=bool(rng.random() < 0.6),
                 n_pillars=int(rng.integers(2, 7)), n_globules=int(rng.integers(3, 15)),
                 n_embedded=int(rng.integers(100, 600)), dust_tau=_u(rng, 0.5, 2.0),
                 src_u=_u(rng, -60, 60), src_v=_u(rng, -60, 60))
        if morph == "young_massive_cluster":
            p.update(a_eff=_u(rng, 1.5, 5.0), n_cluster=int(rng.integers(2000, 8000)),
                     cavity=_u(rng, 30, 80), f_max=_u(rng, 5e4, 5e5))
            look = "resolved_stars~star_cluster"
        else:
            look = "nebula_filament~arm_segment" if p["arcs"] else "dust_lane~dark_nebula"
    elif morph == "planetary_nebula":
        p.update(r_shell=_u(rng, 15, 70), q=_u(rng, 0.6, 1.0), bipolar=bool(rng.random() < 0.5),
                 shell_sb=mag_to_sb(_u(rng, 18.0, 19.5)), n_knots=int(rng.integers(0, 400)),
                 star_flux=_u(rng, 200, 5000))
    else:
        raise ValueError(f"unknown NSC morphology {morph!r}")
    return p, look


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
    params, look = (_galaxy_params if galaxy else _nsc_params)(morph, rng)
    ra = float(rng.uniform(0, 360))
    dec = float(np.degrees(np.arcsin(rng.uniform(-0.95, 0.95))))
    return Body(name=name, label="galaxy" if galaxy else "NSC", morphology=morph,
                subset="blurry" if kind.startswith("B") else "lcid", index=index,
                ordinal=_KIND_OFFSET[kind] * 10_000 + index, ra=ra, dec=dec,
                seed=int(rng.integers(0, 2**31 - 1)), lookalike=look, params=params)


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
