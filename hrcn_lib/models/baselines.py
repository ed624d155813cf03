"""The paper's comparison models (Sec. 3.2): torchvision AlexNet, VGG and ResNet,
changed only where the paper changed them.

The paper's changes: (1) a single input channel; (2) an adaptive average
pooling layer (AAPL) before the classifier whose output is the feature-map size
that the model has on LCID-Resize (224 x 448): AlexNet 6 x 13, VGGNet 7 x 14,
ResNet 1 x 2; (3) two outputs. The paper does not name the variants; these
reproduce its model sizes (Table 3, torchsummary's count of weights and biases
at 4 bytes each, MB = 2**20 bytes) to the printed digit:

============  ======================  =============  ==========  ==========
paper name    torchvision builder     parameters     MB (ours)   MB (paper)
============  ======================  =============  ==========  ==========
AlexNet       ``alexnet``             101,036,738    385.42      385.42
VGGNet        ``vgg16_bn``            237,036,482    904.22      904.22
ResNet        ``resnet18``            11,172,290     42.62       42.62
============  ======================  =============  ==========  ==========

(``vgg16`` without BatchNorm gives 904.19 MB, ``vgg19_bn`` 924.49 MB;
``resnet18`` with its stock 1 x 1 pool and 512-input head gives 42.61 MB: the
1 x 2 AAPL doubles the head's inputs, which is what makes 42.62.) The same
module serves both data sets: at 224 x 448 the AlexNet and VGG AAPL are
identities and ResNet's averages its 7 x 14 map over 7 x 7 blocks, which is why
the paper's model sizes are equal for LCID and LCID-Resize.

Weights are always initialised from scratch (``weights=None``): nothing is
downloaded. Replaced layers get torchvision's own initialisation for that
architecture.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from hrcn_lib.names import LCID_SIZE, RESIZE_SIZE

from .checkpointing import CheckpointSequential
from .hrcelestialnet import IN_CHANNELS, InputSizeError

__all__ = ["alexnet", "vgg", "resnet", "AAPL_SIZES", "TORCHVISION_VARIANTS", "MIN_INPUT_SIZES"]

NUM_CLASSES: int = 2

#: Sec. 3.2: output (H, W) of the adaptive average pooling layer per model.
AAPL_SIZES: dict[str, tuple[int, int]] = {"alexnet": (6, 13), "vgg": (7, 14), "resnet": (1, 2)}

#: The torchvision builder behind each paper model (see the module docstring for why).
TORCHVISION_VARIANTS: dict[str, str] = {"alexnet": "alexnet", "vgg": "vgg16_bn", "resnet": "resnet18"}

#: Smallest input side (px) each baseline can take (a smaller one leaves no
#: feature map): AlexNet's 11/4 stem and three 3/2 pools need 63 px, VGG's five
#: 2/2 pools 32 px; ResNet's padded stride-2 stages reach 1 x 1 from any size.
MIN_INPUT_SIZES: dict[str, int] = {"alexnet": 63, "vgg": 32, "resnet": 1}


def _check_input_hook(name: str) -> Callable[[nn.Module, tuple], None]:
    """A forward pre-hook raising :class:`InputSizeError` for a bad input shape."""
    smallest = MIN_INPUT_SIZES[name]

    def hook(module: nn.Module, args: tuple) -> None:
        shape = tuple(args[0].shape)
        if len(shape) != 4 or shape[1] != IN_CHANNELS:
            raise InputSizeError(f"{name} expects a (N, 1, H, W) tensor, got shape {shape}")
        if min(shape[2:]) < smallest:
            raise InputSizeError(
                f"{name} cannot take a {shape[2]} x {shape[3]} input: it needs at least "
                f"{smallest} x {smallest} px (LCID-Resize is {RESIZE_SIZE[0]} x {RESIZE_SIZE[1]}, "
                f"LCID {LCID_SIZE[0]} x {LCID_SIZE[1]})")

    return hook


def _init_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """torchvision's VGG/ResNet conv init: Kaiming normal (fan_out, ReLU), zero bias."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def alexnet() -> nn.Module:
    """torchvision AlexNet, 1 input channel, 6 x 13 AAPL, 2 outputs (101,036,738 params).

    Input (N, 1, H, W), H, W >= 63; output logits (N, 2).
    """
    import torchvision.models as tvm  # lazy: torchvision adds ~0.13 GB to every process

    model = tvm.alexnet(weights=None, num_classes=NUM_CLASSES)
    # torchvision's AlexNet keeps PyTorch's default init: new layers keep it too.
    model.features[0] = nn.Conv2d(IN_CHANNELS, 64, kernel_size=11, stride=4, padding=2)
    model.features = CheckpointSequential(*model.features)
    model.avgpool = nn.AdaptiveAvgPool2d(AAPL_SIZES["alexnet"])
    h, w = AAPL_SIZES["alexnet"]
    model.classifier[1] = nn.Linear(256 * h * w, 4096)
    model.register_forward_pre_hook(_check_input_hook("alexnet"))
    return model


def vgg() -> nn.Module:
    """torchvision VGG16-BN, 1 input channel, 7 x 14 AAPL, 2 outputs (237,036,482 params).

    Input (N, 1, H, W), H, W >= 32; output logits (N, 2).
    """
    import torchvision.models as tvm  # lazy: torchvision adds ~0.13 GB to every process

    model = tvm.vgg16_bn(weights=None, num_classes=NUM_CLASSES)
    model.features[0] = _init_conv(nn.Conv2d(IN_CHANNELS, 64, kernel_size=3, padding=1))
    model.features = CheckpointSequential(*model.features)
    model.avgpool = nn.AdaptiveAvgPool2d(AAPL_SIZES["vgg"])
    h, w = AAPL_SIZES["vgg"]
    fc = nn.Linear(512 * h * w, 4096)
    nn.init.normal_(fc.weight, 0, 0.01)  # torchvision's VGG init for Linear layers
    nn.init.zeros_(fc.bias)
    model.classifier[0] = fc
    model.register_forward_pre_hook(_check_input_hook("vgg"))
    return model


def resnet() -> nn.Module:
    """torchvision ResNet-18, 1 input channel, 1 x 2 AAPL, 2 outputs (11,172,290 params).

    Input (N, 1, H, W), H, W >= 1; output logits (N, 2).
    """
    import torchvision.models as tvm  # lazy: torchvision adds ~0.13 GB to every process

    model = tvm.resnet18(weights=None, num_classes=NUM_CLASSES)
    model.conv1 = _init_conv(nn.Conv2d(IN_CHANNELS, 64, kernel_size=7, stride=2, padding=3,
                                       bias=False))
    for name in ("layer1", "layer2", "layer3", "layer4"):
        setattr(model, name, CheckpointSequential(*getattr(model, name)))
    model.avgpool = nn.AdaptiveAvgPool2d(AAPL_SIZES["resnet"])
    h, w = AAPL_SIZES["resnet"]
    model.fc = nn.Linear(512 * h * w, NUM_CLASSES)  # torchvision keeps the default init here
    model.register_forward_pre_hook(_check_input_hook("resnet"))
    return model
