"""The recipe of a training run: :class:`TrainConfig` (the paper's recipe as its defaults).

Sec. 3.1 of Zhang et al. (2023): SGD, learning rate 0.0001, batch size 4, cross-entropy,
20 epochs. A profile's departures for one pair (optimizer ``adamw``, momentum, weight
decay, a one-cycle schedule, random flips, batch size) enter through
:meth:`TrainConfig.from_profile` only; :mod:`hrcn_lib.optimization` builds the pieces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hrcn_lib.names import pair_key
from hrcn_lib.optimization import OPTIMIZERS, SCHEDULES
from hrcn_lib.paper_numbers import PAPER_RECIPE
from hrcn_lib.runtime import LAYOUTS, PRECISIONS, resolve_channels_last, resolve_precision

if TYPE_CHECKING:
    from hrcn_lib.profiles import Profile, RunSpec

__all__ = ["TrainConfig"]

#: Profile fields that set a recipe value of the same name (``None`` in a profile: the default).
_PROFILE_RECIPE = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
                   "schedule", "flips", "micro_batch", "precision", "device",
                   "checkpoint_activations", "seed", "workers")


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
