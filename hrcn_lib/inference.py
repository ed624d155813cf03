"""Fast, exact inference: :class:`Predictor` and the model rewrites it applies.

:class:`Predictor` turns a trained network into a lean inference function:

* BatchNorm folded into the preceding convolution
  (:func:`torch.nn.utils.fusion.fuse_conv_bn_eval`), so no BN pass over the
  (32, 2042, 4090) first activation;
* the first convolution + ReLU + max-pool of ``model.features`` (when unpadded, as in
  HR-CelestialNet, whose first activation is 32x2042x4090 = 1.07 GB in fp32) computed in
  overlapping row strips: the output rows ``[a, b)`` of the block need input rows
  ``[a*S, (b-1)*S + K)`` (S: total stride, K: receptive field), so the strips together
  give exactly the unstripped result and the full activation never exists; within the
  block ReLU runs after the pool (exact: ReLU is monotone) on 16x fewer elements and the
  pool runs in channels_last (5x faster here);
* fully connected layers kept in bfloat16 (HR-CelestialNet's FC1 has 69M weights:
  277 MB in fp32, 138 MB in bf16); everything else in bf16 only where the hardware has
  native bf16 (AMX / AVX512-BF16 / CUDA), else fp32. ``bf16=True/False`` or the
  environment variable ``HRCN_PRECISION=bf16|fp32|auto`` forces either path on any
  machine (bf16 is then emulated where not native: slow, but exact to bf16);
* :func:`torch.inference_mode`.

A Predictor takes numpy arrays or tensors, one sample (H, W) or a batch (N, 1, H, W), and
applies the model's own input size: an LCID sample (2048, 4096) given to an LCID-Resize
model is resized exactly as the dataset does
(:func:`hrcn_lib.preprocess.resize.resize_sample`).
:meth:`Predictor.predict_file` classifies one FITS HDU or one ``.npy`` sample of
``hrcn preprocess`` (:func:`read_sample`).
"""

from __future__ import annotations

import copy
import ctypes
import mmap
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from hrcn_lib.names import CLASS_NAMES, INPUT_SIZES, LCID_SIZE
from hrcn_lib.preprocess import load_sample
from hrcn_lib.runtime import (
    MODEL_FORMAT,
    checkpoint_file,
    load_checkpoint,
    model_from_payload,
    native_bf16,
    requested_precision,
    resolve_device,
)

__all__ = [
    "Predictor",
    "read_sample",
    "fold_batchnorm",
    "BF16Linear",
    "StripBlock",
    "SplitMaxPool",
    "CPU_ROWS_PER_STRIP",
]

#: Output rows per strip of the first block on the cpu (:class:`StripBlock`). Measured on
#: the 2-core AVX2 machine (benchmarks/README.md): 8 rows 0.29 s per 2048x4096 sample,
#: 32 rows 0.82 s (the strip's 32 x 132 x 4090 activation no longer stays in cache).
CPU_ROWS_PER_STRIP: int = 8


# --------------------------------------------------------------------------- model rewriting


def _shallow_structure_copy(model: nn.Module) -> nn.Module:
    """A copy of the module tree that shares (does not copy) parameters and buffers."""
    memo: dict[int, Any] = {id(t): t for t in list(model.parameters()) + list(model.buffers())}
    return copy.deepcopy(model, memo)


def _fold_pairs(parent: nn.Module, conv_name: str, bn_name: str) -> bool:
    conv, bn = getattr(parent, conv_name, None), getattr(parent, bn_name, None)
    if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
        setattr(parent, conv_name, fuse_conv_bn_eval(conv.eval(), bn.eval()))
        setattr(parent, bn_name, nn.Identity())
        return True
    return False


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every BatchNorm2d that directly follows a Conv2d into it, in place (eval only).

    Handles adjacent children of ``nn.Sequential`` containers and the ``convK``/``bnK``
    attribute pairs of torchvision ResNet blocks. The BatchNorm becomes ``nn.Identity``.

    Returns:
        the number of BatchNorm layers folded.
    """
    folded = 0
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in zip(names[:-1], names[1:], strict=True):
                folded += _fold_pairs(module, a, b)
        for k in ("", "1", "2", "3"):
            folded += _fold_pairs(module, f"conv{k}", f"bn{k}")
    return folded


class BF16Linear(nn.Module):
    """``nn.Linear`` with bfloat16 weights (half the memory); input/output stay float32."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.weight = nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
        # (a weight that is already bf16, see Predictor.from_checkpoint, is not copied)
        bias = linear.bias
        self.bias = None if bias is None else nn.Parameter(bias.detach().to(torch.bfloat16),
                                                           requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(torch.bfloat16), self.weight, self.bias).float()


def _release_file_pages(t: torch.Tensor) -> None:
    """Drop the resident pages of a tensor that lives in a private file mapping.

    Only for tensors of ``torch.load(..., mmap=True)`` that will not be written: the
    kernel re-reads the file if they are touched again, so no data is lost, and the
    process's RSS no longer counts them (``madvise(MADV_DONTNEED)``, Linux only).
    """
    if sys.platform != "linux" or not t.is_contiguous() or t.device.type != "cpu":
        return
    page = mmap.PAGESIZE
    start, end = t.data_ptr(), t.data_ptr() + t.numel() * t.element_size()
    lo, hi = -(-start // page) * page, end // page * page
    if hi > lo:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), 4)  # MADV_DONTNEED


def _bf16_from_mapped(t: torch.Tensor, chunk: int = 1 << 22) -> torch.Tensor:
    """bf16 copy of a file-mapped float tensor, releasing its pages chunk by chunk."""
    out = torch.empty(t.shape, dtype=torch.bfloat16)
    src, dst = t.reshape(-1), out.view(-1)
    for i in range(0, src.numel(), chunk):
        dst[i:i + chunk].copy_(src[i:i + chunk])
        _release_file_pages(src[i:i + chunk])
    return out


def _bf16_linears(model: nn.Module) -> int:
    count = 0
    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            if type(child) is nn.Linear:
                module._modules[name] = BF16Linear(child)
                count += 1
    return count


class SplitMaxPool(nn.Module):
    """``MaxPool2d(k, s)`` with ``k = m*s`` as ``MaxPool2d(s, s)`` then ``MaxPool2d(m, 1)``.

    Exact: the window ``[i*s, i*s + k)`` is the union of the m disjoint s-blocks
    ``i .. i+m-1``, and both give ``floor(L/s) - m + 1 = (L - k)//s + 1`` outputs per axis.
    The first pass reads every input element once (k*k/s/s fewer comparisons than the
    overlapping pool: 4x fewer for HR-CelestialNet's 8/4 and 4/2 pools) and the second runs on an
    s*s times smaller map. Input/output as ``nn.MaxPool2d``: (N, C, H, W) -> (N, C, H', W').
    """

    def __init__(self, pool: nn.MaxPool2d) -> None:
        super().__init__()
        if not self.supports(pool):
            raise ValueError("SplitMaxPool needs an unpadded, undilated MaxPool2d whose kernel "
                             "is a multiple (> 1) of its stride")
        (self.kh, self.kw), (self.sh, self.sw) = _pair(pool.kernel_size), _pair(
            pool.stride or pool.kernel_size)

    @staticmethod
    def supports(pool: nn.Module) -> bool:
        """Whether ``pool`` is an unpadded MaxPool2d with kernel = m x stride, m > 1."""
        if not isinstance(pool, nn.MaxPool2d) or pool.ceil_mode or pool.return_indices:
            return False
        (kh, kw), (sh, sw) = _pair(pool.kernel_size), _pair(pool.stride or pool.kernel_size)
        return (_pair(pool.padding) == (0, 0) and _pair(pool.dilation) == (1, 1)
                and kh % sh == 0 and kw % sw == 0 and (kh > sh or kw > sw))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.max_pool2d(x, (self.sh, self.sw), (self.sh, self.sw))
        return F.max_pool2d(y, (self.kh // self.sh, self.kw // self.sw), 1)


def _split_pools(model: nn.Module) -> int:
    """Replace every :meth:`SplitMaxPool.supports` max-pool by a SplitMaxPool; the count."""
    count = 0
    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            if SplitMaxPool.supports(child):
                module._modules[name] = SplitMaxPool(child)
                count += 1
    return count


class StripBlock(nn.Module):
    """Conv2d (no padding) -> ReLU -> MaxPool2d (no padding), computed in row strips.

    Input (N, C, H, W) float; output (N, C', H', W') exactly as
    ``pool(relu(conv(x)))``. Output rows ``[a, b)`` are computed from input rows
    ``[a*S, (b-1)*S + K)`` with S = conv stride x pool stride and K the block's
    receptive field, ``rows_per_strip`` output rows at a time.
    """

    def __init__(self, conv: nn.Conv2d, pool: nn.MaxPool2d, rows_per_strip: int = 8) -> None:
        super().__init__()
        if not self.supports(conv, pool):
            raise ValueError("StripBlock needs an unpadded, undilated Conv2d and MaxPool2d")
        self.conv = conv
        kc, sc = conv.kernel_size[0], conv.stride[0]
        kp, sp = _pair(pool.kernel_size)[0], _pair(pool.stride or pool.kernel_size)[0]
        self.stride = sc * sp
        self.receptive = kc + (kp - 1) * sc
        self._pool_rows = (kp, sp)
        self.pool = SplitMaxPool(pool) if SplitMaxPool.supports(pool) else pool
        self.rows_per_strip = int(rows_per_strip)
        self.out_format = torch.contiguous_format
        self._row_weight: torch.Tensor | None = None

    @staticmethod
    def supports(conv: nn.Module, pool: nn.Module) -> bool:
        """Whether the pair is unpadded/undilated (so strips are exact)."""
        return (isinstance(conv, nn.Conv2d) and isinstance(pool, nn.MaxPool2d)
                and _pair(conv.padding) == (0, 0) and _pair(conv.dilation) == (1, 1)
                and conv.groups == 1 and _pair(pool.padding) == (0, 0)
                and _pair(pool.dilation) == (1, 1) and not pool.ceil_mode)

    def out_rows(self, h: int) -> int:
        """Output height for input height ``h``."""
        hc = (h - self.conv.kernel_size[0]) // self.conv.stride[0] + 1
        return (hc - self._pool_rows[0]) // self._pool_rows[1] + 1

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        if conv.in_channels != 1 or x.shape[0] != 1 or _pair(conv.stride) != (1, 1):
            return conv(x.contiguous(memory_format=torch.channels_last))
        # one input channel: the kh shifted copies of the rows become kh input channels of
        # a (1, kw) convolution in channels_last (oneDNN is ~2x faster than with C_in = 1),
        # padded with zero channels to an even count (bf16/fp16 kernels pair channels:
        # 8 ran 1.7x faster than 7 on the cpu; cuDNN's fp16 tensor cores want 8)
        kh = conv.kernel_size[0]
        kin = kh + kh % 2
        if self._row_weight is None or self._row_weight.dtype != conv.weight.dtype:
            weight = conv.weight.new_zeros((conv.out_channels, kin, 1, conv.kernel_size[1]))
            weight[:, :kh, 0] = conv.weight[:, 0]
            self._row_weight = weight.contiguous(memory_format=torch.channels_last)
        plane = x[0, 0]
        rows = plane.new_zeros((plane.shape[0] - kh + 1, plane.shape[1], kin))
        rows[..., :kh] = plane.unfold(0, kh, 1)
        return F.conv2d(rows.permute(2, 0, 1).unsqueeze(0), self._row_weight, conv.bias)

    def _block(self, x: torch.Tensor) -> torch.Tensor:
        y = self._conv(x)
        return torch.relu_(self.pool(y.contiguous(memory_format=torch.channels_last)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h_out = self.out_rows(x.shape[2])
        if h_out < 1:
            raise ValueError(f"input height {x.shape[2]} is smaller than the block's receptive "
                             f"field {self.receptive}")
        out: torch.Tensor | None = None
        for a in range(0, h_out, self.rows_per_strip):
            b = min(a + self.rows_per_strip, h_out)
            piece = self._block(x[:, :, a * self.stride:(b - 1) * self.stride + self.receptive])
            if out is None:  # written strip by strip: no list of pieces, no concatenation
                out = torch.empty((piece.shape[0], piece.shape[1], h_out, piece.shape[3]),
                                  dtype=piece.dtype, device=piece.device,
                                  memory_format=self.out_format)
            out[:, :, a:b] = piece
        assert out is not None
        return out


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _install_strips(model: nn.Module, rows_per_strip: int) -> bool:
    """Replace features[0:k] (conv, [Identity], ReLU, MaxPool) by a StripBlock."""
    feats = getattr(model, "features", None)
    if not isinstance(feats, nn.Sequential) or len(feats) < 3:
        return False
    mods = list(feats)
    conv = mods[0]
    i = 1
    while i < len(mods) and isinstance(mods[i], nn.Identity):
        i += 1
    if i + 1 >= len(mods) or not isinstance(mods[i], nn.ReLU):
        return False
    pool = mods[i + 1]
    if not StripBlock.supports(conv, pool):
        return False
    block = StripBlock(conv, pool, rows_per_strip)
    new = nn.Sequential(*([block] + mods[i + 2:]))
    model.features = new
    return True


# --------------------------------------------------------------------------- Predictor


def _convert(net: nn.Module, device: torch.device, dtype: torch.dtype | None) -> nn.Module:
    """``net`` moved to ``device``/``dtype`` and channels_last, never touching shared tensors.

    ``net`` shares parameters with the caller's model (see :func:`_shallow_structure_copy`);
    ``Module.to`` would by default convert those shared tensors in place and so change the
    caller's model too. With ``overwrite_module_params_on_conversion`` each converted
    parameter is a new tensor; unconverted ones stay shared (no copy, no memory).
    """
    previous = torch.__future__.get_overwrite_module_params_on_conversion()
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        net = net.to(device)
        if dtype is not None:
            net = net.to(dtype)
        return net.to(memory_format=torch.channels_last)
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(previous)


def _use_bf16(bf16: bool | None, device: torch.device) -> bool:
    """Whether a Predictor computes in bf16: ``bf16`` when given, else ``$HRCN_PRECISION``
    (``bf16`` forces it even where emulated, ``fp32`` forbids it), else native support."""
    if bf16 is not None:
        return bool(bf16)
    requested = requested_precision(None)
    return native_bf16(device) if requested == "auto" else requested == "bf16"


def read_sample(path: Path | str, hdu: int | None = None) -> np.ndarray:
    """One model input from a file: a FITS HDU (preprocessed) or a ``.npy`` sample.

    Args:
        path: a raw/flt FITS file (also gzip- or fpack-compressed, read by astropy), or a
            ``.npy`` file as ``hrcn preprocess`` writes (float32 (2048, 4096)).
        hdu: the FITS HDU (1 or 4); ignored for ``.npy`` files.

    Returns:
        float32 array (H, W): :func:`hrcn_lib.preprocess.load_sample` of the HDU, or the
        stored sample.

    Raises:
        ValueError: a FITS file without ``hdu``; a ``.npy`` file that is not a 2-D float
            array or holds NaN/inf (message names the file).
        PreprocessError: a FITS file/HDU that cannot be preprocessed (names file and HDU).
        FileNotFoundError: a missing ``.npy`` file.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            why = ("it holds Python objects" if "allow_pickle" in str(exc) else str(exc))
            raise ValueError(f"{path}: not a numpy sample file ({why}); pass a sample as "
                             f"`hrcn preprocess` writes it, or the FITS file itself") from None
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(f"{path}: expected a 2-D float sample as `hrcn preprocess` writes "
                             f"(float32 {LCID_SIZE}), got shape {arr.shape} dtype {arr.dtype}")
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        if bad:
            raise ValueError(f"{path}: {bad} pixel(s) are NaN or infinite; `hrcn preprocess` "
                             f"writes finite samples: preprocess the FITS file again")
        return np.ascontiguousarray(arr, dtype=np.float32)
    if hdu is None:
        raise ValueError(f"{path}: which HDU? pass hdu=1 (SCI,1) or hdu=4 (SCI,2)")
    return load_sample(path, hdu)


class Predictor:
    """Fast, memory-lean inference: ``Predictor(model)(x) -> probabilities``.

    Args:
        model: a network of :func:`hrcn_lib.models.build_model` (or any module mapping
            (N, 1, H, W) to (N, 2) logits). It is not modified; its parameters are shared
            where not rewritten, so drop your own reference to free its memory.
        device: ``None``/"auto" (cuda if available, else cpu), "cpu", "cuda".
        bf16: run convolutions in bf16: True/False to force (True: emulated where the
            hardware lacks bf16); ``None`` = ``$HRCN_PRECISION`` (``bf16``/``fp32``
            force, ``auto``) when set, else only where native (see
            :func:`hrcn_lib.runtime.native_bf16`).
        fc_bf16: keep fully connected weights in bfloat16 (default True).
        strips: compute the first conv block as a :class:`StripBlock` when possible
            (default True).
        rows_per_strip: output rows of the first block per strip; ``None`` (default) =
            :data:`CPU_ROWS_PER_STRIP` on the cpu (strips that stay in cache: measured
            fastest), one strip of the whole input on a GPU (no memory constraint there;
            the block still gains from ReLU after the pool and the split pool).
        split_pools: replace the max-pools of kernel m x stride by :class:`SplitMaxPool`
            (exact). ``None`` (default) = on a GPU only: on the 2-core cpu the split
            4/2 pool of HR-CelestialNet's 64 x 503 x 1015 map was slower (68 ms against
            42 ms; the map is out of cache), while inside the cpu strips it is 2x faster
            and :class:`StripBlock` always splits its own pool.
        dataset: ``"lcid"`` or ``"lcid-resize"``, what the model reads; default the
            model's own (``model.hrcn_config["dataset_name"]`` of a checkpoint, else
            ``model.hrcn_dataset`` of :func:`~hrcn_lib.models.build_model`). ``None`` for a
            model without one: inputs are then passed as given.

    Call: ``x`` float numpy array or tensor, (H, W), (1, H, W) or (N, 1, H, W) ->
    float32 tensor (N, 2) on the cpu, softmax probabilities in the order (galaxy, NSC);
    samples run one at a time. See :meth:`prepare` for the input size. Raises
    ValueError when a probability is NaN/inf (NaN/inf in the input or weights) instead
    of returning it.

    Attributes:
        folded, strip, split_pools, bf16, fc_bf16: what was applied (for reports).
        dataset, input_size: what the model reads (``None`` when unknown).
    """

    def __init__(self, model: nn.Module, device: str | torch.device | None = None, *,
                 bf16: bool | None = None, fc_bf16: bool = True, strips: bool = True,
                 rows_per_strip: int | None = None, split_pools: bool | None = None,
                 dataset: str | None = None) -> None:
        self.device = resolve_device(device)
        self.config: dict[str, Any] = dict(getattr(model, "hrcn_config", {}))
        dataset = dataset or self.config.get("dataset_name") or getattr(model, "hrcn_dataset",
                                                                         None)
        if dataset is not None and dataset not in INPUT_SIZES:
            raise ValueError(f"unknown dataset {dataset!r}: expected one of {list(INPUT_SIZES)}")
        self.dataset: str | None = dataset
        self.input_size: tuple[int, int] | None = INPUT_SIZES[dataset] if dataset else None
        net = _shallow_structure_copy(model.eval())
        self.folded = fold_batchnorm(net)
        if rows_per_strip is None:
            rows_per_strip = CPU_ROWS_PER_STRIP if self.device.type == "cpu" else 1 << 30
        self.strip = _install_strips(net, rows_per_strip) if strips else False
        if split_pools is None:
            split_pools = self.device.type != "cpu"
        self.split_pools = _split_pools(net) if split_pools else 0
        self.bf16 = _use_bf16(bf16, self.device)
        self.fc_bf16 = fc_bf16 and not self.bf16
        if self.fc_bf16:
            _bf16_linears(net)
        net = _convert(net, self.device, torch.bfloat16 if self.bf16 else None)
        for m in net.modules():
            if isinstance(m, StripBlock):
                m.out_format = torch.channels_last
        self.net = net.eval()
        self._dtype = torch.bfloat16 if self.bf16 else torch.float32

    @classmethod
    def from_checkpoint(cls, path: Path | str, device: str | torch.device | None = None,
                        **kwargs: Any) -> Predictor:
        """A Predictor straight from ``model.pt`` / ``checkpoint.pt`` / a run directory.

        The checkpoint is memory-mapped; fully connected weights are converted to bf16
        chunk by chunk and their file pages released as they are read (whenever they end
        in bf16: ``fc_bf16``, or a bf16 Predictor), so the fp32 FC weights (277 MB for
        HR-CelestialNet) never sit in memory next to their bf16 copy.
        The Predictor's ``config`` holds the run's configuration (and so its dataset).

        Raises:
            CheckpointError: missing, corrupt or foreign file (named).
        """
        file = checkpoint_file(path)
        payload = load_checkpoint(file, kind=MODEL_FORMAT, mmap=True)
        dev = resolve_device(device)
        if kwargs.get("fc_bf16", True) or _use_bf16(kwargs.get("bf16"), dev):
            # bf16 either way (FC only, or the whole net): stream the big matrices to bf16
            # now; convolutions and BatchNorm stay float32 until BN is folded into them
            state = payload["model"]
            for key, t in list(state.items()):
                if key.endswith(".weight") and t.dim() == 2 and t.is_floating_point():
                    state[key] = _bf16_from_mapped(t)
        model = model_from_payload(payload, file)
        del payload
        return cls(model, device=dev, **kwargs)

    def prepare(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The model input for ``x``: a float32 tensor (N, 1, H, W) of the model's size.

        ``x`` is a float numpy array or tensor, (H, W), (1, H, W) or (N, 1, H, W). When
        the model reads LCID-Resize and ``x`` is an LCID sample (2048, 4096), each sample
        is resized by :func:`hrcn_lib.preprocess.resize.resize_sample` (``cv2.resize``,
        bilinear, in float32), exactly as the dataset path does.

        Raises:
            ValueError: not a float array/tensor of one of those shapes, or a size the
                model cannot read (names the size the model expects).
        """
        if isinstance(x, np.ndarray):
            if not np.issubdtype(x.dtype, np.floating):
                raise ValueError(f"Predictor expects a float array, got dtype {x.dtype}")
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"Predictor expects a float array or tensor (N, 1, H, W), "
                             f"got {type(x).__name__}")
        if not x.is_floating_point():
            raise ValueError(f"Predictor expects a float tensor, got dtype {x.dtype}")
        shape = tuple(x.shape)
        if x.dim() == 2:
            x = x[None, None]
        elif x.dim() == 3 and shape[0] == 1:
            x = x[None]
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"Predictor expects a float array or tensor (H, W), (1, H, W) or "
                             f"(N, 1, H, W), got {shape}")
        size = (int(x.shape[2]), int(x.shape[3]))
        if self.input_size is None or size == self.input_size:
            return x
        if size != LCID_SIZE:
            raise ValueError(f"the model reads {self.dataset} samples {self.input_size}; got "
                             f"{size}: pass a preprocessed sample {LCID_SIZE} (it is resized "
                             f"for LCID-Resize models) or one of {self.input_size}")
        # imported here: OpenCV (~15 MB resident) only in a process that resizes
        from hrcn_lib.preprocess.resize import resize_sample

        samples = x.detach().to("cpu", torch.float32).numpy()
        return torch.from_numpy(np.stack([resize_sample(s[0], self.input_size)
                                          for s in samples])[:, None])

    def __call__(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = self.prepare(x)
        out = torch.empty(x.shape[0], len(CLASS_NAMES), dtype=torch.float32)
        with torch.inference_mode():
            for i in range(x.shape[0]):
                xi = x[i:i + 1].to(self.device, self._dtype).contiguous(
                    memory_format=torch.channels_last)
                logits = self.net(xi).float()
                out[i] = torch.softmax(logits, dim=1)[0].cpu()
        if not bool(torch.isfinite(out).all()):
            bad = int((~torch.isfinite(out)).any(dim=1).nonzero()[0, 0])
            raise ValueError(f"Predictor: the probabilities of sample {bad} are NaN/inf: the "
                             "input or the model's weights hold NaN/inf (input finite: "
                             f"{bool(torch.isfinite(x[bad]).all())})")
        return out

    def predict_file(self, path: Path | str, hdu: int | None = None) -> np.ndarray:
        """Class probabilities of one sample file (see :func:`read_sample`).

        Args:
            path: raw/flt FITS file (gzip/fpack too) or a ``.npy`` sample of ``hrcn
                preprocess``.
            hdu: 1 or 4 for FITS files; ignored for ``.npy``.

        Returns:
            float32 array (2,): probabilities of (galaxy, NSC).

        Raises:
            As :func:`read_sample` and :meth:`prepare`.
        """
        return self(read_sample(path, hdu))[0].numpy()
