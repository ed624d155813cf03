"""``hrcn train``: train one model/dataset pair with the paper's recipe (resumable)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hrcn_lib.cli.verbosity import show_progress

__all__ = ["register", "run", "add_train_arguments"]

log = logging.getLogger(__name__)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``hrcn train`` / ``python -m hrcn_lib.train`` (argparse only)."""
    parser.add_argument("--model", required=True, help="hr-celestialnet, alexnet, vgg, resnet")
    parser.add_argument("--dataset", required=True, help="lcid or lcid-resize")
    parser.add_argument("--manifest", required=True, type=Path,
                        help="manifest CSV of the training samples (e.g. splits/train.csv)")
    parser.add_argument("--out", required=True, type=Path, help="run directory")
    parser.add_argument("--profile", default=None,
                        help="take the recipe defaults from this profile (smoke, cpu, binder, "
                             "paper)")
    parser.add_argument("--epochs", type=int, default=None, help="default 20 (paper)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 4 (paper)")
    parser.add_argument("--lr", type=float, default=None, help="default 1e-4 (paper)")
    parser.add_argument("--micro-batch", type=int, default=None, help="default 1")
    parser.add_argument("--precision", choices=("bf16", "fp32", "auto"), default=None,
                        help="default auto: $HRCN_PRECISION when set, else bf16 where the "
                             "hardware computes it natively, else fp32")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default)")
    parser.add_argument("--checkpoint-activations", action=argparse.BooleanOptionalAction,
                        default=None)
    parser.add_argument("--checkpoint-every", type=int, default=50,
                        help="optimizer steps between checkpoints (0: per epoch only)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="stop after this many optimizer steps (resumable)")
    parser.add_argument("--resume", action="store_true", help="continue out/checkpoint.pt")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(subparsers) -> None:
    """Add the ``train`` sub-command."""
    p = subparsers.add_parser(
        "train", help="train a model (SGD lr 1e-4, batch 4, cross-entropy, 20 epochs by default)",
        description="Train build_model(MODEL, DATASET) on the samples of a manifest with the "
        "paper's recipe (every value overridable). The run directory receives config.json, "
        "history.csv, checkpoint.pt (atomic, every epoch and every --checkpoint-every steps) "
        "and model.pt. --resume continues a killed run exactly. For several processes: "
        "torchrun --nproc_per_node=K -m hrcn_lib.train (same arguments).")
    add_train_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train; log where the run ended. Returns 0."""
    from hrcn_lib.train import run_from_args

    args.no_progress = not show_progress(args)
    result = run_from_args(args)
    last = result.history.iloc[-1] if len(result.history) else None
    state = "finished" if result.completed else f"stopped after step {result.global_step}"
    summary = "" if last is None else (f", last epoch loss {last['loss']:.4f} "
                                       f"accuracy {last['accuracy']:.3f}")
    log.info("train: %s in %s (%s)%s", state, result.out_dir, result.precision, summary)
    return 0
