"""Training step time and peak memory of HR-CelestialNet at full resolution (2048x4096).

Each configuration runs in its own process (so peak RSS is that configuration's) and
trains ``--steps`` optimizer steps of effective batch ``--batch-size`` with
:func:`hrcn_lib.train.fit` on synthetic samples held in memory (the engine is measured,
not the preprocessing). Prints a Markdown row and writes JSON to benchmarks/results/.

    .venv/bin/python benchmarks/bench_train.py --micro-batch 1 --checkpoint-activations
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _child(args: argparse.Namespace) -> dict:
    import torch
    from torch.utils.data import TensorDataset

    from hrcn_lib.models import build_model
    from hrcn_lib.train import TrainConfig, fit

    torch.manual_seed(0)
    n = args.batch_size * args.steps
    x = torch.randn(n, 1, 2048, 4096)
    y = torch.arange(n) % 2
    model = build_model("hr-celestialnet", "lcid")
    cfg = TrainConfig(model_name="hr-celestialnet", dataset_name="lcid", epochs=1,
                      batch_size=args.batch_size, micro_batch=args.micro_batch,
                      precision=args.precision, device=args.device,
                      checkpoint_activations=args.checkpoint_activations, checkpoint_every=0,
                      channels_last=not args.no_channels_last)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = fit(model, TensorDataset(x, y), tmp, cfg, progress=False)
        wall = time.perf_counter() - t0
    return {"seconds_per_step": res.history["seconds"].iloc[0] / args.steps,
            "wall_s_incl_checkpoint_write": wall, "precision_effective": res.precision,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
            "input_bytes_gb": x.numel() * 4 / 1e9}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--micro-batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "auto"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--checkpoint-activations", action="store_true")
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args)))
        return 0
    load_before = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, __file__, "--child", *(argv or sys.argv[1:])],
                          capture_output=True, text=True)
    if proc.returncode:
        print(proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(vars(args), load_before=load_before, load_after=os.getloadavg()[0],
               date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
               machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus")
    out.pop("child")
    RESULTS.mkdir(exist_ok=True)
    tag = f"train_b{args.batch_size}_mb{args.micro_batch}_{args.precision}" + (
        "_ckpt" if args.checkpoint_activations else "")
    (RESULTS / f"{tag}.json").write_text(json.dumps(out, indent=2))
    print(f"| {out['date']} | {out['load_before']:.1f} / {out['load_after']:.1f} | "
          f"{args.batch_size} | {args.micro_batch} | {out['precision_effective']} | "
          f"{'yes' if args.checkpoint_activations else 'no'} | "
          f"{out['seconds_per_step']:.1f} | {out['peak_rss_gb']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
