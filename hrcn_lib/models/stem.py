"""HR-CelestialNet's first block for training, fused and computed in row strips.

The first block -- Conv2d(1 -> C, k x k, no padding) -> BatchNorm2d (batch statistics) ->
ReLU -> MaxPool2d(kp, stride sp, no padding) -- runs on the full 2048 x 4096 input. Plain
autograd materialises four maps of C x 2042 x 4090 (conv output, BatchNorm output, its
gradient, the pool's scattered gradient: 0.5-1.1 GB each) and makes ~12 passes over them,
which took a third of a bf16 training step on the 2-core CPU (benchmarks/README.md).
:func:`conv_bn_relu_pool` computes the same function and the same gradients while only the
pooled map (16x smaller) ever exists in full:

* **Forward**, one pass of row strips (the rows of ``rows_per_strip`` pooled outputs and
  the conv rows they need): ``u = conv(x, s*w, s*b)`` with ``s = sign(gamma)`` per channel,
  so that ``y = BN(z) = |gamma| (u - mean(u)) / sigma + beta`` increases with ``u``: the
  max-pool of ``y`` picks the position of the max-pool of ``u``, which needs no statistics.
  Each strip adds its rows' per-channel mean and variance to running totals (Chan's
  parallel update, float64) and keeps the pooled ``u`` and the argmax positions. After the
  last strip the BatchNorm statistics are known and the output is
  ``relu(|gamma| (pool(u) - mean) / sigma + beta)`` on the pooled map (ReLU and the affine
  map commute with the max: both are non-decreasing). Running statistics are updated as
  :class:`torch.nn.BatchNorm2d` does (unbiased variance, momentum or cumulative average).
* **Backward**, again in strips: ``dL/dy`` is zero except at the argmax positions, so
  ``dL/dbeta`` and ``dL/dgamma`` are sums over the pooled map, and BatchNorm's input
  gradient is ``dL/du = A D + B + C u`` (``D``: the scattered pooled gradient; ``A, B, C``
  per channel). Each strip recomputes ``u`` (cheaper than storing 0.5 GB and reading it
  back), forms ``dL/du`` and adds its weight gradient
  (:func:`torch.ops.aten.convolution_backward`). The conv bias gradient is exactly zero
  (BatchNorm in training removes any constant), and so is returned.

With one input channel the conv runs as a (1, k) convolution over k row-shifted copies of
the input (k input channels), which oneDNN runs ~2x faster than C_in = 1
(:class:`hrcn_lib.inference.StripBlock` does the same at inference).

Precision: under :func:`torch.autocast` the convolutions run in the autocast dtype (bf16)
as the plain path's do, statistics and the pooled-map arithmetic in float32/float64; the
output has the dtype the plain path would give (bf16 under autocast, else the input's).
Results equal the plain path's to that precision (tests/test_train_fast.py); ties in a
pool window may pick another position, as any change of summation order can.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["STEM_ROWS_PER_STRIP", "stem_applies", "conv_bn_relu_pool"]

#: Pooled output rows per strip. A strip's conv output (C x (rows*sp + kp - sp) x W in
#: the compute dtype) should stay near the caches: 8 rows of HR-CelestialNet's stem are
#: 32 x 36 x 4090 values (9.4 MB in bf16). Measured in benchmarks/README.md.
STEM_ROWS_PER_STRIP: int = 8


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def stem_applies(conv: nn.Module, bn: nn.Module, relu: nn.Module, pool: nn.Module,
                 x: torch.Tensor) -> bool:
    """Whether :func:`conv_bn_relu_pool` computes ``pool(relu(bn(conv(x))))`` here.

    True for a CPU input without gradient, a square unpadded stride-1 Conv2d with one input
    channel, a training-mode affine BatchNorm2d with running statistics, a ReLU, and a
    square unpadded, undilated MaxPool2d (floor mode, no indices returned).
    """
    if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
            and isinstance(relu, nn.ReLU) and isinstance(pool, nn.MaxPool2d)):
        return False
    k = _pair(conv.kernel_size)
    kp, sp = _pair(pool.kernel_size), _pair(pool.stride or pool.kernel_size)
    return (x.device.type == "cpu" and x.dim() == 4 and x.shape[1] == 1
            and not x.requires_grad and x.is_floating_point()
            and conv.in_channels == 1 and conv.groups == 1 and k[0] == k[1]
            and _pair(conv.stride) == (1, 1) and _pair(conv.padding) == (0, 0)
            and _pair(conv.dilation) == (1, 1) and conv.padding_mode == "zeros"
            and bn.training and bn.affine and bn.track_running_stats
            and bn.num_features == conv.out_channels
            and kp[0] == kp[1] and sp[0] == sp[1] and kp[0] % sp[0] == 0
            and _pair(pool.padding) == (0, 0)
            and _pair(pool.dilation) == (1, 1) and not pool.ceil_mode
            and not pool.return_indices
            and x.shape[2] >= k[0] + kp[0] - 1 and x.shape[3] >= k[0] + kp[0] - 1)


def conv_bn_relu_pool(conv: nn.Conv2d, bn: nn.BatchNorm2d, pool: nn.MaxPool2d,
                      x: torch.Tensor, rows_per_strip: int = STEM_ROWS_PER_STRIP
                      ) -> torch.Tensor:
    """``pool(relu(bn(conv(x))))`` in training mode, memory-lean (see the module docstring).

    Args:
        conv, bn, pool: the block's modules (checked by :func:`stem_applies`); ``bn``'s
            running statistics and batch counter are updated as by a plain forward.
        x: input (N, 1, H, W), float, on the cpu, not requiring grad.
        rows_per_strip: pooled output rows per strip.

    Returns:
        (N, C, H', W') in channels_last, in the autocast dtype when autocast is on, else
        ``x``'s dtype; differentiable in the conv's and BatchNorm's parameters.

    Raises:
        ValueError: when :func:`stem_applies` is false.
    """
    if not stem_applies(conv, bn, nn.ReLU(), pool, x):
        raise ValueError("conv_bn_relu_pool: modules or input outside what the fused stem "
                         "computes (see stem_applies)")
    if torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
    else:
        dtype = x.dtype
    bias = conv.bias if conv.bias is not None else torch.zeros(
        conv.out_channels, dtype=conv.weight.dtype)
    out, mean, var_unbiased = _FusedStem.apply(
        x, conv.weight, bias, bn.weight, bn.bias, float(bn.eps), dtype,
        _pair(pool.kernel_size)[0], _pair(pool.stride or pool.kernel_size)[0],
        max(1, int(rows_per_strip)))
    _update_running_stats(bn, mean, var_unbiased)
    return out


def _update_running_stats(bn: nn.BatchNorm2d, mean: torch.Tensor, var: torch.Tensor) -> None:
    """What :func:`torch.nn.functional.batch_norm` does to the buffers in training."""
    with torch.no_grad():
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:
            factor = 1.0 / float(bn.num_batches_tracked)
        else:
            factor = float(bn.momentum)
        bn.running_mean.mul_(1 - factor).add_(mean.to(bn.running_mean.dtype), alpha=factor)
        bn.running_var.mul_(1 - factor).add_(var.to(bn.running_var.dtype), alpha=factor)


def _shifted_rows(x: torch.Tensor, k: int, dtype: torch.dtype) -> torch.Tensor:
    """The k row shifts of each sample as channels: (N, 1, H, W) -> (N, k', H-k+1, W),
    channels_last, in ``dtype``; channel ``a < k`` of row ``h`` is input row ``h + a``,
    channels ``k .. k'-1`` are zero (k' = k rounded up to even: oneDNN's bf16 kernels
    pair input channels, and 8 channels ran 1.7x faster than 7)."""
    n, _, h, w = x.shape
    out = torch.empty((n, h - k + 1, w, _padded(k)), dtype=dtype)
    out[..., k:] = 0
    for i in range(n):
        out[i, ..., :k] = x[i, 0].to(dtype).unfold(0, k, 1)
    return out.permute(0, 3, 1, 2)


def _padded(k: int) -> int:
    return k + k % 2


def _affine(t: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``t * scale + shift`` per channel in one pass, float32 arithmetic, ``t``'s dtype and
    memory format (an eval-mode batch norm with mean 0 and variance 1)."""
    c = t.shape[1]
    return torch.ops.aten.native_batch_norm(t, scale, shift, torch.zeros(c), torch.ones(c),
                                            False, 0.0, 0.0)[0]


class _FusedStem(torch.autograd.Function):
    """The autograd function behind :func:`conv_bn_relu_pool`.

    The pool ``kp / sp`` (``kp = m * sp``) runs as an ``sp x sp`` block max-pool per strip
    (each conv row belongs to exactly one strip, so nothing is computed twice) followed by
    an ``m x m`` stride-1 max-pool over the map of block maxima (the exact split of
    :class:`hrcn_lib.inference.SplitMaxPool`). In the backward pass the pooled gradient is
    first gathered onto the block map (windows overlap there: accumulated) and then added
    at each block's argmax (one per block: no collisions).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                gamma: torch.Tensor, beta: torch.Tensor, eps: float, dtype: torch.dtype,
                kp: int, sp: int, rows: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.autocast("cpu", enabled=False):
            n, _, h, w = x.shape
            c, k = weight.shape[0], weight.shape[-1]
            hc, wc = h - k + 1, w - k + 1
            hb, wb = hc // sp, wc // sp  # the block map
            sign = torch.where(gamma.detach() < 0, -1.0, 1.0).to(torch.float32)
            w_u = _shift_weight(weight.detach(), sign, dtype)
            b_u = (bias.detach().float() * sign).to(dtype)
            shifted = _shifted_rows(x, k, dtype)
            blocks = torch.empty((n, c, hb, wb), dtype=dtype, memory_format=torch.channels_last)
            # argmax of each block as a flat index into its strip's channels_last storage
            # (channels_last too: a strip's part is one contiguous, nearly ascending run)
            where = torch.empty((n, c, hb, wb), dtype=torch.int64,
                                memory_format=torch.channels_last)
            channel = torch.arange(c)[None, :, None, None]
            ones, zeros = torch.ones(c), torch.zeros(c)
            parts = []
            for i, a, b, s0, s1 in _strips(n, hc, hb, sp, rows):
                u = F.conv2d(shifted[i:i + 1, :, s0:s1], w_u, b_u)
                _, m, inv = torch.ops.aten.native_batch_norm(u, ones, zeros, None, None, True,
                                                             0.0, 0.0)
                parts.append((float((s1 - s0) * wc), m, inv))
                vals, idx = F.max_pool2d(u[:, :, :(b - a) * sp], sp, sp, return_indices=True)
                blocks[i:i + 1, :, a:b] = vals
                where[i:i + 1, :, a:b] = idx * c + channel
            pooled, where2 = F.max_pool2d(blocks, kp // sp, 1, return_indices=True)
            mean, var = _combine(parts)  # of u, float64; var biased
            count = n * hc * wc
            sigma = torch.sqrt(var + eps).float()
            out = torch.ops.aten.native_batch_norm(
                pooled, gamma.detach().float().abs(), beta.detach().float(), mean.float(),
                var.float(), False, 0.0, eps)[0].relu_()
        ctx.save_for_backward(weight, bias, gamma, pooled, blocks, where, where2, shifted, out)
        ctx.geometry = (dtype, kp, sp, rows, count, n, hc)
        ctx.moments = (mean.float(), sigma, sign)
        batch_mean = (mean * sign.double()).float()  # of z = s u
        batch_var = (var * count / max(count - 1, 1)).float()  # unbiased, as BatchNorm keeps
        ctx.mark_non_differentiable(batch_mean, batch_var)
        return out, batch_mean, batch_var

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor, _gm: Any, _gv: Any) -> tuple[Any, ...]:
        weight, bias, gamma, pooled, blocks, where, where2, shifted, out = ctx.saved_tensors
        dtype, kp, sp, rows, count, n, hc = ctx.geometry
        mean, sigma, sign = ctx.moments
        with torch.autocast("cpu", enabled=False):
            c, k = weight.shape[0], weight.shape[-1]
            hb = blocks.shape[2]
            scale = gamma.detach().float().abs() / sigma                       # A
            dy = torch.ops.aten.threshold_backward(grad_out.to(out.dtype), out, 0)
            # sum(dy * (u - mean) / sigma) and sum(dy) over the argmaxes, per channel
            _, dzhat_u, dbeta = torch.ops.aten.native_batch_norm_backward(
                dy, pooled, torch.ones(c), None, None, mean, 1.0 / sigma, True, 0.0,
                [False, True, True])
            dgamma = dzhat_u * sign
            # dL/du = A D + B + C u, D the scattered dy (see the module docstring)
            coef_c = -scale * dzhat_u / (count * sigma)
            coef_b = -scale * dbeta / count - coef_c * mean
            dy_a = dy.float().mul_(scale[None, :, None, None])
            del dy
            on_blocks = torch.ops.aten.max_pool2d_with_indices_backward(
                dy_a, torch.empty_like(blocks, dtype=torch.float32), [kp // sp] * 2, [1, 1], [0, 0], [1, 1], False, where2)
            del dy_a
            on_blocks = on_blocks.contiguous(memory_format=torch.channels_last)  # as ``where``
            w_u = _shift_weight(weight.detach(), sign, dtype)
            b_u = (bias.detach().float() * sign).to(dtype)
            grad_w = torch.zeros((c, _padded(k), 1, k), dtype=torch.float32)
            for i, a, b, s0, s1 in _strips(n, hc, hb, sp, rows):
                rows_in = shifted[i:i + 1, :, s0:s1]
                du = _affine(F.conv2d(rows_in, w_u, b_u), coef_c, coef_b)
                flat = du.permute(0, 2, 3, 1).view(-1)  # channels_last storage order
                at = _cl_flat(where[i, :, a:b])
                flat[at] = (flat[at] + _cl_flat(on_blocks[i, :, a:b])).to(dtype)
                _, gw, _ = torch.ops.aten.convolution_backward(
                    du, rows_in, w_u, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                    [False, True, False])
                grad_w += gw
        grad_weight = (grad_w[:, :k, 0] * sign[:, None, None]).unsqueeze(1)
        grad_bias = torch.zeros_like(bias) if ctx.needs_input_grad[2] else None
        return (None, grad_weight.to(weight.dtype), grad_bias, dgamma.to(gamma.dtype),
                dbeta.to(gamma.dtype), None, None, None, None, None)


def _cl_flat(t: torch.Tensor) -> torch.Tensor:
    """A (C, H, W) slice of a channels_last tensor as its storage order (H, W, C), flat."""
    return t.permute(1, 2, 0).reshape(-1)


def _shift_weight(weight: torch.Tensor, sign: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(C, 1, k, k) conv weight times ``sign`` per channel as (C, k', 1, k) channels_last,
    the rows as input channels, zero for the padding channels of :func:`_shifted_rows`."""
    c, _, k, _ = weight.shape
    w = torch.zeros((c, _padded(k), 1, k), dtype=torch.float32)
    w[:, :k, 0] = weight.float()[:, 0] * sign[:, None, None]
    return w.to(dtype).contiguous(memory_format=torch.channels_last)


def _strips(n: int, hc: int, hb: int, sp: int, rows: int
            ) -> Iterator[tuple[int, int, int, int, int]]:
    """Strips of every sample: ``(i, a, b, s0, s1)``: block rows ``[a, b)`` (``rows`` of
    them), from conv rows ``[s0, s1) = [a*sp, b*sp)``; the last strip's conv rows run to
    ``hc`` (rows below the last block still count in BatchNorm's statistics)."""
    for i in range(n):
        for a in range(0, hb, rows):
            b = min(a + rows, hb)
            yield i, a, b, a * sp, (hc if b == hb else b * sp)


def _combine(parts: list[tuple[float, torch.Tensor, torch.Tensor]]
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and biased variance of the union of blocks given as (count, mean, 1/std)."""
    counts = torch.tensor([p[0] for p in parts], dtype=torch.float64)[:, None]
    means = torch.stack([p[1] for p in parts]).double()
    var = torch.stack([p[2] for p in parts]).double().pow(-2)
    total = counts.sum()
    mean = (counts * means).sum(0) / total
    return mean, (counts * (var + (means - mean) ** 2)).sum(0) / total
