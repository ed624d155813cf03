"""Activation checkpointing that respects block boundaries.

:class:`CheckpointSequential` is an ``nn.Sequential`` (same children, same
``state_dict`` keys, same hooks) that can recompute its activations in the
backward pass instead of storing them. It cuts only at block starts (a
convolution, or any child that is not a plain layer, e.g. a ResNet block) so an
in-place ReLU never opens a segment: an in-place op on a segment's saved input
would corrupt the recomputation. BatchNorm running statistics are updated once
per forward, as without checkpointing: during the backward recomputation each
BatchNorm's momentum is set to 0 and its batch counter restored, so gradients,
weights and running statistics equal those of the plain ``nn.Sequential``.

With ``fused_stem`` on (:func:`set_fused_stem`), a first block Conv2d(1 -> C) -> BatchNorm2d
-> ReLU -> MaxPool2d runs as :func:`hrcn_lib.models.stem.conv_bn_relu_pool` in training on
the cpu (same result and gradients, a fraction of the memory traffic); elsewhere, and for any
other container or input, the plain layers run.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .stem import conv_bn_relu_pool, stem_applies

__all__ = ["CheckpointSequential", "set_activation_checkpointing", "set_fused_stem"]

_PLAIN = (nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Dropout, nn.AdaptiveAvgPool2d)


class CheckpointSequential(nn.Sequential):
    """``nn.Sequential`` with optional activation checkpointing.

    Attributes:
        segments: 0 (default) runs like ``nn.Sequential``; k >= 1 splits the
            children into k contiguous groups of whole blocks and checkpoints
            all but the last during training with gradients enabled.
    """

    segments: int = 0
    #: Run children 0-3 as :func:`~hrcn_lib.models.stem.conv_bn_relu_pool` where it applies.
    fused_stem: bool = False

    def _block_starts(self) -> list[int]:
        return [i for i, m in enumerate(self) if i == 0 or not isinstance(m, _PLAIN)]

    def _groups(self) -> list[tuple[int, int]]:
        starts = self._block_starts()
        k = max(1, min(self.segments, len(starts)))
        cuts = [starts[round(j * len(starts) / k)] for j in range(k)] + [len(self)]
        return [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same result as ``nn.Sequential.forward``; memory-lean when checkpointing is on."""
        start = 0
        if (self.fused_stem and self.training and torch.is_grad_enabled() and len(self) >= 4
                and stem_applies(self[0], self[1], self[2], self[3], x)):
            x = conv_bn_relu_pool(self[0], self[1], self[3], x)
            start = 4
        if not (self.segments and self.training and torch.is_grad_enabled()):
            for module in list(self)[start:]:
                x = module(x)
            return x
        groups = [(max(a, start), b) for a, b in self._groups() if b > start]
        for n, (a, b) in enumerate(groups):
            modules = list(self)[a:b]
            if n == len(groups) - 1:
                x = _run_group(x, modules, {})
            else:
                x = checkpoint(_run_group, x, modules, {}, use_reentrant=False)
        return x


def _run_group(x: torch.Tensor, modules: list[nn.Module], state: dict) -> torch.Tensor:
    """Forward of one group; on its second call (the backward recomputation) BatchNorm
    running statistics stay frozen, since the first call already updated them."""
    recompute = state.get("done", False)
    state["done"] = True
    saved: list[tuple[nn.modules.batchnorm._BatchNorm, float | None, torch.Tensor | None]] = []
    if recompute:
        for bn in (b for m in modules for b in m.modules()):
            if isinstance(bn, nn.modules.batchnorm._BatchNorm) and bn.training:
                count = bn.num_batches_tracked
                saved.append((bn, bn.momentum, None if count is None else count.clone()))
                bn.momentum = 0.0
    try:
        for m in modules:
            x = m(x)
    finally:
        for bn, momentum, count in saved:
            bn.momentum = momentum
            if count is not None:
                bn.num_batches_tracked.copy_(count)
    return x


def set_activation_checkpointing(model: nn.Module, segments: int = 4) -> int:
    """Turn activation checkpointing on (``segments >= 1``) or off (0) in every
    :class:`CheckpointSequential` of ``model`` (all models of :func:`build_model`).

    Returns:
        The number of checkpointable containers found (0: the model has none).

    Raises:
        ValueError: for a negative ``segments``.
    """
    if segments < 0:
        raise ValueError(f"segments must be >= 0, got {segments}")
    found = 0
    for module in model.modules():
        if isinstance(module, CheckpointSequential):
            module.segments = segments
            found += 1
    return found


def set_fused_stem(model: nn.Module, enabled: bool = True) -> bool:
    """Turn the fused first block on or off in every :class:`CheckpointSequential` of
    ``model`` (it runs only where :func:`~hrcn_lib.models.stem.stem_applies`: HR-CelestialNet's
    first block, training, cpu).

    Returns:
        Whether some container's first four children have the fused block's layer types
        (Conv2d, BatchNorm2d, ReLU, MaxPool2d); the flag is set on every container.
    """
    found = False
    for module in model.modules():
        if isinstance(module, CheckpointSequential):
            module.fused_stem = enabled
            kinds = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d)
            found |= len(module) >= 4 and all(isinstance(module[i], kinds[i]) for i in range(4))
    return found
