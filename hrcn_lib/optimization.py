"""The recipe's moving parts: optimizer, learning-rate schedule and training augmentation.

:mod:`hrcn_lib.train` runs the loop; this module turns a :class:`~hrcn_lib.train.TrainConfig`
into the pieces the loop steps, all from PyTorch:

* :func:`make_optimizer` -- ``"sgd"`` (:class:`torch.optim.SGD`, the paper's: lr 1e-4, no
  momentum) or ``"adamw"`` (:class:`torch.optim.AdamW`, decoupled weight decay; its fused
  implementation, one pass over each parameter's memory instead of one per operation);
* :func:`make_scheduler` -- ``"constant"`` (the paper's: no schedule) or ``"onecycle"``
  (:class:`torch.optim.lr_scheduler.OneCycleLR` over exactly ``epochs x steps per epoch``
  optimizer steps, peak at ``lr``, cosine annealing, its default 30 % warm-up);
* :func:`flip_batch` -- random horizontal and vertical flips of each training sample (each
  with probability 1/2), drawn from a generator seeded by :func:`augmentation_seed`, a
  function of (seed, epoch, step, micro-batch, rank) only, so a resumed run draws the same
  flips as an uninterrupted one. A sky image has no preferred orientation: a flipped galaxy
  is still a galaxy. Evaluation never flips (only :func:`hrcn_lib.train.fit` calls this).

Everything here is a plain function of its arguments (no global state).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["OPTIMIZERS", "SCHEDULES", "make_optimizer", "make_scheduler", "flip_batch",
           "augmentation_seed", "scheduler_steps"]

#: Optimizer names a recipe accepts.
OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw")
#: Learning-rate schedules a recipe accepts.
SCHEDULES: tuple[str, ...] = ("constant", "onecycle")


def make_optimizer(params: Iterable[nn.Parameter], name: str, *, lr: float,
                   momentum: float = 0.0, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """The optimizer of a recipe.

    Args:
        params: the model's parameters.
        name: ``"sgd"`` (``momentum`` and L2 ``weight_decay`` as in :class:`torch.optim.SGD`)
            or ``"adamw"`` (``momentum`` is Adam's beta1 when > 0, else its default 0.9;
            decoupled ``weight_decay``).
        lr: learning rate (the peak rate under ``"onecycle"``).

    AdamW runs fused (``fused=True``) where every parameter is a floating-point tensor on
    the CPU or a CUDA device: the same update, in one kernel per step instead of a pass over
    memory per operation. Its step is memory-bound, so this matters for the models with large
    fully connected layers (at 224 x 448 AlexNet has 101 M and VGG-16-BN 237 M parameters;
    HR-CelestialNet 97 M: ``benchmarks/bench_optimizer.py``).

    Raises:
        ValueError: an unknown optimizer name.
    """
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        betas = (momentum if momentum > 0 else 0.9, 0.999)
        params = list(params)
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay,
                                 fused=fused or None)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def scheduler_steps(epochs: int, steps_per_epoch: int) -> int:
    """Optimizer steps the schedule spans: ``epochs x steps_per_epoch`` (at least 1)."""
    return max(1, int(epochs) * int(steps_per_epoch))


def make_scheduler(optimizer: torch.optim.Optimizer, name: str, *, lr: float, epochs: int,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The learning-rate schedule of a recipe, stepped once per optimizer step.

    Args:
        optimizer: from :func:`make_optimizer`.
        name: ``"constant"`` (returns ``None``: the rate stays ``lr``) or ``"onecycle"``
            (:class:`~torch.optim.lr_scheduler.OneCycleLR`, ``max_lr=lr``, ``total_steps`` =
            :func:`scheduler_steps`; with momentum cycling off, so SGD without momentum and
            AdamW's beta1 are left alone).
        lr: the peak learning rate.
        epochs, steps_per_epoch: the run's length in optimizer steps.

    Raises:
        ValueError: an unknown schedule name.
    """
    if name == "constant":
        return None
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=scheduler_steps(epochs, steps_per_epoch),
            cycle_momentum=False)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {name!r}")


def augmentation_seed(seed: int, epoch: int, step: int, micro: int = 0, rank: int = 0) -> int:
    """The seed of the flips of one micro-batch: a fixed function of where it is in the run."""
    return (((int(seed) * 1_000_003 + int(epoch)) * 1_000_033 + int(step)) * 131
            + int(micro)) * 64 + int(rank)


def flip_batch(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each sample of a batch left-right and/or up-down, each with probability 1/2.

    Args:
        x: (N, C, H, W) batch (any dtype, any device, any memory format).
        generator: a CPU :class:`torch.Generator` (the draws do not depend on the device).

    Returns:
        A batch of the same shape, dtype, device and memory format (``x`` itself when no
        sample is flipped).
    """
    if x.dim() != 4:
        raise ValueError(f"flip_batch: expected an (N, C, H, W) batch, got shape {tuple(x.shape)}")
    draws = torch.rand((x.shape[0], 2), generator=generator) < 0.5
    if not bool(draws.any()):
        return x
    out = x.clone()
    for i, (lr_flip, ud_flip) in enumerate(draws.tolist()):
        dims = [d for d, on in ((3, lr_flip), (2, ud_flip)) if on]
        if dims:
            out[i] = torch.flip(x[i], dims=[d - 1 for d in dims])
    return out
