"""BatchNorm over one sample: does a trained network answer the same in eval mode as in training?

A network with BatchNorm trained one sample per forward pass (micro-batch 1 with gradient
accumulation) normalises every sample by its own statistics while it learns; evaluated, it
normalises by the running statistics instead. This script loads a trained run and, for the
first ``--n`` rows of a manifest (shuffled with ``--seed``), compares

* ``p_nsc`` in **eval mode** (running statistics, what :mod:`hrcn_lib.evaluate` does) with
  ``p_nsc`` under **per-sample statistics** (each BatchNorm in training mode on one sample,
  running statistics untouched: what training saw);
* per BatchNorm layer, in eval mode, the median over samples of ``var(sample) /
  running_var`` and ``|mean(sample) - running_mean| / sqrt(running_var)`` (medians over
  channels): a variance ratio that falls layer by layer means the activations shrink until
  the classifier sees a constant.

    PYTHONPATH=. .venv/bin/python benchmarks/batchnorm_probe.py runs/x/models/hr-celestialnet_lcid \\
        --manifest runs/x/splits/train.csv --cache runs/x/cache --n 24

About 10 s per full-resolution sample on the 2-core CPU (two forward passes). Results in
benchmarks/README.md ("BatchNorm over one sample").
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from hrcn_lib.datasets import make_dataset
from hrcn_lib.manifest import read_manifest
from hrcn_lib.runtime import load_trained_model, resolve_device, resolve_precision


@contextmanager
def per_sample_statistics(bns: list[nn.BatchNorm2d]) -> Iterator[None]:
    """Inside, each BatchNorm normalises by its input's own statistics (training mode) and
    leaves its running statistics as they are (momentum 0); restored on exit."""
    saved = [(b.training, b.momentum, b.num_batches_tracked.clone()) for b in bns]
    for b in bns:
        b.train()
        b.momentum = 0.0
    try:
        yield
    finally:
        for b, (training, momentum, tracked) in zip(bns, saved, strict=True):
            b.train(training)
            b.momentum = momentum
            b.num_batches_tracked.copy_(tracked)


def probe(model: nn.Module, samples: list[tuple[torch.Tensor, int]],
          dtype: torch.dtype | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both modes on every sample.

    Args:
        model: a trained network in eval mode, float32, on the cpu.
        samples: (x float32 (1, H, W), label 0/1) pairs.
        dtype: the autocast dtype (bf16) or ``None`` for float32.

    Returns:
        (per sample: label, p_eval, p_sample; per layer: var_ratio, mean_shift), the layer
        table the median over samples of the eval-mode ratios.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    ratios: list[tuple[float, float]] = []

    def hook(bn: nn.BatchNorm2d, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        if bn.training:
            return
        x = inputs[0].float()
        mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
        std = bn.running_var.sqrt()
        ratios.append((float((var / bn.running_var).median()),
                       float(((mean - bn.running_mean).abs() / std).median())))

    handles = [b.register_forward_hook(hook) for b in bns]
    rows, per_layer = [], []
    try:
        for x, label in samples:
            ratios.clear()
            p = {}
            for mode in ("eval", "sample"):
                with torch.no_grad(), torch.autocast("cpu", dtype=dtype or torch.float32,
                                                     enabled=dtype is not None):
                    if mode == "sample":
                        with per_sample_statistics(bns):
                            logits = model(x[None])
                    else:
                        logits = model(x[None])
                p[mode] = float(torch.softmax(logits.float(), 1)[0, 1])
            rows.append({"label": label, "p_eval": p["eval"], "p_sample": p["sample"]})
            per_layer.append(list(ratios))
    finally:
        for h in handles:
            h.remove()
    arr = np.array(per_layer)  # samples x layers x 2
    layers = pd.DataFrame({"var_ratio": np.median(arr[..., 0], 0),
                           "mean_shift": np.median(arr[..., 1], 0)},
                          index=pd.RangeIndex(1, arr.shape[1] + 1, name="batchnorm"))
    return pd.DataFrame(rows), layers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a trained run directory (model.pt)")
    p.add_argument("--manifest", type=Path, required=True, help="a manifest or split file (hrcn_lib.manifest)")
    p.add_argument("--cache", type=Path, default=None, help="preprocessed-sample cache folder")
    p.add_argument("--n", type=int, default=24, help="samples probed")
    p.add_argument("--seed", type=int, default=1, help="shuffle of the manifest's rows")
    args = p.parse_args(argv)
    model = load_trained_model(args.run)
    cfg = getattr(model, "hrcn_config", {})
    df = read_manifest(args.manifest).sample(frac=1, random_state=args.seed).iloc[:args.n]
    ds = make_dataset(df, cfg.get("dataset_name", "lcid"), cache_dir=args.cache)
    bf16 = resolve_precision("auto", resolve_device("cpu"), warn=False) == "bf16"
    samples, layers = probe(model, [ds[i] for i in range(len(ds))],
                            torch.bfloat16 if bf16 else None)
    print(f"run {args.run} (micro-batch {cfg.get('micro_batch')}, epochs {cfg.get('epochs')}), "
          f"{len(samples)} rows of {args.manifest}, {'bf16' if bf16 else 'fp32'}")
    for mode in ("eval", "sample"):
        prob = samples[f"p_{mode}"]
        acc = float(((prob > 0.5).astype(int) == samples["label"]).mean())
        near = int((prob.sub(prob.median()).abs() < 0.005).sum())
        print(f"{mode:>6}: accuracy {acc:.3f}; p_nsc median {prob.median():.3f}, "
              f"sd {prob.std():.3f}, {near}/{len(prob)} within 0.005 of the median")
    print(layers.round(3).T.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
