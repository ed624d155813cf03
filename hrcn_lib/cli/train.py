"""``hrcn train``: train one model/dataset pair with the paper's recipe (resumable)."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(subparsers) -> None:
    """Add the ``train`` sub-command."""
    from hrcn_lib.train import add_train_arguments

    p = subparsers.add_parser(
        "train", help="train a model (SGD lr 1e-4, batch 4, cross-entropy, 20 epochs by default)",
        description="Train build_model(MODEL, DATASET) on the samples of a manifest with the "
        "paper's recipe (every value overridable). The run directory receives config.json, "
        "history.csv, checkpoint.pt (atomic, every epoch and every --checkpoint-every steps) "
        "and model.pt. --resume continues a killed run exactly; a folder that holds another "
        "run is refused unless --resume or --force (which deletes that run's files). Training "
        "stops at the first NaN/inf loss (exit 1, no model.pt). For several processes: "
        "torchrun --nproc_per_node=K -m hrcn_lib.train (same arguments).")
    add_train_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train; print where the run ended. Returns 0."""
    from hrcn_lib.train import run_from_args

    result = run_from_args(args)
    last = result.history.iloc[-1] if len(result.history) else None
    state = "finished" if result.completed else f"stopped after step {result.global_step}"
    summary = "" if last is None else (f", last epoch loss {last['loss']:.4f} "
                                       f"accuracy {last['accuracy']:.3f}")
    print(f"train: {state} in {result.out_dir} ({result.precision}){summary}")
    return 0
