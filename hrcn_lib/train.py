"""Training: the paper's recipe (SGD, lr 1e-4, batch 4, cross-entropy, 20 epochs) or a departure.

Sec. 3.1 of Zhang et al. (2023) trains HR-CelestialNet at 2048x4096 with SGD,
learning rate 0.0001, batch size 4 and cross-entropy for 20 epochs. :class:`TrainConfig`
holds that recipe as its defaults (every value overridable;
:meth:`TrainConfig.from_profile` applies a profile's departures for one pair: optimizer
``adamw``, momentum, weight decay, a one-cycle schedule, random flips, batch size; the
pieces are built by :mod:`hrcn_lib.optimization`), and
:func:`train` runs it on a run directory (:class:`hrcn_lib.paths.ModelRun`) that receives

* ``config.json`` -- the full configuration of the run (the effective precision, and the
  training bodies and OBSIDs, which ``hrcn evaluate`` keeps out of test sets),
* ``history.csv`` -- one row per finished epoch: ``epoch, loss, accuracy, lr, seconds,
  samples_per_s`` (training loss/accuracy measured on the fly, in train mode),
* ``checkpoint.pt`` -- the resumable state, written atomically every epoch and every
  ``checkpoint_every`` optimizer steps,
* ``model.pt`` -- the final weights (written when the last epoch ends).

Exact resume. The order of the samples is a deterministic function of ``(seed, epoch)``
(a :class:`~torch.utils.data.DistributedSampler` seeded with ``seed``; ``set_epoch``),
and a checkpoint holds model, optimizer, RNG states (torch, numpy, python, CUDA) and the
position in the data order (epoch, step). A run killed at any point and resumed with
``resume=True`` ends with the same weights and metrics as an uninterrupted run.

One run per folder, no silent wrong result. A folder that holds another run's files is
refused unless ``resume`` or ``force`` (which deletes them first); the training process
holds the folder while it runs (:mod:`hrcn_lib.runfolder`). :func:`train` checks both
classes and every row's file before writing anything. Training stops at the first
NaN/inf loss (before the optimizer step) or non-finite weights (before a checkpoint is
written) with :class:`TrainingDiverged`: no ``model.pt`` is written, ``checkpoint.pt``
is removed and ``config.json`` records where it diverged.

Memory. ``micro_batch`` samples go through the network at a time; gradients of the
micro-batches are accumulated with the loss scaled by the size of the whole batch, so the
optimizer step sees the gradient of the mean loss over ``batch_size`` samples exactly as
with one pass (up to float rounding). One difference remains and is inherent:
BatchNorm normalises each micro-batch with that micro-batch's statistics (and updates
its running statistics once per micro-batch), so ``4 x 1`` is not bitwise ``1 x 4`` for
networks with BatchNorm. ``precision="bf16"`` runs the forward pass under
:func:`torch.autocast` in bfloat16 where the hardware computes bf16 natively (CUDA with
bf16, or a CPU with AVX512-BF16/AMX); on other CPUs bf16 is emulated and ~10-100x
slower than fp32, so it falls back to fp32 with a warning (``config.json`` records the
effective precision). ``precision="auto"`` (the default) takes the environment variable
``HRCN_PRECISION`` (``fp32``, ``bf16`` or ``auto``) when it is set, else bf16 where native;
see :func:`hrcn_lib.runtime.requested_precision`. ``checkpoint_activations=True`` recomputes each network segment
(the layers between two pooling layers) in the backward pass instead of storing its
activations.

Speed (the step, benchmarks/README.md). Model and inputs run in channels_last (``"auto"``:
except where NCHW is measured faster, :func:`~hrcn_lib.runtime.resolve_channels_last`); one
autocast region spans a step's micro-batches, so the weights are cast to bf16 once per step
(:func:`accumulate_gradients`); on the cpu (``fast_step``) HR-CelestialNet's first block runs
as a fused, strip-wise autograd function (:mod:`hrcn_lib.models.stem`) that never holds its
32 x 2042 x 4090 activations, and fully connected layers compute in float32 (one-sample
matrix-vector products: no bf16 casts of their weights, :mod:`hrcn_lib.models.linear`); freed memory is reused from step to step instead of being
mapped afresh (:func:`hrcn_lib.runtime.reuse_freed_memory`).

Scale-out. ``torchrun --nproc_per_node=K -m hrcn_lib.cli.train ...`` (the argument parser
and the torchrun entry live in :mod:`hrcn_lib.cli.train`) runs DistributedDataParallel (gloo on CPU, nccl on GPU); each rank takes
``batch_size / K`` samples of every batch from a ``DistributedSampler``, so the
effective batch stays ``batch_size``. Only rank 0 writes files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from hrcn_lib import runfolder
from hrcn_lib.datasets import check_manifest_files, make_dataset
from hrcn_lib.models import (
    build_model,
    contains_batchnorm,
    set_activation_checkpointing,
    set_fused_stem,
)
from hrcn_lib.models.linear import float32_linears
from hrcn_lib.names import pair_key
from hrcn_lib.optimization import (
    OPTIMIZERS,
    SCHEDULES,
    augmentation_seed,
    flip_batch,
    make_optimizer,
    make_scheduler,
)
from hrcn_lib.paper_numbers import PAPER_RECIPE
from hrcn_lib.paths import ModelRun, atomic_write
from hrcn_lib.runfolder import RunFolderError
from hrcn_lib.runtime import (  # re-exported: they were first defined here
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LAYOUTS,
    MODEL_FORMAT,
    PRECISION_ENV,
    PRECISIONS,
    CheckpointError,
    checkpoint_file,
    distributed_env,
    load_checkpoint,
    load_trained_model,
    model_from_payload,
    native_bf16,
    nonfinite_tensor,
    requested_precision,
    resolve_channels_last,
    resolve_device,
    resolve_precision,
    reuse_freed_memory,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)

if TYPE_CHECKING:
    from hrcn_lib.profiles import Profile, RunSpec

__all__ = [
    "TrainConfig",
    "TrainResult",
    "CheckpointError",
    "TrainingDiverged",
    "RunFolderError",
    "train",
    "fit",
    "epoch_batches",
    "accumulate_gradients",
    "prepare_model",
    "step_scope",
    "warn_single_sample_batchnorm",
    "ACTIVATION_CHECKPOINT_SEGMENTS",
    "HISTORY_COLUMNS",
    # from hrcn_lib.runtime, importable from here as before
    "load_trained_model",
    "load_checkpoint",
    "model_from_payload",
    "checkpoint_file",
    "save_checkpoint",
    "resolve_device",
    "resolve_precision",
    "requested_precision",
    "native_bf16",
    "seed_everything",
    "PRECISION_ENV",
    "PRECISIONS",
    "CHECKPOINT_FORMAT",
    "MODEL_FORMAT",
]

#: Activation-checkpointing segments used when ``checkpoint_activations`` is on
#: (:func:`hrcn_lib.models.set_activation_checkpointing`).
ACTIVATION_CHECKPOINT_SEGMENTS = 4
#: Columns of ``history.csv``.
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "lr", "seconds", "samples_per_s")
#: Configuration fields that must match when a run is resumed.
_RESUME_KEYS = ("model_name", "dataset_name", "batch_size", "lr", "momentum", "weight_decay",
                "optimizer", "schedule", "flips", "seed", "n_samples", "train_bodies",
                "train_obsids")
#: Recipe fields added after the first checkpoints were written: their value in a checkpoint
#: that lacks them (what those runs used).
_RESUME_DEFAULTS = {"optimizer": "sgd", "schedule": "constant", "flips": False}
#: Profile fields that set a recipe value of the same name (``None`` in a profile: the default).
_PROFILE_RECIPE = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
                   "schedule", "flips", "micro_batch", "precision", "device",
                   "checkpoint_activations", "seed", "workers")


log = logging.getLogger(__name__)


class TrainingDiverged(ValueError):
    """The training loss (or the weights) became NaN/inf; the message names the step and the fix.

    A ``ValueError``: the usual cause is a learning rate too large for the data.
    """


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (written to ``config.json``).

    The defaults are the paper's recipe (Sec. 3.1, :data:`hrcn_lib.paper_numbers.PAPER_RECIPE`):
    SGD without momentum, lr 1e-4, batch 4, 20 epochs, cross-entropy. A profile becomes a
    recipe through :meth:`from_profile` only.

    Attributes:
        model_name, dataset_name: names for :func:`hrcn_lib.models.build_model`.
        epochs: passes over the training set (paper: 20).
        batch_size: samples per optimizer step, over all ranks (paper: 4).
        lr: learning rate (paper: 1e-4; the peak rate of a one-cycle schedule).
        optimizer: ``"sgd"`` (paper) or ``"adamw"`` (:mod:`hrcn_lib.optimization`).
        momentum, weight_decay: SGD momentum / L2 (paper: 0); for AdamW, beta1 when > 0
            and decoupled weight decay.
        schedule: ``"constant"`` (paper) or ``"onecycle"`` (one cycle over every optimizer
            step of the run).
        flips: random left-right / up-down flips of training samples (paper: none).
        micro_batch: samples per forward pass (gradient accumulation up to batch_size).
        precision: requested ``"bf16"`` (bf16 where native, else fp32 with a warning),
            ``"fp32"`` or ``"auto"`` (``$HRCN_PRECISION`` when set, else bf16 where native).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        checkpoint_activations: recompute segments in the backward pass.
        channels_last: NHWC memory format for model and inputs: ``True``, ``False`` or
            ``"auto"`` (channels_last unless NCHW is measured faster for this pair on this
            CPU's kernels, :func:`hrcn_lib.runtime.resolve_channels_last`); :func:`fit`
            records the layout it used (``config.json`` holds ``True`` or ``False``).
        fast_step: the cpu step's speed-ups: a first block Conv(1 -> C) -> BatchNorm ->
            ReLU -> MaxPool (HR-CelestialNet's) runs as one fused, strip-wise autograd
            function (:func:`hrcn_lib.models.stem.conv_bn_relu_pool`), and fully connected
            layers compute in float32 under autocast
            (:func:`hrcn_lib.models.linear.float32_linears`). Same results and gradients to
            the precision used; False runs the plain layers.
        checkpoint_every: write ``checkpoint.pt`` every this many optimizer steps
            (0: only at the end of each epoch).
        max_steps: stop after this many optimizer steps in total (``None``: all epochs);
            the run can be resumed later. Used to simulate a kill in tests.
        seed: seed of initialisation, data order and every RNG.
        workers: DataLoader worker processes.
        n_samples: size of the training set (filled in by :func:`fit`).
        train_bodies, train_obsids: the celestial bodies and OBSIDs of the training
            samples, sorted (filled in by :func:`train` from the manifest; empty for a
            plain dataset). ``hrcn evaluate`` refuses test sets that share them.
    """

    model_name: str = "custom"
    dataset_name: str = "custom"
    epochs: int = int(PAPER_RECIPE["epochs"])
    batch_size: int = int(PAPER_RECIPE["batch_size"])
    lr: float = float(PAPER_RECIPE["lr"])
    optimizer: str = "sgd"  # the paper names plain SGD
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    flips: bool = False
    micro_batch: int = 1
    precision: str = "auto"
    device: str = "auto"
    checkpoint_activations: bool = False
    channels_last: bool | str = "auto"
    fast_step: bool = True
    checkpoint_every: int = 50
    max_steps: int | None = None
    seed: int = 0
    workers: int = 0
    n_samples: int = 0
    train_bodies: tuple[str, ...] = ()
    train_obsids: tuple[str, ...] = ()

    @classmethod
    def from_profile(cls, profile: Profile, spec: RunSpec, **overrides: Any) -> TrainConfig:
        """The recipe of one pair of a profile: the defaults, with what the profile sets.

        A profile's recipe field (``epochs, batch_size, lr, optimizer, momentum,
        weight_decay, schedule, flips, micro_batch, precision, device,
        checkpoint_activations, seed, workers``) replaces the default unless it is
        ``None``; the pair's own ``spec.epochs``, ``spec.micro_batch``, ``spec.batch_size`` and
        ``spec.lr`` win over the profile's;
        ``overrides``
        (e.g. command-line values) win over both.

        Args:
            profile: a :class:`hrcn_lib.profiles.Profile`.
            spec: the pair (:class:`hrcn_lib.profiles.RunSpec`): its model and data set.
            **overrides: TrainConfig fields.

        Raises:
            TypeError: an override that is not a TrainConfig field.
        """
        recipe: dict[str, Any] = {name: getattr(profile, name) for name in _PROFILE_RECIPE
                                  if getattr(profile, name) is not None}
        if spec.epochs is not None:
            recipe["epochs"] = spec.epochs
        if spec.micro_batch is not None:
            recipe["micro_batch"] = spec.micro_batch
        if spec.batch_size is not None:
            recipe["batch_size"] = spec.batch_size
        if spec.lr is not None:
            recipe["lr"] = spec.lr
        recipe.update(overrides)
        return cls(model_name=spec.model, dataset_name=spec.dataset, **recipe)

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field."""
        def integer(name: str, low: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")

        for name in ("epochs", "batch_size", "micro_batch"):
            integer(name, 1)
        for name in ("checkpoint_every", "workers", "seed"):
            integer(name, 0)
        if self.max_steps is not None:
            integer("max_steps", 1)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        for name in ("momentum", "weight_decay"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not isinstance(self.flips, bool):
            raise ValueError(f"flips must be True or False, got {self.flips!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be 'bf16', 'fp32' or 'auto', got {self.precision!r}")
        if not (isinstance(self.channels_last, bool) or self.channels_last == "auto"):
            raise ValueError(f"channels_last must be one of {LAYOUTS}, got {self.channels_last!r}")

    def with_layout(self, device: torch.device, precision: str | None = None) -> TrainConfig:
        """This recipe with ``channels_last`` resolved to ``True``/``False`` for a run on
        ``device`` in ``precision`` (``None``: the precision this recipe resolves to there,
        :func:`resolve_precision`); see :func:`hrcn_lib.runtime.resolve_channels_last`."""
        if isinstance(self.channels_last, bool):
            return self
        if precision is None:  # only a cpu's layout depends on it
            precision = (resolve_precision(self.precision, device, warn=False)
                         if device.type == "cpu" else self.precision)
        layout = resolve_channels_last(self.channels_last, pair_key(self.model_name,
                                                                    self.dataset_name),
                                       device, precision)
        return replace(self, channels_last=layout)

@dataclass
class TrainResult:
    """What :func:`fit` / :func:`train` return.

    Attributes:
        out_dir: the run directory.
        model: the trained network (unwrapped from DDP), on the training device.
        history: one row per finished epoch, columns :data:`HISTORY_COLUMNS`.
        config: the run's :class:`TrainConfig`.
        global_step: optimizer steps taken in total.
        completed: True when every epoch ran (False when stopped by ``max_steps``).
        precision: the effective precision (``"bf16"`` or ``"fp32"``).
    """

    out_dir: Path
    model: nn.Module
    history: pd.DataFrame
    config: TrainConfig
    global_step: int
    completed: bool
    precision: str
    extra: dict = field(default_factory=dict)

# --------------------------------------------------------------------------- data order


def epoch_batches(n_samples: int, batch_size: int, seed: int, epoch: int, *,
                  rank: int = 0, world_size: int = 1) -> list[list[int]]:
    """This rank's sample indices of every optimizer step of one epoch.

    The order is a :class:`~torch.utils.data.DistributedSampler` permutation seeded with
    ``seed + epoch`` (padded so every rank has the same count); each rank takes
    ``batch_size // world_size`` samples per step. The last step may be smaller.

    Returns:
        list over steps of lists of dataset indices.

    Raises:
        ValueError: if ``batch_size`` is not a multiple of ``world_size`` or n_samples < 1.
    """
    if n_samples < 1:
        raise ValueError(f"the training set is empty (n_samples={n_samples})")
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} must be a multiple of the number of ranks "
                         f"{world_size} so the effective batch stays {batch_size}")
    sampler = DistributedSampler(range(n_samples), num_replicas=world_size, rank=rank,
                                 shuffle=True, seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    order = list(sampler)
    local = batch_size // world_size
    return [order[i:i + local] for i in range(0, len(order), local)]


def _micro_batches(step: list[int], micro_batch: int) -> list[list[int]]:
    return [step[i:i + micro_batch] for i in range(0, len(step), micro_batch)]

# --------------------------------------------------------------------------- history


def _write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(HISTORY_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row[k] for k in HISTORY_COLUMNS})
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def _write_config(path: Path, info: dict[str, Any]) -> None:
    with atomic_write(path) as fh:
        fh.write(json.dumps(info, indent=2) + "\n")


# --------------------------------------------------------------------------- the loop


def _to_device(batch: Any, device: torch.device, channels_last: bool) -> tuple[torch.Tensor,
                                                                                  torch.Tensor]:
    x, y = batch[0], batch[1]
    x = x.to(device, non_blocking=True).float()
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.as_tensor(y).to(device).long()
    return x, y


def prepare_model(model: nn.Module, config: TrainConfig, device: torch.device) -> nn.Module:
    """Put ``model`` in the form :func:`fit` trains it in, in place: on ``device``, in
    channels_last or NCHW (``config.channels_last``, resolved by
    :meth:`TrainConfig.with_layout`), with activation checkpointing
    (``config.checkpoint_activations``) and, on the cpu, the fused first block
    (``config.fast_step``; the float32 fully connected layers are switched on by
    :func:`fit` around its loop, :func:`hrcn_lib.models.linear.float32_linears`).

    Returns:
        ``model``.
    """
    model.to(device)
    nhwc = config.with_layout(torch.device(device)).channels_last
    model.to(memory_format=torch.channels_last if nhwc else torch.contiguous_format)
    if config.checkpoint_activations:
        set_activation_checkpointing(model, ACTIVATION_CHECKPOINT_SEGMENTS)
    set_fused_stem(model, config.fast_step and torch.device(device).type == "cpu")
    return model


@contextmanager
def step_scope(model: nn.Module, config: TrainConfig, device: torch.device) -> Iterator[None]:
    """What :func:`fit`'s training loop runs inside: freed memory reused from step to step
    (:func:`hrcn_lib.runtime.reuse_freed_memory`) and, on the cpu with
    ``config.fast_step``, float32 fully connected layers
    (:func:`hrcn_lib.models.linear.float32_linears`)."""
    cpu_fast = config.fast_step and torch.device(device).type == "cpu"
    with reuse_freed_memory(), float32_linears(model, cpu_fast):
        yield


def accumulate_gradients(net: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                         n_step: int, n_micro: int, autocast_dtype: torch.dtype | None, *,
                         world: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward of one optimizer step's micro-batches (gradients accumulate).

    Each micro-batch's summed cross-entropy is divided by ``n_step`` before its backward
    pass, so the accumulated gradient is that of the mean loss over the step's samples. One
    :func:`torch.autocast` region spans every micro-batch of the step (the backward passes
    run with autocast off inside it): autocast keeps its low-precision copies of the
    weights until the outermost region ends, so they are made once per step instead of
    once per micro-batch (HR-CelestialNet: 97 M weights cast to bf16 and their cast
    gradients, ~0.1 s per sample on the 2-core cpu). Under DistributedDataParallel
    (``world > 1``) gradients are synchronised on the last micro-batch only.

    Args:
        net: the network in train mode (or its DDP wrapper).
        batches: ``n_micro`` pairs (x float (n, C, H, W), y int64 (n,)) on the device.
        n_step: samples in the whole step (over this rank's micro-batches).
        n_micro: how many pairs ``batches`` yields.
        autocast_dtype: ``torch.bfloat16`` for bf16 autocast, ``None`` for float32.

    Returns:
        (summed loss as a float64 scalar tensor, correct predictions as an int64 scalar
        tensor), on the device; the optimizer is not stepped.
    """
    step_loss: torch.Tensor | None = None
    step_correct: torch.Tensor | None = None
    first = next(iter(net.parameters()))
    device_type = first.device.type
    with torch.autocast(device_type, dtype=autocast_dtype or torch.float32,
                        enabled=autocast_dtype is not None):
        for j, (x, y) in enumerate(batches):
            sync = j == n_micro - 1 or world == 1
            ctx = net.no_sync() if (world > 1 and not sync) else nullcontext()  # type: ignore[operator]
            with ctx:
                logits = net(x)
                with torch.autocast(device_type, enabled=False):
                    loss = F.cross_entropy(logits.float(), y, reduction="sum")
                    (loss / n_step).backward()
            loss_sum = loss.detach().double()
            correct = (logits.detach().argmax(1) == y).sum()
            step_loss = loss_sum if step_loss is None else step_loss + loss_sum
            step_correct = correct if step_correct is None else step_correct + correct
    if step_loss is None or step_correct is None:
        raise ValueError("accumulate_gradients: no micro-batch given")
    return step_loss, step_correct


def _training_micro_batches(it: Iterator[tuple[torch.Tensor, torch.Tensor]], n_micro: int,
                            device: torch.device, cfg: TrainConfig, epoch: int, step: int,
                            rank: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The next ``n_micro`` (x, y) pairs of ``it`` on ``device``, randomly flipped when
    ``cfg.flips`` (the flips drawn from (seed, epoch, step, micro-batch, rank), so a resumed
    run flips as the uninterrupted one did)."""
    for j in range(n_micro):
        x, y = _to_device(next(it), device, cfg.channels_last)
        if cfg.flips:
            x = flip_batch(x, torch.Generator().manual_seed(augmentation_seed(
                cfg.seed, epoch, step, j, rank)))
        yield x, y


def _resume_diff(old: dict[str, Any], cfg: TrainConfig) -> dict[str, Any]:
    """Fields of :data:`_RESUME_KEYS` that differ between a checkpoint's config and ``cfg``."""
    diff: dict[str, Any] = {}
    for key in _RESUME_KEYS:
        if key not in old and key in ("train_bodies", "train_obsids"):
            continue  # written before these were recorded
        was, now = old.get(key, _RESUME_DEFAULTS.get(key)), getattr(cfg, key)
        if isinstance(was, (list, tuple)) or isinstance(now, (list, tuple)):
            if tuple(was or ()) != tuple(now):
                diff[key] = (f"{len(was or ())} entries", f"{len(now)} entries")
        elif was != now:
            diff[key] = (was, now)
    return diff


def _record_divergence(run: ModelRun, info: dict[str, Any], position: dict[str, Any]) -> None:
    """After a divergence: no model, no checkpoint to resume into it; config.json says why."""
    runfolder.remove([run.checkpoint, run.weights])
    _write_config(run.config, {**info, "diverged": position})


def warn_single_sample_batchnorm(model: nn.Module, micro_batch: int) -> bool:
    """Log a warning (logger ``hrcn_lib.train``; no file path, so a built book names none) when
    ``model`` has BatchNorm layers and is trained one sample per forward pass.

    Training then normalises each sample by its own statistics and evaluation by the running
    statistics; a network that learned so can give every sample the same answer in eval mode
    (the first record-cpu's HR-CelestialNet: benchmarks/README.md, "BatchNorm over one
    sample").

    Returns:
        whether it warned.
    """
    if micro_batch > 1 or not contains_batchnorm(model):
        return False
    log.warning("%s has BatchNorm and micro_batch is 1: training normalises each sample by its "
                "own statistics, evaluation by the running ones, and a network trained so can "
                "answer every sample alike in eval mode (benchmarks/README.md, 'BatchNorm over "
                "one sample'); pass at least 2 samples at a time where memory allows",
                type(model).__name__)
    return True


def fit(model: nn.Module, dataset: Dataset, out_dir: Path | str, config: TrainConfig, *,
        resume: bool = False, force: bool = False, progress: bool = True) -> TrainResult:
    """Train ``model`` on ``dataset`` with the recipe's optimizer + cross-entropy; see the module
    docstring.

    Args:
        model: network mapping (N, 1, H, W) float32 to (N, 2) logits (freshly initialised;
            on resume its weights are replaced by the checkpoint's).
        dataset: map-style dataset of ``(tensor (1, H, W) float32, int label)``.
        out_dir: run directory (created); receives config.json, history.csv,
            checkpoint.pt and, when every epoch ran, model.pt. It belongs to this run
            (:mod:`hrcn_lib.runfolder`): held (locked) while training, and stale temporary
            files of killed runs are removed when the run starts.
        config: the run's :class:`TrainConfig` (``n_samples`` is filled in here).
        resume: continue from ``out_dir/checkpoint.pt`` (error if it is missing or its
            configuration differs in model, dataset, batch, lr, seed, data size or training
            bodies). When training continues, an earlier ``model.pt`` and evaluation files
            of the folder are deleted (they describe other weights).
        force: start afresh in a folder that holds another run, deleting that run's files
            (config, history, checkpoint, model, evaluation files) first.
        progress: tqdm bars for epochs and steps (rank 0 only).

    Raises:
        ValueError: invalid configuration; RunFolderError: ``out_dir`` holds another run
        (without ``resume``/``force``) or another process trains into it; CheckpointError:
        unusable or mismatching checkpoint; TrainingDiverged: a non-finite loss or weights
        (the step is named; no model.pt is written, checkpoint.pt is removed and
        config.json records the divergence).

    A model with BatchNorm trained one sample at a time is logged as a warning
    (:func:`warn_single_sample_batchnorm`).
    """
    config.validate()
    out_dir = Path(out_dir)
    n_samples = len(dataset)  # type: ignore[arg-type]
    cfg = TrainConfig(**{**asdict(config), "n_samples": n_samples})
    runfolder.refuse_other_run(out_dir, resume, force)
    rank, world = distributed_env()
    device = resolve_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    precision = resolve_precision(cfg.precision, device, warn=rank == 0)
    cfg = cfg.with_layout(device, precision)
    if rank == 0:
        warn_single_sample_batchnorm(model, cfg.micro_batch)
    run = ModelRun(out_dir)
    ckpt_path, hist_path = run.checkpoint, run.history

    history: list[dict[str, Any]] = []
    epoch, step_in_epoch, global_step = 0, 0, 0
    stats = {"loss_sum": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
    payload: dict[str, Any] | None = None
    if resume:
        payload = load_checkpoint(ckpt_path)
        diff = _resume_diff(payload["config"], cfg)
        if diff:
            raise CheckpointError(f"{ckpt_path}: cannot resume, the configuration differs "
                                  f"(checkpoint, now): {diff}")
        bad = nonfinite_tensor(payload["model"])
        if bad is not None:
            raise CheckpointError(f"{ckpt_path}: weight {bad!r} holds NaN/inf: cannot resume "
                                  "from a diverged state; train again with --force")
        try:
            model.load_state_dict(payload["model"])
        except RuntimeError as exc:
            raise CheckpointError(f"{ckpt_path}: weights do not fit {cfg.model_name}/"
                                  f"{cfg.dataset_name}: {str(exc)[:300]}") from None
    else:
        seed_everything(cfg.seed)

    prepare_model(model, cfg, device)
    optimizer = make_optimizer(model.parameters(), cfg.optimizer, lr=cfg.lr,
                               momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    scheduler = make_scheduler(optimizer, cfg.schedule, lr=cfg.lr, epochs=cfg.epochs,
                               steps_per_epoch=len(epoch_batches(n_samples, cfg.batch_size,
                                                                 cfg.seed, 0, rank=rank,
                                                                 world_size=world)))
    if payload is not None:
        try:
            optimizer.load_state_dict(payload["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(payload["scheduler"])
            pos = payload["position"]
            epoch, step_in_epoch, global_step = pos["epoch"], pos["step"], pos["global_step"]
            stats = {k: type(v)(payload["epoch_stats"][k]) for k, v in stats.items()}
            history = [{k: r[k] for k in HISTORY_COLUMNS} for r in payload["history"]]
            set_rng_state(payload["rng"])
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            raise CheckpointError(f"{ckpt_path}: malformed checkpoint, cannot resume from it: "
                                  f"{type(exc).__name__}: {str(exc)[:200]}") from None
        del payload
    max_reached = cfg.max_steps is not None and global_step >= cfg.max_steps
    will_train = epoch < cfg.epochs and not max_reached
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    info = {**asdict(cfg), "precision_effective": precision, "world_size": world,
            "device_effective": str(device), "torch": torch.__version__}
    with runfolder.hold(out_dir) if rank == 0 else nullcontext(), \
            step_scope(model, cfg, device):
        if rank == 0:
            if force:
                runfolder.remove(runfolder.run_files(out_dir))
            elif will_train:  # an earlier model.pt and its evaluations describe other weights
                runfolder.remove([run.weights, *run.evaluation_files()])
            _write_config(run.config, info)

        def diverge(where: str, what: str, record: dict[str, Any]) -> None:
            """Stop the run: config.json records it, no checkpoint or model stays (rank 0)."""
            if rank == 0:
                _record_divergence(run, info, record)
            raise TrainingDiverged(
                f"{out_dir}: training diverged at {where}: {what}; lower the learning rate "
                f"(lr {cfg.lr:g}) and train again with --force (force=True). No model.pt was "
                "written and checkpoint.pt was removed; config.json records the divergence")

        def snapshot(ep: int, st: int, finished_epoch_stats: dict[str, Any]) -> None:
            bad = nonfinite_tensor(model.state_dict())  # every rank: all stop together
            if bad is not None:
                diverge(f"optimizer step {global_step}", f"weight {bad!r} holds NaN/inf",
                        {"global_step": global_step, "loss": "finite; weights NaN/inf"})
            if rank != 0:
                return
            save_checkpoint(ckpt_path, {
                "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": asdict(cfg),
                "precision": precision, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "position": {"epoch": ep, "step": st, "global_step": global_step},
                "epoch_stats": dict(finished_epoch_stats), "history": history,
                "rng": rng_state(),
            })

        autocast_dtype = torch.bfloat16 if precision == "bf16" else None
        show = progress and rank == 0
        stopped = max_reached and epoch < cfg.epochs
        step_lr = optimizer.param_groups[0]["lr"]
        ebar = tqdm(total=cfg.epochs, initial=epoch, desc=f"train {cfg.model_name}",
                    unit="epoch", disable=not show, position=0)
        try:
            while epoch < cfg.epochs and not stopped:
                steps = epoch_batches(n_samples, cfg.batch_size, cfg.seed, epoch, rank=rank,
                                      world_size=world)
                todo = steps[step_in_epoch:]
                micro = [_micro_batches(s, cfg.micro_batch) for s in todo]
                loader_gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
                loader = DataLoader(dataset, batch_sampler=[mb for s in micro for mb in s],
                                    num_workers=cfg.workers, generator=loader_gen,
                                    pin_memory=device.type == "cuda")
                it = iter(loader)
                net.train()
                sbar = tqdm(total=len(steps), initial=step_in_epoch, desc=f"epoch {epoch + 1}",
                            unit="step", disable=not show, leave=False, position=1)
                t_start = time.perf_counter() - stats["seconds"]
                for step_micro in micro:
                    n_step = sum(len(mb) for mb in step_micro)
                    step_loss, step_correct = accumulate_gradients(
                        net, _training_micro_batches(it, len(step_micro), device, cfg,
                                                     epoch, step_in_epoch, rank),
                        n_step, len(step_micro), autocast_dtype, world=world)
                    counts = torch.stack([step_loss, step_correct.double(),
                                          torch.tensor(float(n_step), dtype=torch.float64,
                                                       device=device)])
                    if world > 1:
                        dist.all_reduce(counts)
                    step_sum = float(counts[0])
                    if not math.isfinite(step_sum):  # every rank sees it: all stop here
                        diverge(f"epoch {epoch + 1}, step {step_in_epoch + 1} (optimizer step "
                                f"{global_step + 1})", f"the loss is {step_sum}",
                                {"epoch": epoch + 1, "step": step_in_epoch + 1,
                                 "global_step": global_step + 1, "loss": str(step_sum)})
                    step_lr = optimizer.param_groups[0]["lr"]  # the rate this step used
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    if scheduler is not None:
                        scheduler.step()
                    stats["loss_sum"] += step_sum
                    stats["correct"] += int(round(float(counts[1])))
                    stats["seen"] += int(round(float(counts[2])))
                    stats["seconds"] = time.perf_counter() - t_start
                    step_in_epoch += 1
                    global_step += 1
                    sbar.update(1)
                    sbar.set_postfix(loss=f"{stats['loss_sum'] / max(stats['seen'], 1):.4f}")
                    end_of_epoch = step_in_epoch == len(steps)
                    hit_max = cfg.max_steps is not None and global_step >= cfg.max_steps
                    if end_of_epoch:
                        break
                    if hit_max or (cfg.checkpoint_every
                                   and global_step % cfg.checkpoint_every == 0):
                        snapshot(epoch, step_in_epoch, stats)
                    if hit_max:
                        stopped = True
                        break
                sbar.close()
                del it, loader
                if step_in_epoch == len(steps):
                    seconds = stats["seconds"]
                    row = {"epoch": epoch + 1, "loss": stats["loss_sum"] / max(stats["seen"], 1),
                           "accuracy": stats["correct"] / max(stats["seen"], 1),
                           "lr": step_lr, "seconds": seconds,
                           "samples_per_s": (stats["seen"] / seconds if seconds > 0
                                             else float("nan"))}
                    history.append(row)
                    epoch, step_in_epoch = epoch + 1, 0
                    stats = {"loss_sum": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
                    snapshot(epoch, 0, stats)
                    if rank == 0:
                        _write_history(hist_path, history)
                    ebar.update(1)
                    ebar.set_postfix(loss=f"{row['loss']:.4f}", acc=f"{row['accuracy']:.3f}")
                    if (cfg.max_steps is not None and global_step >= cfg.max_steps
                            and epoch < cfg.epochs):
                        stopped = True
        finally:
            ebar.close()
        completed = epoch >= cfg.epochs
        if completed and rank == 0:
            save_checkpoint(run.weights, {
                "format": MODEL_FORMAT, "version": CHECKPOINT_VERSION, "config": asdict(cfg),
                "precision": precision, "model": model.state_dict()})
            if not hist_path.exists():
                _write_history(hist_path, history)
    if world > 1:
        dist.barrier()
    return TrainResult(out_dir=out_dir, model=model, history=pd.DataFrame(
        history, columns=list(HISTORY_COLUMNS)), config=cfg, global_step=global_step,
        completed=completed, precision=precision)

def train(config: TrainConfig, train_df: pd.DataFrame, out_dir: Path | str, *,
          resume: bool = False, force: bool = False, cache_dir: Path | str | None = None,
          progress: bool = True) -> TrainResult:
    """Train ``build_model(config.model_name, config.dataset_name)`` on the rows ``train_df``.

    ``config`` is the recipe (:class:`TrainConfig`: the paper's by default;
    :meth:`TrainConfig.from_profile` for a profile's pair). Data come from
    :func:`hrcn_lib.datasets.make_dataset` (``"lcid"``: (1, 2048, 4096) samples;
    ``"lcid-resize"``: (1, 224, 448)). See :func:`fit` for the run directory, resume, force
    and memory options. Before anything is written, both classes must be present and every
    row's file must be a readable FITS file with the row's HDU whose header agrees with the
    row (:func:`hrcn_lib.datasets.check_manifest_files`); the run's ``config.json`` records
    the training bodies and OBSIDs.

    Args:
        config: the recipe; its ``train_bodies``/``train_obsids`` are filled in from
            ``train_df``.
        train_df: manifest rows (``path, hdu, label``; ``body``, ``obsid`` recorded).
        out_dir: the run folder.
        resume, force, progress: see :func:`fit`.
        cache_dir: preprocessed-sample cache (:class:`hrcn_lib.datasets.LCIDDataset`).

    Raises:
        ValueError: bad names or hyperparameters, empty or single-class ``train_df``.
        SampleError: a row's file is missing, unreadable or disagrees with the row (named).
        RunFolderError, CheckpointError, TrainingDiverged: see :func:`fit`.
    """
    if len(train_df) == 0:
        raise ValueError("train_df has no rows: nothing to train on")
    labels = sorted(set(train_df["label"])) if "label" in train_df.columns else []
    if len(labels) < 2:
        raise ValueError(f"the training data hold only the class(es) {labels} ({len(train_df)} "
                         "rows): a galaxy/NSC classifier needs samples of both classes; check "
                         "the manifest (or its split)")
    cfg = TrainConfig(**{**asdict(config), "train_bodies": _distinct(train_df, "body"),
                         "train_obsids": _distinct(train_df, "obsid")})
    cfg.validate()
    runfolder.refuse_other_run(Path(out_dir), resume, force)  # before the slower checks below
    dataset = make_dataset(train_df, cfg.dataset_name, cache_dir=cache_dir)
    check_manifest_files(train_df)
    seed_everything(cfg.seed)
    model = build_model(cfg.model_name, cfg.dataset_name)
    return fit(model, dataset, out_dir, cfg, resume=resume, force=force, progress=progress)


def _distinct(df: pd.DataFrame, column: str) -> tuple[str, ...]:
    """Sorted distinct values of a manifest column as strings (``()`` when absent)."""
    return tuple(sorted({str(v) for v in df[column]})) if column in df.columns else ()


if __name__ == "__main__":  # the command line lives in hrcn_lib.cli.train
    raise SystemExit("hrcn_lib.train is a library module: run `hrcn train ...` or "
                     "`torchrun --nproc_per_node=K -m hrcn_lib.cli.train ...`")
