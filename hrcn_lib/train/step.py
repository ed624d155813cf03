"""One optimizer step of :func:`hrcn_lib.train.fit`: data order, model form, gradients.

* :func:`epoch_batches` -- each optimizer step's sample indices, a deterministic function of
  (seed, epoch) (a :class:`~torch.utils.data.DistributedSampler` permutation), so a resumed
  run sees the samples in the order the uninterrupted one did;
* :func:`prepare_model` / :func:`step_scope` -- the model on its device in its memory layout
  (channels_last or NCHW), with activation checkpointing and, on the cpu, the fused first
  block and float32 fully connected layers;
* :func:`training_micro_batches` / :func:`accumulate_gradients` -- the step's micro-batches
  on the device (randomly flipped when the recipe says so) and their gradients accumulated
  as the gradient of the mean loss over the whole step, under one autocast region.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DistributedSampler

from hrcn_lib.models import contains_batchnorm, set_activation_checkpointing, set_fused_stem
from hrcn_lib.models.linear import float32_linears
from hrcn_lib.optimization import augmentation_seed, flip_batch
from hrcn_lib.runtime import reuse_freed_memory
from hrcn_lib.train.recipe import TrainConfig

__all__ = [
    "ACTIVATION_CHECKPOINT_SEGMENTS",
    "epoch_batches",
    "micro_batches",
    "prepare_model",
    "step_scope",
    "training_micro_batches",
    "accumulate_gradients",
    "warn_single_sample_batchnorm",
]

#: Activation-checkpointing segments used when ``checkpoint_activations`` is on
#: (:func:`hrcn_lib.models.set_activation_checkpointing`).
ACTIVATION_CHECKPOINT_SEGMENTS = 4

#: The logger of the training package (``hrcn_lib.train``), as before it was split.
log = logging.getLogger("hrcn_lib.train")


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


def micro_batches(step: list[int], micro_batch: int) -> list[list[int]]:
    """``step``'s indices in consecutive groups of at most ``micro_batch`` (one forward pass
    each)."""
    return [step[i:i + micro_batch] for i in range(0, len(step), micro_batch)]


def _to_device(batch: Any, device: torch.device, channels_last: bool) -> tuple[torch.Tensor,
                                                                                  torch.Tensor]:
    """A loader batch ``(x, y)`` on ``device``: x float32 (N, C, H, W), channels_last when
    asked; y int64 (N,)."""
    x, y = batch[0], batch[1]
    x = x.to(device, non_blocking=True).float()
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.as_tensor(y).to(device).long()
    return x, y


def prepare_model(model: nn.Module, config: TrainConfig, device: torch.device) -> nn.Module:
    """Put ``model`` in the form :func:`~hrcn_lib.train.fit` trains it in, in place: on
    ``device``, in channels_last or NCHW (``config.channels_last``, resolved by
    :meth:`TrainConfig.with_layout`), with activation checkpointing
    (``config.checkpoint_activations``) and, on the cpu, the fused first block
    (``config.fast_step``; the float32 fully connected layers are switched on by
    :func:`~hrcn_lib.train.fit` around its loop, :func:`hrcn_lib.models.linear.float32_linears`).

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
    """What :func:`~hrcn_lib.train.fit`'s training loop runs inside: freed memory reused from
    step to step (:func:`hrcn_lib.runtime.reuse_freed_memory`) and, on the cpu with
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


def training_micro_batches(it: Iterator[tuple[torch.Tensor, torch.Tensor]], n_micro: int,
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
