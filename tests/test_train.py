"""Tests of hrcn_lib.train: the loop, exact resume, accumulation, DDP, checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from hrcn_lib.models import CheckpointSequential, set_activation_checkpointing
from hrcn_lib.runtime import (
    ISA_CAP_ENV,
    CheckpointError,
    avx512_kernels,
    isa_caps,
    load_checkpoint,
    native_bf16,
    requested_precision,
    resolve_channels_last,
    resolve_precision,
    save_checkpoint,
)
from hrcn_lib.throughput import machine
from hrcn_lib.train import HISTORY_COLUMNS, TrainConfig, epoch_batches, fit

REPO = Path(__file__).resolve().parents[1]


class Tiny(nn.Module):
    """A stand-in CNN with the shape contract of the paper's models: (N,1,16,32) -> (N,2)."""

    def __init__(self, bn: bool = True, dropout: float = 0.25) -> None:
        super().__init__()
        self.features = CheckpointSequential(*[nn.Conv2d(1, 4, 3)] + ([nn.BatchNorm2d(4)] if bn else []) + [
            nn.ReLU(inplace=True), nn.MaxPool2d(2, 2), nn.Conv2d(4, 8, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2)])
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(8 * 2 * 6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(torch.flatten(self.features(x), 1)))


def tiny_model(bn: bool = True, dropout: float = 0.25) -> nn.Module:
    torch.manual_seed(1234)
    return Tiny(bn, dropout)


def tiny_data(n: int = 10) -> TensorDataset:
    g = torch.Generator().manual_seed(7)
    x = torch.randn(n, 1, 16, 32, generator=g)
    y = (torch.arange(n) % 2).long()
    x[y == 1] += 0.8  # learnable: NSC samples are brighter
    return TensorDataset(x, y)


def cfg(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=4, lr=0.05, momentum=0.9, micro_batch=2, precision="fp32",
                device="cpu", checkpoint_every=1, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_epoch_batches_deterministic_and_complete():
    a = epoch_batches(10, 4, seed=3, epoch=1)
    assert a == epoch_batches(10, 4, seed=3, epoch=1)
    assert a != epoch_batches(10, 4, seed=3, epoch=2)
    assert [len(s) for s in a] == [4, 4, 2]
    assert sorted(i for s in a for i in s) == list(range(10))
    r0 = epoch_batches(10, 4, 3, 1, rank=0, world_size=2)
    r1 = epoch_batches(10, 4, 3, 1, rank=1, world_size=2)
    assert [sorted(x + y) for x, y in zip(r0, r1, strict=True)] == [sorted(s) for s in a]
    with pytest.raises(ValueError, match="multiple of the number of ranks"):
        epoch_batches(10, 3, 0, 0, rank=0, world_size=2)


def test_training_reduces_loss_and_writes_run_dir(tmp_path):
    res = fit(tiny_model(dropout=0.0), tiny_data(16), tmp_path, cfg(epochs=6, lr=0.01),
              progress=False)
    assert res.completed and res.global_step == 6 * 4
    assert list(res.history.columns) == list(HISTORY_COLUMNS)
    assert res.history["loss"].iloc[-1] < res.history["loss"].iloc[0]
    for name in ("config.json", "history.csv", "checkpoint.pt", "model.pt"):
        assert (tmp_path / name).is_file(), name
    conf = json.loads((tmp_path / "config.json").read_text())
    assert res.history["loss"].iloc[-1] < 0.6 * res.history["loss"].iloc[0]
    assert res.history["accuracy"].iloc[-1] >= 0.9
    assert conf["lr"] == 0.01 and conf["n_samples"] == 16 and conf["precision_effective"] == "fp32"
    assert conf["machine"] == machine()  # the machine of the call, read by chapter 5
    hist = pd.read_csv(tmp_path / "history.csv")
    assert list(hist.columns) == list(HISTORY_COLUMNS) and list(hist["epoch"]) == [1, 2, 3, 4, 5, 6]
    assert (hist["samples_per_s"] > 0).all()
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert payload["position"] == {"epoch": 6, "step": 0, "global_step": 24}
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temp files


def test_paper_recipe_defaults():
    c = TrainConfig()
    assert (c.epochs, c.batch_size, c.lr, c.momentum) == (20, 4, 1e-4, 0.0)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0).validate()
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8").validate()


def test_resume_mid_epoch_equals_uninterrupted(tmp_path):
    ref = fit(tiny_model(), tiny_data(), tmp_path / "ref", cfg(), progress=False)
    # 10 samples, batch 4 -> 3 steps/epoch; stopping at step 4 is inside epoch 2
    part = fit(tiny_model(), tiny_data(), tmp_path / "run", cfg(max_steps=4), progress=False)
    assert not part.completed and part.global_step == 4
    assert not (tmp_path / "run" / "model.pt").exists()
    pos = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["position"]
    assert pos == {"epoch": 1, "step": 1, "global_step": 4}
    # a different, freshly initialised model proves the weights come from the checkpoint
    done = fit(tiny_model(dropout=0.25).apply(_scramble), tiny_data(), tmp_path / "run", cfg(),
               resume=True, progress=False)
    assert done.completed and done.global_step == ref.global_step
    assert_same_state(ref.model.state_dict(), done.model.state_dict())
    cols = ["epoch", "loss", "accuracy", "lr"]
    pd.testing.assert_frame_equal(ref.history[cols], done.history[cols])


def test_loader_workers_do_not_change_the_run(tmp_path):
    """Samples read by DataLoader worker processes (a GPU record's profile) train the same
    weights as samples read in the training process: batches and flips come from the
    training process's seeds, not from the workers."""
    ref = fit(tiny_model(), tiny_data(), tmp_path / "w0", cfg(flips=True), progress=False)
    two = fit(tiny_model(), tiny_data(), tmp_path / "w2", cfg(flips=True, workers=2),
              progress=False)
    assert json.loads((tmp_path / "w2" / "config.json").read_text())["workers"] == 2
    assert_same_state(ref.model.state_dict(), two.model.state_dict())
    cols = ["epoch", "loss", "accuracy", "lr"]
    pd.testing.assert_frame_equal(ref.history[cols], two.history[cols])


def _scramble(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.normal_(m.weight)


class SlowData(Dataset):
    """tiny_data with a delay per item, so a subprocess can be killed mid-run."""

    def __init__(self, delay: float) -> None:
        self.base, self.delay = tiny_data(), delay

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        time.sleep(self.delay)
        return self.base[i]


_KILL_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r}); sys.path.insert(0, {repo!r})
from test_train import tiny_model, SlowData, cfg
from hrcn_lib.train import fit
fit(tiny_model(), SlowData(0.15), {out!r}, cfg(), progress=False)
"""


def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    out = tmp_path / "killed"
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT.format(tests=str(Path(__file__).parent), repo=str(REPO),
                                          out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE)
    ckpt = out / "checkpoint.pt"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:  # wait for a checkpoint inside epoch 2
            if ckpt.exists():
                pos = torch.load(ckpt, weights_only=True)["position"]
                if pos["global_step"] >= 4:
                    break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    pos = torch.load(ckpt, weights_only=True)["position"]
    assert pos["global_step"] < 9, "the run finished before it was killed"
    done = fit(tiny_model(), tiny_data(), out, cfg(), resume=True, progress=False)
    ref = fit(tiny_model(), tiny_data(), tmp_path / "ref", cfg(), progress=False)
    assert_same_state(ref.model.state_dict(), done.model.state_dict())
    cols = ["epoch", "loss", "accuracy", "lr"]
    pd.testing.assert_frame_equal(ref.history[cols], done.history[cols])


def test_gradient_accumulation_equals_full_batch(tmp_path):
    # no BatchNorm: with BN, micro-batches normalise with their own statistics
    kw = dict(epochs=1, lr=0.1, momentum=0.0, checkpoint_every=0)
    full = fit(tiny_model(bn=False, dropout=0.0), tiny_data(), tmp_path / "a",
               cfg(micro_batch=4, **kw), progress=False)
    accum = fit(tiny_model(bn=False, dropout=0.0), tiny_data(), tmp_path / "b",
                cfg(micro_batch=1, **kw), progress=False)
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(accum.model.state_dict()[k], v, rtol=1e-5, atol=1e-6)
    assert full.history["loss"].iloc[0] == pytest.approx(accum.history["loss"].iloc[0], rel=1e-5)


def test_activation_checkpointing_same_gradients_and_bn_stats():
    x = torch.randn(4, 1, 16, 32)
    y = torch.tensor([0, 1, 0, 1])
    grads = []
    for ckpt in (False, True):
        m = tiny_model(dropout=0.0).train()
        if ckpt:
            assert set_activation_checkpointing(m, 2) == 1
        nn.functional.cross_entropy(m(x), y).backward()
        grads.append({k: p.grad.clone() for k, p in m.named_parameters()}
                     | {k: b.clone() for k, b in m.named_buffers()})
    for k in grads[0]:
        torch.testing.assert_close(grads[1][k], grads[0][k], rtol=1e-5, atol=1e-7)


def test_bf16_request_falls_back_without_native_support(monkeypatch):
    monkeypatch.delenv("HRCN_PRECISION", raising=False)
    dev = torch.device("cpu")
    if native_bf16(dev):
        assert resolve_precision("bf16", dev) == "bf16"
    else:
        with pytest.warns(RuntimeWarning, match="no native bf16"):
            assert resolve_precision("bf16", dev) == "fp32"
        assert resolve_precision("auto", dev) == "fp32"
    assert resolve_precision("fp32", dev) == "fp32"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("half", dev)


def test_hrcn_precision_sets_what_auto_means(monkeypatch):
    dev = torch.device("cpu")
    monkeypatch.setenv("HRCN_PRECISION", "fp32")
    assert requested_precision(None) == requested_precision("auto") == "fp32"
    assert resolve_precision("auto", dev) == "fp32"
    assert requested_precision("bf16") == "bf16"  # an explicit request wins
    monkeypatch.setenv("HRCN_PRECISION", "bf16")
    assert requested_precision("fp32") == "fp32" and requested_precision("auto") == "bf16"
    if native_bf16(dev):
        assert resolve_precision("auto", dev) == "bf16"
    else:  # training never runs emulated bf16: it says so and trains in fp32
        with pytest.warns(RuntimeWarning, match="no native bf16"):
            assert resolve_precision("auto", dev) == "fp32"
    monkeypatch.setenv("HRCN_PRECISION", "auto")
    assert requested_precision(None) == "auto"
    monkeypatch.setenv("HRCN_PRECISION", "half")
    with pytest.raises(ValueError, match="HRCN_PRECISION='half'"):
        resolve_precision("auto", dev)
    assert resolve_precision("fp32", dev) == "fp32"  # the variable is not read then
    assert TrainConfig().precision == "auto"


def test_an_isa_cap_below_bf16_makes_auto_mean_fp32_and_is_reported(monkeypatch):
    """``ONEDNN_MAX_CPU_ISA=AVX2`` (how a bf16 CPU runs an AVX2-only CPU's code path) leaves
    oneDNN without bf16 instructions: ``auto`` must then train in fp32, not in emulated bf16,
    and the machine line and a record's CPU entry say that the set was capped."""
    from hrcn_lib.recording import cpu_flags
    from hrcn_lib.throughput import machine

    dev = torch.device("cpu")
    monkeypatch.delenv("HRCN_PRECISION", raising=False)
    for name in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY"):
        monkeypatch.delenv(name, raising=False)
    uncapped = native_bf16(dev)
    assert isa_caps() == {} and "capped" not in machine() and "isa_caps" not in cpu_flags()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    assert not native_bf16(dev)
    assert resolve_precision("auto", dev) == "fp32"
    assert isa_caps() == {"ONEDNN_MAX_CPU_ISA": "avx2", "ATEN_CPU_CAPABILITY": "avx2"}
    assert "ONEDNN_MAX_CPU_ISA=avx2" in machine()
    assert cpu_flags()["isa_caps"] == isa_caps()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # a cap that keeps bf16
    assert native_bf16(dev) is uncapped


def test_auto_layout_is_nchw_only_where_measured_faster_and_fit_records_it(tmp_path,
                                                                           monkeypatch):
    """``channels_last="auto"`` trains in channels_last except for the pairs NCHW is measured
    faster for on oneDNN's AVX2 fp32 kernels (AlexNet at full resolution: 3.75 against 5.4 s
    per sample); fit writes the layout it used, True or False, so a record says which."""
    cpu = torch.device("cpu")
    monkeypatch.delenv("HRCN_PRECISION", raising=False)
    for name in ISA_CAP_ENV:
        monkeypatch.delenv(name, raising=False)
    if torch.cpu._is_avx512_supported():  # AVX-512 kernels: channels_last for every pair
        assert avx512_kernels()
        assert resolve_channels_last("auto", "alexnet_lcid", cpu, "fp32") is True
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    assert not avx512_kernels()
    assert resolve_channels_last("auto", "alexnet_lcid", cpu, "fp32") is False
    assert resolve_channels_last("auto", "vgg_lcid-resize", cpu, "fp32") is False
    assert resolve_channels_last("auto", "resnet_lcid-resize", cpu, "fp32") is True
    assert resolve_channels_last("auto", "alexnet_lcid", cpu, "bf16") is True
    assert resolve_channels_last("auto", "alexnet_lcid", torch.device("cuda"), "fp32") is True
    assert resolve_channels_last(True, "alexnet_lcid", cpu, "fp32") is True
    with pytest.raises(ValueError, match="channels_last"):
        resolve_channels_last("nhwc", "alexnet_lcid", cpu, "fp32")
    with pytest.raises(ValueError, match="channels_last"):
        cfg(channels_last="yes").validate()

    def second_conv_layout(run: str, **kw) -> tuple[bool, bool]:
        model = tiny_model()
        fit(model, tiny_data(4), tmp_path / run, cfg(epochs=1, checkpoint_every=0, **kw),
            progress=False)
        weight = model.features[-3].weight  # Conv2d(4, 8, 3): the layouts' strides differ
        written = json.loads((tmp_path / run / "config.json").read_text())["channels_last"]
        return written, weight.is_contiguous(memory_format=torch.channels_last)

    assert second_conv_layout("alexnet", model_name="alexnet", dataset_name="lcid") == (
        False, False)
    assert second_conv_layout("resnet", model_name="resnet", dataset_name="lcid-resize") == (
        True, True)
    assert second_conv_layout("forced", model_name="alexnet", dataset_name="lcid",
                              channels_last=True) == (True, True)


def test_checkpoint_errors_name_the_file(tmp_path):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(CheckpointError, match="foreign.pt.*not an hrcn_lib checkpoint"):
        load_checkpoint(foreign)
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "hrcn-checkpoint", "obj": pd.Timestamp(0)}, pickled)
    with pytest.raises(CheckpointError, match="pickled.pt"):
        load_checkpoint(pickled)  # weights_only refuses arbitrary objects
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    save_checkpoint(tmp_path / "ok.pt", {"format": "hrcn-model", "version": 1, "config": {},
                                         "model": {}})
    with pytest.raises(CheckpointError, match="expected format 'hrcn-checkpoint'"):
        load_checkpoint(tmp_path / "ok.pt")


def test_resume_refuses_missing_or_mismatching_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint.pt: checkpoint file not found"):
        fit(tiny_model(), tiny_data(), tmp_path, cfg(), resume=True, progress=False)
    fit(tiny_model(), tiny_data(), tmp_path, cfg(max_steps=1), progress=False)
    with pytest.raises(CheckpointError, match="configuration differs.*lr"):
        fit(tiny_model(), tiny_data(), tmp_path, cfg(lr=0.5), resume=True, progress=False)


_DDP_SCRIPT = """
import os, sys
sys.path.insert(0, {tests!r}); sys.path.insert(0, {repo!r})
import torch
from test_train import tiny_model, tiny_data, cfg
from hrcn_lib.train import fit
res = fit(tiny_model(bn=False, dropout=0.0), tiny_data(), {out!r},
          cfg(epochs=2, momentum=0.0, micro_batch=1), progress=False)
torch.save(res.model.state_dict(), os.path.join({out!r}, "rank%s.pt" % os.environ["RANK"]))
torch.distributed.destroy_process_group()
"""


@pytest.mark.slow
def test_ddp_two_gloo_ranks_agree(tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    script = tmp_path / "ddp.py"
    script.write_text(_DDP_SCRIPT.format(tests=str(Path(__file__).parent), repo=str(REPO),
                                         out=str(out)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           "--standalone", str(script)], capture_output=True, text=True,
                          timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = torch.load(out / "rank0.pt", weights_only=True)
    r1 = torch.load(out / "rank1.pt", weights_only=True)
    assert_same_state(r0, r1)
    # 2 ranks x 2 samples == one process with batch 4 (no BatchNorm) up to float error
    single = fit(tiny_model(bn=False, dropout=0.0), tiny_data(), tmp_path / "single",
                 cfg(epochs=2, momentum=0.0, micro_batch=1), progress=False)
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(r0[k], v, rtol=1e-5, atol=1e-6)
    conf = json.loads((out / "config.json").read_text())
    assert conf["world_size"] == 2


def test_one_sample_per_pass_through_batchnorm_warns(tmp_path, caplog):
    """BatchNorm trained one sample at a time learns per-sample statistics (the first
    record-cpu's HR-CelestialNet then answered alike in eval mode): fit logs it, without a
    file path (a built book must name none); two samples per pass, or a network without
    BatchNorm, train silently."""
    import logging

    kw = dict(epochs=1, checkpoint_every=0)
    with caplog.at_level(logging.WARNING, logger="hrcn_lib.train"):
        fit(tiny_model(), tiny_data(), tmp_path / "a", cfg(micro_batch=1, **kw), progress=False)
    said = [r.getMessage() for r in caplog.records if "BatchNorm and micro_batch is 1" in r.getMessage()]
    assert len(said) == 1 and "train.py" not in said[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hrcn_lib.train"):
        fit(tiny_model(), tiny_data(), tmp_path / "b", cfg(micro_batch=2, **kw), progress=False)
        fit(tiny_model(bn=False), tiny_data(), tmp_path / "c", cfg(micro_batch=1, **kw),
            progress=False)
    assert not [r for r in caplog.records if "BatchNorm and micro_batch" in r.getMessage()]
