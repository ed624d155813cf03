"""HR-CelestialNet (Zhang et al. 2023, Sec. 3.1 and Table 2), built from its layer plan.

The plan :data:`TABLE2` is the paper's Table 2 written as data, one row per
printed layer (the Input row aside); :class:`HRCelestialNet` and
:func:`hrcn_lib.hardware.layer_table` both read it, so the network and the
table cannot drift apart.

Every convolution has no padding and stride 1 and is followed by BatchNorm and
ReLU (Sec. 3.1: "a ReLU activation layer and a BatchNorm layer are applied
after each convolutional layer"; Table 2's note: the BatchNorm layers are
omitted from the table). The order Conv -> BatchNorm -> ReLU is the usual one
(torchvision's ``vgg*_bn``); the paper's text does not fix it and neither the
parameter counts nor the torchsummary estimate depend on it. The classifier is
FC(16896 -> 4096) - ReLU - FC(4096 -> 4096) - ReLU - FC(4096 -> 2); the paper
names no dropout (and Table 3 cannot tell: a dropout layer would change the
32.79 GB estimate by 0.0001 GB). The network returns logits; the softmax of
Table 2's last row is applied at evaluation (:mod:`hrcn_lib.evaluate`).

Input geometry: the first fully connected layer expects the 512 x 3 x 11 map
that the paper's 2048 x 4096 samples produce. Because every pooling floors
and the network downsamples by 256 overall, a 256-px range of sizes gives that
map: heights 1834-2089 and widths 3882-4137 (:func:`accepted_input_range`). Inputs smaller than 1322 x 1322 leave no
feature map at all (:func:`min_input_size`). Anything else raises
:class:`InputSizeError` before any computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
from torch import nn

from hrcn_lib.names import LCID_SIZE

from .checkpointing import CheckpointSequential

__all__ = [
    "LayerSpec",
    "TABLE2",
    "IN_CHANNELS",
    "PAPER_INPUT_SIZE",
    "HRCelestialNet",
    "InputSizeError",
    "feature_map_size",
    "min_input_size",
    "accepted_input_range",
]

#: Input channels (raw HST frames are single-channel).
IN_CHANNELS: int = 1
#: The paper's input (H, W) in pixels: one 2048 x 4096 half of a raw chip.
PAPER_INPUT_SIZE: tuple[int, int] = LCID_SIZE


class InputSizeError(ValueError):
    """An input tensor whose shape the model cannot take (message says what it needs)."""


@dataclass(frozen=True)
class LayerSpec:
    """One row of Table 2.

    Attributes:
        kind: ``"conv"``, ``"maxpool"``, ``"fc"`` or ``"output"``.
        kernel: square kernel side (px) for conv/maxpool, ``None`` for fc/output.
        stride: stride (px) for conv/maxpool, ``None`` for fc/output.
        out: output channels (conv) or output features (fc/output); ``None`` for maxpool.
        activation: the Activation column (``"ReLU"``, ``"Softmax"`` or ``"-"``).
    """

    kind: str
    kernel: int | None = None
    stride: int | None = None
    out: int | None = None
    activation: str = "-"


def _conv(k: int, out: int) -> LayerSpec:
    return LayerSpec("conv", k, 1, out, "ReLU")


def _pool(k: int, s: int) -> LayerSpec:
    return LayerSpec("maxpool", k, s)


#: Table 2, layers 1-22, in order.
TABLE2: tuple[LayerSpec, ...] = (
    _conv(7, 32), _pool(8, 4),                      # 1-2
    _conv(7, 64), _pool(4, 2),                      # 3-4
    _conv(5, 128), _conv(5, 128), _pool(2, 2),      # 5-7  (end of the large-size component)
    _conv(3, 256), _conv(3, 256), _pool(2, 2),      # 8-10
    _conv(3, 256), _conv(3, 256), _pool(2, 2),      # 11-13
    _conv(3, 512), _conv(3, 512), _pool(2, 2),      # 14-16
    _conv(3, 512), _conv(3, 512), _pool(2, 2),      # 17-19
    LayerSpec("fc", out=4096, activation="ReLU"),   # 20
    LayerSpec("fc", out=4096, activation="ReLU"),   # 21
    LayerSpec("output", out=2, activation="Softmax"),  # 22 (softmax applied at evaluation)
)


def _side_after(side: int, spec: LayerSpec) -> int:
    """Spatial side after one conv/pool row (no padding, floor): (side - k) // s + 1."""
    return (side - spec.kernel) // spec.stride + 1


def feature_map_size(height: int, width: int) -> tuple[int, int, int]:
    """(C, H, W) of the feature map after layer 19 for an input of ``height x width`` px.

    Returns a non-positive H or W when the input is too small to reach layer 19.
    """
    channels = IN_CHANNELS
    h, w = height, width
    for spec in TABLE2:
        if spec.kind in ("fc", "output"):
            break
        if h < spec.kernel or w < spec.kernel:
            return channels, min(h - spec.kernel + 1, 0), min(w - spec.kernel + 1, 0)
        h, w = _side_after(h, spec), _side_after(w, spec)
        if spec.kind == "conv":
            channels = spec.out
    return channels, h, w


def _side_range(target: int) -> tuple[int, int]:
    """Smallest and largest input side whose layer-19 side equals ``target``."""
    lo = next(s for s in range(1, 100_000) if feature_map_size(s, s)[1] >= target)
    hi = next(s for s in range(lo, 100_000) if feature_map_size(s, s)[1] > target) - 1
    return lo, hi


@cache
def min_input_size() -> int:
    """Smallest input side (px) that leaves a non-empty map after layer 19 (1322)."""
    return _side_range(1)[0]


@cache
def accepted_input_range() -> tuple[tuple[int, int], tuple[int, int]]:
    """((H_min, H_max), (W_min, W_max)) of the inputs the classifier accepts.

    These are the sizes that produce the 3 x 11 map of the paper's 2048 x 4096
    input, which the first FC layer (512 * 3 * 11 inputs) requires:
    ((1834, 2089), (3882, 4137)).
    """
    _, fh, fw = feature_map_size(*PAPER_INPUT_SIZE)
    return _side_range(fh), _side_range(fw)


def _flat_features() -> int:
    c, h, w = feature_map_size(*PAPER_INPUT_SIZE)
    return c * h * w


def _make_features(plan: tuple[LayerSpec, ...]) -> CheckpointSequential:
    layers: list[nn.Module] = []
    channels = IN_CHANNELS
    for spec in plan:
        if spec.kind == "conv":
            layers += [nn.Conv2d(channels, spec.out, spec.kernel, stride=spec.stride, padding=0),
                       nn.BatchNorm2d(spec.out), nn.ReLU(inplace=True)]
            channels = spec.out
        elif spec.kind == "maxpool":
            layers.append(nn.MaxPool2d(spec.kernel, stride=spec.stride))
    return CheckpointSequential(*layers)


def _make_classifier(plan: tuple[LayerSpec, ...], in_features: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for spec in plan:
        if spec.kind not in ("fc", "output"):
            continue
        layers.append(nn.Linear(in_features, spec.out))
        if spec.kind == "fc" and spec.activation == "ReLU":
            layers.append(nn.ReLU(inplace=True))
        in_features = spec.out
    return nn.Sequential(*layers)


class HRCelestialNet(nn.Module):
    """HR-CelestialNet, exactly Table 2 of the paper (97,048,130 trainable parameters).

    Input: float tensor (N, 1, H, W) with H in 1834-2089 and W in 3882-4137
    (the paper: 2048 x 4096). Output: logits, float tensor (N, 2), classes
    (galaxy, NSC) in the order of :data:`hrcn_lib.manifest.LABELS`.

    Attributes:
        features: the 12 conv (+BatchNorm+ReLU) and 7 max-pool layers, a
            :class:`~hrcn_lib.models.checkpointing.CheckpointSequential`
            (activation checkpointing off unless enabled).
        classifier: FC 16896->4096, ReLU, FC 4096->4096, ReLU, FC 4096->2.
        output_activation: Table 2's activation of the output row (applied by
            evaluation, not by ``forward``).

    Raises (from ``forward``):
        InputSizeError: wrong rank or channel count, or an input size outside
            the accepted range (the message gives the range and the minimum).
    """

    plan: tuple[LayerSpec, ...] = TABLE2
    output_activation: str = "Softmax"

    def __init__(self) -> None:
        super().__init__()
        self.features = _make_features(self.plan)
        self.classifier = _make_classifier(self.plan, _flat_features())

    @staticmethod
    def check_input(shape: torch.Size | tuple[int, ...]) -> None:
        """Raise :class:`InputSizeError` unless ``shape`` is (N, 1, H, W) with H, W accepted."""
        if len(shape) != 4 or shape[1] != IN_CHANNELS:
            raise InputSizeError(
                f"HR-CelestialNet expects a (N, 1, H, W) tensor, got shape {tuple(shape)}")
        (h_lo, h_hi), (w_lo, w_hi) = accepted_input_range()
        h, w = int(shape[2]), int(shape[3])
        if h_lo <= h <= h_hi and w_lo <= w <= w_hi:
            return
        smallest = min_input_size()
        why = (f"too small: below {smallest} x {smallest} px no feature map is left"
               if min(h, w) < smallest else
               f"its layer-19 map would be {feature_map_size(h, w)[1:]} instead of the 3 x 11 "
               "the first fully connected layer (512*3*11 inputs) expects")
        raise InputSizeError(
            f"HR-CelestialNet cannot take a {h} x {w} input ({why}); it accepts H in "
            f"{h_lo}-{h_hi} and W in {w_lo}-{w_hi} px (the paper: 2048 x 4096)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 2) for a batch (N, 1, H, W); see the class docstring for H, W."""
        self.check_input(x.shape)
        x = self.features(x)
        return self.classifier(torch.flatten(x, 1))
