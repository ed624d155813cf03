"""``hrcn record``: make a committed record of a full run (:mod:`hrcn_lib.recording`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hrcn_lib.cli import UsageError

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``record`` sub-command."""
    p = subparsers.add_parser(
        "record", help="simulate, train, evaluate and write a small committed record",
        description="One command from LCID-sim to records/NAME: simulates the profile's data "
        "(or reads --data-dir), splits it by body, trains every pair the profile enables "
        "(with its seeds, and the paper's recipe where the profile asks), evaluates the test "
        "split and LCID-Blurry, diagnoses the misclassified samples, and writes record.json, "
        "split.csv, predictions.csv, metrics.csv, causes.csv, curves/ and gradcam/ in one "
        "rename at the end. Resumable: the runs live in --work-dir; the same command "
        "continues a killed record.")
    p.add_argument("--profile", required=True,
                   help="the run's profile, e.g. record-cpu or record-gpu (hrcn_lib.profiles)")
    p.add_argument("--out", required=True, type=Path, help="the record directory to write")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="an LCID-sim folder with lcid_manifest.csv and blurry_manifest.csv "
                        "(default: simulate into the work directory)")
    p.add_argument("--work-dir", type=Path, default=None,
                   help="run directory for data, cache and the runs (default runs/<profile>)")
    p.add_argument("--force", action="store_true", help="replace an existing record at --out")
    p.add_argument("--reuse", type=Path, default=None, metavar="RECORD",
                   help="an earlier record of the same profile (e.g. the --out being "
                        "replaced): its runs with an unchanged recipe on the same samples are "
                        "taken over, with their provenance, instead of trained; the data must "
                        "be the same sample for sample")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the request, make the record; returns 0."""
    from hrcn_lib.profiles import PROFILES

    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}: expected one of {sorted(PROFILES)}")
    from hrcn_lib.recording import make_record

    path = make_record(args.profile, args.out, data_dir=args.data_dir, work_dir=args.work_dir,
                       force=args.force, command="hrcn " + " ".join(sys.argv[1:]),
                       reuse=args.reuse)
    print(path)
    return 0
