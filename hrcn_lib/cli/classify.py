"""``hrcn classify``: label each science HDU of raw/flt files (the paper's real-time use).

For every FILE and each of its science HDUs (1 and 4: the two CCD chips) the sample
is preprocessed exactly as in training (:func:`hrcn_lib.preprocess.load_sample`, and
the 224x448 resize for LCID-Resize models) and classified by the trained model of
``--checkpoint``; the output gives the label (galaxy / NSC), the probability of that
label, both class probabilities and the milliseconds spent.

A file or HDU that cannot be read is reported on stderr (one line naming it) while the
others are still classified and printed; the exit status is then 1. A checkpoint that
cannot be used (missing, corrupt, NaN weights) stops the command before any file is read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["register", "run", "classify_files"]


def register(subparsers) -> None:
    """Add the ``classify`` sub-command."""
    p = subparsers.add_parser(
        "classify", help="classify each science HDU of raw/flt FITS files (galaxy or NSC)",
        description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("files", nargs="+", type=Path, help="raw or flt FITS files")
    p.add_argument("--checkpoint", required=True, type=Path,
                   help="model.pt / checkpoint.pt of hrcn train, or its run directory")
    p.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    p.add_argument("--device", default=None, help="cpu, cuda or auto")
    p.set_defaults(func=run)


def classify_files(files: list[Path], checkpoint: Path, device: str | None = None
                   ) -> tuple[list[dict], list[str]]:
    """Classify every science HDU of every file.

    Returns:
        (records, errors): one record per (file, hdu) with ``file, hdu, label,
        probability, p_galaxy, p_nsc, preprocess_ms, classify_ms`` (finite numbers); one
        message per file or HDU that could not be read (naming it).

    Raises:
        CheckpointError: unusable checkpoint. ValueError: the model gives NaN/inf
            probabilities.
    """
    import torch

    from hrcn_lib.datasets import DATASET_SIZES, resize_sample
    from hrcn_lib.evaluate import CLASS_NAMES, Predictor
    from hrcn_lib.instruments import SCIENCE_HDUS
    from hrcn_lib.preprocess import load_sample

    predictor = Predictor.from_checkpoint(checkpoint, device=device)
    dataset = predictor.config["dataset_name"]
    records, errors = [], []
    for path in files:
        for hdu in SCIENCE_HDUS:
            t0 = time.perf_counter()
            try:
                sample = load_sample(path, hdu)
            except (ValueError, OSError) as exc:
                msg = str(exc)  # PreprocessError names the file and HDU itself
                errors.append(msg if msg.startswith(str(path)) else f"{path} [HDU {hdu}]: {msg}")
                continue
            if dataset != "lcid":
                sample = resize_sample(sample, DATASET_SIZES[dataset])
            t1 = time.perf_counter()
            probs = predictor(torch.from_numpy(sample)[None, None])[0]
            t2 = time.perf_counter()
            k = int(probs.argmax())
            records.append({"file": str(path), "hdu": hdu, "label": CLASS_NAMES[k],
                            "probability": float(probs[k]), "p_galaxy": float(probs[0]),
                            "p_nsc": float(probs[1]), "preprocess_ms": (t1 - t0) * 1e3,
                            "classify_ms": (t2 - t1) * 1e3})
    return records, errors


def run(args: argparse.Namespace) -> int:
    """Print the labels; returns 0, or 1 when some file/HDU could not be classified."""
    records, errors = classify_files(args.files, args.checkpoint, args.device)
    if args.json:
        print(json.dumps(records, indent=2, allow_nan=False))
    elif records:
        print(f"{'file':<40} {'hdu':>3} {'label':<7} {'prob':>6} {'pre ms':>8} {'cls ms':>8}")
        for r in records:
            print(f"{Path(r['file']).name:<40} {r['hdu']:>3} {r['label']:<7} "
                  f"{r['probability']:>6.3f} {r['preprocess_ms']:>8.1f} {r['classify_ms']:>8.1f}")
    for msg in errors:
        print(f"hrcn classify: error: {msg}", file=sys.stderr)
    return 1 if errors else 0
