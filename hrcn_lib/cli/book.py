"""``hrcn book``: execute the chapter notebooks with a profile and build the HTML book."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hrcn_lib.cli.argtypes import device_name, nonnegative_int, positive_int

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``book`` sub-command."""
    p = subparsers.add_parser(
        "book", help="execute the notebooks (papermill) and build the HTML book (_build/html)",
        description="Execute the chapter notebooks in order with a profile into ROOT/book/ "
        "(reusing finished artefacts in the run directory ROOT/runs/<profile>), then build "
        "the HTML book into ROOT/_build/html with Jupyter Book (warnings are errors). ROOT is "
        "the current folder unless --root says otherwise; the notebooks and the book's "
        "configuration come with the package.")
    from hrcn_lib.profiles import PROFILES

    p.add_argument("--profile", default="cpu", choices=sorted(PROFILES),
                   help="run size (default cpu; smoke for CI, binder for ~2 GB of memory, "
                        "paper for a GPU)")
    p.add_argument("--root", default=None,
                   help="build folder for runs/, book/ and _build/ (default: the current folder)")
    p.add_argument("--run-dir", default=None, help="run directory (default ROOT/runs/<profile>)")
    p.add_argument("--data-dir", default=None,
                   help="folder with lcid_manifest.csv/blurry_manifest.csv (default <run-dir>/data, "
                        "simulated when missing)")
    p.add_argument("--device", default=None, type=device_name,
                   help="override the profile's device (cpu, cuda, cuda:N, auto)")
    p.add_argument("--seed", type=nonnegative_int, default=None, help="override the profile's seed")
    p.add_argument("--skip-execute", action="store_true",
                   help="only rebuild the HTML from the executed notebooks in book/")
    p.add_argument("--timeout", type=positive_int, default=None, help="per-cell timeout in seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the book; returns 0, or 1 with one line naming the failing notebook and cell."""
    from hrcn_lib.bookbuild import BookBuildError, build_book
    from hrcn_lib.cli.inputs import output_folders

    output_folders(root=args.root, run_dir=args.run_dir)
    try:
        html = build_book(args.profile, args.run_dir, data_dir=args.data_dir, device=args.device,
                          seed=args.seed, skip_execute=args.skip_execute, timeout=args.timeout,
                          root=Path(args.root) if args.root else None, log=log.info)
    except BookBuildError as exc:
        print(f"hrcn book: error: {exc}", file=sys.stderr)
        return 1
    log.info("book: open %s", html / "index.html")
    return 0
