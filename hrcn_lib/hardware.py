"""Model complexity and memory: the paper's Tables 2 and 3, computed, and measured memory.

* :func:`layer_table` -- Table 2 (layer, type, kernel, stride, output size,
  activation, trainable parameters) read off a module with forward hooks on
  the ``meta`` device (no memory, no FLOPs).
* :func:`estimate_training_memory` -- the torchsummary estimate the paper used
  for Table 3 ("input size + forward/backward pass size + params size"), on
  the ``meta`` device, so the 211 GB VGG case costs nothing.
* :func:`table3` -- Table 3 for the paper's seven model/data-set pairs (the paper's
  printed Table 3 is :data:`hrcn_lib.paper_numbers.PAPER_TABLE3`).
* :func:`measure_peak_memory` -- the real peak memory of one training step
  (peak RSS of a fresh process on CPU, ``torch.cuda.max_memory_allocated`` on GPU);
  :func:`measured_memory` -- that for several pairs, kept in a table file and reused.

Which torchsummary. The paper's footnote links the ``torch-summary`` package
(PyPI), but its Table 3 is reproduced to every printed digit only by the
accounting of the original ``torchsummary`` (sksq96/pytorch-summary, shipped as
``torchsummary/old_version.py`` inside torch-summary 1.0), called as
``summary(model, (1, H, W), batch_size=4)``:

* a forward hook on every module that is not ``nn.Sequential``/``nn.ModuleList``
  (the root model included; a module called twice counts twice);
* forward/backward size = 2 ("x2 for gradients") x 4 bytes x the sum over
  hooked calls of the output's element count, with the batch dimension set to
  ``batch_size`` -- so ReLU, pooling and dropout outputs count, not only
  parameterised layers;
* params size = 4 bytes x the ``weight`` and ``bias`` elements of each hooked
  call (BatchNorm's affine parameters included, buffers not);
* input size = 4 bytes x batch_size x C x H x W; MB = 2**20 bytes; the
  paper's GB = that MB / 1024.

torch-summary 1.4.5's own ``ModelStatistics`` (outputs of parameterised leaf
modules only, batch dimension dropped) gives e.g. 1.06 GB instead of 6.21 GB
for AlexNet on LCID, so it is not what the paper ran.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.func import functional_call

from hrcn_lib.models import build_model, set_activation_checkpointing
from hrcn_lib.names import INPUT_SIZES, MODEL_NAMES, PAIRS, pair_label
from hrcn_lib.paths import atomic_write
from hrcn_lib.runtime import resolve_device, resolve_precision

__all__ = [
    "BYTES_PER_VALUE",
    "MB",
    "MemoryEstimate",
    "PeakMemory",
    "layer_table",
    "estimate_training_memory",
    "table3",
    "measure_peak_memory",
    "measured_memory",
    "PEAK_MEMORY_COLUMNS",
]

#: torchsummary's assumption: every value is a 4-byte float.
BYTES_PER_VALUE: int = 4
#: torchsummary's megabyte (and the paper's): 2**20 bytes.
MB: int = 2**20

_LAYER_TYPES: dict[type, str] = {
    nn.Conv2d: "Convolution",
    nn.MaxPool2d: "Max Pooling",
    nn.AvgPool2d: "Average Pooling",
    nn.AdaptiveAvgPool2d: "Adaptive Average Pooling",
    nn.Linear: "Fully Connected",
    nn.Dropout: "Dropout",
}
_ACTIVATIONS = (nn.ReLU, nn.Softmax, nn.Sigmoid, nn.Tanh, nn.GELU, nn.LeakyReLU)
_SKIPPED = (nn.Flatten, nn.Identity)


def _chw(size: Sequence[int]) -> tuple[int, int, int]:
    """(C, H, W) from (H, W) (one channel) or (C, H, W); ValueError otherwise."""
    size = tuple(int(s) for s in size)
    if len(size) == 2:
        size = (1, *size)
    if len(size) != 3 or min(size) < 1:
        raise ValueError(f"input_size must be (H, W) or (C, H, W) of positive ints, got {size}")
    return size


def _meta_call(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``model`` on a meta tensor with meta copies of its parameters and buffers.

    The model's own tensors are neither copied nor modified (BatchNorm's
    running statistics are updated on the meta stand-ins only).
    """
    state = {name: torch.empty_like(t, device="meta")
             for name, t in [*model.named_parameters(), *model.named_buffers()]}
    with torch.no_grad():
        return functional_call(model, state, (x,), strict=False)


def _pair(value: int | tuple[int, ...]) -> str:
    a, b = (value, value) if isinstance(value, int) else value
    return f"{a}x{b}"


def layer_table(model: nn.Module, input_size: Sequence[int]) -> pd.DataFrame:
    """The paper's Table 2 for ``model``, computed on the meta device.

    One row per executed leaf layer (convolution, pooling, fully connected,
    dropout, ...) after an ``Input`` row. As in the paper, BatchNorm layers get
    no row and their parameters are *not* in ``trainable_params`` (Table 2's
    conv1: 32*1*7*7 + 32 = 1,600, without BatchNorm's 64); they are reported in
    ``batchnorm_params`` of the layer they follow. Activation modules fill the
    ``activation`` column of the layer they follow; the last fully connected
    layer is the ``Output`` row, whose activation is the model's
    ``output_activation`` attribute (HR-CelestialNet: ``"Softmax"``, applied at
    evaluation) or ``"-"``.

    Args:
        model: any ``nn.Module`` (parameters on any device; not modified).
        input_size: (H, W) or (C, H, W) of one sample, pixels.

    Returns:
        DataFrame with columns ``layer`` (str: ``"-"`` for the input, then
        ``"1"``, ``"2"``, ...), ``type``, ``kernel`` (``"7x7"`` or ``"-"``),
        ``stride``, ``output_size`` (tuple: (C, H, W) or (features,)),
        ``activation``, ``trainable_params`` (int), ``batchnorm_params`` (int),
        ``module`` (the module's qualified name).

    Raises:
        ValueError: bad ``input_size``; the model's own ValueError subclass for
            an input it cannot take.
    """
    chw = _chw(input_size)
    names = {m: n for n, m in model.named_modules()}
    # counted before the call: inside functional_call the parameters are swapped out
    trainable = {m: sum(p.numel() for p in m.parameters(recurse=False) if p.requires_grad)
                 for m in model.modules()}
    rows: list[dict] = [dict(layer="-", type="Input", kernel="-", stride="-", output_size=chw,
                             activation="-", trainable_params=0, batchnorm_params=0, module="")]

    def hook(module: nn.Module, _inputs: tuple, output: object) -> None:
        shape = (tuple(int(s) for s in output.shape[1:]) if isinstance(output, torch.Tensor)
                 else ())
        if isinstance(module, _ACTIVATIONS):
            rows[-1]["activation"] = type(module).__name__
            return
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            rows[-1]["batchnorm_params"] += trainable[module]
            return
        if isinstance(module, _SKIPPED):
            return
        kind = next((label for cls, label in _LAYER_TYPES.items() if isinstance(module, cls)),
                    type(module).__name__)
        kernel = getattr(module, "kernel_size", None)
        stride = getattr(module, "stride", None)
        rows.append(dict(
            layer=str(len(rows)), type=kind,
            kernel=_pair(kernel) if kernel is not None else "-",
            stride=_pair(stride) if stride is not None else "-",
            output_size=shape, activation="-",
            trainable_params=trainable[module],
            batchnorm_params=0, module=names.get(module, "")))

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        _meta_call(model, torch.empty(1, *chw, device="meta"))
    finally:
        for h in handles:
            h.remove()
    linear_rows = [r for r in rows if r["type"] == "Fully Connected"]
    if linear_rows:
        linear_rows[-1]["type"] = "Output"
        linear_rows[-1]["activation"] = getattr(model, "output_activation", "-")
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class MemoryEstimate:
    """torchsummary's training-memory estimate (sizes in MB = 2**20 bytes).

    Attributes:
        input_mb: batch of inputs, 4 bytes/value.
        forward_backward_mb: 2 x every hooked module output (see module docstring).
        params_mb: weights and biases, 4 bytes each.
        total_mb: the sum of the three ("Estimated Total Size (MB)").
        params: parameter count behind ``params_mb``.
        batch_size: batch size of the estimate.
    """

    input_mb: float
    forward_backward_mb: float
    params_mb: float
    total_mb: float
    params: int
    batch_size: int

    @property
    def total_gb(self) -> float:
        """``total_mb / 1024``: the unit of the paper's Table 3 "Estimated total Size (GB)"."""
        return self.total_mb / 1024


def estimate_training_memory(model: nn.Module, input_size: Sequence[int],
                             batch_size: int = 4) -> MemoryEstimate:
    """torchsummary's (sksq96) estimate of training memory, computed on the meta device.

    Equals ``torchsummary.summary(model, (C, H, W), batch_size=batch_size)`` of
    the package the paper used (see the module docstring for the accounting).
    Costs no memory and no FLOPs whatever the model and input size.

    Args:
        model: the network (parameters on any device; not modified).
        input_size: (H, W) or (C, H, W) of one sample, pixels.
        batch_size: samples per batch (paper: 4).

    Raises:
        ValueError: bad ``input_size`` or ``batch_size`` < 1; the model's own
            ValueError subclass for an input it cannot take.
    """
    chw = _chw(input_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    outputs: list[int] = []
    params: list[int] = []

    def hook(module: nn.Module, _inputs: tuple, output: object) -> None:
        if isinstance(output, torch.Tensor):
            outputs.append(batch_size * math.prod(output.shape[1:]))
        else:  # torchsummary keeps no shape for tuple outputs of tensors: np.prod([]) == 1
            outputs.append(1)
        n = 0
        for attr in ("weight", "bias"):
            tensor = getattr(module, attr, None)
            if tensor is not None and hasattr(tensor, "size"):
                n += tensor.numel()
        params.append(n)

    hooked = [m for m in model.modules() if not isinstance(m, (nn.Sequential, nn.ModuleList))]
    handles = [m.register_forward_hook(hook) for m in hooked]
    try:  # torchsummary runs a batch of 2 "for batchnorm"; shapes scale to batch_size
        _meta_call(model, torch.empty(2, *chw, device="meta"))
    finally:
        for h in handles:
            h.remove()
    to_mb = BYTES_PER_VALUE / MB
    input_mb = math.prod(chw) * batch_size * to_mb
    fb_mb = 2 * sum(outputs) * to_mb
    params_mb = sum(params) * to_mb
    return MemoryEstimate(input_mb, fb_mb, params_mb, input_mb + fb_mb + params_mb,
                          sum(params), batch_size)


def table3(batch_size: int = 4) -> pd.DataFrame:
    """Table 3 computed: torchsummary's estimate for the paper's seven pairs.

    Models are built on the meta device (nothing allocated). Rounded to two
    decimals (``.round(2)``) the columns ``input_mb``, ``model_mb`` and
    ``total_gb`` equal the paper's printed values
    (:data:`hrcn_lib.paper_numbers.PAPER_TABLE3`).

    Returns:
        DataFrame, one row per pair in the paper's order, columns ``model``,
        ``dataset``, ``image_size`` (``"224 x 448"``), ``input_mb``,
        ``model_mb``, ``total_gb`` (unrounded floats), then ``params`` (int),
        ``forward_backward_mb`` and ``total_mb``.
    """
    rows = []
    for name, dataset in PAIRS:
        h, w = INPUT_SIZES[dataset]
        with torch.device("meta"):
            model = build_model(name, dataset)
        est = estimate_training_memory(model, (1, h, w), batch_size)
        rows.append(dict(model=name, dataset=dataset, image_size=f"{h} x {w}",
                         input_mb=est.input_mb, model_mb=est.params_mb, total_gb=est.total_gb,
                         params=est.params, forward_backward_mb=est.forward_backward_mb,
                         total_mb=est.total_mb))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class PeakMemory:
    """Measured memory of one training step (MB = 2**20 bytes).

    Attributes:
        peak_mb: CPU: peak resident set size of the measuring process (whole
            process: Python, torch, model, data, step); GPU: peak allocated by
            torch's caching allocator.
        start_mb: memory before the model was built (CPU: RSS after importing
            torch; GPU: allocated, normally 0).
        before_step_mb: memory with model, optimizer and input in place.
        training_mb: ``peak_mb - start_mb``: what the step needed on top of an
            idle process (comparable with torchsummary's total).
        step_mb: ``peak_mb - before_step_mb``: activations, gradients and
            workspace of the step alone.
        seconds: wall time of the step (s).
        model, input_size, batch_size, device, precision, channels_last,
        checkpoint_segments: what was measured.
        method: how (``"ru_maxrss of a fresh process"`` or
            ``"torch.cuda.max_memory_allocated"``).
    """

    peak_mb: float
    start_mb: float
    before_step_mb: float
    training_mb: float
    step_mb: float
    seconds: float
    model: str
    input_size: tuple[int, int]
    batch_size: int
    device: str
    precision: str
    channels_last: bool
    checkpoint_segments: int
    method: str


def _rss_mb() -> float:
    """Current resident set size of this process, MB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MB


def _max_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def _training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: str,
                   precision: str) -> None:
    """One SGD step (the paper's optimizer, lr 1e-4) with cross-entropy loss."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _fit_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: dict) -> None:
    """One step as :func:`hrcn_lib.train.fit` runs it on the cpu: the model prepared by
    ``prepare_model`` (its layout, ``channels_last="auto"``; the fused first block), the batch
    in one pass under ``step_scope`` (float32 fully connected layers), then the paper's SGD
    update."""
    from hrcn_lib.train import TrainConfig, accumulate_gradients, prepare_model, step_scope

    n = int(x.shape[0])
    dataset = next((d for d, size in INPUT_SIZES.items()
                    if tuple(size) == tuple(cfg["input_size"])), "lcid")
    dev = torch.device("cpu")
    # prepare_model and step_scope read only the hardware fields and the pair's names
    config = TrainConfig(model_name=cfg["model"], dataset_name=dataset, batch_size=n,
                         micro_batch=n, precision=cfg["precision"], device="cpu",
                         checkpoint_activations=cfg["checkpoint_segments"] > 0
                         ).with_layout(dev, cfg["precision"])
    net = prepare_model(model, config, dev).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-4)
    dtype = torch.bfloat16 if cfg["precision"] == "bf16" else None
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    with step_scope(net, config, dev):
        accumulate_gradients(net, [(x.contiguous(memory_format=fmt), y)], n, 1, dtype)
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _measure_here(cfg: dict) -> dict:
    """Build, step and measure in this process (the worker of :func:`measure_peak_memory`)."""
    device, gpu = cfg["device"], cfg["device"].startswith("cuda")
    if gpu:
        torch.cuda.reset_peak_memory_stats(device)
    start = torch.cuda.memory_allocated(device) / MB if gpu else _rss_mb()
    if cfg.get("model_path"):
        model = torch.load(cfg["model_path"], weights_only=False)
    else:  # the baselines are one module for both data sets; HR-CelestialNet is LCID-only
        model = build_model(cfg["model"], "lcid")
    set_activation_checkpointing(model, cfg["checkpoint_segments"])
    fmt = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    model = model.to(device=device, memory_format=fmt).train()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(cfg["batch_size"], 1, *cfg["input_size"], generator=generator)
    x = x.to(device=device, memory_format=fmt)
    y = torch.randint(0, 2, (cfg["batch_size"],), generator=generator).to(device)
    before = torch.cuda.memory_allocated(device) / MB if gpu else _rss_mb()
    fit_step = bool(cfg.get("fit_step")) and not gpu
    t0 = time.perf_counter()
    if fit_step:
        _fit_step(model, x, y, cfg)
    else:
        _training_step(model, x, y, "cuda" if gpu else "cpu", cfg["precision"])
    if gpu:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / MB if gpu else _max_rss_mb()
    method = "torch.cuda.max_memory_allocated" if gpu else "ru_maxrss of a fresh process"
    if fit_step:
        method += ", fit's step"
    return dict(peak_mb=peak, start_mb=start, before_step_mb=before, seconds=seconds,
                method=method)


def _peak_memory_child() -> None:
    """Subprocess entry point: JSON config on stdin, JSON result on stdout's last line."""
    cfg = json.loads(sys.stdin.read())
    torch.set_num_threads(cfg.get("threads") or torch.get_num_threads())
    print(json.dumps(_measure_here(cfg)))


def measure_peak_memory(model: str | nn.Module, input_size: Sequence[int] = (2048, 4096),
                        batch_size: int = 1, device: str = "cpu", precision: str = "fp32", *,
                        channels_last: bool = False, checkpoint_segments: int = 0,
                        threads: int | None = None, timeout_s: float = 3600,
                        fit_step: bool = False) -> PeakMemory:
    """Peak memory of one real training step (forward, cross-entropy, backward, SGD).

    On CPU the step runs in a fresh Python process and the result is that
    process's peak RSS (``ru_maxrss``), so nothing the caller allocated earlier
    counts; on CUDA it runs here, between ``reset_peak_memory_stats`` and
    ``max_memory_allocated``.

    Args:
        model: a name of :data:`hrcn_lib.models.MODEL_NAMES` (built fresh), or
            a module (on CPU it is saved to a temporary file and loaded by the
            child process).
        input_size: (H, W) of the input, pixels.
        batch_size: samples in the step.
        device: ``"cpu"`` or ``"cuda"`` / ``"cuda:N"``.
        precision: ``"fp32"`` or ``"bf16"`` (autocast).
        channels_last: run model and input in ``torch.channels_last``.
        checkpoint_segments: activation checkpointing segments (0: off), see
            :func:`hrcn_lib.models.set_activation_checkpointing`.
        threads: torch threads of the CPU child (default: torch's default).
        timeout_s: limit for the CPU child process, seconds.
        fit_step: on CPU, step as :func:`hrcn_lib.train.fit` does (channels_last, the fused
            first block, float32 fully connected layers, the batch in one pass) instead of
            a plain eager step; ignored on CUDA.

    Raises:
        ValueError: unknown model name, precision or device, bad sizes, or the
            child process failing (its stderr tail is in the message).
    """
    if isinstance(model, str) and model not in MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}: expected one of {list(MODEL_NAMES)}")
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    hw = _chw(input_size)[1:]
    name = model if isinstance(model, str) else type(model).__name__
    cfg = dict(model=name, input_size=list(hw), batch_size=batch_size, device=device,
               precision=precision, channels_last=channels_last,
               checkpoint_segments=checkpoint_segments, threads=threads, fit_step=fit_step)
    if device.startswith("cuda"):
        if not isinstance(model, str):
            raise ValueError("on CUDA pass a model name: the model is built inside the measurement")
        result = _measure_here(cfg)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            if not isinstance(model, str):
                cfg["model_path"] = str(Path(tmp) / "module.pt")
                torch.save(model, cfg["model_path"])
            result = _run_child(cfg, timeout_s)
    return PeakMemory(
        peak_mb=result["peak_mb"], start_mb=result["start_mb"],
        before_step_mb=result["before_step_mb"],
        training_mb=result["peak_mb"] - result["start_mb"],
        step_mb=result["peak_mb"] - result["before_step_mb"], seconds=result["seconds"],
        model=name, input_size=hw, batch_size=batch_size, device=device, precision=precision,
        channels_last=channels_last, checkpoint_segments=checkpoint_segments,
        method=result["method"])


def _run_child(cfg: dict, timeout_s: float) -> dict:
    """Run :func:`_peak_memory_child` in a fresh interpreter; its parsed JSON result."""
    code = "from hrcn_lib.hardware import _peak_memory_child; _peak_memory_child()"
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(cfg), text=True,
                          capture_output=True, timeout=timeout_s, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise ValueError(f"memory measurement of {cfg['model']} at {cfg['input_size']} failed "
                         f"(exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- a table of them

#: Columns of the table of :func:`measured_memory` (after the ``run`` index).
PEAK_MEMORY_COLUMNS: tuple[str, ...] = ("peak_mb", "training_mb", "step_s", "micro_batch",
                                        "precision", "checkpoint_segments", "device", "note")
_PEAK_MEMORY_NUMBERS = ("peak_mb", "training_mb", "step_s", "micro_batch", "checkpoint_segments")


def measured_memory(pairs: Sequence[tuple[str, str]], cache: Path | str, *,
                    micro_batch: int | Mapping[tuple[str, str], int] = 1,
                    precision: str = "auto", device: str = "auto",
                    checkpoint_segments: int = 0, max_pixels: int | None = None,
                    measure: bool = True, fit_step: bool = False) -> pd.DataFrame:
    """Peak memory of one training step of each pair, measured once and kept in ``cache``.

    Each step runs with ``micro_batch`` samples, the effective precision
    (:func:`hrcn_lib.runtime.resolve_precision`: bf16 only where the hardware has it) and
    ``checkpoint_segments`` (0: no activation checkpointing), via
    :func:`measure_peak_memory` (a fresh process on CPU). The table is written to ``cache``
    (atomically) and read from there on later calls.

    Args:
        pairs: (model, data set) pairs, in the table's order.
        cache: the table file (e.g. :attr:`hrcn_lib.paths.RunPaths.peak_memory`).
        micro_batch: samples per forward pass of the measured step: one number for every
            pair, or one per pair (``{(model, data set): n}``, as a profile trains them:
            HR-CelestialNet at 2048 x 4096 one at a time, the resize baselines 16).
        precision, device, checkpoint_segments: the training step measured.
        max_pixels: pairs whose input has more pixels are listed as not measured (a run
            without the time or memory for them); ``None``: every pair is measured.
        measure: measure when nothing is cached (``False``: only read the cache).
        fit_step: measure the step as :func:`hrcn_lib.train.fit` runs it on a CPU (see
            :func:`measure_peak_memory`).

    Returns:
        DataFrame indexed by run label (:func:`hrcn_lib.names.pair_label`) with
        :data:`PEAK_MEMORY_COLUMNS`: ``peak_mb``, ``training_mb`` (peak minus an idle
        process), ``step_s`` (s), ``micro_batch``, ``precision``, ``checkpoint_segments``,
        ``device``, ``note``; empty when ``measure`` is false and nothing is cached.

    Raises:
        ValueError: a cached file that is not such a table (names it; delete it to measure
            again), or a measurement that fails (see :func:`measure_peak_memory`).
    """
    cache = Path(cache)
    if cache.exists():
        return _read_peak_memory(cache)
    if not measure:
        return pd.DataFrame()
    dev = resolve_device(device)
    effective = resolve_precision(precision, dev, warn=False)
    rows = []
    for model, dataset in pairs:
        h, w = INPUT_SIZES[dataset]
        micro = (micro_batch if isinstance(micro_batch, int)
                 else int(micro_batch.get((model, dataset), 1)))
        row = {"run": pair_label(model, dataset), "peak_mb": float("nan"),
               "training_mb": float("nan"), "step_s": float("nan"), "micro_batch": micro,
               "precision": effective, "checkpoint_segments": checkpoint_segments,
               "device": dev.type, "note": ""}
        if max_pixels is not None and h * w > max_pixels:
            row["note"] = f"not measured: {h} x {w} is above this run's limit of {max_pixels:,} pixels"
        else:
            res = measure_peak_memory(model, (h, w), batch_size=micro, device=str(dev),
                                      precision=effective, checkpoint_segments=checkpoint_segments,
                                      fit_step=fit_step)
            row.update(peak_mb=round(res.peak_mb, 1), training_mb=round(res.training_mb, 1),
                       step_s=round(res.seconds, 2), note=res.method)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("run")
    with atomic_write(cache) as fh:  # a killed build leaves no half-written table
        table.to_csv(fh, lineterminator="\n")
    return table


def _read_peak_memory(path: Path) -> pd.DataFrame:
    """The cached table of :func:`measured_memory`, checked.

    Raises:
        ValueError: not such a table (unreadable, columns missing, a value that is not a
            number), naming the file and the fix (delete it to measure again).
    """
    fix = "delete it to measure again"
    try:
        table = pd.read_csv(path, index_col="run", keep_default_na=False,
                            na_values={"peak_mb": [""], "training_mb": [""], "step_s": [""]})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable peak-memory table ({exc}); {fix}") from None
    missing = [c for c in PEAK_MEMORY_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: peak-memory table lacks columns {missing}; {fix}")
    for col in _PEAK_MEMORY_NUMBERS:
        if not pd.api.types.is_numeric_dtype(table[col]):
            raise ValueError(f"{path}: column {col!r} of the peak-memory table holds values "
                             f"that are not numbers; {fix}")
    if table.index.has_duplicates or table.empty:
        raise ValueError(f"{path}: peak-memory table has no rows or repeats a run; {fix}")
    return table
