"""Training throughput: the arithmetic a step needs, the rate a machine reaches, and the
rate a run reached.

* :func:`training_flops` -- floating-point operations of one training sample of a model
  (convolutions and fully connected layers, forward and backward), counted on the meta
  device: HR-CelestialNet at 2048 x 4096 needs 1.04 TFLOP (forward 355.7 GFLOP).
* :func:`conv_peak` -- the rate this machine reaches on a large convolution of
  HR-CelestialNet (its conv3, 32 -> 64 channels, 7 x 7) in a precision, in GFLOP/s: the
  roofline a training step is compared with (``benchmarks/bench_train.py``).
* :func:`run_throughput` -- what a training run reached, from its run folder
  (``history.csv`` and ``config.json``): seconds per sample, samples/s, GFLOP/s; the
  hardware chapter shows it for the pairs the book trained, with :func:`machine`.

FLOPs count a multiply-add as two operations.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from hrcn_lib.models import build_model
from hrcn_lib.names import INPUT_SIZES
from hrcn_lib.paths import ModelRun

__all__ = ["FlopCount", "training_flops", "conv_peak", "run_throughput", "machine",
           "CPU_FLAGS"]

#: The CPU features that decide the training path: AVX2 (fp32), AVX512-BF16 / AMX (bf16).
CPU_FLAGS: tuple[str, ...] = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


@dataclass(frozen=True)
class FlopCount:
    """Floating-point operations of one sample (a multiply-add counts 2).

    Attributes:
        forward: the forward pass's convolutions and fully connected layers.
        training: forward + backward (weight gradients of every layer, input gradients of
            every layer but the first, whose input needs none).
        conv_training: the convolutions' part of ``training``.
    """

    forward: float
    training: float
    conv_training: float


def training_flops(model: str | nn.Module, dataset: str) -> FlopCount:
    """FLOPs of one training sample of ``model`` on ``dataset``'s input size (meta device).

    Args:
        model: a name of :func:`hrcn_lib.models.build_model` or a module (not modified;
            its tensors are not used).
        dataset: ``"lcid"`` or ``"lcid-resize"`` (the input size).

    Raises:
        KeyError: unknown dataset; ModelConfigError: unknown model.
    """
    h, w = INPUT_SIZES[dataset]
    with torch.device("meta"):
        net = build_model(model, dataset) if isinstance(model, str) else model
        macs: list[tuple[bool, float]] = []  # (is conv, multiply-adds), in call order

        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if isinstance(module, nn.Conv2d):
                k = math.prod(module.kernel_size) * module.in_channels // module.groups
                macs.append((True, float(output.numel() * k)))
            elif isinstance(module, nn.Linear):
                macs.append((False, float(output.numel() * module.in_features)))

        handles = [m.register_forward_hook(hook) for m in net.modules()
                   if isinstance(m, (nn.Conv2d, nn.Linear))]
        try:
            state = {n: torch.empty_like(t, device="meta")
                     for n, t in [*net.named_parameters(), *net.named_buffers()]}
            with torch.no_grad():
                torch.func.functional_call(net.eval(), state, (torch.empty(1, 1, h, w),))
        finally:
            for handle in handles:
                handle.remove()
    forward = 2 * sum(m for _, m in macs)
    first = 2 * macs[0][1] if macs else 0.0
    conv = 2 * sum(m for is_conv, m in macs if is_conv)
    return FlopCount(forward=forward, training=3 * forward - first,
                     conv_training=3 * conv - (first if macs and macs[0][0] else 0.0))


def conv_peak(dtype: torch.dtype = torch.bfloat16, *, repeats: int = 5,
              rows: int = 128) -> float:
    """GFLOP/s of HR-CelestialNet's conv3 (32 -> 64 channels, 7 x 7, channels_last) on a
    strip of ``rows`` x 1021 inputs in ``dtype`` on the cpu: the best of ``repeats`` calls
    after a warm-up, with torch's current thread count.

    Raises:
        RuntimeError: the dtype has no cpu convolution here.
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 32, rows, 1021, generator=g).to(dtype).contiguous(
        memory_format=torch.channels_last)
    weight = torch.randn(64, 32, 7, 7, generator=g).to(dtype).contiguous(
        memory_format=torch.channels_last)
    flop = 2.0 * 64 * (rows - 6) * (1021 - 6) * 32 * 49
    best = math.inf
    with torch.no_grad():
        torch.nn.functional.conv2d(x, weight)
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.nn.functional.conv2d(x, weight)
            best = min(best, time.perf_counter() - t0)
    return flop / best / 1e9


def run_throughput(runs: dict[str, Path | str]) -> pd.DataFrame:
    """What each training run reached, from its run folder.

    Args:
        runs: run label -> run folder (``hrcn train --out``) holding ``config.json`` and
            ``history.csv``; folders without a history are skipped.

    Returns:
        DataFrame indexed by run label: ``precision``, ``layout`` (``channels_last`` or
        ``NCHW``, what :func:`hrcn_lib.train.fit` used; ``?`` when the folder does not say),
        ``device``, ``trained on`` (the :func:`machine` line of the call that trained it
        last, "not recorded" in folders written before it was kept), ``samples`` (trained, all
        epochs), ``s per sample`` and ``samples per s`` (over every epoch, data loading
        and checkpoints included), ``TFLOP per sample`` (:func:`training_flops`) and
        ``GFLOP/s`` reached.
    """
    rows = []
    for label, folder in runs.items():
        run = ModelRun(Path(folder))
        if not (run.history.is_file() and run.config.is_file()):
            continue
        cfg = json.loads(run.config.read_text())
        history = pd.read_csv(run.history)
        seconds = float(history["seconds"].sum())
        samples = int(cfg.get("n_samples", 0)) * len(history)
        if seconds <= 0 or samples <= 0:
            continue
        flops = training_flops(cfg["model_name"], cfg["dataset_name"]).training
        layout = {True: "channels_last", False: "NCHW"}.get(cfg.get("channels_last"), "?")
        rows.append({"run": label, "precision": cfg.get("precision_effective", "?"),
                     "layout": layout,
                     "device": cfg.get("device_effective", "?"),
                     "trained on": cfg.get("machine", "not recorded"), "samples": samples,
                     "s per sample": seconds / samples, "samples per s": samples / seconds,
                     "TFLOP per sample": flops / 1e12,
                     "GFLOP/s": flops * samples / seconds / 1e9})
    columns = ["precision", "layout", "device", "trained on", "samples", "s per sample",
               "samples per s",
               "TFLOP per sample", "GFLOP/s"]
    return pd.DataFrame(rows, columns=["run", *columns]).set_index("run")


def machine() -> str:
    """One line on this machine: CPU model, logical cores, torch threads, the vector
    features of :data:`CPU_FLAGS` it has (Linux ``/proc/cpuinfo``), whether it computes
    bf16 natively (:func:`hrcn_lib.runtime.native_bf16`), and CUDA devices if any."""
    from hrcn_lib.runtime import isa_caps, native_bf16

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    have = " ".join(f for f in CPU_FLAGS if f in flags) or "unknown"
    text = (f"{model}, {os.cpu_count()} logical cores, torch {torch.get_num_threads()} "
            f"threads; {have}; bf16 {'native' if native_bf16(torch.device('cpu')) else 'emulated'}"
            " on the cpu")
    caps = isa_caps()
    if caps:
        text += "; instruction set capped by " + ", ".join(f"{k}={v}" for k, v in caps.items())
    if torch.cuda.is_available():
        text += f"; CUDA: {torch.cuda.get_device_name()}"
    return text
