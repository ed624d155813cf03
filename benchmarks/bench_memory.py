"""Measured peak memory of one HR-CelestialNet training step vs the Table 3 estimate.

Each configuration runs in a fresh Python process (``measure_peak_memory``):
build the model, one SGD step (forward, cross-entropy, backward, update) on a
random (batch, 1, 2048, 4096) input, report the process's peak RSS. The
estimate is torchsummary's (:func:`hrcn_lib.hardware.estimate_training_memory`)
for the same batch size, the accounting of the paper's Table 3.

Usage::

    .venv/bin/python benchmarks/bench_memory.py                 # the four default configs
    .venv/bin/python benchmarks/bench_memory.py --configs fp32 fp32-ckpt4 --batch-size 1

Writes ``benchmarks/results/bench_memory.json`` (git-ignored) and prints a
Markdown table. Memory: a fp32 step at batch 1 peaks at ~6 GB RSS (bf16: ~4.4 GB);
on a CPU without native bf16 the bf16 configs take ~10 min each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from hrcn_lib.hardware import estimate_training_memory, measure_peak_memory
from hrcn_lib.models import build_model

#: name -> (precision, channels_last, checkpoint segments)
CONFIGS: dict[str, tuple[str, bool, int]] = {
    "fp32": ("fp32", False, 0),
    "fp32-ckpt4": ("fp32", False, 4),
    "fp32-ckpt12": ("fp32", False, 12),
    "fp32-cl": ("fp32", True, 0),
    "bf16-cl": ("bf16", True, 0),
    "bf16-cl-ckpt4": ("bf16", True, 4),
}
DEFAULT = ("fp32", "fp32-ckpt4", "bf16-cl", "bf16-cl-ckpt4")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(DEFAULT), choices=list(CONFIGS))
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_memory.json"))
    args = parser.parse_args(argv)

    with torch.device("meta"):
        model = build_model("hr-celestialnet", "lcid")
    estimate = estimate_training_memory(model, (2048, 4096), args.batch_size)
    rows = []
    for name in args.configs:
        precision, channels_last, segments = CONFIGS[name]
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        res = measure_peak_memory("hr-celestialnet", (2048, 4096), args.batch_size, "cpu",
                                  precision, channels_last=channels_last,
                                  checkpoint_segments=segments, threads=args.threads,
                                  timeout_s=3 * 3600)
        rows.append({"config": name, **asdict(res), "load_before": load,
                     "wall_s": time.perf_counter() - t0})
        print(f"{name}: peak {res.peak_mb:.0f} MB, training {res.training_mb:.0f} MB, "
              f"step {res.seconds:.1f} s (load {load:.1f})", file=sys.stderr, flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"estimate": asdict(estimate), "runs": rows}, indent=1))
    print(f"torchsummary estimate, batch {args.batch_size}: {estimate.total_mb:.0f} MB "
          f"({estimate.total_gb:.2f} GB)\n")
    print("| config | precision | channels_last | ckpt segments | peak RSS (MB) | "
          "start RSS (MB) | training = peak - start (MB) | step (s) | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['precision']} | {r['channels_last']} | "
              f"{r['checkpoint_segments']} | {r['peak_mb']:.0f} | {r['start_mb']:.0f} | "
              f"{r['training_mb']:.0f} | {r['seconds']:.1f} | {r['load_before']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
