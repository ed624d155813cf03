"""Seconds of training per sample of model/data-set pairs on real LCID-sim samples.

Trains each pair for two epochs on ``N`` samples of the body-level training split (batch
``N``, the given micro-batch, AdamW with a one-cycle schedule and flips, precision ``auto``)
with :func:`hrcn_lib.train.train`, the samples read from a preprocessed-sample cache, and
prints the seconds per sample of each epoch (the second excludes first-touch costs) with the
load average. Used to size the profiles' epochs and caps (benchmarks/README.md).

    PYTHONPATH=. .venv/bin/python benchmarks/train_speed.py --data DATA --cache CACHE \\
        hr-celestialnet:lcid:4:1 alexnet:lcid:4:4 vgg:lcid-resize:32:16
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="LCID-sim folder")
    p.add_argument("--cache", type=Path, required=True, help="preprocessed-sample cache folder")
    p.add_argument("pairs", nargs="+", help="MODEL:DATASET:N:MICRO_BATCH")
    args = p.parse_args(argv)

    from hrcn_lib.chapters.context import limit_samples
    from hrcn_lib.manifest import read_manifest, split_by_body
    from hrcn_lib.train import TrainConfig, train

    train_df, _ = split_by_body(read_manifest(args.data / "lcid_manifest.csv"), 0.2, 0)
    for item in args.pairs:
        model, dataset, n, micro = item.split(":")
        rows = limit_samples(train_df, int(n), 0)
        cfg = TrainConfig(model_name=model, dataset_name=dataset, epochs=2, batch_size=int(n),
                          micro_batch=int(micro), optimizer="adamw", lr=1e-3,
                          schedule="onecycle", flips=True, checkpoint_every=0)
        with tempfile.TemporaryDirectory() as tmp:
            res = train(cfg, rows, tmp, cache_dir=args.cache, progress=False)
        sec = res.history["seconds"].to_numpy() / int(n)
        print(f"{model} {dataset} n={n} micro={micro}: s/sample epoch 1 {sec[0]:.2f}, "
              f"epoch 2 {sec[1]:.2f} ({res.precision}, load {os.getloadavg()[0]:.1f})",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
