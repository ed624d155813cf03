"""The models of the paper: HR-CelestialNet and the three adapted baselines.

``build_model(name, dataset)`` is the registry every other module uses:

* ``name``: ``"hr-celestialnet"``, ``"alexnet"``, ``"vgg"``, ``"resnet"``;
* ``dataset``: ``"lcid"`` (inputs 2048 x 4096) or ``"lcid-resize"`` (224 x 448).

All models take float tensors (N, 1, H, W) and return logits (N, 2) in the
class order (galaxy, NSC). HR-CelestialNet exists only for LCID (its
classifier needs the 3 x 11 map of a ~2048 x 4096 input). To build on the meta
device (no memory), call ``build_model`` inside ``with torch.device("meta"):``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from hrcn_lib.names import DATASET_NAMES, INPUT_SIZES, MODEL_NAMES

from . import baselines
from .baselines import AAPL_SIZES, MIN_INPUT_SIZES, TORCHVISION_VARIANTS
from .checkpointing import CheckpointSequential, set_activation_checkpointing, set_fused_stem
from .hrcelestialnet import (
    PAPER_INPUT_SIZE,
    TABLE2,
    HRCelestialNet,
    InputSizeError,
    LayerSpec,
    accepted_input_range,
    feature_map_size,
    min_input_size,
)

__all__ = [
    "build_model",
    "has_batchnorm",
    "contains_batchnorm",
    "input_size",
    "ModelConfigError",
    "InputSizeError",
    "HRCelestialNet",
    "LayerSpec",
    "TABLE2",
    "MODEL_NAMES",
    "DATASET_NAMES",
    "INPUT_SIZES",
    "PAPER_INPUT_SIZE",
    "AAPL_SIZES",
    "TORCHVISION_VARIANTS",
    "MIN_INPUT_SIZES",
    "CheckpointSequential",
    "set_activation_checkpointing",
    "set_fused_stem",
    "feature_map_size",
    "min_input_size",
    "accepted_input_range",
]

_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "hr-celestialnet": HRCelestialNet,
    "alexnet": baselines.alexnet,
    "vgg": baselines.vgg,
    "resnet": baselines.resnet,
}


class ModelConfigError(ValueError):
    """Unknown model or data set name, or a pair the paper does not define."""


def input_size(dataset: str) -> tuple[int, int]:
    """Input (H, W) in pixels of a data set: LCID (2048, 4096), LCID-Resize (224, 448).

    Raises:
        ModelConfigError: for an unknown data set name.
    """
    try:
        return INPUT_SIZES[dataset]
    except KeyError:
        raise ModelConfigError(
            f"unknown dataset {dataset!r}: expected one of {list(DATASET_NAMES)}") from None


def build_model(name: str, dataset: str) -> nn.Module:
    """A freshly initialised model (train mode, float32, no downloaded weights).

    Args:
        name: ``"hr-celestialnet"``, ``"alexnet"``, ``"vgg"`` or ``"resnet"``.
        dataset: ``"lcid"`` or ``"lcid-resize"``.

    Returns:
        ``nn.Module`` mapping (N, 1, H, W) float to logits (N, 2), with (H, W)
        = :func:`input_size` ``(dataset)``. Its ``hrcn_dataset`` attribute records
        ``dataset`` (so that :class:`hrcn_lib.inference.Predictor` applies the right input
        size); ``hrcn_config`` is left to training runs (the run's configuration).

    Raises:
        ModelConfigError: unknown name or data set, or HR-CelestialNet with
            LCID-Resize (it needs ~2048 x 4096 inputs).
    """
    if name not in _BUILDERS:
        raise ModelConfigError(f"unknown model {name!r}: expected one of {list(MODEL_NAMES)}")
    input_size(dataset)
    if name == "hr-celestialnet" and dataset != "lcid":
        (h_lo, h_hi), (w_lo, w_hi) = accepted_input_range()
        raise ModelConfigError(
            f"hr-celestialnet is defined for 'lcid' only: its classifier needs inputs of "
            f"{h_lo}-{h_hi} x {w_lo}-{w_hi} px, and {dataset!r} is {INPUT_SIZES[dataset]}")
    model = _BUILDERS[name]()
    model.hrcn_dataset = dataset  # type: ignore[attr-defined]
    return model


def has_batchnorm(name: str) -> bool:
    """Whether the network ``name`` has BatchNorm layers (HR-CelestialNet, VGG-16-BN,
    ResNet-18; not AlexNet): built on the meta device, so nothing is allocated.

    Raises:
        ModelConfigError: for an unknown name.
    """
    if name not in _BUILDERS:
        raise ModelConfigError(f"unknown model {name!r}: expected one of {list(MODEL_NAMES)}")
    with torch.device("meta"):
        return contains_batchnorm(_BUILDERS[name]())


def contains_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` has a BatchNorm layer (any dimension) anywhere inside."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
