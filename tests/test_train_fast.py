"""The training step's speed-ups compute what the plain step computes, to the precision used.

* :func:`hrcn_lib.models.stem.conv_bn_relu_pool` (the fused first block): outputs,
  gradients and BatchNorm running statistics against plain autograd, in float32 (tight)
  and under bf16 autocast (its error against a float64 reference no larger than the plain
  bf16 path's own);
* :func:`hrcn_lib.train.fit` with and without it: the same loss curve;
* :func:`hrcn_lib.train.accumulate_gradients`: one autocast region per step gives the
  gradients of one region per micro-batch.

bf16 is requested explicitly where it matters, so these pass on AVX2-only CPUs (bf16
emulated: slow but exact to bf16 on these small inputs) as on AVX512-BF16/AMX ones.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from hrcn_lib.models import CheckpointSequential, set_activation_checkpointing, set_fused_stem
from hrcn_lib.models.linear import Float32Linear, float32_linears
from hrcn_lib.models.stem import conv_bn_relu_pool, stem_applies
from hrcn_lib.runtime import reuse_freed_memory
from hrcn_lib.train import TrainConfig, accumulate_gradients, fit

H, W = 61, 93  # conv 7 -> 55 x 87, pool 8/4 -> 12 x 20


def _block(gammas=(1.5, -0.7, 0.3, 2.0)) -> tuple[nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d]:
    torch.manual_seed(0)
    conv, bn, pool = nn.Conv2d(1, 4, 7), nn.BatchNorm2d(4), nn.MaxPool2d(8, 4)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gammas))  # a negative gamma flips the pool's argmax
        bn.bias.uniform_(-0.3, 0.3)
        bn.running_mean.uniform_(-1, 1)
    return conv, bn, pool


def _input(n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 1, H, W, generator=g) + 0.5
    grad = torch.randn(n, 4, (H - 6 - 8) // 4 + 1, (W - 6 - 8) // 4 + 1, generator=g)
    return x, grad


def _run(mode: str, block, x, grad, rows: int = 3):
    """(output, [grads of conv.w, conv.b, bn.w, bn.b], bn) of one forward/backward."""
    conv, bn, pool = (copy.deepcopy(m) for m in block)
    if mode == "float64":
        conv, bn = conv.double(), bn.double()
        out = pool(torch.relu(bn(conv(x.double()))))
    else:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode.endswith("bf16")):
            if mode.startswith("fused"):
                out = conv_bn_relu_pool(conv, bn, pool, x, rows)
            else:
                out = pool(torch.relu(bn(conv(x))))
    (out.double() * grad.double()).sum().backward()
    grads = [p.grad.double() for p in (conv.weight, conv.bias, bn.weight, bn.bias)]
    return out.double(), grads, bn


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


@pytest.mark.parametrize("rows", [1, 3, 100])
def test_fused_stem_equals_plain_in_float32(rows):
    block, (x, grad) = _block(), _input()
    out_p, g_p, bn_p = _run("plain", block, x, grad)
    out_f, g_f, bn_f = _run("fused", block, x, grad, rows)
    assert out_f.shape == out_p.shape
    assert _rel(out_f, out_p) < 1e-6
    for name, a, b in zip(("conv.weight", "bn.weight", "bn.bias"), (g_f[0], g_f[2], g_f[3]),
                          (g_p[0], g_p[2], g_p[3]), strict=True):
        assert _rel(a, b) < 1e-5, name
    # BatchNorm in training removes any constant: the conv bias has no gradient
    assert float(g_f[1].abs().max()) == 0.0 and float(g_p[1].abs().max()) < 1e-3
    for buf in ("running_mean", "running_var"):
        torch.testing.assert_close(getattr(bn_f, buf), getattr(bn_p, buf), rtol=1e-5, atol=1e-6)
    assert int(bn_f.num_batches_tracked) == int(bn_p.num_batches_tracked) == 1


def test_fused_stem_in_bf16_is_as_accurate_as_plain_bf16():
    block, (x, grad) = _block(), _input()
    out_r, g_r, _ = _run("float64", block, x, grad)
    out_p, g_p, _ = _run("plain-bf16", block, x, grad)
    out_f, g_f, _ = _run("fused-bf16", block, x, grad)
    assert _rel(out_f, out_r) <= 1.5 * _rel(out_p, out_r) + 1e-3
    for i, name in ((0, "conv.weight"), (2, "bn.weight"), (3, "bn.bias")):
        # bf16 keeps 8 bits: the plain path's own error is the tolerance
        assert _rel(g_f[i], g_r[i]) <= 1.5 * _rel(g_p[i], g_r[i]) + 2e-3, name


def test_fused_stem_applies_only_where_exact():
    conv, bn, pool = _block()
    x = torch.randn(1, 1, H, W)
    assert stem_applies(conv, bn, nn.ReLU(), pool, x)
    assert not stem_applies(conv, bn.eval(), nn.ReLU(), pool, x)  # eval: plain layers
    bn.train()
    assert not stem_applies(nn.Conv2d(1, 4, 7, padding=3), bn, nn.ReLU(), pool, x)
    assert not stem_applies(nn.Conv2d(3, 4, 7), bn, nn.ReLU(), pool, torch.randn(1, 3, H, W))
    assert not stem_applies(conv, bn, nn.ReLU(), nn.MaxPool2d(3, 2), x)  # 3 not a multiple of 2
    assert not stem_applies(conv, bn, nn.ReLU(), pool, x.requires_grad_())
    with pytest.raises(ValueError, match="fused stem"):
        conv_bn_relu_pool(conv, bn.eval(), pool, torch.randn(1, 1, H, W))


class _Net(nn.Module):
    """HR-CelestialNet's shape in small: the fused first block, a second block, an FC."""

    def __init__(self) -> None:
        super().__init__()
        self.features = CheckpointSequential(
            nn.Conv2d(1, 4, 7), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.MaxPool2d(8, 4),
            nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        self.fc = nn.Linear(8 * 5 * 9, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.features(x), 1))


def _data(n: int = 8) -> TensorDataset:
    g = torch.Generator().manual_seed(5)
    y = torch.arange(n) % 2
    x = torch.randn(n, 1, H, W, generator=g) + 0.6 * y[:, None, None, None]
    return TensorDataset(x, y)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("ckpt", [False, True])
def test_loss_curve_equal_with_and_without_the_fused_stem(tmp_path, precision, ckpt):
    histories, states = [], []
    for fused in (False, True):
        torch.manual_seed(3)
        model = _Net()
        cfg = TrainConfig(epochs=3, batch_size=4, micro_batch=2, lr=0.02, momentum=0.5,
                          precision=precision, device="cpu", checkpoint_every=0,
                          checkpoint_activations=ckpt, fast_step=fused)
        res = fit(model, _data(), tmp_path / f"run_{fused}", cfg, progress=False)
        histories.append(res.history["loss"].to_numpy())
        states.append(res.model.state_dict())
    tol = 1e-4 if res.precision == "fp32" else 3e-2  # bf16: 8 significant bits
    assert histories[1] == pytest.approx(histories[0], abs=tol * histories[0][0])
    for key in ("features.1.running_mean", "features.1.running_var", "features.0.weight"):
        assert _rel(states[1][key].double(), states[0][key].double()) < 10 * tol, key


def test_fused_stem_flag_is_set_by_fit_and_recorded(tmp_path):
    model = _Net()
    res = fit(model, _data(4), tmp_path / "run", TrainConfig(epochs=1, batch_size=4,
              precision="fp32", device="cpu"), progress=False)
    assert res.model.features.fused_stem is True
    assert set_fused_stem(model, False) and model.features.fused_stem is False
    assert not set_fused_stem(nn.Sequential(CheckpointSequential(nn.Conv2d(1, 2, 3))))
    assert '"fast_step": true' in (tmp_path / "run" / "config.json").read_text()
    assert type(res.model.fc) is nn.Linear  # float32 linears only inside fit


@pytest.mark.parametrize("bf16", [False, True])
def test_one_autocast_region_per_step_gives_the_same_gradients(bf16):
    torch.manual_seed(2)
    model = _Net().train()
    set_activation_checkpointing(model, 0)
    data = _data(4)
    batches = [(data.tensors[0][i:i + 1], data.tensors[1][i:i + 1]) for i in range(4)]
    dtype = torch.bfloat16 if bf16 else None
    twin = copy.deepcopy(model)
    loss, correct = accumulate_gradients(model, iter(batches), 4, 4, dtype)
    total = 0.0
    for x, y in batches:  # the plain loop: an autocast region per micro-batch
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = twin(x)
        part = nn.functional.cross_entropy(logits.float(), y, reduction="sum")
        (part / 4).backward()
        total += float(part.detach())
    assert float(loss) == pytest.approx(total, rel=1e-6)
    assert 0 <= int(correct) <= 4
    for (name, a), b in zip(model.named_parameters(), twin.parameters(), strict=True):
        assert torch.equal(a.grad, b.grad), name


def test_reuse_freed_memory_is_transparent():
    with reuse_freed_memory():
        a = torch.ones(1 << 23)
        del a
        b = torch.zeros(1 << 23)
        assert float(b.sum()) == 0.0
    c = torch.full((1 << 23,), 2.0)
    assert float(c[-1]) == 2.0


def test_float32_linears_only_inside_the_block():
    model = _Net()
    keys = list(model.state_dict())
    x = torch.randn(2, 1, H, W)
    with float32_linears(model) as n:
        assert n == 1 and type(model.fc) is Float32Linear
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model.eval()(x)
        assert out.dtype == torch.float32
        assert list(model.state_dict()) == keys
    assert type(model.fc) is nn.Linear
    with float32_linears(model, enabled=False) as n:
        assert n == 0 and type(model.fc) is nn.Linear
