"""Precise BatchNorm: does recomputing a trained network's running statistics change its answers?

A BatchNorm network is evaluated with running statistics, an exponential average (momentum
0.1) of the per-batch statistics of training's last few dozen steps, taken while the weights
still moved. "Precise BatchNorm" recomputes them at the final weights: every BatchNorm's
statistics are reset and re-accumulated as a plain average (momentum ``None``) over one pass
of the training set in training mode, without gradients
(:func:`torch.optim.swa_utils.update_bn`), in batches of the size training used per pass.

This script loads a trained run, evaluates a set with its stored statistics, recalibrates
them on a training manifest, evaluates the set again, and prints both: accuracy with its 95 %
interval (bootstrap over bodies), the confusion matrix, and how many samples get
``p_nsc`` within 0.005 of the median (:func:`hrcn_lib.metrics.answers_alike`). HR-CelestialNet's
first block runs fused (:mod:`hrcn_lib.models.stem`) in channels_last as :func:`hrcn_lib.train.fit`
runs it, so the statistics are those training's step computes.

    PYTHONPATH=. .venv/bin/python benchmarks/batchnorm_recalibration.py runs/x/models/hr-celestialnet_lcid \\
        --train runs/x/splits/train.csv --test runs/x/splits/test.csv --cache runs/x/cache

About 1.5 s per training sample and 1 s per evaluated sample (twice) for HR-CelestialNet on
the 2-core CPU. Nothing is written; results in benchmarks/README.md ("Precise BatchNorm").
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from hrcn_lib.datasets import make_dataset, make_loader
from hrcn_lib.evaluate import EvalResult, evaluate
from hrcn_lib.manifest import read_manifest
from hrcn_lib.metrics import answers_alike, bootstrap_accuracy
from hrcn_lib.models.checkpointing import set_fused_stem
from hrcn_lib.recording import cpu_flags
from hrcn_lib.runtime import load_trained_model, resolve_device, resolve_precision


def _inputs(loader: torch.utils.data.DataLoader) -> Iterator[torch.Tensor]:
    """The loader's images in channels_last, as fit feeds them."""
    for x, _y in loader:
        yield x.contiguous(memory_format=torch.channels_last)


def recalibrate(model: nn.Module, loader: torch.utils.data.DataLoader,
                dtype: torch.dtype | None) -> None:
    """Replace every BatchNorm's running statistics by their plain average over ``loader``.

    Args:
        model: float32 network on the cpu; left in eval mode, contiguous memory format.
        loader: yields (x float32 (B, 1, H, W), y) batches.
        dtype: the autocast dtype (bf16) or ``None`` for float32.
    """
    model.to(memory_format=torch.channels_last)
    set_fused_stem(model, True)
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=dtype or torch.float32,
                                             enabled=dtype is not None):
            update_bn(_inputs(loader), model)
    finally:
        set_fused_stem(model, False)
        model.to(memory_format=torch.contiguous_format).eval()


def _report(label: str, result: EvalResult) -> None:
    pred = result.predictions
    correct = (pred["label"] == pred["prediction"]).to_numpy()
    lo, hi = bootstrap_accuracy(correct, pred["body"].to_numpy())
    print(f"{label:>12}: accuracy {correct.mean():.3f} [{lo:.3f}, {hi:.3f}], "
          f"confusion {result.confusion.tolist()}, "
          f"{answers_alike(pred['p_nsc'])}/{len(pred)} alike, "
          f"p_nsc median {pred['p_nsc'].median():.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a trained run directory (model.pt)")
    p.add_argument("--train", type=Path, required=True, help="the run's training split")
    p.add_argument("--test", type=Path, required=True, help="the set evaluated before and after")
    p.add_argument("--cache", type=Path, default=None, help="preprocessed-sample cache folder")
    p.add_argument("--batch", type=int, default=None,
                   help="samples per pass (default: the run's micro-batch)")
    args = p.parse_args(argv)
    model = load_trained_model(args.run)
    cfg = getattr(model, "hrcn_config", {})
    name = cfg.get("dataset_name", "lcid")
    batch = args.batch or int(cfg.get("micro_batch") or cfg.get("batch_size") or 4)
    bf16 = resolve_precision("auto", resolve_device("cpu"), warn=False) == "bf16"
    cpu = cpu_flags()
    print(f"run {args.run} ({name}, micro-batch {cfg.get('micro_batch')}, "
          f"epochs {cfg.get('epochs')}), {'bf16' if bf16 else 'fp32'}; {cpu['model']}, "
          f"{' '.join(cpu['flags'])}")
    test = read_manifest(args.test)
    _report("stored", evaluate(model, test, name, cache_dir=args.cache, progress=False))
    train = read_manifest(args.train)
    loader = make_loader(make_dataset(train, name, cache_dir=args.cache), batch,
                         shuffle=True, seed=0)
    start = time.perf_counter()
    recalibrate(model, loader, torch.bfloat16 if bf16 else None)
    print(f"recalibrated on {len(train)} training samples, {batch} per pass, "
          f"{time.perf_counter() - start:.0f} s")
    _report("recalibrated", evaluate(model, test, name, cache_dir=args.cache, progress=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
