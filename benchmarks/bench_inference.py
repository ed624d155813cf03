"""Inference of one 2048x4096 sample: naive fp32 eager vs :class:`hrcn_lib.inference.Predictor`.

Each mode runs in a fresh process that loads the model from a checkpoint file and
predicts (``--repeats`` times, the first call reported separately), so the peak RSS is
that of "a process that loads the model and predicts once" (plus repeats of the same
call, which allocate nothing new).

* ``naive``: ``build_model`` + ``load_state_dict(torch.load(...))``, ``model.eval()``,
  ``torch.no_grad()``, fp32, NCHW, softmax.
* ``fast``: ``Predictor.from_checkpoint`` (memory-mapped checkpoint, BN folded, first block in
  row strips, channels_last, FC weights in bf16, bf16 convolutions only where native).

Each child also reports its resident set after importing torch and hrcn_lib (what any such
process holds before it loads a model) and after loading the model, so the peak splits into
the libraries' share, the weights' and the call's.

A third process runs both modes alternately, naive then fast, ``--repeats`` times. The
ratio of each pair is measured under nearly the same machine load, which matters on a
shared machine. Prints Markdown rows and writes benchmarks/results/inference_<model>.json.

    .venv/bin/python benchmarks/bench_inference.py [--model hr-celestialnet] [--repeats 3]
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
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _write_checkpoint(model_name: str, dataset: str, path: Path) -> None:
    """A model.pt like hrcn train writes, with random weights and non-trivial BN stats."""
    import torch

    from hrcn_lib.models import build_model
    from hrcn_lib.runtime import MODEL_FORMAT, save_checkpoint
    from hrcn_lib.train import TrainConfig

    torch.manual_seed(0)
    model = build_model(model_name, dataset)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    cfg = TrainConfig(model_name=model_name, dataset_name=dataset)
    from dataclasses import asdict
    save_checkpoint(path, {"format": MODEL_FORMAT, "version": 1, "config": asdict(cfg),
                           "precision": "fp32", "model": model.state_dict()})


def _rss_gb() -> float:
    """This process's resident set now, GB (``VmRSS`` of /proc/self/status on Linux; the
    peak so far, ``ru_maxrss``, where /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _child(mode: str, ckpt: Path, repeats: int, dataset: str, device: str) -> dict:
    import torch

    from hrcn_lib.inference import Predictor
    from hrcn_lib.models import build_model, input_size

    rss_imported = _rss_gb()  # what any process that imports torch and hrcn_lib holds
    torch.manual_seed(1)
    x = torch.randn(1, 1, *input_size(dataset))
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    t0 = time.perf_counter()
    if mode == "naive":
        payload = torch.load(ckpt, weights_only=True)
        model = build_model(payload["config"]["model_name"], dataset)
        model.load_state_dict(payload["model"])
        del payload
        model.eval().to(device)

        def predict() -> torch.Tensor:
            with torch.no_grad():
                return torch.softmax(model(x.to(device)), dim=1).cpu()
    else:
        predictor = Predictor.from_checkpoint(ckpt, device=device)

        def predict() -> torch.Tensor:
            return predictor(x)
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_gb()
    times, probs = [], None
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        probs = predict()
        sync()
        times.append(time.perf_counter() - t)
    return {"mode": mode, "load_s": load_s, "first_s": times[0], "times_s": times,
            "best_s": min(times), "probs": probs.tolist(),
            "rss_imported_gb": rss_imported, "rss_loaded_gb": rss_loaded,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}


def _paired(ckpt: Path, repeats: int, dataset: str, device: str) -> dict:
    """Both modes in one process, called alternately: paired timings share the load."""
    import torch

    from hrcn_lib.inference import Predictor
    from hrcn_lib.models import build_model, input_size

    torch.manual_seed(1)
    x = torch.randn(1, 1, *input_size(dataset))
    payload = torch.load(ckpt, weights_only=True)
    model = build_model(payload["config"]["model_name"], dataset)
    model.load_state_dict(payload["model"])
    model.eval().to(device)
    del payload
    predictor = Predictor.from_checkpoint(ckpt, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    predictor(x)  # warm-up of both
    with torch.no_grad():
        model(x.to(device))
    pairs = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        with torch.no_grad():
            torch.softmax(model(x.to(device)), dim=1).cpu()
        sync()
        t1 = time.perf_counter()
        predictor(x)
        sync()
        t2 = time.perf_counter()
        pairs.append((t1 - t0, t2 - t1))
    ratios = sorted(a / b for a, b in pairs)
    return {"pairs_s": pairs, "median_ratio": ratios[len(ratios) // 2],
            "min_ratio": ratios[0], "max_ratio": ratios[-1]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="hr-celestialnet")
    p.add_argument("--dataset", default="lcid")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu", help="cpu or cuda (both modes use it)")
    p.add_argument("--child", choices=("naive", "fast", "paired"), help=argparse.SUPPRESS)
    p.add_argument("--ckpt", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child == "paired":
        print(json.dumps(_paired(args.ckpt, args.repeats, args.dataset, args.device)))
        return 0
    if args.child:
        print(json.dumps(_child(args.child, args.ckpt, args.repeats, args.dataset, args.device)))
        return 0
    RESULTS.mkdir(exist_ok=True)
    ckpt = RESULTS / f"bench_{args.model}_{args.dataset}_model.pt"
    _write_checkpoint(args.model, args.dataset, ckpt)
    rows = {}
    for mode in ("naive", "fast", "paired"):
        load = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, __file__, "--child", mode, "--ckpt", str(ckpt),
                               "--model", args.model, "--dataset", args.dataset,
                               "--repeats", str(args.repeats), "--device", args.device], capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        rows[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        rows[mode].update(load_before=load, load_after=os.getloadavg()[0])
    ckpt.unlink()
    n, f, paired = rows["naive"], rows["fast"], rows.pop("paired")
    diff = max(abs(a - b) for a, b in zip(n["probs"][0], f["probs"][0], strict=True))
    from hrcn_lib.throughput import machine  # torch only now: the children ran without it here

    out = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
           "machine": machine(),
           "model": args.model, "dataset": args.dataset, "device": args.device, "naive": n, "fast": f,
           "speedup_best": n["best_s"] / f["best_s"], "paired": paired,
           "max_prob_diff": diff}
    (RESULTS / f"inference_{args.model}_{args.dataset}.json").write_text(json.dumps(out, indent=2))
    for mode, r in rows.items():
        print(f"| {out['date']} | {r['load_before']:.1f} / {r['load_after']:.1f} | {args.model} | "
              f"{args.device} {mode} | {r['first_s']:.2f} | {r['best_s']:.2f} | {r['peak_rss_gb']:.2f} |")
    print("peak RSS in parts (GB): | mode | after importing torch and hrcn_lib | model loaded "
          "| peak |")
    for mode, r in rows.items():
        print(f"| {mode} | {r['rss_imported_gb']:.3f} | {r['rss_loaded_gb']:.3f} | "
              f"{r['peak_rss_gb']:.3f} |")
    print(f"speed-up (best of {args.repeats}, separate processes): {out['speedup_best']:.2f}x; "
          f"paired in one process: median {paired['median_ratio']:.2f}x "
          f"(range {paired['min_ratio']:.2f}-{paired['max_ratio']:.2f}, load "
          f"{paired['load_before']:.1f}/{paired['load_after']:.1f}); "
          f"max |p_fast - p_naive| = {diff:.2e}")
    print(out["machine"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
