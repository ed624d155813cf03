"""GPU numbers: classification ms per sample, training samples/s and peak memory (one run).

Prepared to run once on a lent GPU (issue 18, goal 3; the device tool gives a session a
few minutes) and dry-run on the cpu beforehand (``--device cpu --dry-run``). Writes
``gpu.json`` to ``--out`` after every measurement (a run cut short keeps what it measured)
and prints Markdown rows.

For every pair of Table 3 / Table 4 (``--pairs``), as in the H100 record
(``benchmarks/recorded/``, read by the book):

* ``classify``: one sample (batch 1, input on the device, softmax included, synchronised,
  median of ``--repeats`` after ``--warmup``): naive fp32 eager, and
  :class:`hrcn_lib.inference.Predictor` (BN folded, bf16, channels_last, first block as one
  strip of 8 row-shift channels, split pools); ``predictor_h2d_ms`` adds the copy of the
  fp32 sample from pinned memory.
* ``train_fp32`` / ``train_bf16``: one SGD step (lr 1e-4) at ``--batch-size`` (the paper's
  4), plain fp32 and bf16 autocast, ms and peak ``torch.cuda.max_memory_allocated`` (GB).

Goal 3, for ``--goal-pairs`` (default HR-CelestialNet):

* ``classify_variants``: the Predictor in bf16 and in fp16, eager, replayed as a CUDA
  graph, and compiled (``torch.compile``, ``max-autotune-no-cudagraphs``, unless
  ``--no-compile``); for each the median ms at batch 1 and its exactness against fp32
  eager: max |p - p_fp32| and argmax agreement over ``--exact-samples`` random inputs.
* ``train_sweep``: :func:`hrcn_lib.train.fit`'s step (:func:`hrcn_lib.train.prepare_model`,
  :func:`hrcn_lib.train.accumulate_gradients`, the whole batch in one pass) in bf16 at
  batch 4, 8, 16, ... up to ``--max-batch`` or the first that does not fit; samples fed
  from a GPU-resident float16 cache of ``2 x batch`` samples (``gpu``) or copied per step
  from a pinned host cache (``pinned``, non-blocking); step ms, samples/s, peak GB.

cuDNN autotuning is on; TF32 stays at PyTorch's defaults.

    python benchmarks/bench_gpu.py [--out DIR] [--pairs hr-celestialnet:lcid,...]
    python benchmarks/bench_gpu.py --device cpu --dry-run     # checks every code path
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hrcn_lib.inference import Predictor, _convert  # noqa: E402
from hrcn_lib.models import build_model, input_size  # noqa: E402
from hrcn_lib.paper_numbers import PAPER_TABLE3  # noqa: E402
from hrcn_lib.train import TrainConfig, accumulate_gradients, prepare_model  # noqa: E402

PAIRS = ("hr-celestialnet:lcid", "alexnet:lcid-resize", "alexnet:lcid", "vgg:lcid-resize",
         "vgg:lcid", "resnet:lcid-resize", "resnet:lcid")

DEVICE = torch.device("cuda")


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def _empty_cache() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.empty_cache()


def _peak_gb() -> float:
    return torch.cuda.max_memory_allocated() / 1e9 if DEVICE.type == "cuda" else float("nan")


def _reset_peak() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


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


def _oom(err: BaseException) -> dict:
    return {"oom": True, "error": str(err).splitlines()[0][:200]}


# --------------------------------------------------------------------------- classification


def _classify(model: nn.Module, size: tuple[int, int], warmup: int, repeats: int) -> dict:
    """The record's classification entry: naive fp32, Predictor, Predictor + copy."""
    x_host = torch.randn(1, 1, *size)
    if DEVICE.type == "cuda":
        x_host = x_host.pin_memory()
    x = x_host.to(DEVICE)
    net = model.to(DEVICE).eval()

    def naive() -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(net(x), dim=1)

    res: dict[str, Any] = {"naive_ms": statistics.median(_time_ms(naive, warmup, repeats))}
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


def _predictor_net(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """The Predictor's rewritten network in ``dtype`` (bf16 or fp16) on the device."""
    if dtype == torch.bfloat16:
        return Predictor(model, DEVICE, bf16=True).net
    pred = Predictor(model, DEVICE, bf16=False, fc_bf16=False)
    return _convert(pred.net, DEVICE, dtype).eval()


def _graphed(net: nn.Module, x: torch.Tensor):
    """``net`` on the static input ``x`` captured as one CUDA graph; returns replay()."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.inference_mode():
        for _ in range(3):
            net(x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.inference_mode(), torch.cuda.graph(graph):
        out = net(x)

    def replay() -> torch.Tensor:
        graph.replay()
        return out
    return replay


def _classify_variants(model: nn.Module, size: tuple[int, int], args: argparse.Namespace,
                       save) -> dict:
    """Goal 3: Predictor variants, ms at batch 1 and exactness to fp32 eager."""
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(1, 1, *size, generator=g).to(DEVICE) for _ in range(args.exact_samples)]
    ref_net = model.to(DEVICE).eval()
    with torch.no_grad():
        ref = [torch.softmax(ref_net(x), dim=1).float().cpu() for x in xs]
    out: dict[str, Any] = {}
    kinds = [("bf16", torch.bfloat16), ("fp16", torch.float16)]
    modes = ["eager"] + (["cuda_graph"] if DEVICE.type == "cuda" else []) + (
        ["compiled"] if args.compile else [])
    for name, dtype in kinds:
        for mode in modes:
            key = f"{name}_{mode}"
            t0 = time.perf_counter()
            try:
                net = _predictor_net(model, dtype)
                static = xs[0].to(dtype).contiguous(memory_format=torch.channels_last)
                if mode == "compiled":
                    net = torch.compile(net, mode="max-autotune-no-cudagraphs", dynamic=False)
                if mode == "cuda_graph":
                    run = _graphed(net, static)
                else:
                    def run(net=net, static=static) -> torch.Tensor:
                        with torch.inference_mode():
                            return net(static)
                ms = statistics.median(_time_ms(run, args.warmup, args.repeats))
                diffs, agree = [], 0
                for x, p_ref in zip(xs, ref, strict=True):
                    static.copy_(x.to(dtype).contiguous(memory_format=torch.channels_last))
                    p = torch.softmax(run().float(), dim=1).cpu()
                    diffs.append(float((p - p_ref).abs().max()))
                    agree += int(p.argmax(1).item() == p_ref.argmax(1).item())
                out[key] = {"ms": ms, "max_abs_prob_diff": max(diffs),
                            "argmax_agree": f"{agree}/{len(xs)}",
                            "setup_s": time.perf_counter() - t0 - ms * (args.warmup
                                                                        + args.repeats) / 1e3}
            except Exception as err:  # noqa: BLE001 -- a variant that fails is reported
                out[key] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"}
            del net
            _empty_cache()
            save()
    return out


# --------------------------------------------------------------------------- training


def _train_step(name: str, dataset: str, size: tuple[int, int], batch: int, bf16: bool,
                steps: int) -> dict:
    """The record's training entry: one plain SGD step, fp32 or bf16 autocast."""
    torch.manual_seed(0)
    model = build_model(name, dataset).to(DEVICE).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 1, *size, device=DEVICE)
    y = torch.arange(batch, device=DEVICE) % 2
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    _reset_peak()
    try:
        times = _time_ms(step, 2, steps)
    except torch.OutOfMemoryError as err:
        return _oom(err)
    return {"oom": False, "step_ms": statistics.median(times), "peak_gb": _peak_gb()}


def _fit_step_sweep(name: str, dataset: str, size: tuple[int, int], args: argparse.Namespace,
                    save) -> list[dict]:
    """Goal 3: fit's bf16 step at growing batch sizes, fed from a device or pinned cache."""
    rows: list[dict] = []
    batch = args.batch_size
    while batch <= args.max_batch:
        for feed in ("gpu", "pinned"):
            if feed == "pinned" and DEVICE.type != "cuda":
                continue
            row: dict[str, Any] = {"batch": batch, "feed": feed}
            model = opt = cache = staging = None
            try:
                torch.manual_seed(0)
                cfg = TrainConfig(model_name=name, dataset_name=dataset, batch_size=batch,
                                  micro_batch=batch, precision="bf16", device=DEVICE.type)
                model = prepare_model(build_model(name, dataset), cfg, DEVICE).train()
                opt = torch.optim.SGD(model.parameters(), lr=1e-4)
                n = 2 * batch
                host = torch.randn(n, 1, *size).half()
                labels = (torch.arange(n) % 2).to(DEVICE)
                if feed == "gpu":
                    cache = host.to(DEVICE)
                else:
                    cache = host.pin_memory()
                    staging = torch.empty((batch, 1, *size), dtype=torch.float16).pin_memory()
                order = torch.Generator().manual_seed(0)

                step = functools.partial(_fit_step, model, opt, cache, staging, labels,
                                         order, n, batch, feed)

                _reset_peak()
                times = _time_ms(step, 2, args.steps)
                ms = statistics.median(times)
                row.update(oom=False, step_ms=ms, samples_per_s=batch / ms * 1e3,
                           peak_gb=_peak_gb())
            except torch.OutOfMemoryError as err:
                row.update(_oom(err))
            del model, opt, cache, staging
            _empty_cache()
            rows.append(row)
            save()
        if any(r.get("oom") for r in rows if r["batch"] == batch):
            break
        batch *= 2
    return rows


def _fit_step(model, opt, cache, staging, labels, order, n: int, batch: int,
              feed: str) -> None:
    """One bf16 training step of ``batch`` samples drawn from ``cache`` (GPU-resident when
    ``feed == "gpu"``, else pinned host memory copied through ``staging``)."""
    idx = torch.randperm(n, generator=order)[:batch]
    if feed == "gpu":
        x = cache[idx.to(DEVICE)]
    else:
        torch.index_select(cache, 0, idx, out=staging)
        x = staging.to(DEVICE, non_blocking=True)
    x = x.contiguous(memory_format=torch.channels_last)
    accumulate_gradients(model, iter([(x, labels[idx.to(DEVICE)])]), batch, 1, torch.bfloat16)
    opt.step()
    opt.zero_grad(set_to_none=True)


def _fmt(r: dict) -> str:
    return "OOM" if r.get("oom") else f"{r['step_ms']:.0f} ms, {r['peak_gb']:.2f} GB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    ap.add_argument("--pairs", default=",".join(PAIRS))
    ap.add_argument("--goal-pairs", default="hr-celestialnet:lcid",
                    help="pairs that also get the goal-3 variants and the batch sweep")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--exact-samples", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--no-compile", dest="compile", action="store_false")
    ap.add_argument("--device", default="cuda", help="cuda (default); cpu only to dry-run")
    ap.add_argument("--dry-run", action="store_true",
                    help="minimal repeats and sizes, HR-CelestialNet only: checks the code paths")
    args = ap.parse_args(argv)
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: no CUDA device", file=sys.stderr)
        return 2
    if args.dry_run:
        args.pairs = args.goal_pairs
        args.warmup, args.repeats, args.exact_samples, args.steps = 1, 1, 2, 1
        args.batch_size, args.max_batch = 1, 2
        args.compile = args.compile and DEVICE.type == "cuda"
    torch.backends.cudnn.benchmark = True
    args.out.mkdir(parents=True, exist_ok=True)
    name = "gpu.json" if not args.dry_run else "gpu_dryrun.json"
    record: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "device": torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu (dry run)",
        "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
        "python": platform.python_version(), "batch_size": args.batch_size, "pairs": {}}

    def save() -> None:
        (args.out / name).write_text(json.dumps(record, indent=1, default=str))

    paper = {(r.model, r.dataset): r for r in PAPER_TABLE3.itertuples()}
    goal = set(args.goal_pairs.split(","))
    for pair in args.pairs.split(","):
        model_name, dataset = pair.split(":")
        size = input_size(dataset)
        res: dict = {}
        record["pairs"][pair] = res
        try:
            torch.manual_seed(0)
            res["classify"] = _classify(build_model(model_name, dataset), size, args.warmup,
                                        args.repeats)
        except torch.OutOfMemoryError as err:
            res["classify"] = _oom(err)
        _empty_cache()
        for prec, bf16 in (("fp32", False), ("bf16", True)):
            res[f"train_{prec}"] = _train_step(model_name, dataset, size, args.batch_size,
                                               bf16, args.steps)
            _empty_cache()
        row = paper.get((model_name, dataset))
        if row is not None:
            res["paper_table3"] = {k: v for k, v in row._asdict().items() if k != "Index"}
        save()
        c, f, b = res["classify"], res["train_fp32"], res["train_bf16"]
        print(f"| {record['device']} | {pair} | {c.get('naive_ms', float('nan')):.2f} | "
              f"{c.get('predictor_ms', float('nan')):.2f} | "
              f"{c.get('predictor_h2d_ms', float('nan')):.2f} | {_fmt(f)} | {_fmt(b)} |",
              flush=True)
        if pair in goal:
            res["train_sweep"] = _fit_step_sweep(model_name, dataset, size, args, save)
            for r in res["train_sweep"]:
                print(f"| {pair} | fit step bf16 | batch {r['batch']} | feed {r['feed']} | "
                      + ("OOM" if r.get("oom") else f"{r['step_ms']:.1f} ms | "
                         f"{r['samples_per_s']:.1f} samples/s | {r['peak_gb']:.2f} GB") + " |",
                      flush=True)
            torch.manual_seed(0)
            res["classify_variants"] = _classify_variants(build_model(model_name, dataset),
                                                          size, args, save)
            for key, v in res["classify_variants"].items():
                print(f"| {pair} | classify {key} | " + (
                    v["error"] if "error" in v else
                    f"{v['ms']:.2f} ms | max dp {v['max_abs_prob_diff']:.1e} | argmax "
                    f"{v['argmax_agree']}") + " |", flush=True)
        save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
