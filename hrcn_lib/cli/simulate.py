"""``hrcn simulate``: write an LCID-sim dataset (raw FITS files + both manifests)."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["register", "run"]


def register(subparsers) -> None:
    """Add the ``simulate`` sub-command."""
    p = subparsers.add_parser(
        "simulate", help="simulate LCID-sim raw HST files and their manifests",
        description="Simulate raw ACS/WFC and WFC3/UVIS exposures of galaxies and "
        "nebulae/star clusters in the true raw layout, plus lcid_manifest.csv and "
        "blurry_manifest.csv. The same call with the same seed writes byte-identical files.")
    p.add_argument("--profile", default="smoke", help="smoke (default), cpu or paper")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--bodies-galaxy", type=int, default=None,
                   help="LCID galaxies (default: the profile's)")
    p.add_argument("--bodies-nsc", type=int, default=None,
                   help="LCID nebulae/star clusters (default: the profile's)")
    p.add_argument("--exposures", type=int, default=None,
                   help="raw files per LCID galaxy body; NSC bodies get the profile's "
                        "nsc_exposure_factor times as many (default: the profile's)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: one per CPU core)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the request, print the disk space it will use, simulate; returns 0."""
    from hrcn_lib.simulate.dataset import simulate_dataset

    result = simulate_dataset(args.out, args.profile, bodies_galaxy=args.bodies_galaxy,
                              bodies_nsc=args.bodies_nsc, exposures=args.exposures,
                              seed=args.seed,
                              jobs=args.jobs if args.jobs is not None else os.cpu_count() or 1,
                              progress=not args.quiet, announce=True)
    print(f"simulate: {result.n_files} raw files ({result.bytes_written / 1e9:.2f} GB, "
          f"{result.n_screened_out} exposures screened out; {result.n_chips_undetected} of "
          f"{result.n_chips_on_object} chips on their object rejected as undetectable, "
          f"{100 * result.rejected_fraction:.1f} %), {result.n_lcid_rows} LCID rows, "
          f"{result.n_blurry_rows} LCID-Blurry rows in {result.seconds:.0f} s -> "
          f"{result.lcid_manifest}, {result.blurry_manifest}, {result.screening_log}",
          file=sys.stdout)
    return 0
