"""hrcn_lib.chapters: the summaries the book shows (Table 4, binned accuracy, causes, ...)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hrcn_lib import chapters
from hrcn_lib.paper_numbers import PAPER_TABLE2


def _preds(labels, predicted, **extra) -> pd.DataFrame:
    return pd.DataFrame({"label": labels, "prediction": predicted, **extra})


def test_context_defaults_and_overrides(tmp_path):
    ch = chapters.chapter_context("smoke", tmp_path / "run", None, "cpu", 7, epochs=3)
    assert ch.paths.root == tmp_path / "run" and ch.data_dir == tmp_path / "run" / "data"
    assert (ch.device, ch.seed, ch.profile.epochs) == ("cpu", 7, 3)
    assert ch.spec("vgg", "lcid").enabled is False
    with pytest.raises(ValueError, match="unknown profile"):
        chapters.chapter_context("nope")
    with pytest.raises(ValueError, match="no run"):
        ch.spec("vgg", "blurry")


def test_default_run_directory_is_under_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert chapters.chapter_context("smoke").paths.root.as_posix() == "runs/smoke"


def test_shown_paths_are_never_absolute(tmp_path, monkeypatch):
    build = tmp_path / "build"
    (build / "runs" / "cpu").mkdir(parents=True)
    monkeypatch.chdir(build)
    ch = chapters.chapter_context("cpu", build / "runs" / "cpu")  # absolute, as papermill's
    assert chapters.shown_path(ch, ch.paths.root) == "runs/cpu"
    assert chapters.shown_path(ch, ch.data_dir) == "data"
    assert chapters.shown_path(ch, ch.paths.lcid_manifest) == "data/lcid_manifest.csv"
    (build / "runs" / "cpu" / "data").symlink_to(tmp_path, target_is_directory=True)
    assert chapters.shown_path(ch, ch.data_dir) == "data"  # a linked data folder stays "data"
    real = chapters.chapter_context("cpu", build / "runs" / "cpu", tmp_path / "lcid")
    assert chapters.shown_path(real, real.data_dir) == "<lcid>"  # outside: its name only
    for text in (chapters.shown_path(ch, p) for p in (ch.paths.root, ch.data_dir, tmp_path)):
        assert str(tmp_path) not in text


def test_binder_profile_fits_in_2_gb():
    """Only ResNet-18 at 224 x 448 is trained (no full resolution, no VGG or AlexNet with their
    100-240 M parameters); one simulation process (benchmarks/bench_binder_memory.py)."""
    from hrcn_lib.models import INPUT_SIZES
    from hrcn_lib.profiles import get_profile

    p = get_profile("binder")
    enabled = {(r.model, r.dataset) for r in p.enabled_runs()}
    assert enabled == {("resnet", "lcid-resize")}
    assert all(INPUT_SIZES[d] == (224, 448) for _, d in enabled)
    assert all(r.reason for r in p.runs if not r.enabled)
    assert p.simulation_jobs == 1 and p.micro_batch == 1


def test_ensure_dataset_refuses_to_simulate_into_a_foreign_folder(tmp_path):
    ch = chapters.chapter_context("smoke", tmp_path / "run", tmp_path / "real_lcid")
    with pytest.raises(FileNotFoundError, match="hrcn fetch"):
        chapters.ensure_dataset(ch)


def test_limit_samples_balanced_and_reproducible():
    df = pd.DataFrame({"label": ["galaxy"] * 10 + ["NSC"] * 3})
    out = chapters.limit_samples(df, 6, seed=1)
    assert len(out) == 6 and (out["label"] == "NSC").sum() == 3
    assert out.index.equals(chapters.limit_samples(df, 6, seed=1).index)
    assert chapters.limit_samples(df, None) is df
    with pytest.raises(ValueError):
        chapters.limit_samples(df, 0)


def test_table4_lists_every_pair_with_paper_rows(tmp_path):
    ch = chapters.chapter_context("smoke", tmp_path)
    res = chapters.EvalSummary(
        predictions=_preds(["galaxy", "NSC", "NSC"], ["galaxy", "NSC", "galaxy"]),
        metrics={"accuracy": 2 / 3, "f1_galaxy": 0.6667, "f1_nsc": 0.6667},
        confusion=np.array([[1, 0], [1, 1]]), timing={"preprocess_ms": 50.0, "classify_ms": 10.0})
    t4 = chapters.table4(ch, {"hr-celestialnet_lcid": res})
    assert len(t4) == 14
    ours = t4.loc[("HR-CelestialNet", "LCID", "ours")]
    assert ours["Accuracy (%)"] == pytest.approx(66.67) and ours["Total (ms)"] == 60.0
    assert t4.loc[("HR-CelestialNet", "LCID", "paper"), "Accuracy (%)"] == 89.09
    vgg = t4.loc[("VGGNet", "LCID", "ours")]
    assert np.isnan(vgg["Accuracy (%)"]) and vgg["Note"] == "not run (see below)"
    missing = chapters.not_run(ch, {"hr-celestialnet_lcid": res})
    assert "211 GB" in missing.loc["VGGNet (LCID)", "reason"]
    assert "not trained" in missing.loc["AlexNet (LCID-Resize)", "reason"]
    assert len(missing) == 6 and len(chapters.not_run(ch)) == 3


def test_figure4_rows_by_cause_and_fallback():
    preds = _preds(["galaxy", "NSC", "NSC", "galaxy"], ["NSC", "galaxy", "NSC", "galaxy"],
                   path=["a", "b", "c", "d"], hdu=[1, 1, 1, 1], p_galaxy=[0.4, 0.6, 0.45, 0.9],
                   p_nsc=[0.6, 0.4, 0.55, 0.1], lookalike=["", "x~y", "", ""],
                   defects=["ghost", "", "", ""])
    wrong = chapters.misclassified(preds)
    rows = chapters.figure4_rows(wrong, preds)
    assert rows["path"].tolist() == ["b", "a"]
    assert rows["cause"].tolist() == ["inter-class similarity", "image noise"]
    fallback = chapters.figure4_rows(wrong.iloc[:0], preds, per_cause=2)
    assert sorted(fallback["path"]) == ["a", "c"]  # the two smallest margins
    assert set(fallback["cause"]) == {"lowest-confidence correct"}


def test_binned_accuracy_counts():
    preds = {"m": _preds(["galaxy", "NSC", "NSC", "galaxy"], [0, 1, 0, 0],
                         psf_fwhm=[0.05, 0.07, 0.2, 0.3])}
    out = chapters.binned_accuracy(preds, "psf_fwhm", [0.0, 0.1, 0.5])
    assert out["n"].tolist() == [2, 2]
    assert out["accuracy"].tolist() == [1.0, 0.5]
    assert out["bin"].tolist() == ["[0, 0.1)", "[0.1, 0.5)"]
    with pytest.raises(ValueError, match="lack column"):
        chapters.binned_accuracy(preds, "snr", [0, 1])
    with pytest.raises(ValueError, match="unknown class"):
        chapters.binned_accuracy({"m": _preds(["star"], ["galaxy"], snr=[1.0])}, "snr", [0, 2])


def test_quantile_bins_cover_all_values():
    edges = chapters.quantile_bins([1.0, 2.0, 3.0, 4.0, np.nan], 2)
    assert edges[0] == 1.0 and edges[-1] > 4.0 and len(edges) == 3
    assert len(chapters.quantile_bins([5.0, 5.0], 3)) == 2
    with pytest.raises(ValueError):
        chapters.quantile_bins([np.nan], 2)


def test_causes_follow_the_simulator_record():
    rows = _preds(["galaxy"] * 7, ["NSC"] * 6 + ["galaxy"],
                  lookalike=["arm_segment~nebula_filament;edge_view", "", "", "edge_view", "", "",
                             ""],
                  defects=["cosmic_rays", "satellite_trail;cosmic_rays", "", "", "hot_pixels",
                           "ghost", ""],
                  object_fraction=[1.0, 1.0, 0.1, 0.9, 0.9, 0.9, 0.9], blurry=[False] * 7)
    wrong = chapters.misclassified(rows)
    assert len(wrong) == 6
    assert wrong["cause"].tolist() == ["inter-class similarity", "insufficient features",
                                       "insufficient features", "image noise", "image noise",
                                       "not attributed"]


def test_compare_table2_flags_differences():
    table = pd.DataFrame([{"type": t, "output_size": out, "trainable_params": p}
                          for _, t, _, _, out, _, p in PAPER_TABLE2])
    table.loc[7, "output_size"] = (128, 121, 249)
    table = pd.concat([table.iloc[:2], pd.DataFrame([{"type": "BatchNorm2d",
                                                      "output_size": (32, 2042, 4090),
                                                      "trainable_params": 64}]),
                       table.iloc[2:]], ignore_index=True)
    cmp = chapters.compare_table2(table)
    assert len(cmp) == 23
    assert cmp.index[~cmp["match"]].tolist() == ["7"]
    with pytest.raises(ValueError, match="need type"):
        chapters.compare_table2(table.drop(columns="trainable_params"))


def test_evaluated_results_are_reused(tmp_path):
    ch = chapters.chapter_context("smoke", tmp_path)
    spec = ch.spec("hr-celestialnet", "lcid")
    out = ch.paths.model_dir(spec.model, spec.dataset)
    out.mkdir(parents=True)
    _preds(["galaxy", "NSC"], ["NSC", "NSC"]).to_csv(out / "predictions_test.csv", index=False)
    (out / "metrics_test.json").write_text(json.dumps({"accuracy": 0.5}))
    res = chapters.ensure_evaluated(ch, spec, pd.DataFrame(), "test")  # nothing recomputed
    np.testing.assert_array_equal(res.confusion, [[0, 1], [0, 1]])
    assert res.timing == {}
    (out / "timing_test.json").write_text(json.dumps(
        {"preprocess_ms": {"median": 5.0, "iqr": 1.0, "n": 3}, "classify_ms": 2.0, "device": "cpu"}))
    res = chapters.ensure_evaluated(ch, spec, pd.DataFrame(), "test")
    assert res.timing == {"preprocess_ms": 5.0, "preprocess_iqr": 1.0, "preprocess_n": 3,
                          "classify_ms": 2.0, "device": "cpu"}
    with pytest.raises(FileNotFoundError, match="model.pt"):
        chapters.ensure_evaluated(ch, spec, pd.DataFrame(), "blurry")
    with pytest.raises(ValueError, match="disabled"):
        chapters.ensure_trained(ch, ch.spec("vgg", "lcid"), pd.DataFrame())


def test_layout_table_sizes():
    table = chapters.layout_table()
    acs = table[(table["instrument"] == "ACS/WFC") & (table["hdu"] == 1)]
    assert set(acs.loc[acs["kind"] == "prescan", "size"]) == {"2068 x 24"}
    uvis = table[(table["instrument"] == "WFC3/UVIS") & (table["kind"] == "serial_virtual")]
    assert set(uvis["size"]) == {"2070 x 30"}


def test_finished_runs_are_reused_not_retrained(tmp_path):
    ch = chapters.chapter_context("smoke", tmp_path)
    for spec in ch.profile.enabled_runs():
        out = ch.paths.model_dir(spec.model, spec.dataset)
        out.mkdir(parents=True)
        (out / "model.pt").write_bytes(b"weights")
        pd.DataFrame({"epoch": [1], "loss": [0.7], "accuracy": [0.5]}).to_csv(
            out / "history.csv", index=False)
        (out / "config.json").write_text(json.dumps({"lr": 1e-4, "epochs": 1}))
    runs = chapters.train_profile_runs(ch, pd.DataFrame())  # would fail if it trained
    assert len(runs) == 7
    assert (runs["status"] == "reused finished run").sum() == 4
    assert runs.loc["VGGNet (LCID)", "status"].startswith("disabled: VGG at 2048x4096")
    assert set(chapters.load_histories(ch)) == {chapters.run_label(s)
                                                for s in ch.profile.enabled_runs()}
    assert chapters.run_configs(ch).loc["HR-CelestialNet (LCID)", "lr"] == "0.0001"
    short = ch.paths.model_dir("alexnet", "lcid-resize") / "history.csv"
    short.write_text("epoch,loss,accuracy\n")
    assert not chapters.is_trained(ch, ch.spec("alexnet", "lcid-resize"))


def test_recipe_table_sets_paper_beside_profile(tmp_path):
    ch = chapters.chapter_context("paper", tmp_path / "run", None, "cpu", 0)
    table = chapters.recipe_table(ch)
    assert list(table.columns) == ["paper", "this run (paper)"]
    assert table.loc["learning rate"].tolist() == ["0.0001", "0.0001"]
    assert table.loc["batch size"].tolist() == ["4", "4"]
    assert table.loc["momentum", "this run (paper)"] == "0 (plain SGD)"
    ch = chapters.chapter_context("smoke", tmp_path / "run2", None, "cpu", 0, momentum=0.9, lr=1e-3)
    table = chapters.recipe_table(ch)
    assert table.loc["momentum", "this run (smoke)"] == "0.9"
    assert table.loc["learning rate"].tolist() == ["0.0001", "0.001"]


def test_recorded_gpu_reads_the_committed_record(tmp_path):
    gpu = chapters.recorded_gpu()
    assert len(gpu) == 7 and gpu.index[0] == "HR-CelestialNet (LCID)"
    hr = gpu.loc["HR-CelestialNet (LCID)"]
    assert "H100" in hr["device"]
    assert 0 < hr["classify ms (Predictor)"] < hr["classify ms (naive fp32)"]
    vgg = gpu.loc["VGGNet (LCID)"]
    assert np.isnan(vgg["peak GB (fp32)"]) and vgg["note"] == "fp32 step out of memory"
    assert vgg["peak GB (bf16)"] > 0
    assert chapters.recorded_gpu(tmp_path / "missing.json").empty
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"pairs": {"vgg:lcid": {"classify": {}}}}))
    with pytest.raises(ValueError, match=r"bad\.json: not a bench_gpu\.py record"):
        chapters.recorded_gpu(bad)
