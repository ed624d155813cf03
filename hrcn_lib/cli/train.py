"""``hrcn train``: train one model/dataset pair with the paper's recipe (resumable).

Also the torchrun entry: ``torchrun --nproc_per_node=K -m hrcn_lib.cli.train ARGS`` (the
arguments of ``hrcn train``) runs :func:`main` in every process, DistributedDataParallel
across them (:mod:`hrcn_lib.train`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from hrcn_lib.cli.verbosity import show_progress

if TYPE_CHECKING:
    from hrcn_lib.train import TrainResult

__all__ = ["register", "run", "add_train_arguments", "run_from_args", "main"]

log = logging.getLogger(__name__)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``hrcn train`` / ``torchrun -m hrcn_lib.cli.train`` (argparse only: no
    torch).

    Numbers out of range are usage errors (argparse, exit status 2).
    """
    from hrcn_lib.cli.argtypes import device_name, nonnegative_int, positive_float, positive_int
    from hrcn_lib.names import DATASET_NAMES, MODEL_NAMES
    from hrcn_lib.profiles import PROFILES

    parser.add_argument("--model", required=True, choices=MODEL_NAMES,
                        help="hr-celestialnet, alexnet, vgg, resnet")
    parser.add_argument("--dataset", required=True, choices=DATASET_NAMES,
                        help="lcid or lcid-resize")
    parser.add_argument("--manifest", required=True, type=Path,
                        help="manifest CSV of the training samples (e.g. splits/train.csv)")
    parser.add_argument("--out", required=True, type=Path, help="run directory")
    parser.add_argument("--profile", default=None, choices=sorted(PROFILES),
                        help="take the recipe defaults from this profile (smoke, cpu, binder, "
                             "paper)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="default 20 (paper)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="default 4 (paper)")
    parser.add_argument("--lr", type=positive_float, default=None, help="default 1e-4 (paper)")
    parser.add_argument("--micro-batch", type=positive_int, default=None, help="default 1")
    parser.add_argument("--precision", choices=("bf16", "fp32", "auto"), default=None,
                        help="default auto: $HRCN_PRECISION when set, else bf16 where the "
                             "hardware computes it natively, else fp32")
    parser.add_argument("--device", default=None, type=device_name,
                        help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument("--checkpoint-activations", action=argparse.BooleanOptionalAction,
                        default=None)
    parser.add_argument("--checkpoint-every", type=nonnegative_int, default=50,
                        help="optimizer steps between checkpoints (0: per epoch only)")
    parser.add_argument("--max-steps", type=positive_int, default=None,
                        help="stop after this many optimizer steps in total (resumable)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its checkpoint.pt")
    again.add_argument("--force", action="store_true",
                       help="train afresh into an --out that holds another run, deleting its "
                            "files (config, history, checkpoint, model, evaluations) first")
    parser.add_argument("--seed", type=nonnegative_int, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--workers", type=nonnegative_int, default=0,
                        help="DataLoader worker processes (default 0: load in this process)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(subparsers) -> None:
    """Add the ``train`` sub-command."""
    p = subparsers.add_parser(
        "train", help="train a model (SGD lr 1e-4, batch 4, cross-entropy, 20 epochs by default)",
        description="Train build_model(MODEL, DATASET) on the samples of a manifest with the "
        "paper's recipe (every value overridable). The run directory receives config.json, "
        "history.csv, checkpoint.pt (atomic, every epoch and every --checkpoint-every steps) "
        "and model.pt. --resume continues a killed run exactly; a folder that holds another "
        "run is refused unless --resume or --force (which deletes that run's files). Training "
        "stops at the first NaN/inf loss (exit 1, no model.pt). For several processes: "
        "torchrun --nproc_per_node=K -m hrcn_lib.cli.train (same arguments).")
    add_train_arguments(p)
    p.set_defaults(func=run)


#: Arguments that replace a recipe value of the same name when given.
_RECIPE_ARGUMENTS = ("epochs", "batch_size", "lr", "micro_batch", "precision", "device",
                     "checkpoint_activations", "seed")


def run_from_args(args: argparse.Namespace) -> TrainResult:
    """The recipe (the paper's, or ``--profile``'s for the pair, with the arguments given on
    top), the manifest read, :func:`hrcn_lib.train.train` called; its ``TrainResult``."""
    from hrcn_lib.cli.inputs import manifest_rows, output_folders
    from hrcn_lib.profiles import RunSpec, get_profile
    from hrcn_lib.train import TrainConfig, train

    given = {k: getattr(args, k) for k in _RECIPE_ARGUMENTS if getattr(args, k) is not None}
    given.update(checkpoint_every=args.checkpoint_every, max_steps=args.max_steps,
                 workers=args.workers)
    if args.profile:
        profile = get_profile(args.profile)
        spec = next((r for r in profile.runs if (r.model, r.dataset) == (args.model, args.dataset)),
                    RunSpec(args.model, args.dataset))
        config = TrainConfig.from_profile(profile, spec, **given)
    else:
        config = replace(TrainConfig(model_name=args.model, dataset_name=args.dataset), **given)
    output_folders(out=args.out, cache_dir=args.cache_dir)
    df = manifest_rows(args.manifest, "train on")
    return train(config, df, args.out, resume=args.resume, force=args.force,
                 cache_dir=args.cache_dir, progress=not args.no_progress)


def run(args: argparse.Namespace) -> int:
    """Train; log where the run ended. Returns 0."""
    args.no_progress = not show_progress(args)
    result = run_from_args(args)
    last = result.history.iloc[-1] if len(result.history) else None
    state = "finished" if result.completed else f"stopped after step {result.global_step}"
    summary = "" if last is None else (f", last epoch loss {last['loss']:.4f} "
                                       f"accuracy {last['accuracy']:.3f}")
    log.info("train: %s in %s (%s)%s", state, result.out_dir, result.precision, summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``torchrun ... -m hrcn_lib.cli.train ARGS`` (and ``python -m hrcn_lib.cli.train``).

    Exit status as ``hrcn``: 2 for usage errors (argparse), 1 for runtime errors, one
    ``hrcn train: error: ...`` line on stderr.
    """
    parser = argparse.ArgumentParser(prog="python -m hrcn_lib.cli.train",
                                     description=__doc__.split("\n\n")[0])
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        result = run_from_args(args)
    except (ValueError, OSError) as exc:
        print(f"hrcn train: error: {exc}", file=sys.stderr)
        return 1
    finally:
        import torch.distributed as dist  # loaded by the training above

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        state = "finished" if result.completed else f"stopped at step {result.global_step}"
        print(f"{state}: {result.out_dir} ({len(result.history)} epochs in history)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
