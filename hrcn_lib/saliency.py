"""Grad-CAM saliency maps (Selvaraju et al. 2017) via torch hooks on the last conv layer.

Used by the book's misclassification chapter to show where a trained network
looked. The map for class ``c`` is ``ReLU(sum_k w_k A_k)`` with ``A_k`` the
last convolution's output channels and ``w_k`` the spatial mean of
``d logit_c / d A_k``, upsampled bilinearly to the input size and scaled to
[0, 1].

Only the layers after the hooked convolution take part in the backward pass:
the hook detaches the activation and makes it the leaf of a small graph, and
parameters stop requiring gradients during the call, so a full-resolution
(2048 x 4096) sample costs one forward pass plus a tiny backward pass.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["last_conv_layer", "grad_cam"]


def last_conv_layer(model: nn.Module) -> nn.Conv2d:
    """The last :class:`torch.nn.Conv2d` registered in ``model`` (module order).

    Raises:
        ValueError: if the model has no 2-D convolution.
    """
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer for Grad-CAM")
    return convs[-1]


def grad_cam(model: nn.Module, x: torch.Tensor, target: int | None = None,
             layer: nn.Module | None = None) -> tuple[np.ndarray, int]:
    """Grad-CAM heat map of one sample.

    Args:
        model: a classifier returning logits (N, n_classes); evaluated in
            ``eval`` mode (its training flag is restored afterwards).
        x: float tensor (1, H, W) or (1, 1, H, W) on the model's device.
        target: class index to explain; ``None`` explains the predicted class.
        layer: the layer whose output is used; default :func:`last_conv_layer`.

    Returns:
        ``(heat, target)``: float32 array (H, W) in [0, 1] (all zeros when no
        location has positive evidence) and the explained class index.

    Raises:
        ValueError: if ``x`` is not a single sample or ``target`` is out of range.
    """
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"grad_cam expects one sample (1, C, H, W), got shape {tuple(x.shape)}")
    layer = layer if layer is not None else last_conv_layer(model)
    store: dict[str, torch.Tensor] = {}

    def hook(_module, _inputs, output):
        leaf = output.detach().requires_grad_(True)
        store["act"] = leaf
        return leaf.clone()  # a non-leaf, so an in-place ReLU after the layer is allowed

    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    handle = layer.register_forward_hook(hook)
    try:
        model.eval()
        for p, _ in flags:
            p.requires_grad_(False)
        with torch.enable_grad():
            logits = model(x)
            if logits.dim() != 2 or logits.shape[0] != 1:
                raise ValueError(f"model output has shape {tuple(logits.shape)}, expected (1, classes)")
            cls = int(logits.argmax(1).item()) if target is None else int(target)
            if not 0 <= cls < logits.shape[1]:
                raise ValueError(f"target class {cls} out of range 0..{logits.shape[1] - 1}")
            act = store["act"]
            (grad,) = torch.autograd.grad(logits[0, cls], act)
    finally:
        handle.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)
    weights = grad.float().mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * act.detach().float()).sum(dim=1, keepdim=True))
    cam = nn.functional.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear",
                                    align_corners=False)[0, 0]
    peak = float(cam.max())
    heat = (cam / peak) if peak > 0 else torch.zeros_like(cam)
    return heat.cpu().numpy().astype(np.float32), cls
