"""``hrcn classify``: label each science HDU of raw/flt files (the paper's real-time use).

For every FILE and each of its science HDUs (``--hdu``, default 1 and 4: the two CCD
chips) the sample is preprocessed exactly as in training
(:func:`hrcn_lib.preprocess.load_sample`; gzip/fpack-compressed files through astropy)
and classified by the trained model of ``--checkpoint`` through
:class:`hrcn_lib.inference.Predictor`, which applies the model's input size (the 224x448
resize for LCID-Resize models). A ``.npy`` sample written by ``hrcn preprocess`` is
classified as it is (its HDU is read from its ``_hdu<N>`` name). The output gives the
label (galaxy / NSC), the probability of that label, both class probabilities and the
milliseconds spent, as a table, ``--json`` or ``--csv`` (full paths) on stdout.

A file or HDU that cannot be read is reported on stderr (one line naming it) while the
others are still classified and printed; the exit status is then 1. A checkpoint that
cannot be used (missing, corrupt, NaN weights) stops the command before any file is read.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import sys
import time
from pathlib import Path

from hrcn_lib.cli.argtypes import device_name
from hrcn_lib.instruments import SCIENCE_HDUS

__all__ = ["register", "run", "classify_files", "RECORD_FIELDS"]

log = logging.getLogger(__name__)

#: Fields of one classified (file, HDU), in the order of ``--csv``.
RECORD_FIELDS: tuple[str, ...] = ("file", "hdu", "label", "probability", "p_galaxy", "p_nsc",
                                  "preprocess_ms", "classify_ms")

_DESCRIPTION = (
    "Classify each science HDU (--hdu, default 1 and 4) of raw or flt/flc FITS files "
    "(also .fits.gz and fpack .fits.fz) as galaxy or NSC with the trained model of "
    "--checkpoint. Each HDU is preprocessed exactly as in training and, for LCID-Resize "
    "models, resized to 224x448. .npy samples written by `hrcn preprocess` are classified "
    "as they are. Prints the label, its probability, both class probabilities and the "
    "milliseconds spent: a table, or --json / --csv with full paths.")

_NPY_HDU = re.compile(r"_hdu(\d+)$")


def register(subparsers) -> None:
    """Add the ``classify`` sub-command."""
    p = subparsers.add_parser(
        "classify", help="classify each science HDU of raw/flt FITS files (galaxy or NSC)",
        description=_DESCRIPTION)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE",
                   help="raw or flt FITS files (.fits, .fits.gz, .fits.fz) or .npy samples")
    p.add_argument("--checkpoint", required=True, type=Path,
                   help="model.pt / checkpoint.pt of hrcn train, or its run directory")
    p.add_argument("--hdu", nargs="+", type=int, default=list(SCIENCE_HDUS),
                   choices=list(SCIENCE_HDUS),
                   help="science HDUs of each FITS file to classify (default: 1 4)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON list of records")
    fmt.add_argument("--csv", action="store_true",
                     help="print CSV: " + ", ".join(RECORD_FIELDS))
    p.add_argument("--device", default=None, type=device_name, help="cpu, cuda, cuda:N or auto")
    p.set_defaults(func=run)


def _jobs(files: list[Path], hdus: list[int]) -> list[tuple[Path, int | None]]:
    """(file, HDU) pairs: each FITS file with every HDU, each ``.npy`` once (HDU from its name)."""
    jobs: list[tuple[Path, int | None]] = []
    for path in files:
        if path.suffix.lower() == ".npy":
            m = _NPY_HDU.search(path.stem)
            jobs.append((path, int(m.group(1)) if m else None))
        else:
            jobs.extend((path, h) for h in dict.fromkeys(hdus))
    return jobs


def _message(path: Path, hdu: int | None, exc: BaseException) -> str:
    """One line naming the file (and HDU) once: library errors already start with it."""
    text = str(exc)
    if str(path) in text:
        return text
    return f"{path}{'' if hdu is None else f' [HDU {hdu}]'}: {text}"


def classify_files(files: list[Path], checkpoint: Path, device: str | None = None,
                   hdus: list[int] | None = None) -> tuple[list[dict], list[str]]:
    """Classify every science HDU of every file.

    Args:
        files: FITS files (any compression astropy reads) and/or ``.npy`` samples.
        checkpoint: ``model.pt`` / ``checkpoint.pt`` or a run directory.
        device: ``cpu``, ``cuda`` or ``auto`` (default).
        hdus: HDUs of each FITS file (default 1 and 4).

    Returns:
        (records, errors): one record per (file, hdu) with :data:`RECORD_FIELDS`
        (``file`` absolute; ``hdu`` ``None`` for a ``.npy`` without ``_hdu<N>`` in its
        name; probabilities in [0, 1]; times in ms: reading + preprocessing (+ resize),
        then classification); one message per file or HDU that could not be read
        (naming it once).

    Raises:
        CheckpointError: the checkpoint cannot be used. ValueError: the model gives NaN/inf
            probabilities.
    """
    from hrcn_lib.inference import Predictor, read_sample
    from hrcn_lib.names import CLASS_NAMES

    predictor = Predictor.from_checkpoint(checkpoint, device=device)
    records, errors = [], []
    for path, hdu in _jobs(files, hdus or list(SCIENCE_HDUS)):
        t0 = time.perf_counter()
        try:
            x = predictor.prepare(read_sample(path, hdu))
        except (ValueError, OSError) as exc:
            errors.append(_message(path, hdu, exc))
            continue
        t1 = time.perf_counter()
        probs = predictor(x)[0]
        t2 = time.perf_counter()
        k = int(probs.argmax())
        records.append({"file": str(path.resolve()), "hdu": hdu, "label": CLASS_NAMES[k],
                        "probability": float(probs[k]), "p_galaxy": float(probs[0]),
                        "p_nsc": float(probs[1]), "preprocess_ms": (t1 - t0) * 1e3,
                        "classify_ms": (t2 - t1) * 1e3})
    return records, errors


def _print_table(records: list[dict]) -> None:
    print(f"{'file':<40} {'hdu':>3} {'label':<7} {'prob':>6} {'pre ms':>8} {'cls ms':>8}")
    for r in records:
        hdu = "-" if r["hdu"] is None else r["hdu"]
        print(f"{Path(r['file']).name:<40} {hdu:>3} {r['label']:<7} "
              f"{r['probability']:>6.3f} {r['preprocess_ms']:>8.1f} {r['classify_ms']:>8.1f}")


def run(args: argparse.Namespace) -> int:
    """Print the labels; returns 0, or 1 when some file/HDU could not be classified."""
    records, errors = classify_files(args.files, args.checkpoint, args.device, args.hdu)
    if args.json:
        print(json.dumps(records, indent=2, allow_nan=False))
    elif not records:
        pass  # nothing classified: the errors below say why
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(RECORD_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    else:
        _print_table(records)
    for msg in errors:
        log.error("%s", msg)
    return 1 if errors else 0
