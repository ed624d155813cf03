"""``hrcn evaluate``: predictions, Table 4 metrics, confusion matrix and timings of a run."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hrcn_lib.cli.verbosity import show_progress

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``evaluate`` sub-command."""
    p = subparsers.add_parser(
        "evaluate", help="evaluate a trained model on a manifest (accuracy, F1, confusion, ms)",
        description="Classify every sample of a manifest with the trained model of a run "
        "directory; write predictions_<set>.csv, metrics_<set>.json and timing_<set>.json "
        "(timing.json for the test set) into --out (default: the run directory).")
    p.add_argument("--run", required=True, type=Path,
                   help="run directory of hrcn train (or a model.pt / checkpoint.pt)")
    p.add_argument("--manifest", required=True, type=Path, help="manifest CSV to evaluate")
    p.add_argument("--set", dest="set_name", default="test", help="set name (test, blurry...)")
    p.add_argument("--dataset", default=None,
                   help="lcid or lcid-resize (default: the one the model was trained on)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: --run)")
    p.add_argument("--device", default=None, help="cpu, cuda or auto")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="preprocessed-sample cache (then preprocessing times are cache reads)")
    p.add_argument("--max-samples", type=int, default=None)
    p.add_argument("--timing-samples", type=int, default=None,
                   help="samples timed after the warm-up (default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the metrics; returns 0."""
    from hrcn_lib.evaluate import evaluate
    from hrcn_lib.manifest import read_manifest
    from hrcn_lib.train import load_trained_model

    model = load_trained_model(args.run, mmap=True)
    dataset = args.dataset or model.hrcn_config["dataset_name"]
    out = args.out or (args.run if args.run.is_dir() else args.run.parent)
    res = evaluate(model, read_manifest(args.manifest), dataset, out, set_name=args.set_name,
                   device=args.device, cache_dir=args.cache_dir, max_samples=args.max_samples,
                   timing_samples=args.timing_samples, progress=show_progress(args))
    m, t = res.metrics, res.timing
    log.info("evaluate %s: n=%d accuracy %.4f F1 galaxy %.4f F1 NSC %.4f", args.set_name,
             m["n"], m["accuracy"], m["f1_galaxy"], m["f1_nsc"])
    log.info("confusion (rows true, cols pred; galaxy, NSC): %s", res.confusion.tolist())
    log.info("ms/sample (median): preprocessing %.1f, classification %.1f; files in %s",
             t["preprocess_ms"].get("median", float("nan")),
             t["classify_ms"].get("median", float("nan")), out)
    return 0
