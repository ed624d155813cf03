"""Tests of hrcn_lib.inference: the fast Predictor, strips, BN folding, split pools, files.

Precision: a test that compares with fp32 eager at fp32 tolerance pins ``bf16=False``; the
bf16 path is pinned with ``bf16=True`` (emulated on CPUs without AVX512-BF16/AMX, fine for
the small model) and compared at bf16 tolerance; a test of the default (``bf16=None``: the
hardware or ``HRCN_PRECISION`` decides) uses the tolerance of the precision the Predictor
chose. So the suite passes on AVX2-only, AVX512-BF16 and AMX CPUs, on a GPU, and under
``HRCN_PRECISION=fp32|bf16|auto``.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch
from torch import nn

import hrcn_lib
from hrcn_lib.datasets import make_dataset
from hrcn_lib.inference import Predictor, SplitMaxPool, StripBlock, fold_batchnorm
from hrcn_lib.manifest import read_manifest
from hrcn_lib.models import build_model
from hrcn_lib.preprocess import load_sample
from hrcn_lib.runtime import MODEL_FORMAT, CheckpointError, native_bf16, save_checkpoint
from hrcn_lib.train import TrainConfig


class Small(nn.Module):
    """(N, 1, 64, 96) -> (N, 2); unpadded first conv block like HR-CelestialNet's."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 7), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.MaxPool2d(8, 4),
            nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(nn.Linear(16 * 5 * 9, 32), nn.ReLU(inplace=True),
                                        nn.Linear(32, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
    return model.eval()


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return randomise_bn(Small())


#: Largest |probability difference| from fp32 eager per precision of the Predictor's
#: convolutions: fp32 differs only by summation order (BN folded, strips); bf16 keeps 8
#: significant bits per operand (relative error ~4e-3 per layer).
PROB_ATOL = {False: 1e-5, True: 2e-2}


def prob_atol(pred: Predictor) -> float:
    """The probability tolerance of the precision ``pred`` actually runs in."""
    return PROB_ATOL[pred.bf16]


@pytest.mark.parametrize("rows", [1, 3, 7, 1000])
def test_strip_block_equals_unstripped(rows):
    torch.manual_seed(1)
    conv, pool = nn.Conv2d(1, 4, 7), nn.MaxPool2d(8, 4)
    x = torch.randn(1, 1, 203, 150)
    block = StripBlock(conv, pool, rows_per_strip=rows)
    assert (block.stride, block.receptive) == (4, 14)
    with torch.inference_mode():
        ref = pool(torch.relu(conv(x)))
        out = block(x)
    assert out.shape == ref.shape == (1, 4, 48, 35)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_strip_block_generic_path_and_errors():
    torch.manual_seed(2)
    conv, pool = nn.Conv2d(3, 5, 3, stride=2), nn.MaxPool2d(2, 2)
    x = torch.randn(2, 3, 41, 30)
    with torch.inference_mode():
        torch.testing.assert_close(StripBlock(conv, pool, 2)(x), pool(torch.relu(conv(x))),
                                   rtol=1e-5, atol=1e-6)
    assert not StripBlock.supports(nn.Conv2d(1, 2, 3, padding=1), pool)
    with pytest.raises(ValueError, match="unpadded"):
        StripBlock(nn.Conv2d(1, 2, 3, padding=1), pool)
    with pytest.raises(ValueError, match="receptive field"):
        StripBlock(nn.Conv2d(1, 2, 7), nn.MaxPool2d(8, 4))(torch.randn(1, 1, 10, 40))


def test_fold_batchnorm_keeps_outputs():
    model = small_model()
    x = torch.randn(2, 1, 64, 96)
    ref = model(x)
    copy = Small()
    copy.load_state_dict(model.state_dict())
    copy.eval()
    assert fold_batchnorm(copy) == 2
    assert not any(isinstance(m, nn.BatchNorm2d) for m in copy.modules())
    torch.testing.assert_close(copy(x), ref, rtol=1e-5, atol=1e-5)


def test_predictor_matches_fp32_eager_and_leaves_model_alone():
    model = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(3, 1, 64, 96) * 2
    with torch.no_grad():
        ref = torch.softmax(model(x), 1)
    exact = Predictor(model, device="cpu", bf16=False, fc_bf16=False, rows_per_strip=2)
    assert exact.strip and exact.folded == 2 and not exact.bf16
    p = exact(x)
    assert p.shape == (3, 2) and p.dtype == torch.float32
    torch.testing.assert_close(p, ref, rtol=1e-5, atol=1e-5)
    lean = Predictor(model, device="cpu")  # the default: the hardware / HRCN_PRECISION decide
    assert lean.fc_bf16 or lean.bf16
    assert (lean(x) - ref).abs().max() < 0.05
    torch.testing.assert_close(lean(x).sum(1), torch.ones(3))
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_bf16_predictor_does_not_convert_the_callers_model():
    # The Predictor shares unconverted tensors with the model; a bf16 (GPU-style) conversion
    # must create new tensors, not cast the caller's parameters in place.
    model = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pred = Predictor(model, device="cpu", bf16=True, strips=False)
    assert pred.bf16 and not pred.strip
    assert all(p.dtype == torch.float32 and p.requires_grad for p in model.parameters())
    assert all(p.dtype == torch.bfloat16 for p in pred.net.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    x = torch.randn(1, 1, 64, 96)
    with torch.no_grad():
        ref = torch.softmax(model(x), 1)
    assert (pred(x) - ref).abs().max() < 0.05


@pytest.mark.parametrize("bf16", [False, True])
@pytest.mark.parametrize("strips", [True, False])
def test_predictor_fp32_and_bf16_paths_match_eager(bf16, strips):
    # both paths on any CPU: bf16 forced is emulated where the hardware has no bf16
    model = small_model()
    x = torch.randn(2, 1, 64, 96) * 2
    with torch.no_grad():
        ref = torch.softmax(model(x), 1)
    pred = Predictor(model, device="cpu", bf16=bf16, fc_bf16=False, strips=strips,
                     rows_per_strip=3)
    assert pred.bf16 is bf16 and pred.strip is strips
    assert all(p.dtype == (torch.bfloat16 if bf16 else torch.float32)
               for p in pred.net.parameters())
    p = pred(x)
    assert p.dtype == torch.float32
    assert (p - ref).abs().max() <= prob_atol(pred)
    torch.testing.assert_close(p.sum(1), torch.ones(2))
    if bf16:  # the tolerance is needed: bf16 is not fp32
        assert (p - ref).abs().max() > 1e-7


@pytest.mark.parametrize("env,expected", [("fp32", False), ("bf16", True), ("BF16", True)])
def test_hrcn_precision_forces_the_predictor_path(monkeypatch, env, expected):
    monkeypatch.setenv("HRCN_PRECISION", env)
    model = small_model()
    pred = Predictor(model, device="cpu")
    assert pred.bf16 is expected
    assert Predictor(model, device="cpu", bf16=not expected).bf16 is (not expected)  # argument wins
    x = torch.randn(1, 1, 64, 96)
    with torch.no_grad():
        ref = torch.softmax(model(x), 1)
    assert (pred(x) - ref).abs().max() <= (PROB_ATOL[True] if expected else 1e-3)  # fc in bf16


def test_hrcn_precision_auto_and_bad_values(monkeypatch):
    monkeypatch.setenv("HRCN_PRECISION", "auto")
    assert Predictor(small_model(), device="cpu").bf16 is native_bf16(torch.device("cpu"))
    monkeypatch.setenv("HRCN_PRECISION", "fp16")
    with pytest.raises(ValueError, match="HRCN_PRECISION='fp16'.*bf16, fp32, auto"):
        Predictor(small_model(), device="cpu")


@pytest.mark.parametrize("k,s", [(8, 4), (4, 2), (6, 2), (3, 1), ((4, 6), (2, 3))])
@pytest.mark.parametrize("h,w", [(37, 41), (64, 96), (9, 12)])
def test_split_max_pool_equals_max_pool(k, s, h, w):
    pool = nn.MaxPool2d(k, s)
    x = torch.randn(2, 3, h, w)
    assert SplitMaxPool.supports(pool)
    for fmt in (torch.contiguous_format, torch.channels_last):
        xf = x.contiguous(memory_format=fmt)
        assert torch.equal(SplitMaxPool(pool)(xf), pool(xf))


def test_split_max_pool_refuses_pools_it_cannot_split():
    for pool in (nn.MaxPool2d(3, 2), nn.MaxPool2d(2, 2), nn.MaxPool2d(4, 2, padding=1),
                 nn.MaxPool2d(4, 2, ceil_mode=True), nn.AvgPool2d(4, 2)):
        assert not SplitMaxPool.supports(pool)
    with pytest.raises(ValueError, match="multiple"):
        SplitMaxPool(nn.MaxPool2d(3, 2))


def test_predictor_with_split_pools_matches_eager():
    model = small_model()
    x = torch.randn(2, 1, 64, 96)
    with torch.no_grad():
        ref = torch.softmax(model(x), 1)
    pred = Predictor(model, device="cpu", bf16=False, fc_bf16=False, strips=False,
                     split_pools=True)
    assert not pred.strip and pred.split_pools == 1  # the 8/4 pool; the 2/2 one stays
    torch.testing.assert_close(pred(x), ref, rtol=1e-5, atol=1e-5)


def test_predictor_rejects_bad_input():
    pred = Predictor(small_model(), device="cpu")
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\).*\(2, 3, 64, 96\)"):
        pred(torch.zeros(2, 3, 64, 96))
    with pytest.raises(ValueError, match="float tensor"):
        pred(torch.zeros(1, 1, 64, 96, dtype=torch.int64))


@pytest.mark.slow
def test_predictor_full_resolution_hrcelestialnet():
    torch.manual_seed(0)
    model = randomise_bn(build_model("hr-celestialnet", "lcid"))
    x = torch.randn(1, 1, 2048, 4096)
    feats = {}
    model.features.register_forward_hook(lambda m, i, o: feats.__setitem__("eager", o.clone()))
    with torch.no_grad():
        ref = torch.softmax(model(x), 1)
    pred = Predictor(model, device="cpu", bf16=False)  # fp32: exact up to summation order
    assert pred.strip and pred.folded == 12
    pred.net.features.register_forward_hook(lambda m, i, o: feats.__setitem__("fast", o.clone()))
    p = pred(x)
    scale = feats["eager"].abs().max()
    assert (feats["fast"] - feats["eager"]).abs().max() <= 1e-4 * scale
    assert (p - ref).abs().max() < 1e-3  # FC weights in bf16 (fc_bf16 default)
    if native_bf16(torch.device("cpu")):  # bf16 throughout (emulated elsewhere: too slow here)
        fast = Predictor(model, device="cpu", bf16=True)
        fast.net.features.register_forward_hook(
            lambda m, i, o: feats.__setitem__("bf16", o.float().clone()))
        assert (fast(x) - ref).abs().max() < 0.05
        assert (feats["bf16"] - feats["eager"]).abs().max() <= 0.05 * scale


def test_predictor_from_checkpoint_equals_predictor_of_loaded_model(tmp_path):
    torch.manual_seed(0)
    model = randomise_bn(build_model("resnet", "lcid-resize"))
    cfg = TrainConfig(model_name="resnet", dataset_name="lcid-resize")
    save_checkpoint(tmp_path / "model.pt", {"format": MODEL_FORMAT, "version": 1,
                                            "config": asdict(cfg), "model": model.state_dict()})
    x = torch.randn(2, 1, 224, 448)
    fast = Predictor.from_checkpoint(tmp_path, device="cpu")  # FC weights streamed to bf16
    assert fast.config["model_name"] == "resnet" and fast.input_size == (224, 448)
    assert torch.equal(fast(x), Predictor(model, device="cpu")(x))
    with torch.no_grad():
        assert (fast(x) - torch.softmax(model(x), 1)).abs().max() < 0.05
    (tmp_path / "bad.pt").write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckpointError, match="bad.pt"):
        Predictor.from_checkpoint(tmp_path / "bad.pt")


def test_predictor_front_door_numpy_resize_and_files(smoke_data, tmp_path):
    """numpy in; an LCID sample given to an LCID-Resize model is resized as the dataset does;
    predict_file on FITS and on the .npy of a sample gives the same probabilities."""
    assert hrcn_lib.Predictor is Predictor
    torch.manual_seed(0)
    model = randomise_bn(hrcn_lib.build_model("resnet", "lcid-resize"))
    pred = Predictor(model, device="cpu")
    assert (pred.dataset, pred.input_size) == ("lcid-resize", (224, 448))
    df = read_manifest(smoke_data / "lcid_manifest.csv").iloc[:1]
    path, hdu = df["path"].iloc[0], int(df["hdu"].iloc[0])
    x_dataset, _ = make_dataset(df, "lcid-resize")[0]
    expected = pred(x_dataset.unsqueeze(0))
    sample = load_sample(path, hdu)
    assert sample.shape == (2048, 4096)
    assert torch.equal(pred(sample), expected)  # numpy (H, W), resized exactly as the dataset
    assert torch.equal(pred(torch.from_numpy(sample)[None, None]), expected)
    np.testing.assert_array_equal(pred.predict_file(path, hdu), expected[0].numpy())
    np.save(tmp_path / "s_hdu1.npy", sample)
    np.testing.assert_array_equal(pred.predict_file(tmp_path / "s_hdu1.npy"), expected[0].numpy())
    with pytest.raises(ValueError, match="pass hdu=1"):
        pred.predict_file(path)
    with pytest.raises(ValueError, match=r"reads lcid-resize samples \(224, 448\); got \(100, 80\)"):
        pred(np.zeros((100, 80), dtype=np.float32))
    np.save(tmp_path / "bad.npy", np.zeros((3, 4, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"bad\.npy: expected a 2-D float sample"):
        pred.predict_file(tmp_path / "bad.npy")
    with pytest.raises(ValueError, match="unknown dataset"):
        Predictor(model, device="cpu", dataset="lcid-big")
    # an LCID model refuses a resized sample instead of guessing
    lcid = Predictor(small_model(), device="cpu", dataset="lcid")
    with pytest.raises(ValueError, match=r"reads lcid samples \(2048, 4096\)"):
        lcid(np.zeros((224, 448), dtype=np.float32))


def test_classifying_imports_neither_pandas_nor_opencv() -> None:
    """A process that imports the Predictor holds ~50 MB less without pandas and OpenCV
    (benchmarks/README.md, "Where the 0.8 GB stretch stands"); OpenCV comes in only when a
    sample is resized for an LCID-Resize model, and the resize is the dataset's."""
    import subprocess
    import sys

    code = ("import sys, numpy as np, torch\n"
            "from hrcn_lib.inference import Predictor\n"
            "from hrcn_lib.models import build_model\n"
            "print(sorted(m for m in ('pandas', 'cv2') if m in sys.modules))\n"
            "torch.manual_seed(0)\n"
            "p = Predictor(build_model('resnet', 'lcid-resize'), 'cpu', bf16=False)\n"
            "x = np.random.default_rng(0).random((2048, 4096), dtype=np.float32)\n"
            "p(x)\n"
            "print(sorted(m for m in ('pandas', 'cv2') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "['cv2']"
    from hrcn_lib.datasets import resize_sample as from_datasets
    from hrcn_lib.preprocess.resize import resize_sample
    assert from_datasets is resize_sample
