"""What training and evaluation share: device, precision, seeding and checkpoint I/O.

* Devices: :func:`resolve_device` (``"auto"`` = CUDA when available).
* Precision: :func:`native_bf16` (does the hardware compute bf16, or emulate it?),
  :func:`requested_precision` (``"auto"`` means ``$HRCN_PRECISION`` when set) and
  :func:`resolve_precision` (training: bf16 only where native).
* Memory layout: :func:`resolve_channels_last` (``"auto"``: channels_last except where
  oneDNN's AVX2 fp32 kernels are measured slower in it).
* Memory: :func:`reuse_freed_memory` (training keeps freed pages for its next step).
* Seeding: :func:`seed_everything`, :func:`rng_state` / :func:`set_rng_state` (every RNG,
  for exact resume).
* Checkpoints: :func:`save_checkpoint` (atomic), :func:`load_checkpoint` (validated,
  ``weights_only``), :func:`model_from_payload`, :func:`load_trained_model`;
  :class:`CheckpointError` names the file and what is wrong with it.

:mod:`hrcn_lib.train` and :mod:`hrcn_lib.evaluate` / :mod:`hrcn_lib.inference` build on this
module; it knows nothing of training loops or metrics.
"""

from __future__ import annotations

import ctypes
import os
import random
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from hrcn_lib import runfolder
from hrcn_lib.models import build_model
from hrcn_lib.names import check_device_name
from hrcn_lib.paths import ModelRun, atomic_write

__all__ = [
    "CHECKPOINT_FORMAT",
    "MODEL_FORMAT",
    "CHECKPOINT_VERSION",
    "PRECISION_ENV",
    "PRECISIONS",
    "CheckpointError",
    "resolve_device",
    "native_bf16",
    "ISA_CAP_ENV",
    "isa_caps",
    "requested_precision",
    "resolve_precision",
    "LAYOUTS",
    "NCHW_ON_AVX2_FP32",
    "avx512_kernels",
    "resolve_channels_last",
    "distributed_env",
    "reuse_freed_memory",
    "seed_everything",
    "rng_state",
    "set_rng_state",
    "save_checkpoint",
    "load_checkpoint",
    "nonfinite_tensor",
    "checkpoint_file",
    "model_from_payload",
    "load_trained_model",
]

#: ``format`` entry of a resumable checkpoint (``checkpoint.pt``).
CHECKPOINT_FORMAT = "hrcn-checkpoint"
#: ``format`` entry of final weights (``model.pt``).
MODEL_FORMAT = "hrcn-model"
#: Environment variable that sets what precision ``"auto"`` (or no request) means, for
#: training and for :class:`hrcn_lib.inference.Predictor`: ``fp32``, ``bf16`` or ``auto``.
PRECISION_ENV = "HRCN_PRECISION"
#: The precisions a run may request.
PRECISIONS: tuple[str, ...] = ("bf16", "fp32", "auto")
#: Version of the checkpoint layout this module writes and reads.
CHECKPOINT_VERSION = 1
#: Environment variables that cap the instruction set torch uses below what the CPU has:
#: oneDNN's (convolutions, matrix products) and ATen's vectorised kernels. Set to ``AVX2`` and
#: ``avx2`` they run this CPU's AVX2 code path, as an AVX2-only CPU would (not its speed).
ISA_CAP_ENV: tuple[str, ...] = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")
#: oneDNN ISA caps below bf16 instructions: under them oneDNN emulates bf16.
_ONEDNN_NO_BF16 = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE",
                             "AVX512_CORE_VNNI"})
#: oneDNN ISA caps below AVX-512: under them its fp32 kernels are the AVX2 (or older) ones.
_ONEDNN_BELOW_AVX512 = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"})
#: What a run's ``channels_last`` may be: on, off, or chosen per pair and CPU.
LAYOUTS: tuple[bool | str, ...] = (True, False, "auto")
#: Pairs (``model_dataset`` keys) whose fp32 training step on a CPU is slower in channels_last
#: than in NCHW on oneDNN's AVX2 kernels: s per training sample NCHW / channels_last, measured
#: under the AVX2 cap on a Zen 5 VM (benchmarks/README.md, "Training step at full
#: resolution", the AVX2 code path).
#: With AVX-512 or bf16 kernels channels_last is the faster layout for every pair measured,
#: and on the AVX2 path for the others (ResNet-18/LCID-Resize 0.119 / 0.108 s).
NCHW_ON_AVX2_FP32: dict[str, tuple[float, float]] = {
    "alexnet_lcid": (3.75, 5.4),
    "vgg_lcid-resize": (1.11, 1.23),
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and why."""


# --------------------------------------------------------------------------- devices

def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None -> cuda when available else cpu; ``cpu``, ``cuda``, ``cuda:N`` as given.

    Raises:
        ValueError: another name (:func:`check_device_name`), or cuda without CUDA.
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(check_device_name(str(device)))
    if dev.type == "cuda" and dev.index is not None and torch.cuda.is_available() \
            and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r} requested but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s): use cuda:0 to cuda:"
                         f"{torch.cuda.device_count() - 1}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested but CUDA is not available")
    return dev


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (not emulated).

    CUDA: :func:`torch.cuda.is_bf16_supported`. CPU: AMX tiles or AVX512-BF16
    (without them oneDNN emulates bf16 and convolutions run 10-400x slower than fp32,
    benchmarks/README.md).
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    if isa_caps().get("ONEDNN_MAX_CPU_ISA", "").upper() in _ONEDNN_NO_BF16:
        return False  # the CPU has bf16 instructions but oneDNN is told not to use them
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def isa_caps() -> dict[str, str]:
    """The instruction-set caps of :data:`ISA_CAP_ENV` set in this process's environment
    (name -> value; empty when none): a benchmark or record made under them measured a
    narrower CPU than its flags say, and says so."""
    return {k: os.environ[k].strip() for k in ISA_CAP_ENV if os.environ.get(k, "").strip()}


def avx512_kernels() -> bool:
    """Whether oneDNN runs its AVX-512 (or wider) CPU kernels here: the CPU has AVX-512 and
    no :data:`ISA_CAP_ENV` cap holds oneDNN or ATen below it."""
    if not bool(getattr(torch.cpu, "_is_avx512_supported", lambda: False)()):
        return False
    caps = isa_caps()
    if caps.get("ONEDNN_MAX_CPU_ISA", "").upper() in _ONEDNN_BELOW_AVX512:
        return False
    return caps.get("ATEN_CPU_CAPABILITY", "avx512").lower().startswith("avx512")


def resolve_channels_last(channels_last: bool | str, pair: str, device: torch.device,
                          precision: str) -> bool:
    """The memory layout a training run of ``pair`` uses: True for channels_last (NHWC).

    ``True``/``False`` are kept. ``"auto"``: channels_last, except for a pair of
    :data:`NCHW_ON_AVX2_FP32` trained in fp32 on a CPU whose oneDNN runs AVX2 kernels
    (:func:`avx512_kernels` false), where NCHW is measured faster.

    Args:
        channels_last: ``True``, ``False`` or ``"auto"``.
        pair: the run's ``model_dataset`` key (:func:`hrcn_lib.names.pair_key`).
        device: the resolved training device.
        precision: the resolved precision, ``"bf16"`` or ``"fp32"``.

    Raises:
        ValueError: ``channels_last`` not one of :data:`LAYOUTS`.
    """
    if isinstance(channels_last, bool):
        return channels_last
    if channels_last != "auto":
        raise ValueError(f"channels_last must be True, False or 'auto', got {channels_last!r}")
    if device.type != "cpu" or precision != "fp32" or pair not in NCHW_ON_AVX2_FP32:
        return True
    return avx512_kernels()


def requested_precision(precision: str | None = None) -> str:
    """The precision asked for: ``precision`` unless it is ``None``/``"auto"``, then
    ``$HRCN_PRECISION`` when set (the one switch that forces a path on any machine),
    else ``"auto"``.

    Returns:
        ``"bf16"``, ``"fp32"`` or ``"auto"`` (the hardware decides: bf16 where native).

    Raises:
        ValueError: a precision, or a value of ``HRCN_PRECISION``, other than
            ``bf16``, ``fp32``, ``auto`` (the message names where it came from).
    """
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"precision must be 'bf16', 'fp32' or 'auto', got {precision!r}")
    if precision in (None, "auto"):
        env = os.environ.get(PRECISION_ENV, "").strip().lower()
        if env and env not in PRECISIONS:
            raise ValueError(f"environment variable {PRECISION_ENV}={env!r}: expected one of "
                             f"{', '.join(PRECISIONS)} (or unset)")
        return env or "auto"
    return precision


def resolve_precision(precision: str, device: torch.device, *, warn: bool = True) -> str:
    """Effective training precision: ``"bf16"`` only where native, otherwise ``"fp32"``.

    ``"auto"`` is first replaced by ``$HRCN_PRECISION`` when set (:func:`requested_precision`).
    Training never runs emulated bf16 (10-400x slower than fp32); inference may
    (:class:`hrcn_lib.inference.Predictor` forces what is asked).

    Raises:
        ValueError: for a precision other than ``"bf16"``, ``"fp32"``, ``"auto"``.
    """
    precision = requested_precision(precision)
    if precision == "fp32":
        return "fp32"
    if native_bf16(device):
        return "bf16"
    if precision == "bf16" and warn:
        warnings.warn(f"bf16 requested but {device} has no native bf16 (AMX / AVX512-BF16 / "
                      "CUDA bf16): training in fp32 instead", RuntimeWarning, stacklevel=3)
    return "fp32"

def distributed_env() -> tuple[int, int]:
    """(rank, world_size): initialises the process group under torchrun (``WORLD_SIZE`` > 1;
    nccl on CUDA, gloo on CPU), else ``(0, 1)``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


# --------------------------------------------------------------------------- allocator

#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4


def _glibc() -> Any | None:
    """The process's glibc (for ``mallopt``/``malloc_trim``), or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """While the block runs, freed memory stays in the process heap and is reused (glibc).

    glibc serves every allocation above 32 MiB with a fresh ``mmap`` and unmaps it when freed,
    so each training step maps its big tensors anew (HR-CelestialNet: activations and the
    277 MB gradient of FC1, per micro-batch) and pays a page fault per 4 KiB page on first
    touch: 410,000 faults and 1.3-1.6 s of system time per full-resolution sample on the
    2-core VM (benchmarks/README.md). Here big blocks come from the heap instead
    (``M_MMAP_MAX = 0``, trimming off), so a step reuses the pages of the previous one. On
    exit mmap is allowed again (above a fixed 32 MiB threshold, glibc's largest dynamic
    one) and the free heap is returned to the system (``malloc_trim``). Peak memory grows a
    little (fragmentation: +10 % measured). A no-op with other C libraries.
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_MAX, 65536)
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
        libc.malloc_trim(0)


# --------------------------------------------------------------------------- RNG

def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Every RNG state as tensors / primitive containers (``weights_only``-loadable)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": str(name), "keys": torch.from_numpy(keys.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(version), "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    npst = state["numpy"]
    np.random.set_state((npst["name"], npst["keys"].numpy().astype(np.uint32), npst["pos"],
                         npst["has_gauss"], npst["cached_gaussian"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

# --------------------------------------------------------------------------- checkpoints

def save_checkpoint(path: Path | str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` with :func:`torch.save` atomically and synced to disk
    (:func:`hrcn_lib.paths.atomic_write`)."""
    path = Path(path)
    with atomic_write(path, "wb", fsync=True) as fh:
        torch.save(payload, fh)
    return path


def load_checkpoint(path: Path | str, *, kind: str = CHECKPOINT_FORMAT,
                    map_location: str | torch.device = "cpu", mmap: bool = False) -> dict[str, Any]:
    """Load and validate an hrcn checkpoint (``weights_only=True``).

    Args:
        path: ``checkpoint.pt`` or ``model.pt`` of a run directory.
        kind: :data:`CHECKPOINT_FORMAT` (resumable state) or :data:`MODEL_FORMAT`
            (``model.pt``); a ``model`` kind also accepts a full checkpoint.
        mmap: memory-map the tensors instead of reading them (low peak memory).

    Raises:
        CheckpointError: the file is missing, unreadable/corrupt, not written by
            :mod:`hrcn_lib.train`, of another kind, or malformed (entries of the wrong
            type or missing); the message names the file.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory: expected a checkpoint file "
                              "(model.pt or checkpoint.pt)")
    if not path.is_file():
        note = runfolder.divergence_note(path.parent)
        raise CheckpointError(f"{path}: checkpoint file not found" + (f"; {note}" if note else ""))
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001 -- every load failure means an unusable file
        raise CheckpointError(f"{path}: not a readable torch checkpoint (corrupt or foreign "
                              f"file): {type(exc).__name__}: {str(exc)[:300]}") from None
    fmt = payload.get("format") if isinstance(payload, dict) else None
    accepted = {kind} if kind == CHECKPOINT_FORMAT else {MODEL_FORMAT, CHECKPOINT_FORMAT}
    if fmt not in accepted:
        raise CheckpointError(f"{path}: not an hrcn_lib checkpoint (expected format "
                              f"{kind!r}, found {fmt!r}); was it written by hrcn_lib.train?")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')!r} is not "
                              f"supported (expected {CHECKPOINT_VERSION})")
    _check_payload(payload, path, resumable=kind == CHECKPOINT_FORMAT)
    return payload


#: Entries of a resumable checkpoint beyond config and model, and their types.
_RESUME_ENTRIES: dict[str, type] = {"optimizer": dict, "position": dict, "epoch_stats": dict,
                                    "history": list, "rng": dict}


def _check_payload(payload: dict[str, Any], path: Path, *, resumable: bool) -> None:
    """Raise CheckpointError unless ``payload`` has the entries and types hrcn_lib writes."""
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{path}: malformed checkpoint: {what}; was it written by "
                               "hrcn_lib.train (or edited since)?")

    missing = [k for k in ("config", "model", *(_RESUME_ENTRIES if resumable else ()))
               if k not in payload]
    if missing:
        raise bad(f"it lacks {missing}")
    cfg, state = payload["config"], payload["model"]
    if not isinstance(cfg, dict) or not all(isinstance(cfg.get(k), str)
                                            for k in ("model_name", "dataset_name")):
        raise bad(f"'config' is a {type(cfg).__name__}, expected a dict with the strings "
                  "model_name and dataset_name")
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise bad(f"'model' is a {type(state).__name__}, expected a dict of parameter "
                  "name -> tensor")
    if resumable:
        for key, typ in _RESUME_ENTRIES.items():
            if not isinstance(payload[key], typ):
                raise bad(f"{key!r} is a {type(payload[key]).__name__}, expected a {typ.__name__}")
        pos = payload["position"]
        if not all(isinstance(pos.get(k), int) and pos[k] >= 0
                   for k in ("epoch", "step", "global_step")):
            raise bad(f"'position' {pos!r}: expected non-negative integers epoch, step, "
                      "global_step")


def nonfinite_tensor(tensors: dict[str, torch.Tensor], chunk: int = 1 << 22) -> str | None:
    """Name of the first floating-point tensor holding NaN/inf, else None (checked in chunks)."""
    for name, t in tensors.items():
        if not t.is_floating_point() or t.is_meta:
            continue
        flat = t.detach().reshape(-1)
        for i in range(0, flat.numel(), chunk):
            if not bool(torch.isfinite(flat[i:i + chunk]).all()):
                return name
    return None

def checkpoint_file(path: Path | str) -> Path:
    """``path`` itself, or for a run directory its ``model.pt`` (else ``checkpoint.pt``)."""
    path = Path(path)
    return ModelRun(path).checkpoint_file() if path.is_dir() else path


def load_trained_model(out_dir: Path | str, device: str | torch.device | None = None, *,
                       mmap: bool = False) -> nn.Module:
    """The trained network of a run directory (``model.pt``, else ``checkpoint.pt``).

    ``out_dir`` may also be a checkpoint file. The model is rebuilt with
    :func:`hrcn_lib.models.build_model` from the names in the checkpoint, in eval mode,
    float32, on ``device`` (default cpu). Its ``hrcn_config`` attribute holds the run's
    configuration dict. The model is built on the meta device and takes the checkpoint's
    tensors (``assign=True``), so loading needs one copy of the weights, not two; with
    ``mmap=True`` the weights stay file-backed until touched.

    Raises:
        CheckpointError: no usable checkpoint (message names the file).
    """
    path = checkpoint_file(out_dir)
    payload = load_checkpoint(path, kind=MODEL_FORMAT, mmap=mmap)
    model = model_from_payload(payload, path)
    del payload
    return model.eval().to(resolve_device(device or "cpu"))


def model_from_payload(payload: dict[str, Any], path: Path | str) -> nn.Module:
    """The network of a loaded checkpoint ``payload`` (built on meta, tensors assigned).

    Raises:
        CheckpointError: the model cannot be rebuilt, the weights do not fit or hold NaN/inf
            (names ``path``).
    """
    cfg = payload["config"]
    try:
        with torch.device("meta"):  # no memory for weights that are replaced anyway
            model = build_model(cfg["model_name"], cfg["dataset_name"])
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild the model of this checkpoint: {exc}") from None
    try:
        model.load_state_dict(payload["model"], assign=True)
        left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
        if left:
            raise RuntimeError(f"tensors not in the checkpoint: {left[:5]}")
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit {cfg['model_name']}/"
                              f"{cfg['dataset_name']}: {str(exc)[:300]}") from None
    bad = nonfinite_tensor(model.state_dict())
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad!r} holds NaN/inf: this model cannot "
                              "classify (a diverged training run?); train it again with a lower "
                              "learning rate")
    model.hrcn_config = dict(cfg)  # type: ignore[attr-defined]
    return model.eval()
