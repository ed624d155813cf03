"""The vocabulary of the companion, in one place: models, data sets, pairs, classes.

Every other module imports these names from here (this module imports nothing of ours),
so a model, a data set's input size or a class name is spelled once.

* :data:`MODEL_NAMES` -- the four networks of the paper (:func:`hrcn_lib.models.build_model`).
* :data:`INPUT_SIZES` -- data set name -> model input (H, W) in pixels: LCID, the paper's
  2048 x 4096 samples, and LCID-Resize, the same samples resized to 224 x 448 (Sec. 2.2).
  LCID-Blurry is not a size: it is the blurry manifest read as either.
* :data:`PAIRS` -- the seven (model, data set) pairs of the paper's Tables 3 and 4, in its
  row order.
* :data:`CLASS_NAMES` / :data:`LABELS` -- the two classes in the models' output order.
* :data:`MODEL_LABELS` / :data:`DATASET_LABELS` / :func:`pair_label` -- the names the paper
  prints for them.
* :data:`DEVICE_PATTERN` / :func:`check_device_name` -- the devices a run may name.
"""

from __future__ import annotations

import re

__all__ = [
    "MODEL_NAMES",
    "LCID_SIZE",
    "RESIZE_SIZE",
    "INPUT_SIZES",
    "DATASET_NAMES",
    "PAIRS",
    "CLASS_NAMES",
    "LABELS",
    "MODEL_LABELS",
    "DATASET_LABELS",
    "pair_key",
    "DEVICE_PATTERN",
    "check_device_name",
    "pair_label",
]

#: Model names, HR-CelestialNet first, then the baselines in the paper's table order.
MODEL_NAMES: tuple[str, ...] = ("hr-celestialnet", "alexnet", "vgg", "resnet")

#: LCID sample (H, W) in pixels: one 2048 x 4096 chip half (Sec. 2.2, Table 2's input).
LCID_SIZE: tuple[int, int] = (2048, 4096)
#: LCID-Resize sample (H, W) in pixels: an LCID sample through ``cv2.resize`` (Sec. 2.2).
RESIZE_SIZE: tuple[int, int] = (224, 448)
#: Data set name -> model input (H, W) in pixels.
INPUT_SIZES: dict[str, tuple[int, int]] = {"lcid": LCID_SIZE, "lcid-resize": RESIZE_SIZE}
#: Data set names a model is trained on.
DATASET_NAMES: tuple[str, ...] = tuple(INPUT_SIZES)

#: The paper's seven (model, data set) pairs (Tables 3 and 4), in its row order.
PAIRS: tuple[tuple[str, str], ...] = (
    ("alexnet", "lcid-resize"), ("alexnet", "lcid"),
    ("vgg", "lcid-resize"), ("vgg", "lcid"),
    ("resnet", "lcid-resize"), ("resnet", "lcid"),
    ("hr-celestialnet", "lcid"),
)

#: Class names in the models' output order (index = class number).
CLASS_NAMES: tuple[str, ...] = ("galaxy", "NSC")
#: Class name -> class number (0 = galaxy, 1 = NSC), as manifests' ``label`` map to targets.
LABELS: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}

#: Display names the paper prints for the models and data sets.
MODEL_LABELS: dict[str, str] = {
    "alexnet": "AlexNet",
    "vgg": "VGGNet",
    "resnet": "ResNet",
    "hr-celestialnet": "HR-CelestialNet",
}
DATASET_LABELS: dict[str, str] = {"lcid": "LCID", "lcid-resize": "LCID-Resize",
                                  "blurry": "LCID-Blurry"}


def pair_key(model: str, dataset: str) -> str:
    """The file-name form of a pair, e.g. ``"hr-celestialnet_lcid"`` (a run folder's name)."""
    return f"{model}_{dataset}"


def pair_label(model: str, dataset: str) -> str:
    """The display name of a pair, e.g. ``"HR-CelestialNet (LCID)"``.

    Raises:
        KeyError: an unknown model or data set name.
    """
    return f"{MODEL_LABELS[model]} ({DATASET_LABELS[dataset]})"


#: The devices a run may name: ``auto`` (cuda when available, else cpu), ``cpu``, ``cuda`` and
#: ``cuda:N``. Others torch knows (mps, meta, xpu, ...) are not supported by this package.
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device_name(device: str) -> str:
    """``device`` unchanged when it is one of :data:`DEVICE_PATTERN`'s names.

    Raises:
        ValueError: any other name, with the accepted ones.
    """
    if not DEVICE_PATTERN.fullmatch(device):
        raise ValueError(f"device {device!r} is not supported: use cpu, cuda, cuda:N or auto")
    return device
