"""Tests of hrcn_lib.models: HR-CelestialNet (Table 2) and the three baselines (Sec. 3.2).

Full-resolution forward passes run for real on CPU (fp32, channels_last, batch 1,
no_grad: ~5-15 s each on 2 cores) for HR-CelestialNet, AlexNet and ResNet; VGG16-BN at
2048 x 4096 (~2.6 TMAC) runs on the meta device (shapes only). bf16 autocast is
not used: on CPUs without AVX512-BF16/AMX it is several times slower than fp32.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hrcn_lib.models import (
    AAPL_SIZES,
    DATASET_NAMES,
    MIN_INPUT_SIZES,
    MODEL_NAMES,
    TABLE2,
    HRCelestialNet,
    InputSizeError,
    ModelConfigError,
    accepted_input_range,
    build_model,
    feature_map_size,
    input_size,
    min_input_size,
    set_activation_checkpointing,
)

#: Parameter counts (weights + biases, BatchNorm affine included) of the built models.
PARAMS = {"hr-celestialnet": 97_048_130, "alexnet": 101_036_738, "vgg": 237_036_482,
          "resnet": 11_172_290}
#: The paper's model sizes, Table 3 (MB of 2**20 bytes at 4 bytes/parameter).
PAPER_MODEL_MB = {"hr-celestialnet": 370.21, "alexnet": 385.42, "vgg": 904.22, "resnet": 42.62}
PAIRS = [(n, d) for n in MODEL_NAMES for d in DATASET_NAMES
         if not (n == "hr-celestialnet" and d == "lcid-resize")]


def meta_model(name: str, dataset: str = "lcid") -> nn.Module:
    with torch.device("meta"):
        return build_model(name, dataset)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------- the layer plan


def test_table2_plan_has_the_papers_layer_counts():
    kinds = [spec.kind for spec in TABLE2]
    assert len(TABLE2) == 22
    assert kinds.count("conv") == 12 and kinds.count("maxpool") == 7
    assert kinds.count("fc") == 2 and kinds[-1] == "output"
    model = HRCelestialNet()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 12
    assert all(c.padding == (0, 0) and c.stride == (1, 1) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 12
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 7
    assert [m.out_features for m in model.modules() if isinstance(m, nn.Linear)] == [4096, 4096, 2]
    # every conv is followed by BatchNorm then ReLU
    feats = list(model.features)
    for i, m in enumerate(feats):
        if isinstance(m, nn.Conv2d):
            assert isinstance(feats[i + 1], nn.BatchNorm2d) and isinstance(feats[i + 2], nn.ReLU)


def test_feature_map_size_matches_the_module_on_meta():
    model = meta_model("hr-celestialnet")
    for h, w in [(2048, 4096), (1834, 3882), (2089, 4137), (1833, 4138), (1400, 1322)]:
        out = model.features(torch.empty(1, 1, h, w, device="meta"))
        assert tuple(out.shape[1:]) == feature_map_size(h, w)
    assert feature_map_size(2048, 4096) == (512, 3, 11)


def test_min_and_accepted_input_sizes():
    assert min_input_size() == 1322
    assert feature_map_size(1322, 1322)[1] == 1
    assert feature_map_size(1321, 1321)[1] <= 0
    assert accepted_input_range() == ((1834, 2089), (3882, 4137))
    (h_lo, h_hi), (w_lo, w_hi) = accepted_input_range()
    assert feature_map_size(h_lo, w_lo)[1:] == (3, 11) == feature_map_size(h_hi, w_hi)[1:]
    assert feature_map_size(h_lo - 1, w_lo - 1)[1:] == (2, 10)
    assert feature_map_size(h_hi + 1, w_hi + 1)[1:] == (4, 12)


# ------------------------------------------------------------------------- registry


@pytest.mark.parametrize(("name", "dataset"), PAIRS)
def test_build_model_parameter_counts_and_meta_forward(name, dataset):
    model = meta_model(name, dataset)
    assert n_params(model) == PARAMS[name]
    out = model(torch.empty(2, 1, *input_size(dataset), device="meta"))
    assert tuple(out.shape) == (2, 2)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_sizes_reproduce_the_paper(name):
    assert round(n_params(meta_model(name)) * 4 / 2**20, 2) == PAPER_MODEL_MB[name]


def test_variant_choice_is_the_only_one_that_fits():
    """vgg16 (no BN) and resnet18 with its stock 1x1 head miss the paper by 0.01-0.03 MB."""
    import torchvision.models as tvm

    with torch.device("meta"):
        plain = tvm.vgg16(weights=None, num_classes=2)
        plain.features[0] = nn.Conv2d(1, 64, 3, padding=1)
        plain.classifier[0] = nn.Linear(512 * 7 * 14, 4096)
        stock = tvm.resnet18(weights=None, num_classes=2)
        stock.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    assert round(n_params(plain) * 4 / 2**20, 2) == 904.19
    assert round(n_params(stock) * 4 / 2**20, 2) == 42.61


def test_baselines_are_single_channel_with_the_papers_aapl():
    for name, size in AAPL_SIZES.items():
        model = meta_model(name)
        first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        assert first_conv.in_channels == 1
        assert model.avgpool.output_size == size
        last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        assert last.out_features == 2


def test_input_size():
    assert input_size("lcid") == (2048, 4096)
    assert input_size("lcid-resize") == (224, 448)
    with pytest.raises(ModelConfigError, match="unknown dataset 'lcid-blurry'"):
        input_size("lcid-blurry")


@pytest.mark.parametrize(("name", "dataset", "match"), [
    ("googlenet", "lcid", "unknown model 'googlenet'"),
    ("vgg", "imagenet", "unknown dataset 'imagenet'"),
    ("hr-celestialnet", "lcid-resize", "defined for 'lcid' only"),
    ("HR-CelestialNet", "lcid", "unknown model"),
])
def test_build_model_errors(name, dataset, match):
    with pytest.raises(ModelConfigError, match=match) as info:
        build_model(name, dataset)
    assert isinstance(info.value, ValueError)


def test_no_weights_are_downloaded(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    for name, dataset in PAIRS:
        meta_model(name, dataset)


# ------------------------------------------------------------------------- input errors


@pytest.mark.parametrize(("shape", "match"), [
    ((1, 1, 1000, 1000), "too small: below 1322 x 1322"),
    ((1, 1, 1321, 4096), "too small"),
    ((1, 1, 2048, 2048), r"\(3, 3\) instead of the 3 x 11"),
    ((1, 1, 1833, 4096), "accepts H in 1834-2089 and W in 3882-4137"),
    ((1, 1, 2090, 4096), "accepts H in 1834-2089"),
    ((1, 1, 2048, 3881), "accepts H"),
    ((1, 1, 2048, 4138), "accepts H"),
    ((1, 1, 224, 448), "too small"),
    ((1, 3, 2048, 4096), r"expects a \(N, 1, H, W\) tensor"),
    ((1, 2048, 4096), r"expects a \(N, 1, H, W\) tensor"),
])
def test_hrcelestialnet_rejects_bad_inputs(shape, match):
    model = meta_model("hr-celestialnet")
    with pytest.raises(InputSizeError, match=match):
        model(torch.empty(*shape, device="meta"))


@pytest.mark.parametrize("hw", [(1834, 3882), (2089, 4137), (2048, 4096)])
def test_hrcelestialnet_accepts_the_range(hw):
    out = meta_model("hr-celestialnet")(torch.empty(1, 1, *hw, device="meta"))
    assert tuple(out.shape) == (1, 2)


@pytest.mark.parametrize("name", ["alexnet", "vgg", "resnet"])
def test_baseline_minimum_input(name):
    model = meta_model(name).eval()  # eval: BatchNorm accepts a 1 x 1 map of one sample
    smallest = MIN_INPUT_SIZES[name]
    assert tuple(model(torch.empty(1, 1, smallest, smallest, device="meta")).shape) == (1, 2)
    if smallest > 1:
        with pytest.raises(InputSizeError, match=f"at least {smallest} x {smallest}"):
            model(torch.empty(1, 1, smallest - 1, 64, device="meta"))
        # and the minimum is real: one pixel less leaves no feature map
        with pytest.raises(RuntimeError, match="too small"):
            model.features(torch.empty(1, 1, smallest - 1, smallest - 1, device="meta"))
    with pytest.raises(InputSizeError, match=r"\(N, 1, H, W\)"):
        model(torch.empty(1, 3, 224, 448, device="meta"))


# ------------------------------------------------------------------------- real forward passes


@pytest.mark.parametrize(("name", "dataset"), [
    ("hr-celestialnet", "lcid"), ("alexnet", "lcid"), ("resnet", "lcid"),
    ("alexnet", "lcid-resize"), ("vgg", "lcid-resize"), ("resnet", "lcid-resize"),
])
def test_real_forward_pass(name, dataset):
    torch.manual_seed(0)
    cl = torch.channels_last  # ~2x faster than contiguous fp32 convolutions on CPU
    model = build_model(name, dataset).eval().to(memory_format=cl)
    x = torch.randn(1, 1, *input_size(dataset)).to(memory_format=cl)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, 2) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_vgg_full_resolution_on_meta():
    """VGG16-BN at 2048 x 4096 is ~2.6 TMAC per sample: shapes only, on the meta device."""
    model = meta_model("vgg")
    out = model.features(torch.empty(1, 1, 2048, 4096, device="meta"))
    assert tuple(out.shape) == (1, 512, 64, 128)
    assert tuple(model(torch.empty(1, 1, 2048, 4096, device="meta")).shape) == (1, 2)


# ------------------------------------------------------------------------- checkpointing


def test_checkpointing_cuts_only_at_convolutions():
    model = meta_model("hr-celestialnet")
    assert set_activation_checkpointing(model, 4) == 1
    groups = model.features._groups()
    assert len(groups) == 4 and groups[0][0] == 0 and groups[-1][1] == len(model.features)
    assert all(isinstance(model.features[a], nn.Conv2d) for a, _ in groups)
    assert set_activation_checkpointing(meta_model("resnet"), 2) == 4
    with pytest.raises(ValueError, match="segments must be >= 0"):
        set_activation_checkpointing(model, -1)


def test_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    model = build_model("resnet", "lcid-resize")
    x, y = torch.randn(2, 1, 64, 128), torch.tensor([0, 1])
    grads = []
    for segments in (0, 2):
        set_activation_checkpointing(model, segments)
        model.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        grads.append(model.layer2[0].conv1.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])

