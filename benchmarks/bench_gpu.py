"""GPU numbers: classification ms per sample and one training step's time and peak memory.

For every model/dataset pair of the paper (Table 3 / Table 4) on one CUDA device:

* **classification** of one sample (batch 1), input already on the device, softmax
  included, synchronised, median of ``--repeats`` after ``--warmup`` calls:
  ``naive`` (fp32 eager, ``model.eval()``, ``torch.no_grad()``) and ``predictor``
  (:class:`hrcn_lib.inference.Predictor`: BN folded, bf16 where native, channels_last);
  ``predictor+h2d`` adds the host-to-device copy of the fp32 sample from pinned memory.
* **training**: one SGD step (lr 1e-4, the paper's recipe) at batch ``--batch-size`` (the
  paper's 4) in fp32 and in bf16 autocast, ms per step (median) and peak
  ``torch.cuda.max_memory_allocated`` (GB, 1e9 bytes), beside Table 3's estimate. A pair
  that does not fit reports ``OOM``.

cuDNN autotuning is on (``torch.backends.cudnn.benchmark``), TF32 is left at PyTorch's
defaults. Writes ``gpu.json`` to ``--out`` (default ``benchmarks/results``) after every pair
and prints Markdown rows.

    python benchmarks/bench_gpu.py [--out DIR] [--pairs hr-celestialnet:lcid,alexnet:lcid-resize]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hrcn_lib.inference import Predictor  # noqa: E402
from hrcn_lib.models import build_model, input_size  # noqa: E402
from hrcn_lib.paper_numbers import PAPER_TABLE3  # noqa: E402

PAIRS = ("hr-celestialnet:lcid", "alexnet:lcid-resize", "alexnet:lcid", "vgg:lcid-resize",
         "vgg:lcid", "resnet:lcid-resize", "resnet:lcid")


DEVICE = "cuda"


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _empty_cache() -> None:
    if DEVICE == "cuda":
        torch.cuda.empty_cache()


def _time_ms(fn, warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        fn()
    _sync()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def _classify(model: nn.Module, size: tuple[int, int], warmup: int, repeats: int) -> dict:
    x_host = torch.randn(1, 1, *size)
    if DEVICE == "cuda":
        x_host = x_host.pin_memory()
    x = x_host.to(DEVICE)
    net = model.to(DEVICE).eval()

    def naive() -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(net(x), dim=1)

    res = {"naive_ms": statistics.median(_time_ms(naive, warmup, repeats))}
    pred = Predictor(model, DEVICE)
    xp = x.to(pred._dtype).contiguous(memory_format=torch.channels_last)

    def fast() -> torch.Tensor:
        with torch.inference_mode():
            return torch.softmax(pred.net(xp).float(), dim=1)

    def fast_h2d() -> torch.Tensor:
        with torch.inference_mode():
            xi = x_host.to(DEVICE, non_blocking=True).to(pred._dtype).contiguous(
                memory_format=torch.channels_last)
            return torch.softmax(pred.net(xi).float(), dim=1)

    res["predictor_ms"] = statistics.median(_time_ms(fast, warmup, repeats))
    res["predictor_h2d_ms"] = statistics.median(_time_ms(fast_h2d, warmup, repeats))
    res["predictor_bf16"] = pred.bf16
    res["predictor_strips"] = pred.strip
    with torch.inference_mode():
        p_naive, p_fast = naive().float().cpu(), fast().float().cpu()
    res["max_abs_prob_diff"] = float((p_naive - p_fast).abs().max())
    return res


def _train_step(name: str, dataset: str, size: tuple[int, int], batch: int, bf16: bool,
                steps: int) -> dict:
    torch.manual_seed(0)
    model = build_model(name, dataset).to(DEVICE).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 1, *size, device=DEVICE)
    y = torch.arange(batch, device=DEVICE) % 2
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        times = _time_ms(step, 2, steps)
    except torch.OutOfMemoryError as err:
        return {"oom": True, "error": str(err).splitlines()[0][:200]}
    finally:
        peak = torch.cuda.max_memory_allocated() / 1e9 if DEVICE == "cuda" else float("nan")
    return {"oom": False, "step_ms": statistics.median(times), "peak_gb": peak}


def _fmt(r: dict) -> str:
    return f"{r['step_ms']:.0f} ms, {r['peak_gb']:.2f} GB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    ap.add_argument("--pairs", default=",".join(PAIRS))
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cuda", help="cuda (default); cpu only to dry-run the script")
    args = ap.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: no CUDA device", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
              "device": torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu (dry run)",
        "torch": torch.__version__,
              "cudnn": torch.backends.cudnn.version(), "python": platform.python_version(),
              "batch_size": args.batch_size, "pairs": {}}
    paper = {(r.model, r.dataset): r for r in PAPER_TABLE3.itertuples()}
    for pair in args.pairs.split(","):
        name, dataset = pair.split(":")
        size = input_size(dataset)
        res: dict = {}
        try:
            torch.manual_seed(0)
            res["classify"] = _classify(build_model(name, dataset), size, args.warmup,
                                        args.repeats)
        except torch.OutOfMemoryError as err:
            res["classify"] = {"oom": True, "error": str(err).splitlines()[0][:200]}
        _empty_cache()
        for prec, bf16 in (("fp32", False), ("bf16", True)):
            res[f"train_{prec}"] = _train_step(name, dataset, size, args.batch_size, bf16,
                                               args.steps)
            _empty_cache()
        row = paper.get((name, dataset))
        if row is not None:
            res["paper_table3"] = {k: v for k, v in row._asdict().items() if k != "Index"}
        record["pairs"][pair] = res
        (args.out / "gpu.json").write_text(json.dumps(record, indent=1, default=str))
        _empty_cache()
        c, f, b = res["classify"], res["train_fp32"], res["train_bf16"]
        print(f"| {record['device']} | {pair} | {c.get('naive_ms', float('nan')):.2f} | "
              f"{c.get('predictor_ms', float('nan')):.2f} | "
              f"{c.get('predictor_h2d_ms', float('nan')):.2f} | "
              f"{'OOM' if f['oom'] else _fmt(f)} | "
              f"{'OOM' if b['oom'] else _fmt(b)} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
