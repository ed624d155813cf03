"""Fully connected layers in float32 under autocast, for one-sample cpu training steps.

With micro-batches of one sample, a fully connected layer is a matrix-vector product:
its time is the passes over its weights, not arithmetic. Under bf16 autocast each
micro-batch also casts the weight to bf16 and the weight gradient back to float32 -- for
HR-CelestialNet's FC1 (69 M weights) and AlexNet's (82 M) these casts took longer than the
products themselves (benchmarks/README.md). :func:`float32_linears` runs every
``nn.Linear`` of a model in float32 (autocast off, input cast up) while it is active:
no casts, and the classifier's arithmetic is more precise, not less. The layers' parameters,
names and ``state_dict`` do not change; on exit the modules are plain ``nn.Linear`` again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Float32Linear", "float32_linears"]


class Float32Linear(nn.Linear):
    """``nn.Linear`` that computes in float32 even under autocast (output float32)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return F.linear(x.float(), self.weight, self.bias)


@contextmanager
def float32_linears(model: nn.Module, enabled: bool = True) -> Iterator[int]:
    """Every plain ``nn.Linear`` of ``model`` is a :class:`Float32Linear` inside the block.

    Yields:
        the number of layers switched (0 when ``enabled`` is false).
    """
    switched = [m for m in model.modules() if type(m) is nn.Linear] if enabled else []
    for module in switched:
        module.__class__ = Float32Linear
    try:
        yield len(switched)
    finally:
        for module in switched:
            module.__class__ = nn.Linear
