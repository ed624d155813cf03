"""Training throughput on the cpu: the fast step of ``hrcn train`` against a naive fp32 step.

For each model/data-set pair two worker processes hold the model and random inputs:

* **naive**: what a first script does -- fp32, NCHW, eager, one sample per step: forward,
  cross-entropy, backward, SGD (lr 1e-4), ``zero_grad``; PyTorch's defaults otherwise;
* **fast**: :func:`hrcn_lib.train.fit`'s step -- :func:`~hrcn_lib.train.prepare_model`
  (channels_last unless ``"auto"`` picks NCHW for the pair and ISA, shown as ", NCHW"
  beside the precision; the fused first block), :func:`~hrcn_lib.train.accumulate_gradients`
  over ``--batch-size`` samples in micro-batches of ``--micro-batch`` (the cpu profile's
  4 x 1), SGD, in the precision ``auto`` resolves to (bf16 where native; set
  ``HRCN_PRECISION=fp32`` to force fp32, the AVX2 path), inside
  :func:`~hrcn_lib.train.step_scope` (freed memory reused, float32 fully connected layers).

The parent runs one step of each alternately (``--rounds`` times after a warm-up step), so
each ratio fast/naive is measured under the same machine load; the load average is
recorded. Per pair it reports seconds per sample (median over rounds), the median ratio and
its range, the workers' peak RSS, and, against the roofline, the training FLOPs per sample
(:func:`hrcn_lib.throughput.training_flops`) over the best rate of a large convolution in
the fast step's precision measured in the fast worker (:func:`hrcn_lib.throughput.conv_peak`).

The data pipeline is measured separately (``--data DIR``: a data folder with
``lcid_manifest.csv``, e.g. ``hrcn simulate --profile cpu``'s; page-cached files): per
sample, decoding without a cache, the first read into a fresh cache (digest, decode,
float16 write) and a cached read in a new process (digest and memory-mapped read), each as
a share of the fast step's time per sample of that data set.

Prints Markdown rows for ``benchmarks/README.md`` and writes ``benchmarks/results/
train_<precision>.json``.

    .venv/bin/python benchmarks/bench_train.py [--pairs hr-celestialnet:lcid,...]
        [--rounds 3] [--data runs/cpu/data]
    HRCN_PRECISION=fp32 .venv/bin/python benchmarks/bench_train.py ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PAIRS = ("hr-celestialnet:lcid", "alexnet:lcid", "alexnet:lcid-resize", "vgg:lcid-resize",
         "resnet:lcid-resize")
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_flags() -> str:
    """The vector flags of this CPU that matter here, from /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "?"
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    have = set(line.split(":", 1)[-1].split())
    return " ".join(f for f in FLAGS if f in have) or "none of " + "/".join(FLAGS)


# --------------------------------------------------------------------------- workers


def _worker(mode: str, pair: str, batch: int, micro: int) -> None:
    """Build, warm up, then run one step per ``go`` line on stdin; JSON per step on stdout."""
    import torch
    import torch.nn.functional as F

    from hrcn_lib.models import build_model, input_size
    from hrcn_lib.runtime import resolve_device, resolve_precision
    from hrcn_lib.throughput import conv_peak
    from hrcn_lib.train import TrainConfig, accumulate_gradients, prepare_model, step_scope

    name, dataset = pair.split(":")
    torch.manual_seed(0)
    model = build_model(name, dataset).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    xs = [torch.randn(1, 1, *input_size(dataset)) for _ in range(batch)]
    ys = [torch.tensor([i % 2]) for i in range(batch)]
    info: dict = {"threads": torch.get_num_threads()}
    if mode == "naive":
        def step() -> None:
            for x, y in zip(xs, ys, strict=True):
                F.cross_entropy(model(x), y).backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
        scope = None
    else:
        cfg = TrainConfig(model_name=name, dataset_name=dataset, batch_size=batch,
                          micro_batch=micro, device="cpu")
        precision = resolve_precision(cfg.precision, resolve_device("cpu"), warn=False)
        cfg = cfg.with_layout(torch.device("cpu"), precision)
        prepare_model(model, cfg, torch.device("cpu"))
        dtype = torch.bfloat16 if precision == "bf16" else None
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        info["channels_last"] = cfg.channels_last
        batches = [(torch.cat(xs[i:i + micro]).contiguous(memory_format=fmt),
                    torch.cat(ys[i:i + micro])) for i in range(0, batch, micro)]

        def step() -> None:
            accumulate_gradients(model, iter(batches), batch, len(batches), dtype)
            opt.step()
            opt.zero_grad(set_to_none=True)
        info["precision"] = precision
        peak_dtype = torch.bfloat16 if dtype else torch.float32
        scope = step_scope(model, cfg, torch.device("cpu"))
    if scope is not None:
        scope.__enter__()
    step()  # warm-up: oneDNN primitives, allocations
    print(json.dumps({"ready": True, **info}), flush=True)
    for line in sys.stdin:
        if line.strip() == "peak" and mode == "fast":
            # asked for only while the naive worker is idle (its warm-up is over)
            print(json.dumps({"conv_peak_gflops": conv_peak(peak_dtype, repeats=10)}),
                  flush=True)
            continue
        if line.strip() != "go":
            break
        r0, c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), \
            time.perf_counter()
        step()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"wall": wall / batch, "cpu": cpu / batch,
                          "faults": (r1.ru_minflt - r0.ru_minflt) / batch}), flush=True)
    print(json.dumps({"peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}),
          flush=True)
    if scope is not None:
        scope.__exit__(None, None, None)


def _spawn(mode: str, pair: str, args: argparse.Namespace) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--worker", mode, "--pairs", pair,
           "--batch-size", str(args.batch_size), "--micro-batch", str(args.micro_batch)]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})


def _read(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"worker exited (code {proc.wait()})")
    return json.loads(line)


def measure_pair(pair: str, args: argparse.Namespace) -> dict:
    """Alternate naive and fast steps of one pair; times per sample and their ratios."""
    procs = {mode: _spawn(mode, pair, args) for mode in ("naive", "fast")}
    try:
        info = {mode: _read(p) for mode, p in procs.items()}
        # the convolution peak is measured after both warm-ups, alone on the machine: measured
        # during the naive worker's warm-up it shared the cores and came out low, so the
        # roofline read slower than the fast step itself
        procs["fast"].stdin.write("peak\n")
        procs["fast"].stdin.flush()
        info["fast"].update(_read(procs["fast"]))
        rounds = []
        for _ in range(args.rounds):
            load = os.getloadavg()[0]
            row = {}
            for mode, p in procs.items():
                p.stdin.write("go\n")
                p.stdin.flush()
                row[mode] = _read(p)
            row["load"] = (load, os.getloadavg()[0])
            rounds.append(row)
        for p in procs.values():
            p.stdin.write("stop\n")
            p.stdin.flush()
        peaks = {mode: _read(p)["peak_rss_gb"] for mode, p in procs.items()}
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait()
    ratios = sorted(r["fast"]["wall"] / r["naive"]["wall"] for r in rounds)
    return {"pair": pair, "rounds": rounds, "info": info, "peak_rss_gb": peaks,
            "naive_s": statistics.median(r["naive"]["wall"] for r in rounds),
            "fast_s": statistics.median(r["fast"]["wall"] for r in rounds),
            "fast_cpu_s": statistics.median(r["fast"]["cpu"] for r in rounds),
            "naive_cpu_s": statistics.median(r["naive"]["cpu"] for r in rounds),
            "ratio": statistics.median(ratios), "ratio_range": (ratios[0], ratios[-1]),
            "load": (rounds[0]["load"][0], rounds[-1]["load"][1])}


# --------------------------------------------------------------------------- data pipeline

_CACHED_READ = """
import json, sys, time
import pandas as pd
from hrcn_lib.datasets import make_dataset
df = pd.read_json(sys.argv[1])
ds = make_dataset(df, sys.argv[2], cache_dir=sys.argv[3])
t = time.perf_counter()
for i in range(len(ds)):
    ds[i]
print(json.dumps((time.perf_counter() - t) / len(ds)))
"""


def measure_data(data: Path, n: int) -> dict:
    """ms per sample: decode (no cache), first read into a fresh cache, cached read in a
    new process; for LCID and LCID-Resize, on the first ``n`` rows of the manifest."""
    from hrcn_lib.datasets import make_dataset
    from hrcn_lib.manifest import read_manifest
    from hrcn_lib.preprocess import warm_up

    df = read_manifest(data / "lcid_manifest.csv").iloc[:n]
    warm_up()
    out = {}
    for dataset in ("lcid", "lcid-resize"):
        plain = make_dataset(df, dataset)
        t = time.perf_counter()
        for i in range(len(plain)):
            plain[i]
        decode = (time.perf_counter() - t) / len(plain)
        with tempfile.TemporaryDirectory() as tmp:
            from hrcn_lib import samplecache

            samplecache._DIGESTS.clear()  # the first read of a run hashes every file
            cached = make_dataset(df, dataset, cache_dir=tmp)
            t = time.perf_counter()
            for i in range(len(cached)):
                cached[i]
            fill = (time.perf_counter() - t) / len(cached)
            rows = Path(tmp) / "rows.json"
            df[["path", "hdu", "label"]].to_json(rows)
            proc = subprocess.run([sys.executable, "-c", _CACHED_READ, str(rows), dataset, tmp],
                                  capture_output=True, text=True, check=True,
                                  env={**os.environ,
                                       "PYTHONPATH": str(Path(__file__).parents[1])})
            hit = json.loads(proc.stdout.strip().splitlines()[-1])
        out[dataset] = {"decode_ms": decode * 1e3, "first_read_ms": fill * 1e3,
                        "cached_read_ms": hit * 1e3, "samples": len(df)}
    return out


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", default=",".join(PAIRS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--micro-batch", type=int, default=1)
    p.add_argument("--data", type=Path, default=None,
                   help="data folder with lcid_manifest.csv: also measure the data pipeline")
    p.add_argument("--data-samples", type=int, default=8)
    p.add_argument("--worker", choices=("naive", "fast"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.pairs, args.batch_size, args.micro_batch)
        return 0
    import torch

    from hrcn_lib.runtime import isa_caps, requested_precision
    from hrcn_lib.throughput import training_flops

    record = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
              "flags": cpu_flags(), "isa_caps": isa_caps(), "torch": torch.__version__,
              "requested_precision": requested_precision(None), "pairs": {}}
    tag = record["requested_precision"]
    RESULTS.mkdir(exist_ok=True)
    print("| pair | load before/after | precision (fast) | naive fp32 s/sample | fast s/sample "
          "| fast/naive (range) | roofline s/sample | fast/roofline | peak RSS naive/fast GB |")
    for pair in args.pairs.split(","):
        res = measure_pair(pair, args)
        fast = res["info"]["fast"]
        flops = training_flops(*pair.split(":"))
        roof = flops.training / (fast["conv_peak_gflops"] * 1e9)
        res.update(training_tflop=flops.training / 1e12, roofline_s=roof)
        record["pairs"][pair] = res
        (RESULTS / f"train_{tag}.json").write_text(json.dumps(record, indent=1))
        lo, hi = res["ratio_range"]
        layout = "" if fast.get("channels_last", True) else ", NCHW"
        print(f"| {pair} | {res['load'][0]:.1f} / {res['load'][1]:.1f} | "
              f"{fast['precision']}{layout} | "
              f"{res['naive_s']:.3f} | {res['fast_s']:.3f} | {res['ratio']:.2f} "
              f"({lo:.2f}-{hi:.2f}) | {roof:.3f} | {res['fast_s'] / roof:.2f} | "
              f"{res['peak_rss_gb']['naive']:.2f} / {res['peak_rss_gb']['fast']:.2f} |",
              flush=True)
    if args.data is not None:
        data = measure_data(args.data, args.data_samples)
        record["data"] = data
        (RESULTS / f"train_{tag}.json").write_text(json.dumps(record, indent=1))
        print("| data set | decode ms | first read (digest, decode, write) ms | cached read "
              "ms | cached read / fastest step of its pairs |")
        for dataset, d in data.items():
            steps = [r["fast_s"] for k, r in record["pairs"].items() if k.endswith(":" + dataset)]
            share = f"{d['cached_read_ms'] / 1e3 / min(steps):.1%}" if steps else "-"
            print(f"| {dataset} | {d['decode_ms']:.1f} | {d['first_read_ms']:.1f} | "
                  f"{d['cached_read_ms']:.2f} | {share} |")
    caps = "".join(f", {k}={v}" for k, v in record["isa_caps"].items())
    print(f"{record['date']} UTC, {record['machine']}, flags: {record['flags']}{caps}, "
          f"torch {record['torch']}, HRCN_PRECISION={os.environ.get('HRCN_PRECISION', '')!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
