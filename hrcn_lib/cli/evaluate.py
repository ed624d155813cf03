"""``hrcn evaluate``: predictions, Table 4 metrics, confusion matrix and timings of a run."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hrcn_lib.cli import UsageError
from hrcn_lib.cli.argtypes import device_name, nonnegative_int, positive_int, set_name
from hrcn_lib.cli.inputs import manifest_rows, output_folders
from hrcn_lib.cli.verbosity import show_progress

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``evaluate`` sub-command."""
    p = subparsers.add_parser(
        "evaluate", help="evaluate a trained model on a manifest (accuracy, F1, confusion, ms)",
        description="Classify every sample of a manifest with the trained model of a run "
        "directory; write predictions_<set>.csv, metrics_<set>.json and timing_<set>.json "
        "(timing.json for the test set) into --out (default: the run directory). A set that "
        "shares celestial bodies or OBSIDs with the model's training set is refused.")
    p.add_argument("--run", required=True, type=Path,
                   help="run directory of hrcn train (or a model.pt / checkpoint.pt)")
    p.add_argument("--manifest", required=True, type=Path, help="manifest CSV to evaluate")
    p.add_argument("--set", dest="set_name", default="test", type=set_name,
                   help="set name (test, blurry...): letters, digits, '_' and '-'")
    p.add_argument("--dataset", default=None,
                   help="lcid or lcid-resize: must be the one the model was trained on "
                        "(the default)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: --run)")
    p.add_argument("--device", default=None, type=device_name, help="cpu, cuda, cuda:N or auto")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="preprocessed-sample cache (then preprocessing times are cache reads)")
    p.add_argument("--max-samples", type=positive_int, default=None,
                   help="evaluate only the first N rows")
    p.add_argument("--timing-samples", type=nonnegative_int, default=None,
                   help="samples timed after the warm-up (default: all)")
    p.add_argument("--allow-overlap", action="store_true",
                   help="evaluate a set that shares bodies/OBSIDs with the training set, with a "
                        "warning (its accuracy then does not measure unseen objects)")
    p.set_defaults(func=run)


def _ms(summary: dict) -> str:
    return f"{summary['median']:.1f}" if "median" in summary else "n/a"


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the metrics; returns 0."""
    from hrcn_lib.evaluate import evaluate
    from hrcn_lib.runtime import load_trained_model

    model = load_trained_model(args.run, mmap=True)
    trained = model.hrcn_config["dataset_name"]
    if args.dataset is not None and args.dataset != trained:
        raise UsageError(f"--dataset {args.dataset} but the model of {args.run} was trained on "
                         f"{trained}: a model reads the inputs it was trained on; omit --dataset")
    out = args.out or (args.run if args.run.is_dir() else args.run.parent)
    output_folders(out=out, cache_dir=args.cache_dir)
    df = manifest_rows(args.manifest, "evaluate")
    res = evaluate(model, df, trained, out, set_name=args.set_name,
                   device=args.device, cache_dir=args.cache_dir, max_samples=args.max_samples,
                   timing_samples=args.timing_samples, allow_overlap=args.allow_overlap,
                   progress=show_progress(args))
    m, t = res.metrics, res.timing
    log.info("evaluate %s: n=%d accuracy %.4f F1 galaxy %.4f F1 NSC %.4f", args.set_name,
             m["n"], m["accuracy"], m["f1_galaxy"], m["f1_nsc"])
    log.info("confusion (rows true, cols pred; galaxy, NSC): %s", res.confusion.tolist())
    log.info("ms/sample (median): preprocessing %s, classification %s; files in %s",
             _ms(t["preprocess_ms"]), _ms(t["classify_ms"]), out)
    return 0
