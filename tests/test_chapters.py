"""hrcn_lib.chapters: the context and the summaries each chapter shows (Tables 2-4, causes...)."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from hrcn_lib import figures, resources
from hrcn_lib.chapters import ch03_architecture as ch03
from hrcn_lib.chapters import ch04_training as ch04
from hrcn_lib.chapters import ch06_results as ch06
from hrcn_lib.chapters import ch07_blurry_robustness as ch07
from hrcn_lib.chapters import ch08_misclassification as ch08
from hrcn_lib.chapters import context
from hrcn_lib.evaluate import EvalResult
from hrcn_lib.hardware import layer_table
from hrcn_lib.models import build_model
from hrcn_lib.names import INPUT_SIZES
from hrcn_lib.profiles import get_profile
from hrcn_lib.train import TrainConfig


def _preds(labels, predicted, **extra) -> pd.DataFrame:
    return pd.DataFrame({"label": labels, "prediction": predicted, **extra})


# ----------------------------------------------------------------------------- context


def test_context_defaults_and_overrides(tmp_path):
    ch = context.chapter_context("smoke", tmp_path / "run", None, "cpu", 7, epochs=3)
    assert ch.paths.root == tmp_path / "run" and ch.data_dir == tmp_path / "run" / "data"
    assert (ch.device, ch.seed, ch.profile.epochs) == ("cpu", 7, 3)
    assert ch.spec("vgg", "lcid").enabled is False
    assert ch.run(ch.spec("vgg", "lcid")).root == tmp_path / "run" / "models" / "vgg_lcid"
    assert context.chapter_context("smoke", tmp_path).device == "auto"  # the profile sets none
    with pytest.raises(ValueError, match="unknown profile"):
        context.chapter_context("nope")
    with pytest.raises(ValueError, match="no run"):
        ch.spec("vgg", "blurry")


def test_context_takes_an_unregistered_profile(tmp_path):
    """A script's own Profile (as ``make_record`` is given one) is used as it is, with the
    overrides applied, and names the default run directory; it need not be in PROFILES."""
    from dataclasses import replace

    mine = replace(context.get_profile("smoke"), name="mine", epochs=5)
    ch = context.chapter_context(mine, tmp_path / "run", seed=3)
    assert (ch.profile.name, ch.profile.epochs, ch.seed) == ("mine", 5, 3)
    assert context.chapter_context(mine).paths.root.name == "mine"


def test_default_run_directory_is_under_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert context.chapter_context("smoke").paths.root.as_posix() == "runs/smoke"


def test_shown_paths_are_never_absolute(tmp_path, monkeypatch):
    build = tmp_path / "build"
    (build / "runs" / "cpu").mkdir(parents=True)
    monkeypatch.chdir(build)
    ch = context.chapter_context("cpu", build / "runs" / "cpu")  # absolute, as papermill's
    assert context.shown_path(ch, ch.paths.root) == "runs/cpu"
    assert context.shown_path(ch, ch.data_dir) == "data"
    assert context.shown_path(ch, ch.paths.lcid_manifest) == "data/lcid_manifest.csv"
    assert context.describe(ch) == ("profile cpu: run directory runs/cpu/ (paths below are "
                                    "relative to it), data folder data/")
    (build / "runs" / "cpu" / "data").symlink_to(tmp_path, target_is_directory=True)
    assert context.shown_path(ch, ch.data_dir) == "data"  # a linked data folder stays "data"
    real = context.chapter_context("cpu", build / "runs" / "cpu", tmp_path / "lcid")
    assert context.shown_path(real, real.data_dir) == "<lcid>"  # outside: its name only
    for text in (context.shown_path(ch, p) for p in (ch.paths.root, ch.data_dir, tmp_path)):
        assert str(tmp_path) not in text


def test_binder_profile_fits_in_2_gb():
    """Only ResNet-18 at 224 x 448 is trained (no full resolution, no VGG or AlexNet with their
    100-240 M parameters); one simulation process (benchmarks/bench_binder_memory.py)."""
    p = get_profile("binder")
    enabled = [r for r in p.enabled_runs()]
    assert {(r.model, r.dataset) for r in enabled} == {("resnet", "lcid-resize")}
    assert all(INPUT_SIZES[r.dataset] == (224, 448) for r in enabled)
    assert all(r.reason for r in p.runs if not r.enabled)
    assert p.simulation_jobs == 1 and TrainConfig.from_profile(p, enabled[0]).micro_batch == 1


def test_ensure_dataset_refuses_to_simulate_into_a_foreign_folder(tmp_path):
    ch = context.chapter_context("smoke", tmp_path / "run", tmp_path / "real_lcid")
    with pytest.raises(FileNotFoundError, match="hrcn fetch"):
        context.ensure_dataset(ch)


def test_limit_samples_balanced_and_reproducible():
    df = pd.DataFrame({"label": ["galaxy"] * 10 + ["NSC"] * 3})
    out = context.limit_samples(df, 6, seed=1)
    assert len(out) == 6 and (out["label"] == "NSC").sum() == 3
    assert out.index.equals(context.limit_samples(df, 6, seed=1).index)
    assert context.limit_samples(df, None) is df
    with pytest.raises(ValueError):
        context.limit_samples(df, 0)


def test_chapter_1_says_what_the_profile_asked_the_simulator_for():
    """The prose takes the profile's planned sizes (before screening drops exposures), not
    numbers typed into it: the cpu profile's 96 galaxies x 1 and 46 NSCs x 2."""
    from hrcn_lib.chapters import ch01_data as ch01

    assert ch01.planned_sizes(get_profile("cpu")) == {
        "planned_galaxies": 96, "planned_nscs": 46, "planned_galaxy_exposures": 1,
        "planned_nsc_exposures": 2}


def test_chapter_2_gives_the_preprocessing_median_with_its_range():
    from hrcn_lib.chapters import ch02_preprocessing as ch02

    timing = pd.DataFrame({"lcid_ms": [11.0, 79.0, 30.0], "lcid_resize_ms": [12.0, 80.0, 31.5]})
    n = ch02.numbers(timing)
    assert (n["pre_n"], n["pre_lcid_ms"], n["pre_lcid_range"]) == (3, 30.0, "11.0-79.0 ms")
    assert n["pre_resize_range"] == "12.0-80.0 ms" and n["paper_pre_lcid_ms"] == 60.6


def test_chapter_1_names_the_measurements_outside_the_handbooks():
    from hrcn_lib.chapters import ch01_data as ch01

    rows = [{"quantity": "read noise", "instrument": "ACS/WFC", "filter": "", "measured": 4.2,
             "published_low": 3.75, "published_high": 5.65, "unit": "e-"},
            {"quantity": "PSF FWHM", "instrument": "ACS/WFC", "filter": "F435W",
             "measured": 0.079, "published_low": 0.10, "published_high": 0.13, "unit": "arcsec"},
            {"quantity": "sky", "instrument": "ACS/WFC", "filter": "F435W", "measured": 0.0395,
             "published_low": 0.0208, "published_high": 0.0208, "unit": "e-/s/pixel"}]
    table = pd.DataFrame(rows)
    table["published"] = [ch01._published(r["published_low"], r["published_high"]) for r in rows]
    assert table["published"].tolist() == ["3.75 - 5.65", "0.1 - 0.13", "0.0208"]
    assert ch01._published(float("nan"), float("nan")) == "-"  # was "nan - nan"
    table["against published"] = [ch01._against(r) for r in rows]
    assert table["against published"].tolist() == [
        "within", "below", "above, as expected (earthshine on top of the zodiacal light)"]
    text = ch01.handbook_outside(table)
    assert text.startswith("Outside the published values: ACS/WFC PSF FWHM below 0.1 - 0.13 "
                           "arcsec: F435W 0.079.")
    two = pd.concat([table, table.iloc[[1]].assign(filter="F814W", measured=0.09)])
    assert ch01.handbook_outside(two).startswith(
        "Outside the published values: ACS/WFC PSF FWHM below 0.1 - 0.13 arcsec: F435W 0.079, "
        "F814W 0.09.")
    every = "Every measured value with a published counterpart lies"
    assert ch01.handbook_outside(table.iloc[[0, 2]]).startswith(every)
    unpublished = {**rows[2], "published_low": float("nan"), "published_high": float("nan")}
    assert ch01._against(unpublished) == "not compared (no published value)"
    nan_row = table.iloc[[0]].assign(**{"against published": ch01._against(unpublished)})
    assert ch01.handbook_outside(nan_row).startswith(every)
    assert ch01.handbook_outside(None) == "The handbook comparison applies to LCID-sim only."


def test_recorded_gpu_reads_the_committed_record(tmp_path):
    gpu = context.recorded_gpu()
    assert len(gpu) == 7 and gpu.index[0] == "HR-CelestialNet (LCID)"
    hr = gpu.loc["HR-CelestialNet (LCID)"]
    assert "H100" in hr["device"]
    assert 0 < hr["classify ms (Predictor)"] < hr["classify ms (naive fp32)"]
    vgg = gpu.loc["VGGNet (LCID)"]
    assert np.isnan(vgg["peak GB (fp32)"]) and vgg["note"] == "fp32 step out of memory"
    assert vgg["peak GB (bf16)"] > 0
    # in the paper's Table 3 GB (2**30 bytes), not the file's 1e9 bytes: 48.17e9 bytes
    raw = json.loads(resources.recorded_file(context.RECORDED_GPU).read_text())
    peak = raw["pairs"]["hr-celestialnet:lcid"]["train_fp32"]["peak_gb"]
    assert hr["peak GB (fp32)"] == pytest.approx(peak * 1e9 / 2**30, abs=0.006)
    assert context.recorded_gpu(tmp_path / "missing.json").empty
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"pairs": {"vgg:lcid": {"classify": {}}}}))
    with pytest.raises(ValueError, match=r"bad\.json: not a bench_gpu\.py record"):
        context.recorded_gpu(bad)


# ----------------------------------------------------------------------------- chapter 3


def _meta_layers(model: str, dataset: str) -> pd.DataFrame:
    with torch.device("meta"):  # shapes and counts only: no memory for the weights
        return layer_table(build_model(model, dataset), INPUT_SIZES[dataset])


def test_compare_table2_row_by_row_against_the_plan():
    layers = _meta_layers("hr-celestialnet", "lcid")
    cmp = ch03.compare_table2(layers)
    assert len(cmp) == 23 and cmp.index[0] == "-"
    assert cmp.index[~cmp["match"]].tolist() == ["7"]  # the paper's misprint (248 for 249)
    assert cmp.loc["7", "output (ours)"] == "128 x 121 x 249"
    assert cmp.loc["7", "output (paper)"] == "128 x 121 x 248"
    assert ch03.describe_mismatches(cmp) == ("layer 7 (Max Pooling): output 128 x 121 x 249 "
                                             "computed, 128 x 121 x 248 printed")
    changed = layers.copy()
    changed.loc[3, "trainable_params"] += 1
    assert ch03.compare_table2(changed).index[~ch03.compare_table2(changed)["match"]].tolist() \
        == ["3", "7"]
    with pytest.raises(ValueError, match="expected the 23 rows"):
        ch03.compare_table2(layers.iloc[:-1])
    swapped = layers.copy()
    swapped.loc[2, "type"] = "Convolution"  # Table 2's layer 2 is a max-pooling
    with pytest.raises(ValueError, match="row 2 of the layer table is a 'Convolution'"):
        ch03.compare_table2(swapped)
    resnet = _meta_layers("resnet", "lcid-resize")
    with pytest.raises(ValueError, match="HR-CelestialNet's layer table"):
        ch03.compare_table2(resnet)


# ----------------------------------------------------------------------------- chapter 4


def test_finished_runs_are_reused_not_retrained(tmp_path):
    ch = context.chapter_context("smoke", tmp_path)
    for spec in ch.profile.enabled_runs():
        run = ch.run(spec)
        run.root.mkdir(parents=True)
        run.weights.write_bytes(b"weights")
        pd.DataFrame({"epoch": [1], "loss": [0.7], "accuracy": [0.5]}).to_csv(run.history,
                                                                            index=False)
        run.config.write_text(json.dumps({"lr": 1e-4, "epochs": 1}))
    runs = ch04.train_profile_runs(ch, pd.DataFrame())  # would fail if it trained
    assert len(runs) == 7
    assert (runs["status"] == "reused finished run").sum() == 4
    assert runs.loc["VGGNet (LCID)", "status"].startswith("disabled: VGG at 2048x4096")
    assert set(ch04.load_histories(ch)) == {s.label for s in ch.profile.enabled_runs()}
    assert ch04.run_configs(ch).loc["HR-CelestialNet (LCID)", "lr"] == "0.0001"
    assert context.trained_specs(ch) == list(ch.profile.enabled_runs())
    short = ch.run(ch.spec("alexnet", "lcid-resize")).history
    short.write_text("epoch,loss,accuracy\n")
    assert not context.is_trained(ch, ch.spec("alexnet", "lcid-resize"))
    with pytest.raises(ValueError, match="disabled"):
        ch04.ensure_trained(ch, ch.spec("vgg", "lcid"), pd.DataFrame())


def test_recipe_table_sets_paper_beside_profile(tmp_path):
    ch = context.chapter_context("paper", tmp_path / "run", None, "cpu", 0)
    table = ch04.recipe_table(ch)
    live = "this build (paper)"
    assert list(table.columns) == ["paper (Sec. 3.1)", "record (none committed yet)", live]
    assert table.loc["learning rate", live] == "0.0001"
    assert table.loc["batch size", live] == "4"
    assert table.loc["momentum", live] == "0"
    assert table["record (none committed yet)"].eq("-").sum() >= 10
    assert ch04.numbers(ch)["recipe_departure"] == "none: this build uses the paper's recipe"
    ch = context.chapter_context("smoke", tmp_path / "run2", None, "cpu", 0, momentum=0.9, lr=1e-3)
    table = ch04.recipe_table(ch)
    assert table.loc["momentum", "this build (smoke)"] == "0.9"
    assert table.loc["learning rate", "this build (smoke)"] == "0.001"
    assert table.loc["batch size", "this build (smoke)"] == "2"  # the smoke profile's
    numbers = ch04.numbers(ch)
    assert (numbers["lr"], numbers["batch_size"], numbers["paper_epochs"]) == (1e-3, 2, 20)
    # a departure is never reported as "none" (the "departure: none" under departures)
    assert numbers["recipe_departure"].startswith("learning rate, momentum, batch size (")
    # a pair at its own learning rate is named beside the profile's rate
    ch = context.chapter_context("cpu", tmp_path / "run3", None, "cpu", 0)
    rate = ch04.recipe_table(ch).loc["learning rate", "this build (cpu)"]
    assert rate.startswith("0.001 (") and "HR-CelestialNet (LCID)" in rate and ": 0.0001)" in rate
    assert "ResNet" not in rate


# ----------------------------------------------------------------------------- chapter 6


def _result(labels, predicted, confusion, **timing) -> EvalResult:
    acc = float(np.mean(np.array(labels) == np.array(predicted)))
    return EvalResult(_preds(labels, predicted), {"accuracy": acc, "f1_galaxy": 0.6667,
                                                  "f1_nsc": 0.6667},
                      np.array(confusion), {k: {"median": v} for k, v in timing.items()}, "test")


def test_table4_lists_every_pair_with_paper_rows(tmp_path):
    ch = context.chapter_context("smoke", tmp_path)
    hr = ch.spec("hr-celestialnet", "lcid")
    res = _result(["galaxy", "NSC", "NSC"], ["galaxy", "NSC", "galaxy"], [[1, 0], [1, 1]],
                  preprocess_ms=50.0, classify_ms=10.0)
    t4 = ch06.table4(ch, {hr: res})
    assert len(t4) == 21  # paper, record, this build for each of the seven pairs
    ours = t4.loc[("HR-CelestialNet", "LCID", "this build (smoke)")]
    assert ours["Accuracy (%)"] == pytest.approx(66.67) and ours["Total (ms)"] == 60.0
    assert ours["Majority (%)"] == pytest.approx(66.67)
    assert ours["Note"] == "3 samples, not above majority"
    assert t4.loc[("HR-CelestialNet", "LCID", "paper"), "Accuracy (%)"] == 89.09
    # the prose names the majority's share, and a pipeline check as such
    assert ch06.numbers({hr: res})["hr_acc"].endswith("the majority class alone scores 66.7 %)")
    cpu = context.chapter_context("cpu", tmp_path / "cpu")
    assert ch06.numbers({cpu.spec("hr-celestialnet", "lcid"): res})["hr_acc"].endswith(
        ", a pipeline check that tests nothing on accuracy")
    vgg = t4.loc[("VGGNet", "LCID", "this build (smoke)")]
    assert np.isnan(vgg["Accuracy (%)"]) and vgg["Note"] == "not run in this build (see below)"
    missing = ch06.not_run(ch, {hr: res})
    assert "211 GB" in missing.loc["VGGNet (LCID)", "reason"]
    assert "not trained" in missing.loc["AlexNet (LCID-Resize)", "reason"]
    assert len(missing) == 6 and len(ch06.not_run(ch)) == 3
    timing = ch06.timing_table(ch, {hr: res})
    assert timing.to_dict("records") == [
        {"run": "HR-CelestialNet (LCID)", "source": "paper", "preprocess_ms": 60.6,
         "classify_ms": 55.9},
        {"run": "HR-CelestialNet (LCID)", "source": "this build", "preprocess_ms": 50.0,
         "classify_ms": 10.0}]
    assert list(ch06.confusions({hr: res})) == ["HR-CelestialNet (LCID)"]
    numbers = ch06.numbers({hr: res})
    assert numbers["hr_acc"].startswith("66.7 % (95 % interval")
    assert numbers["record_hr_acc"] == "no record committed yet"
    assert numbers["paper_hr_acc"] == 89.09
    assert (numbers["paper_min_total_run"], numbers["paper_max_total_run"]) == (
        "AlexNet (LCID)", "VGGNet (LCID)")


def test_evaluated_results_are_reused(tmp_path):
    ch = context.chapter_context("smoke", tmp_path)
    spec = ch.spec("hr-celestialnet", "lcid")
    run = ch.run(spec)
    run.root.mkdir(parents=True)
    _preds(["galaxy", "NSC"], ["NSC", "NSC"]).to_csv(run.predictions("test"), index=False)
    run.metrics("test").write_text(json.dumps({"accuracy": 0.5}))
    res = ch06.ensure_evaluated(ch, spec, pd.DataFrame(), "test")  # nothing recomputed
    np.testing.assert_array_equal(res.confusion, [[0, 1], [0, 1]])
    with pytest.raises(FileNotFoundError, match="model.pt"):
        ch06.ensure_evaluated(ch, spec, pd.DataFrame(), "blurry")


# ----------------------------------------------------------------------------- chapter 7


def test_binned_accuracy_counts():
    preds = {"m": _preds(["galaxy", "NSC", "NSC", "galaxy"], [0, 1, 0, 0],
                         psf_fwhm=[0.05, 0.07, 0.2, 0.3])}
    out = ch07.binned_accuracy(preds, "psf_fwhm", [0.0, 0.1, 0.5])
    assert out["n"].tolist() == [2, 2]
    assert out["accuracy"].tolist() == [1.0, 0.5]
    assert out["bin"].tolist() == ["[0, 0.1)", "[0.1, 0.5)"]
    assert out[["lo", "hi"]].isna().all().all()  # no bodies: no interval
    with_bodies = {"m": preds["m"].assign(body=["A", "B", "C", "D"])}
    out = ch07.binned_accuracy(with_bodies, "psf_fwhm", [0.0, 0.1, 0.5])
    assert out["lo"].tolist()[0] == out["hi"].tolist()[0] == 1.0  # both right in every draw
    assert out["lo"].tolist()[1] == 0.0 and out["hi"].tolist()[1] == 1.0
    with pytest.raises(ValueError, match="lack column"):
        ch07.binned_accuracy(preds, "snr", [0, 1])
    with pytest.raises(ValueError, match="unknown class"):
        ch07.binned_accuracy({"m": _preds(["star"], ["galaxy"], snr=[1.0])}, "snr", [0, 2])
    everything = pd.concat([preds["m"].assign(run="a"), preds["m"].assign(run="b")])
    by = ch07.accuracy_by(everything, "psf_fwhm", 2)
    assert by["model"].tolist() == ["a", "a", "b", "b"] and by["n"].sum() == 8


def test_quantile_bins_cover_all_values():
    edges = ch07.quantile_bins([1.0, 2.0, 3.0, 4.0, np.nan], 2)
    assert edges[0] == 1.0 and edges[-1] > 4.0 and len(edges) == 3
    assert len(ch07.quantile_bins([5.0, 5.0], 3)) == 2
    with pytest.raises(ValueError):
        ch07.quantile_bins([np.nan], 2)


def test_blurry_table_sets_ours_beside_the_papers(tmp_path):
    ch = context.chapter_context("smoke", tmp_path)
    res = _result(["galaxy", "NSC", "NSC"], ["NSC", "NSC", "galaxy"], [[0, 1], [1, 1]])
    table = ch07.blurry_table({ch.spec("hr-celestialnet", "lcid"): res})
    row = table.loc[("HR-CelestialNet (LCID)", "this build")]
    assert (row["samples"], row["galaxy errors"], row["NSC errors"]) == (3, 1, 1)
    paper = table.loc[("HR-CelestialNet (LCID)", "paper")]
    assert (paper["accuracy (%)"], paper["NSC errors"]) == (84.48, 17)
    assert ch07.blurry_table({}).empty
    # the prose gives this build's number with its interval and the majority's share, and
    # names a pipeline check (the cpu book's HR-CelestialNet answered "galaxy" throughout)
    hr = ch.spec("hr-celestialnet", "lcid")
    all_galaxy = _result(["galaxy", "galaxy", "NSC"], ["galaxy"] * 3, [[2, 0], [1, 0]])
    text = ch07.numbers({hr: all_galaxy})["hr_blurry_acc"]
    assert text.startswith("66.7 % (95 % interval ") and text.endswith(
        "; the majority class alone scores 66.7 %)")
    cpu = context.chapter_context("cpu", tmp_path / "cpu")
    checked = ch07.numbers({cpu.spec("hr-celestialnet", "lcid"): all_galaxy})["hr_blurry_acc"]
    assert checked.endswith("66.7 %), a pipeline check that tests nothing on accuracy")
    assert ch07.numbers({})["hr_blurry_acc"] == "not run in this build"


# ----------------------------------------------------------------------------- chapter 8


def test_causes_follow_the_simulator_record():
    rows = _preds(["galaxy"] * 7, ["NSC"] * 6 + ["galaxy"],
                  lookalike=["arm_segment~nebula_filament;edge_view", "", "", "edge_view", "", "",
                             ""],
                  defects=["cosmic_rays", "satellite_trail;cosmic_rays", "", "", "hot_pixels",
                           "ghost", ""],
                  blurry=[False, False, True, False, False, False, False])
    wrong = ch08.misclassified(rows)
    assert len(wrong) == 6
    assert wrong["cause"].tolist() == ["inter-class similarity", "insufficient features",
                                       "insufficient features", "image noise", "image noise",
                                       "not attributed"]
    counts = ch08.cause_counts(wrong.assign(run="m"))
    assert counts.loc["m"].to_dict() == {"image noise": 2, "insufficient features": 2,
                                         "inter-class similarity": 1, "not attributed": 1}
    assert list(ch08.cause_counts(wrong.iloc[:0]).columns) == list(ch08.CAUSES)


def test_figure4_rows_by_cause_and_fallback():
    preds = _preds(["galaxy", "NSC", "NSC", "galaxy"], ["NSC", "galaxy", "NSC", "galaxy"],
                   path=["a", "b", "c", "d"], hdu=[1, 1, 1, 1], p_galaxy=[0.4, 0.6, 0.45, 0.9],
                   p_nsc=[0.6, 0.4, 0.55, 0.1], lookalike=["", "x~y", "", ""],
                   defects=["ghost", "", "", ""])
    wrong = ch08.misclassified(preds)
    rows = ch08.figure4_rows(wrong, preds)
    assert rows["path"].tolist() == ["b", "a"]
    assert rows["cause"].tolist() == ["inter-class similarity", "image noise"]
    fallback = ch08.figure4_rows(wrong.iloc[:0], preds, per_cause=2)
    assert sorted(fallback["path"]) == ["a", "c"]  # the two smallest margins
    assert set(fallback["cause"]) == {"lowest-confidence correct"}


def test_explained_spec_prefers_hr_celestialnet(tmp_path):
    ch = context.chapter_context("smoke", tmp_path)
    specs = list(ch.profile.enabled_runs())
    assert ch08.explained_spec(specs).model == "hr-celestialnet"
    assert ch08.explained_spec(specs[:1]) == specs[0]
    assert ch08.explained_why(ch08.explained_spec(specs), specs) == "They are " \
        "HR-CelestialNet (LCID)'s."
    with pytest.raises(ValueError, match="no trained pair"):
        ch08.explained_spec([])


def test_chapter_8_explains_no_pipeline_check_and_counts_its_errors_apart(tmp_path):
    """The cpu book's HR-CelestialNet is a 32-sample, one-epoch pipeline check that answers
    "galaxy" for everything: its heat maps are not "the best-placed trained model's", and
    its errors are not counted with the trained pairs' causes."""
    ch = context.chapter_context("cpu", tmp_path)
    specs = list(ch.profile.enabled_runs())
    best = ch08.explained_spec(specs)
    assert not best.note and best.model != "hr-celestialnet"
    why = ch08.explained_why(best, specs)
    assert why.startswith(f"They are {best.label}'s: this build's HR-CelestialNet (LCID) is a "
                          "pipeline check (pipeline check: 32 training samples")
    checks_only = [s for s in specs if s.note]
    assert ch08.explained_spec(checks_only).model == "hr-celestialnet"
    assert "Every pair of this build is a pipeline check" in ch08.explained_why(
        ch08.explained_spec(checks_only), checks_only)
    wrong = pd.DataFrame({"run": ["HR-CelestialNet (LCID)"] * 3 + ["ResNet (LCID-Resize)"],
                          "cause": ["inter-class similarity", "image noise", "image noise",
                                    "insufficient features"]})
    text = ch08.check_errors(wrong, specs)
    assert text.startswith("3 of them come from this build's pipeline checks (AlexNet (LCID), "
                           "HR-CelestialNet (LCID): not sized to learn")
    assert ch08.numbers(wrong.assign(x=1), wrong, specs)["check_errors"] == text
    assert ch08.check_errors(wrong.iloc[3:], specs) == (
        "None of them comes from this build's pipeline checks (AlexNet (LCID), "
        "HR-CelestialNet (LCID)).")
    assert ch08.check_errors(wrong, [s for s in specs if not s.note]).startswith(
        "Every pair of this build is trained to learn")
    table = ch08.cause_sources(wrong, None, live_name="this build (cpu)",
                               checks=[s.label for s in checks_only])
    column = "this build (cpu) without its pipeline checks: simulator's truth"
    assert table[column].to_dict() == {"inter-class similarity": 0, "insufficient features": 1,
                                       "image noise": 0, "not attributed": 0}
    assert ch08.cause_sources(wrong, None)["this build: simulator's truth"].sum() == 4


def test_record_heatmaps_come_with_their_causes(tmp_path):
    from hrcn_lib.records import read_record, write_record

    split = pd.DataFrame({"obsid": ["a", "b"], "hdu": 1, "body": ["G1", "N1"],
                          "label": ["galaxy", "NSC"], "subset": "test"})
    preds = split.drop(columns="subset").assign(pair="hr-celestialnet_lcid", seed=0,
                                                recipe="profile", set="test",
                                                pred=["NSC", "NSC"], p_nsc=[0.9, 0.8])
    causes = preds.iloc[:1].assign(cause_image="image noise", cause_truth="image noise",
                                   heat_on_object=0.25, gradcam="hr_a.png")
    buf = io.BytesIO()
    fig = Figure(figsize=(1, 1))
    fig.subplots().imshow(np.zeros((4, 4)))
    fig.savefig(buf, format="png")
    path = write_record(tmp_path / "r", info={"profile": "smoke"}, split=split,
                        predictions=preds, timings=pd.DataFrame(), causes=causes,
                        images={"hr_a.png": buf.getvalue()})
    pictures, captions = ch08.record_heatmaps(read_record(path))
    assert len(pictures) == 1 and pictures[0].ndim == 3
    assert captions == ["test: model and image: image noise\nsimulator: image noise; heat on "
                        "object 0.25"]
    assert ch08.record_heatmaps(None) == ([], [])
    figures.picture_grid(pictures, captions)
    with pytest.raises(ValueError, match="no picture"):
        figures.picture_grid([], [])
    with pytest.raises(ValueError, match=r"expected \(H, W, 3 \| 4\)"):
        figures.picture_grid([np.zeros((4, 4))], ["flat"])


def test_training_throughput_reads_the_run_folders(tmp_path):
    from hrcn_lib.chapters import ch05_hardware as ch05
    from hrcn_lib.throughput import training_flops

    ch = context.chapter_context("smoke", tmp_path / "run")
    spec = ch.spec("resnet", "lcid-resize")
    run = ch.run(spec)
    run.root.mkdir(parents=True)
    run.config.write_text(json.dumps({"model_name": "resnet", "dataset_name": "lcid-resize",
                                      "n_samples": 10, "precision_effective": "bf16",
                                      "device_effective": "cpu", "channels_last": False}))
    pd.DataFrame({"epoch": [1, 2], "seconds": [4.0, 1.0]}).to_csv(run.history, index=False)
    table = ch05.training_throughput(ch)
    assert list(table.index) == [spec.label]  # untrained pairs are left out
    row = table.loc[spec.label]
    assert row["samples"] == 20 and row["s per sample"] == pytest.approx(0.25)
    assert row["layout"] == "NCHW" and row["precision"] == "bf16"
    flops = training_flops("resnet", "lcid-resize").training
    assert row["GFLOP/s"] == pytest.approx(flops * 4 / 1e9)
    assert "logical cores" in table.attrs["machine"] and "bf16" in table.attrs["machine"]
    assert row["trained on"] == "not recorded"  # a folder from before the machine was kept
    run.config.write_text(json.dumps({**json.loads(run.config.read_text()),
                                      "machine": "Zen 5, 2 logical cores"}))
    assert ch05.training_throughput(ch).loc[spec.label, "trained on"] == "Zen 5, 2 logical cores"


def test_one_spelling_of_accuracies_across_the_chapters():
    """Tables, sentences and verdict rows write an accuracy, its interval and a difference the
    same way, in percent with one decimal; a missing value is NaN in a table, not 0."""
    from hrcn_lib.chapters import wording
    assert wording.accuracy_text(0.842857, 0.760261, 0.922481) == "84.3 % [76.0, 92.2]"
    assert wording.accuracy_prose(0.842857, 0.760261, 0.922481) == \
        "84.3 % (95 % interval 76.0-92.2 %)"
    assert wording.pp_text(0.0857) == "+8.6 pp" and wording.pp_text(-0.057) == "-5.7 pp"
    assert wording.percent(0.514286) == 51.43 and np.isnan(wording.percent(None))
    assert wording.difference_text(0.0857, -0.014, 0.196) == "+8.6 pp [-1.4, +19.6]"
