"""``hrcn preprocess``: raw/flt FITS files -> ``.npy`` model samples (and PNG previews).

Every (file, HDU) is checked before anything is written: one bad input stops
the command with a :class:`~hrcn_lib.preprocess.PreprocessError` and leaves
the output folder untouched. Each output file is written atomically
(temporary file + rename).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hrcn_lib.cli.verbosity import show_progress
from hrcn_lib.instruments import SCIENCE_HDUS

__all__ = ["register", "run", "output_name"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``preprocess`` sub-command."""
    parser = subparsers.add_parser(
        "preprocess",
        help="turn raw/flt HST FITS files into float32 (2048, 4096) .npy samples",
        description="Crop, bias-subtract and normalise SCI extensions of full-frame ACS/WFC or "
        "WFC3/UVIS raw (or flt/flc) files into the model's float32 (2048, 4096) samples "
        "(<stem>_hdu<N>.npy), optionally with 8-bit PNG previews (<stem>_hdu<N>.png, half size).",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.fits", help="input files")
    parser.add_argument("--hdu", nargs="+", type=int, default=list(SCIENCE_HDUS),
                        choices=list(SCIENCE_HDUS), help="SCI HDU indices to convert (default: 1 4)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--png", action="store_true", help="also write PNG previews")
    parser.set_defaults(func=run)


def output_name(path: Path, hdu: int) -> str:
    """Output stem of one (file, HDU): ``<file stem>_hdu<N>``."""
    name = path.name
    for suffix in (".fits.gz", ".fits.fz", ".fits", ".fit", ".fts"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return f"{name}_hdu{hdu}"


def _png_bytes(sample) -> bytes:
    """The asinh preview of a sample (:func:`hrcn_lib.preprocess.preview_image`) as PNG bytes."""
    import cv2

    from hrcn_lib.preprocess import preview_image

    ok, buf = cv2.imencode(".png", preview_image(sample))
    if not ok:
        raise OSError("OpenCV could not encode the PNG preview")
    return buf.tobytes()


def run(args: argparse.Namespace) -> int:
    """Validate every input, then convert them with a progress bar; returns 0."""
    import numpy as np
    from tqdm import tqdm

    from hrcn_lib.paths import atomic_write, check_output_dir
    from hrcn_lib.preprocess import PreprocessError, check_input, load_sample

    check_output_dir(args.out, "--out")
    # one job per file and HDU, however often the file is named (by any spelling of its path)
    jobs = list({(Path(f).resolve(), h): (Path(f), h)
                 for f in args.files for h in dict.fromkeys(args.hdu)}.values())
    names: dict[str, Path] = {}
    for path, hdu in jobs:  # refuse the whole batch before writing anything
        check_input(path, hdu)
        name = output_name(path, hdu)
        if name in names and names[name] != path:
            raise PreprocessError(
                f"{path} [HDU {hdu}]: output name {name}.npy clashes with {names[name]}: "
                f"expected input files with distinct names"
            )
        names[name] = path
    args.out.mkdir(parents=True, exist_ok=True)
    for path, hdu in tqdm(jobs, desc="preprocess", unit="hdu",
                          disable=None if show_progress(args) else True):
        sample = load_sample(path, hdu)
        stem = args.out / output_name(path, hdu)
        with atomic_write(stem.with_suffix(".npy"), "wb") as fh:
            np.save(fh, sample)
        if args.png:
            with atomic_write(stem.with_suffix(".png"), "wb") as fh:
                fh.write(_png_bytes(sample))
        log.debug("wrote %s", stem.with_suffix(".npy"))
    log.info("wrote %d sample(s) to %s", len(jobs), args.out)
    return 0
