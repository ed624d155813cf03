"""hrcn_lib.saliency.grad_cam on a tiny CNN whose evidence location is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hrcn_lib.saliency import grad_cam, last_conv_layer


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, padding=1)
        self.conv2 = nn.Conv2d(2, 2, 1)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(2, 2)
        with torch.no_grad():
            self.conv1.weight.zero_()
            self.conv1.bias.zero_()
            self.conv1.weight[:, 0, 1, 1] = 1.0  # identity
            self.conv2.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
            self.conv2.bias.zero_()
            self.head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
            self.head.bias.zero_()

    def forward(self, x):
        x = self.relu(self.conv2(self.conv1(x)))
        return self.head(x.mean(dim=(2, 3)))


def test_heat_map_peaks_where_the_evidence_is():
    model = Tiny()
    x = torch.zeros(1, 16, 32)
    x[0, 4:8, 20:26] = 1.0
    heat, cls = grad_cam(model, x, target=0)
    assert heat.shape == (16, 32) and heat.dtype == np.float32 and cls == 0
    assert heat.max() == pytest.approx(1.0)
    assert heat[5, 22] > 0.9 and heat[12, 5] < 0.05
    assert model.training is True  # restored
    assert all(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())  # parameters untouched


def test_predicted_class_and_errors():
    model = Tiny()
    x = torch.rand(1, 1, 8, 8)
    _, cls = grad_cam(model, x)
    assert cls == int(model(x).argmax())
    assert last_conv_layer(model) is model.conv2
    with pytest.raises(ValueError, match="one sample"):
        grad_cam(model, torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="out of range"):
        grad_cam(model, x, target=5)
    with pytest.raises(ValueError, match="no Conv2d"):
        last_conv_layer(nn.Linear(2, 2))
