"""``hrcn fetch MANIFEST --dest DIR``: download a manifest's raw files from MAST.

Thin wrapper over :func:`hrcn_lib.mast.download` and
:func:`hrcn_lib.mast.attach_paths`; writes a project manifest (with a ``path``
column) next to the downloaded files so the book and ``hrcn`` commands can
read them.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hrcn_lib.cli.argtypes import nonnegative_float, nonnegative_int
from hrcn_lib.cli.verbosity import show_progress
from hrcn_lib.paths import LCID_MANIFEST

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fetch`` sub-command."""
    parser = subparsers.add_parser(
        "fetch",
        help="download the raw HST files of a manifest from MAST",
        description="Download the *_raw.fits file of every OBSID of MANIFEST (the authors' "
        "CSV format or the project's) from MAST into DEST; resumable: files already present "
        "and verified are skipped. Then write a manifest with local paths.",
    )
    parser.add_argument("manifest", type=Path, help="manifest CSV (e.g. the authors' LCID_test.csv)")
    parser.add_argument("--dest", type=Path, required=True, help="download folder")
    parser.add_argument("--retries", type=nonnegative_int, default=3,
                        help="retries per file (default 3)")
    parser.add_argument("--backoff", type=nonnegative_float, default=5.0,
                        help="seconds before the first retry, doubled after")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="manifest with local paths to write (default DEST/lcid_manifest.csv)",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="write the output manifest with the rows whose files were fetched, even if some "
        "failed (never an empty one)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Download, report, write the output manifest; exit 0 when every file is present.

    Exit 1 (and no manifest written) when some file failed without ``--allow-missing``, or
    when no file at all is present (a manifest without rows is of no use to any command).
    """
    from hrcn_lib.cli.inputs import manifest_rows, output_folders
    from hrcn_lib.manifest import write_manifest
    from hrcn_lib.mast import attach_paths, download
    from hrcn_lib.paths import check_output_file

    output_folders(dest=args.dest)
    output = check_output_file(args.output or Path(args.dest) / LCID_MANIFEST, "--output",
                               protect=(Path(args.manifest),))
    df = manifest_rows(args.manifest, "fetch", name="")
    report = download(
        df, args.dest, retries=args.retries, backoff_s=args.backoff, progress=show_progress(args)
    )
    log.info("hrcn fetch: %s (%s)", report.summary(), args.dest)
    for obsid, reason in report.failed.items():
        log.warning("%s: %s", obsid, reason)
    if report.failed and not args.allow_missing:
        log.error("not writing the manifest (use --allow-missing or run again to resume)")
        return 1
    with_paths = attach_paths(df, args.dest, missing="drop")
    if len(with_paths) == 0:
        log.error("none of the %d samples' files is in %s: not writing an empty manifest %s "
                  "(run again to retry the downloads)", len(df), args.dest, output)
        return 1
    write_manifest(with_paths, output)
    log.info("hrcn fetch: wrote %s (%d of %d samples)", output, len(with_paths), len(df))
    return 0
