"""``hrcn simulate``: write an LCID-sim dataset (raw FITS files + both manifests)."""

from __future__ import annotations

import argparse
import logging
import os

from hrcn_lib.cli import UsageError
from hrcn_lib.cli.argtypes import body_count, exposure_count, nonnegative_int, positive_int
from hrcn_lib.cli.verbosity import show_progress

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``simulate`` sub-command."""
    p = subparsers.add_parser(
        "simulate", help="simulate LCID-sim raw HST files and their manifests",
        description="Simulate raw ACS/WFC and WFC3/UVIS exposures of galaxies and "
        "nebulae/star clusters in the true raw layout, plus lcid_manifest.csv and "
        "blurry_manifest.csv. The same call with the same seed writes byte-identical files.")
    p.add_argument("--profile", default="smoke", help="smoke (default), cpu, binder or paper")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--bodies-galaxy", type=body_count, default=None,
                   help="LCID galaxies (default: the profile's)")
    p.add_argument("--bodies-nsc", type=body_count, default=None,
                   help="LCID nebulae/star clusters (default: the profile's)")
    p.add_argument("--exposures", type=exposure_count, default=None,
                   help="raw files per LCID galaxy body; NSC bodies get the profile's "
                        "nsc_exposure_factor times as many (default: the profile's)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="master seed (default 0)")
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="worker processes (default: one per CPU core)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the request, print the disk space it will use, simulate; returns 0."""
    from hrcn_lib.profiles import PROFILES, get_profile
    from hrcn_lib.simulate.dataset import DatasetSizes, simulate_dataset

    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}: expected one of {sorted(PROFILES)}")
    sizes = DatasetSizes.of(get_profile(args.profile), bodies_galaxy=args.bodies_galaxy,
                            bodies_nsc=args.bodies_nsc, exposures_per_body=args.exposures)
    if sizes.bodies_galaxy + sizes.bodies_nsc == 0:
        raise UsageError(f"--bodies-galaxy {sizes.bodies_galaxy} and --bodies-nsc "
                         f"{sizes.bodies_nsc} leave LCID without a body: give one of them >= 1")
    result = simulate_dataset(args.out, sizes, seed=args.seed,
                              jobs=args.jobs if args.jobs is not None else os.cpu_count() or 1,
                              progress=show_progress(args), announce=True)
    log.info("simulate: %d raw files (%.2f GB, %d exposures screened out; %d of %d chips on "
             "their object rejected as undetectable, %.1f %%), %d LCID rows, %d LCID-Blurry "
             "rows in %.0f s -> %s, %s, %s", result.n_files, result.bytes_written / 1e9,
             result.n_screened_out, result.n_chips_undetected, result.n_chips_on_object,
             100 * result.rejected_fraction, result.n_lcid_rows, result.n_blurry_rows,
             result.seconds, result.lcid_manifest, result.blurry_manifest, result.screening_log)
    return 0
