"""HR-CelestialNet's training step at the paper's batch of 4, by samples per forward pass.

``hrcn_lib.train.fit``'s step (``prepare_model``: channels_last and the fused first block;
``accumulate_gradients``; float32 fully connected layers; precision ``auto``; AdamW) on four
random 2048 x 4096 samples, passed 1, 2 or 4 at a time. Each micro-batch size runs in a fresh
process (three steps; the first warms oneDNN up), so its peak RSS is its own. Why it matters:
BatchNorm normalises each forward pass by its own statistics, and a network trained one sample
per pass collapses in eval mode (README, "BatchNorm over one sample").

    PYTHONPATH=. .venv/bin/python benchmarks/bench_micro_batch.py [--micro 1 2 4]

About 3 minutes on the 2-core CPU. Results in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone


def one(micro: int) -> dict:
    """Three steps of batch 4 in passes of ``micro``; seconds per step and peak RSS (GB)."""
    import torch

    from hrcn_lib.models import build_model
    from hrcn_lib.profiles import RunSpec, get_profile
    from hrcn_lib.runtime import resolve_precision
    from hrcn_lib.train import TrainConfig, accumulate_gradients, prepare_model, step_scope

    cfg = TrainConfig.from_profile(get_profile("record-cpu"), RunSpec("hr-celestialnet", "lcid"),
                                   micro_batch=micro, batch_size=4)
    dev = torch.device("cpu")
    net = prepare_model(build_model("hr-celestialnet", "lcid"), cfg, dev).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    precision = resolve_precision(cfg.precision, dev, warn=False)
    dtype = torch.bfloat16 if precision == "bf16" else None
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(4, 1, 2048, 4096, generator=gen).contiguous(memory_format=torch.channels_last)
    ys = torch.tensor([0, 1, 0, 1])
    seconds = []
    with step_scope(net, cfg, dev):
        for _ in range(3):
            t = time.perf_counter()
            passes = [(xs[j:j + micro], ys[j:j + micro]) for j in range(0, 4, micro)]
            accumulate_gradients(net, passes, 4, len(passes), dtype)
            opt.step()
            opt.zero_grad(set_to_none=True)
            seconds.append(time.perf_counter() - t)
    return {"micro_batch": micro, "precision": precision, "step_s": seconds,
            "s_per_sample": min(seconds[1:]) / 4,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--micro", type=int, nargs="+", default=[1, 2, 4],
                   help="samples per forward pass (each divides 4)")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(one(args.child)))
        return 0
    if any(m < 1 or 4 % m for m in args.micro):
        p.error(f"--micro: each value must divide the batch of 4, got {args.micro}")
    from hrcn_lib.recording import cpu_flags

    cpu = cpu_flags()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {cpu['model']}, "
          f"{cpu.get('cores')} cores, {' '.join(cpu['flags'])}; "
          f"load {os.getloadavg()[0]:.1f}")
    print("| micro-batch | precision | steps (s) | s per sample (best of steps 2-3) | peak RSS GB |")
    print("|---|---|---|---|---|")
    for m in args.micro:
        out = subprocess.run([sys.executable, __file__, "--child", str(m)], capture_output=True,
                             text=True, check=False)
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        steps = " / ".join(f"{s:.1f}" for s in r["step_s"])
        print(f"| {m} | {r['precision']} | {steps} | {r['s_per_sample']:.2f} | "
              f"{r['peak_rss_gb']:.2f} |")
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
