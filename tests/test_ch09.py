"""Chapter 9 (what holds) and the record columns of chapters 4, 6, 7 and 8, on synthetic records."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hrcn_lib.causes import (
    agreement,
    cause_from_image,
    error_excess,
    heat_on_object,
    measure_image,
)
from hrcn_lib.chapters import ch04_training as ch04
from hrcn_lib.chapters import ch06_results as ch06
from hrcn_lib.chapters import ch07_blurry_robustness as ch07
from hrcn_lib.chapters import ch08_misclassification as ch08
from hrcn_lib.chapters import ch09_what_holds as ch09
from hrcn_lib.chapters.context import chapter_context, recorded_gpu
from hrcn_lib.paper_numbers import paper_confusion
from hrcn_lib.records import read_record, write_record

#: pair -> (skill on test, skill on blurry, seeds)
SKILL = {"hr-celestialnet_lcid": (0.95, 0.9, 1), "resnet_lcid-resize": (0.5, 0.5, 3),
         "resnet_lcid": (0.52, 0.55, 1), "alexnet_lcid-resize": (0.97, 0.3, 1)}


def make_record(tmp_path, skill=SKILL, n_bodies: int = 40, seed: int = 0, *,
                alike: tuple[str, ...] = (), micro: dict[str, int] | None = None,
                matched: dict[str, float] | None = None):
    """A synthetic record; the pairs in ``alike`` answer NSC with p_nsc ~0.569 for every
    sample (a collapsed network), ``micro`` sets pairs' micro-batch (default 16), ``matched``
    gives LCID-Resize pairs a matched-recipe run of that test skill."""
    rng = np.random.default_rng(seed)
    rng_p = np.random.default_rng(seed + 1000)  # p_nsc draws leave the predictions as they were
    rows = []
    for subset in ("train", "test", "blurry"):
        for b in range(n_bodies):
            label = "galaxy" if b % 2 else "NSC"
            for k in range(3):
                rows.append({"obsid": f"{subset[:2]}{b:02d}{k}", "hdu": 1, "body": f"{subset}{b}",
                             "label": label, "subset": subset})
    split = pd.DataFrame(rows)
    preds, timings, recipes, curves = [], [], {}, {}
    for pair, (p_test, p_blurry, seeds) in skill.items():
        model, dataset = pair.split("_", 1)
        runs = [(s, "profile", "" if s == 0 else f"seed{s}") for s in range(seeds)]
        if pair == "resnet_lcid-resize":
            runs.append((0, "paper", "paper"))
        if pair in (matched or {}):
            runs.append((0, "matched", "matched"))
        for s, recipe, variant in runs:
            name = f"{pair}.{variant}" if variant else pair
            for set_name, p in (("test", p_test), ("blurry", p_blurry)):
                part = split.loc[split["subset"] == set_name]
                p_run = {"profile": p, "matched": (matched or {}).get(pair)}.get(recipe, 0.5)
                # errors clustered by body, as real ones are
                body_skill = {b: rng.beta(20 * p_run + 0.5, 20 * (1 - p_run) + 0.5)
                              for b in part["body"].unique()}
                right = rng.random(len(part)) < part["body"].map(body_skill).to_numpy()
                other = part["label"].map({"galaxy": "NSC", "NSC": "galaxy"}).to_numpy()
                pred = np.where(right, part["label"].to_numpy(), other)
                u = rng_p.random(len(part))
                p_nsc = np.where(pred == "NSC", 0.5 + 0.5 * u, 0.5 * u)
                if pair in alike:
                    pred = np.full(len(part), "NSC")
                    p_nsc = 0.569 + 0.001 * u
                preds.append(pd.DataFrame({
                    "pair": pair, "seed": s, "recipe": recipe, "set": set_name,
                    "obsid": part["obsid"].to_numpy(), "hdu": 1, "body": part["body"].to_numpy(),
                    "label": part["label"].to_numpy(), "p_nsc": p_nsc, "pred": pred}))
            timings.append({"pair": pair, "seed": s, "recipe": recipe, "set": "test",
                            "preprocess_ms": 100.0,
                            "classify_ms": 900.0 if dataset == "lcid" else 10.0})
            recipes[name] = {"model_name": model, "dataset_name": dataset, "epochs": 5,
                             "n_samples": 120, "optimizer": "adamw" if recipe == "profile"
                             else "sgd", "lr": 1e-3 if recipe == "profile" else 1e-4,
                             "schedule": "onecycle" if recipe == "profile" else "constant",
                             "flips": recipe == "profile", "batch_size": 16,
                             "micro_batch": (micro or {}).get(pair, 16),
                             "precision_effective": "bf16", "recipe": recipe}
            curves[name] = pd.DataFrame({"epoch": [1, 2], "loss": [0.7, 0.4],
                                         "accuracy": [0.5, 0.8], "lr": [1e-3, 1e-4],
                                         "seconds": [10.0, 10.0], "samples_per_s": [12.0, 12.0]})
    causes = pd.DataFrame({
        "pair": "hr-celestialnet_lcid", "set": "test", "obsid": ["a", "b", "c", "d"], "hdu": 1,
        "body": ["x", "y", "z", "w"], "label": "galaxy", "pred": "NSC", "p_nsc": 0.9,
        "snr_image": [3.0, 0.2, 4.0, 5.0], "object_fraction_image": [0.8, 0.9, 0.7, 0.6],
        "heat_on_object": [0.8, 0.9, 0.1, 0.7],
        "cause_image": ["inter-class similarity", "insufficient features", "image noise",
                        "inter-class similarity"],
        "cause_truth": ["inter-class similarity", "insufficient features",
                        "inter-class similarity", "inter-class similarity"],
        "causes_truth": ["inter-class similarity", "insufficient features",
                         "inter-class similarity", "inter-class similarity;image noise"],
        "snr": 1.0, "object_fraction": 0.5, "gradcam": ""})
    info = {"profile": "record-cpu", "where": "cpu-background", "device": {"name": "test CPU"},
            "recipes": recipes, "recipe_departure": "AdamW one-cycle learns where SGD does not",
            "train_seconds": {k: 3600.0 for k in recipes}}
    path = write_record(tmp_path / "record-cpu", info=info, split=split,
                        predictions=pd.concat(preds, ignore_index=True),
                        timings=pd.DataFrame(timings), curves=curves, causes=causes)
    return read_record(path)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    return make_record(tmp_path_factory.mktemp("rec"))


def test_claims_give_the_verdict_each_measurement_supports(record):
    table = ch09.claims(ch09.from_record(record), recorded_gpu())
    assert set(table["verdict"]) <= set(ch09.VERDICTS)
    v = table["verdict"]
    # HR-CelestialNet 0.95 against 0.55-0.97: AlexNet (LCID-Resize) is not beaten
    assert v["HR-CelestialNet is the most accurate model (testing set)"] in ("not resolved",
                                                                             "does not hold")
    # the blurry set: 0.9 against at most 0.55 -> holds
    assert v["HR-CelestialNet is the most robust on LCID-Blurry"] == "holds"
    # ResNet full resolution 0.52 vs resize 0.5 on 120 samples: not resolved
    assert v["ResNet: full resolution (LCID) beats LCID-Resize"] == "not resolved"
    assert v["AlexNet: full resolution (LCID) beats LCID-Resize"] == "not testable here"
    assert v["VGGNet: full resolution (LCID) beats LCID-Resize"] == "not testable here"
    # 1000 ms per full-resolution sample against 110 ms at 224 x 448
    assert v["HR-CelestialNet classifies fastest per sample"] == "does not hold"
    assert v["HR-CelestialNet reaches 89.09 % on LCID"] == "not testable here"
    # the recorded H100: 44.9 GB (2**30 bytes) against ResNet's 15.8 GB, 1.37x the estimate
    assert v["Table 3's order: HR-CelestialNet needs less training memory than ResNet on LCID"] \
        == "does not hold"
    assert v["Table 3's estimate is the memory training needs (HR-CelestialNet 32.79 GB)"] \
        == "does not hold"
    assert "(holds when HR-CelestialNet's is within 10 % of 1; measured on the " in table.loc[
        "Table 3's estimate is the memory training needs (HR-CelestialNet 32.79 GB)",
        "on LCID-sim"]
    assert "44.9 GB" in table.loc["Table 3's order: HR-CelestialNet needs less training memory "
                                  "than ResNet on LCID", "on LCID-sim"]
    # four diagnosed errors, all three causes read from the image, but the predictions do not
    # say which samples carry which cause: the claim cannot be tested
    causes = ("Misclassifications come from inter-class similarity, insufficient features and "
              "image noise")
    assert v[causes] == "not testable here" and "75 %" in table.loc[causes, "on LCID-sim"]


def _with_truth(res: ch09.Results, err_with: float, err_without: float, seed: int = 0
                ) -> ch09.Results:
    """``res`` with every cause given to half of the bodies, and predictions that err at
    ``err_with`` on their samples and ``err_without`` elsewhere."""
    rng = np.random.default_rng(seed)
    p = res.predictions.copy()
    bodies = sorted(p["body"].unique())
    carry = {b: (i // 2) % 2 == 0 for i, b in enumerate(bodies)}  # both kinds in each class
    has = p["body"].map(carry).to_numpy()
    p["lookalike"] = np.where(has, "arm_segment~nebula_filament", "")
    p["edge_view"] = has
    p["blurry"] = False
    p["defects"] = np.where(has, "satellite_trail;cosmic_rays", "cosmic_rays")
    wrong = rng.random(len(p)) < np.where(has, err_with, err_without)
    other = p["label"].map({"galaxy": "NSC", "NSC": "galaxy"})
    p["pred"] = np.where(wrong, other, p["label"])
    return ch09.Results(res.name, p, res.times, res.causes)


def test_causes_claim_is_tested_on_the_simulators_truth(record):
    causes = ("Misclassifications come from inter-class similarity, insufficient features and "
              "image noise")
    res = ch09.from_record(record)
    enriched = ch09.claims(_with_truth(res, 0.7, 0.05)).loc[causes]
    assert enriched["verdict"] == "holds"
    assert "image noise +" in enriched["on LCID-sim"]
    assert ch09.claims(_with_truth(res, 0.05, 0.7)).loc[causes, "verdict"] == "does not hold"
    flat = ch09.claims(_with_truth(res, 0.3, 0.3, seed=1)).loc[causes]
    assert flat["verdict"] == "not resolved" and "within each class" in flat["on LCID-sim"]


def test_a_clear_winner_holds_and_a_clear_loser_does_not(tmp_path):
    win = make_record(tmp_path / "a", {"hr-celestialnet_lcid": (0.97, 0.9, 1),
                                       "resnet_lcid": (0.5, 0.5, 1)})
    lose = make_record(tmp_path / "b", {"hr-celestialnet_lcid": (0.5, 0.5, 1),
                                        "resnet_lcid": (0.97, 0.9, 1)})
    claim = "HR-CelestialNet is the most accurate model (testing set)"
    assert ch09.claims(ch09.from_record(win)).loc[claim, "verdict"] == "holds"
    assert ch09.claims(ch09.from_record(lose)).loc[claim, "verdict"] == "does not hold"
    nothing = ch09.claims(None)
    assert nothing.loc[claim, "verdict"] == "not testable here"


def test_confusion_panels_put_the_papers_beside_the_records(record):
    panels = ch09.confusion_panels(record)
    hr = panels["HR-CelestialNet (LCID), test: paper"]
    assert (hr == paper_confusion("hr-celestialnet")).all() and hr.sum() == 1595
    ours = panels["HR-CelestialNet (LCID), test: record"]
    assert ours.sum() == len(record.run_predictions("hr-celestialnet_lcid", "test"))
    assert panels["ResNet (LCID-Resize), LCID-Blurry: paper"].sum() == 116
    keys = list(panels)
    assert keys.index("HR-CelestialNet (LCID), test: record") == keys.index(
        "HR-CelestialNet (LCID), test: paper") + 1
    assert len(ch09.confusion_panels(None)) == 7 + 7  # the paper's alone, test and blurry


def test_seed_spread_and_the_papers_gaps_in_the_same_units(record):
    spread = ch09.seed_spread(record)
    assert list(spread.index) == ["ResNet (LCID-Resize)"]
    row = spread.iloc[0]
    acc = record.metrics.query("pair == 'resnet_lcid-resize' and recipe == 'profile' and "
                               "set == 'test'")["accuracy"].to_numpy()
    assert row["seeds"] == 3 and row["range (pp)"] == pytest.approx(
        round(100 * (acc.max() - acc.min()), 1))
    assert row["range (samples)"] == round((acc.max() - acc.min()) * 120)
    gaps = ch09.paper_gaps()
    top = gaps.iloc[0]
    assert (top["higher"], top["lower"]) == ("HR-CelestialNet (LCID)", "VGGNet (LCID-Resize)")
    assert top["gap (pp)"] == pytest.approx(0.81) and top["gap (samples)"] == 13
    assert top["gap / binomial SE"] == pytest.approx(1.04, abs=0.01)
    assert len(gaps) == 6


def test_targets_say_how_far_the_record_falls_short(record):
    table = ch09.targets(record)
    hr = table.loc["HR-CelestialNet (LCID)"]
    assert hr["epochs"] == 5 and hr["training samples"] == 120 and hr["training hours"] == 1.0
    resnet = table.loc["ResNet (LCID-Resize)"]
    assert not resnet["met"] and resnet["short by (pp)"] > 0
    text = ch09.targets_summary(table, record)
    assert "falls short for" in text and "ResNet (LCID-Resize) by" in text
    assert "No record" in ch09.targets_summary(ch09.targets(None), None)
    # runs that tell samples apart are not said to answer alike
    assert (table["answers alike"] < table["testing samples"] / 2).all()
    assert "same answer" not in text


def test_the_next_step_says_what_record_gpu_adds_to_the_record(record):
    """Read from the record-gpu profile and the record: its data when it differs, the pairs
    it trains longer (with both epoch counts), those the record does not train, and those it
    trains for fewer epochs than the record did (named too: a reader must not take the GPU
    record for more training of every pair)."""
    from dataclasses import replace

    from hrcn_lib.profiles import get_profile

    gpu = get_profile("record-gpu")
    text = ch09.gpu_next_step(record)  # the fixture's info has no profile_fields: other data
    assert text.startswith("The record-gpu profile (") and text.endswith("next step.")
    assert f"{gpu.bodies_galaxy} galaxies x {gpu.exposures_per_body}" in text
    assert "ResNet (LCID-Resize) 5 -> 20" in text  # the fixture's runs have 5 epochs
    assert "also AlexNet (LCID) for 8 epochs, VGGNet (LCID-Resize) for 12" in text  # not in it
    assert "fewer epochs for ResNet (LCID) 5 -> 4" in text and "ResNet (LCID) for" not in text
    sizes = {k: getattr(gpu, k) for k in ("bodies_galaxy", "bodies_nsc",
                                          "exposures_per_body", "nsc_exposure_factor")}
    same = replace(record, info={**record.info, "profile_fields": sizes})
    assert "(the same data; more epochs for" in ch09.gpu_next_step(same)
    assert ch09.gpu_next_step(replace(record, info={**record.info,
                                                    "profile": "record-gpu"})) == ""


def test_targets_name_the_runs_that_answer_alike(tmp_path):
    """A collapsed run (one p_nsc for every sample) is named with its count; the BatchNorm
    cause is given only for a BatchNorm network trained one sample per pass."""
    rec = make_record(tmp_path, alike=("hr-celestialnet_lcid", "resnet_lcid"),
                      micro={"hr-celestialnet_lcid": 1, "resnet_lcid": 4})
    table = ch09.targets(rec)
    hr = table.loc["HR-CelestialNet (LCID)"]
    assert hr["answers alike"] == hr["testing samples"] == 120 and hr["micro-batch"] == 1
    text = ch09.targets_summary(table, rec)
    assert "same answer" in text and "HR-CelestialNet (LCID), 120 of 120 (a BatchNorm" in text
    assert "ResNet (LCID), 120 of 120" in text
    assert text.count("BatchNorm network") == 1  # ResNet at micro-batch 4: no cause claimed


def test_alike_samples_are_compared_by_snr():
    """The samples at the run's median answer are set against the others by the simulator's
    S/N; nothing is said without an snr column or when every sample answers alike."""
    p = pd.DataFrame({"p_nsc": [0.483, 0.4831, 0.4829, 0.9, 0.1],
                      "snr": [2.0, 3.0, 4.0, 10.0, 12.0]})
    assert ch09._alike_snr(p) == (": their median S/N (the simulator's) 3.0 against 11.0 for "
                                  "the other 2")
    assert ch09._alike_snr(p.drop(columns="snr")) == ""
    assert ch09._alike_snr(p.assign(p_nsc=0.5)) == ""


def test_accuracy_by_snr_splits_each_pair_at_the_sets_median():
    """Faint (below the median S/N of the set's distinct samples) and bright halves, each
    pair scored on both; the summary names the highest pair per half (ties together) and
    says whether the intervals resolve its lead; no S/N, no table."""
    snr = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    label = ["galaxy", "NSC"] * 4
    base = pd.DataFrame({"set": "test", "obsid": [f"o{i}" for i in range(8)], "hdu": 1,
                         "body": [f"B{i}" for i in range(8)], "label": label, "snr": snr})
    good = base.assign(pair="resnet_lcid-resize", pred=label)                  # all right
    bright_only = base.assign(pair="hr-celestialnet_lcid",
                              pred=[lab if s >= 4.5 else ("NSC" if lab == "galaxy" else "galaxy")
                                    for lab, s in zip(label, snr, strict=True)])
    blurry = base.assign(pair="resnet_lcid-resize", set="blurry", pred="galaxy", snr=0.1)
    res = ch09.Results("src", pd.concat([good, bright_only, blurry], ignore_index=True))
    t = ch09.accuracy_by_snr(res)
    assert t.attrs["snr_cut"] == pytest.approx(4.5)
    assert t.loc["ResNet (LCID-Resize)", "faint acc"] == 1.0
    assert t.loc["HR-CelestialNet (LCID)", "faint acc"] == 0.0
    assert t.loc["HR-CelestialNet (LCID)", "bright acc"] == 1.0
    assert (t["faint n"] == 4).all() and (t["bright n"] == 4).all()
    assert t.loc["HR-CelestialNet (LCID)", "faint lo"] == 0.0
    text = ch09.snr_summary(t)
    # resolved only when the other pair's interval lies wholly below; a tie names both
    assert text.startswith("On the faint half the highest accuracy is ResNet (LCID-Resize)'s "
                           "(100.0 % [100.0, 100.0]), every other pair's interval lying below; "
                           "on the bright half ResNet (LCID-Resize) and HR-CelestialNet (LCID) "
                           "tie for the highest accuracy (100.0 %);")
    assert "HR-CelestialNet reaches 0.0 % [0.0, 0.0] on the faint half" in text
    close = t.copy()
    close.loc["HR-CelestialNet (LCID)", ["faint acc", "faint hi"]] = [0.9, 1.0]
    assert ch09.snr_summary(close).startswith(
        "On the faint half the highest accuracy is ResNet (LCID-Resize)'s (100.0 % [100.0, "
        "100.0]), within the intervals of HR-CelestialNet (LCID): not resolved;")
    assert ch09.accuracy_by_snr(res, "blurry").loc["ResNet (LCID-Resize)", "faint n"] == 0
    real = ch09.accuracy_by_snr(ch09.Results("real", good.drop(columns="snr")))
    assert real.empty and list(real.columns[:4]) == ["faint", "faint n", "bright", "bright n"]
    assert ch09.snr_summary(real) == ""
    values = ch09.numbers(ch09.claims(None), None, by_snr=t)
    assert values["snr_cut"] == pytest.approx(4.5) and values["snr_summary"] == text


def test_chapter_4_says_what_the_departure_gained_as_measured(tmp_path):
    """Whether the departure beats the paper's recipe is read from the record's paired
    interval, never assumed (a record whose paper-recipe run learned once stood under the
    sentence "its models answer the majority class")."""
    others = {"hr-celestialnet_lcid": (0.9, 0.9, 1)}
    better = make_record(tmp_path / "a", {**others, "resnet_lcid-resize": (0.97, 0.9, 1)})
    text = ch04.recipe_finding(better)
    assert text.startswith("In the record, ResNet (LCID-Resize): the paper's recipe reached ")
    assert "the departure minus the paper's recipe on the same testing samples +" in text
    assert text.endswith(": the departure is more accurate.")
    m = better.metric("resnet_lcid-resize", "test", recipe="paper")
    above = "above" if m["acc_lo"] > m["majority"] else "not above"
    assert f", {above} the majority class ({100 * m['majority']:.1f} %) by its lower bound" in text
    level = make_record(tmp_path / "b", {**others, "resnet_lcid-resize": (0.5, 0.5, 1)})
    assert ch04.recipe_finding(level).endswith(
        ": not resolved: on these testing bodies the record cannot tell the two recipes apart.")
    assert ch04.recipe_finding(None).startswith("No record is committed yet")
    without = make_record(tmp_path / "c", others)
    assert ch04.recipe_finding(without) == ("The record trains no pair with the paper's "
                                            "recipe, so the two are not compared.")
    diff = ch09.differences(chapter_context("smoke", tmp_path / "run"), better)
    assert diff.loc["recipe", "this companion"].endswith(text)


def test_chapter_4_says_how_each_full_resolution_batch_passes(tmp_path):
    """The cpu profile passes HR-CelestialNet's and AlexNet's batch of 4 at once: the chapter
    must not say "16 sample(s) at a time with gradient accumulation" (the profile default)."""
    ch = chapter_context("cpu", tmp_path / "run")
    text = ch04.full_resolution_batching(ch)
    assert text == ("At full resolution this build passes the whole batch of 4 in one pass "
                    "for AlexNet (LCID) and HR-CelestialNet (LCID) (no gradient accumulation).")
    assert ch04.numbers(ch)["full_resolution_batching"] == text
    table = ch04.recipe_table(ch)
    assert table.loc["batch size", "this build (cpu)"] == (
        "16 (AlexNet (LCID), HR-CelestialNet (LCID): 4)")
    assert table.loc["micro-batch (gradient accumulation)", "this build (cpu)"] == (
        "16 (AlexNet (LCID), HR-CelestialNet (LCID): 4)")
    diff = ch09.differences(ch, None)
    batchnorm = diff.loc["BatchNorm under gradient accumulation", "this companion"]
    assert "AlexNet (LCID): 4;" in batchnorm and batchnorm.endswith("HR-CelestialNet (LCID): 4")
    accumulating = chapter_context("paper", tmp_path / "run2", micro_batch=1)
    said = ch04.full_resolution_batching(accumulating)
    assert said.startswith("At full resolution this build passes 1 sample(s) per pass for "
                           "AlexNet (LCID), VGGNet (LCID), ResNet (LCID) and HR-CelestialNet "
                           "(LCID), gradients accumulated up to the batch of 4 (BatchNorm then")
    resize_only = chapter_context("binder", tmp_path / "run3")
    assert ch04.full_resolution_batching(resize_only) == (
        "This build trains no model at full resolution.")


def test_differences_and_slips_state_what_is_true(record, tmp_path):
    ch = chapter_context("smoke", tmp_path / "run")
    diff = ch09.differences(ch, record)
    assert "from scratch" in diff.loc["baselines", "this companion"]
    assert "bf16" in diff.loc["precision", "this companion"]
    assert diff.loc["activation checkpointing", "this companion"] == "off in the record"
    slips = ch09.paper_slips()
    assert "6 NSC bodies" in slips.loc["LCID-Blurry's NSC bodies", "another place"]
    assert "96.4" in slips.loc["the fastest model", "another place"]
    assert "ACS/WFC" in slips.loc["NGC 1982's instrument", "another place"]


def test_record_columns_of_chapters_4_6_7_8(record, tmp_path):
    ch = chapter_context("smoke", tmp_path / "run")
    recipe = ch04.recipe_table(ch, record)
    assert list(recipe.columns) == ["paper (Sec. 3.1)", "record (record-cpu)",
                                    "this build (smoke)"]
    assert recipe.loc["optimizer", "record (record-cpu)"] == "AdamW"
    rates = {c["lr"] for c in record.info["recipes"].values() if c["recipe"] == "profile"}
    rate = recipe.loc["learning rate", "record (record-cpu)"]  # one rate, then the pairs'
    assert rate.split(" (")[0] in {f"{r:g}" for r in rates}
    assert (len(rates) > 1) == ("(" in rate)
    assert recipe.loc["optimizer", "paper (Sec. 3.1)"] == "SGD"
    comparison = ch04.recipe_comparison(record)
    assert list(comparison.index.get_level_values("recipe")) == ["the paper's",
                                                                 "the record's departure"]
    n = ch04.numbers(ch, record)
    # the settings only: the record's stated reason is not repeated as if it were measured
    assert n["record_departure"] == "optimizer, learning rate, schedule, batch size, random flips"
    assert n["recipe_finding"] == ch04.recipe_finding(record)
    t4 = ch06.table4(ch, {}, record)
    sources = set(t4.index.get_level_values("Source"))
    assert sources == {"paper", "record (record-cpu)", "this build (smoke)"}
    row = t4.loc[("HR-CelestialNet", "LCID", "record (record-cpu)")]
    m = record.metric("hr-celestialnet_lcid", "test")
    assert row["Accuracy (%)"] == pytest.approx(round(100 * m["accuracy"], 2))
    assert row["Total (ms)"] == pytest.approx(1000.0)
    assert "above majority" in row["Note"]
    assert t4.loc[("VGGNet", "LCID", "record (record-cpu)"), "Note"] == "not in the record"
    blurry = ch07.blurry_table({}, record)
    assert ("HR-CelestialNet (LCID)", "paper") in blurry.index
    assert blurry.loc[("HR-CelestialNet (LCID)", "record (record-cpu)"), "samples"] == 120
    causes = ch08.cause_sources(pd.DataFrame(columns=["cause"]), record)
    assert causes.loc["image noise", "record (record-cpu): model and image"] == 1
    assert causes.loc["inter-class similarity", "record (record-cpu): simulator's truth"] == 3
    t4_none = ch06.table4(ch, {}, None)
    assert t4_none.loc[("HR-CelestialNet", "LCID", "record (none committed yet)"),
                       "Note"] == "no record committed"


def test_causes_from_the_image():
    rng = np.random.default_rng(0)
    sky = rng.normal(0.0, 1.0, (2048, 4096)).astype(np.float32)
    big = sky.copy()
    big[:, :3000] += 2.0  # an object over 73 % of the frame, per-pixel S/N 2
    m = measure_image(big)
    assert m.object_fraction == pytest.approx(3000 / 4096, abs=0.02)
    assert 1.5 < m.snr < 2.5
    small = sky.copy()
    small[:256, :256] += 2.0  # a corner: an edge view
    assert measure_image(small).object_fraction < 0.3
    assert measure_image(sky).object_fraction < 0.01
    heat = np.zeros((224, 448), np.float32)
    heat[:, :100] = 1.0
    assert heat_on_object(heat, m.mask) == pytest.approx(1.0)
    assert heat_on_object(np.zeros((224, 448)), m.mask) != heat_on_object(np.zeros((224, 448)),
                                                                           m.mask)  # NaN
    assert cause_from_image(2.0, 0.7, 0.9) == "inter-class similarity"
    assert cause_from_image(0.2, 0.7, 0.9) == "insufficient features"
    assert cause_from_image(2.0, 0.1, 0.9) == "insufficient features"
    assert cause_from_image(2.0, 0.7, 0.2) == "image noise"
    assert cause_from_image(2.0, 0.7, float("nan")) == "image noise"
    a = agreement(pd.DataFrame({"cause_image": ["a", "b"], "cause_truth": ["a", "c"],
                                "causes_truth": ["a", "c;b"]}))
    assert a["among_true"] == 1.0 and a["primary"] == 0.5 and a["n"] == 2


def test_the_claim_over_seeds_scores_each_sample_by_its_seeds(tmp_path):
    """With several seeds the record gets a second 'most accurate' row, each sample scored by
    the fraction of a pair's seeds that get it right; with one seed each it has none."""
    claim = "HR-CelestialNet is the most accurate model, mean over seeds (testing set)"
    rec = make_record(tmp_path / "s", {"hr-celestialnet_lcid": (0.97, 0.9, 2),
                                       "resnet_lcid-resize": (0.5, 0.5, 3)})
    res = ch09.from_record(rec)
    assert (res.n_seeds("hr-celestialnet_lcid"), res.n_seeds("resnet_lcid-resize")) == (2, 3)
    row = ch09.claims(res).loc[claim]
    assert row["verdict"] == "holds"
    m = rec.metrics.query("recipe == 'profile' and set == 'test'")
    for pair, label, k in (("hr-celestialnet_lcid", "HR-CelestialNet (LCID)", 2),
                           ("resnet_lcid-resize", "ResNet (LCID-Resize)", 3)):
        mean = m.loc[m["pair"] == pair, "accuracy"].mean()  # same samples in every seed
        assert f"{label}, {k} seeds: {100 * mean:.1f} %" in row["on LCID-sim"]
    # the paper's recipe run of ResNet-18 is not one of its seeds
    assert len(res.mean_correct("resnet_lcid-resize", "test")) == 120
    lose = make_record(tmp_path / "l", {"hr-celestialnet_lcid": (0.5, 0.5, 2),
                                        "resnet_lcid-resize": (0.97, 0.9, 2)})
    assert ch09.claims(ch09.from_record(lose)).loc[claim, "verdict"] == "does not hold"
    one = make_record(tmp_path / "o", {"hr-celestialnet_lcid": (0.97, 0.9, 1),
                                       "resnet_lcid": (0.5, 0.5, 1)})
    assert claim not in ch09.claims(ch09.from_record(one)).index
    assert claim not in ch09.claims(None).index


def test_resolving_bodies_scales_the_paired_interval_by_bodies(record):
    """The bodies a comparison needs follow from the paired interval by 1/sqrt(bodies):
    n * (half-width / difference)^2, and likewise at the paper's gap (Table 4)."""
    res = ch09.from_record(record)
    table = ch09.resolving_bodies(res)
    assert set(table.index) == {"ResNet (LCID-Resize)", "ResNet (LCID)",
                                "AlexNet (LCID-Resize)"}
    row = table.loc["ResNet (LCID)"]
    assert row["testing bodies"] == 40  # the fixture's testing bodies
    half = (row["high (pp)"] - row["low (pp)"]) / 2
    assert row["bodies for this difference"] == pytest.approx(
        40 * (half / row["difference (pp)"]) ** 2, rel=0.05)
    assert row["paper's gap (pp)"] == pytest.approx(89.09 - 87.65)
    assert row["bodies for the paper's gap"] == pytest.approx(
        40 * (half / (89.09 - 87.65)) ** 2, rel=0.05)
    # a clear difference needs fewer bodies than it has; a gap the size of the paper's
    # 1.44 pp needs more
    assert row["bodies for this difference"] < 40 < row["bodies for the paper's gap"]
    assert ch09.resolving_bodies(None).empty
    assert ch09.numbers(ch09.claims(None), None)["paper_bodies"] == 71


def test_a_short_hr_celestialnet_that_did_not_fit_its_training_samples_is_said_so(tmp_path):
    """The targets carry the last epoch's training accuracy; the summary says when
    HR-CelestialNet fell short and did not reach the target on its training samples either
    (a fit to 0.90 that tests at 0.80 is another story: no such sentence)."""
    lose = make_record(tmp_path, {"hr-celestialnet_lcid": (0.5, 0.5, 1),
                                  "resnet_lcid-resize": (0.9, 0.5, 1)})
    table = ch09.targets(lose)
    hr = table.loc["HR-CelestialNet (LCID)"]
    assert hr["last training accuracy"] == 0.8 and not hr["met"]  # the fixture's curve
    text = ch09.targets_summary(table, lose)
    assert "training accuracy over its last epoch was 0.800" in text
    assert "did not fit its own training samples" in text
    fitted = table.copy()
    fitted.loc["HR-CelestialNet (LCID)", "last training accuracy"] = 0.9
    assert "did not fit" not in ch09.targets_summary(fitted, lose)
    fitted.loc["HR-CelestialNet (LCID)", "last training accuracy"] = float("nan")
    assert "did not fit" not in ch09.targets_summary(fitted, lose)
    # whether 0.85 lies inside HR-CelestialNet's interval, and which short runs trained for
    # fewer epochs than the paper's 20 (the fixture's 5); no hardware the paper does not state
    hi = table.loc["HR-CelestialNet (LCID)", "95 % upper bound"]
    assert hi == round(float(lose.metric("hr-celestialnet_lcid")["acc_hi"]), 3)
    inside = table.copy()
    inside.loc["HR-CelestialNet (LCID)", "95 % upper bound"] = 0.9
    short = table.loc["HR-CelestialNet (LCID)", "short by (pp)"]
    assert (f"HR-CelestialNet (LCID) by {short:.1f} pp (5 epochs on 120 samples, 1.0 h), with "
            "0.85 inside its 95 % interval (upper bound 0.900): missed by the point estimate, "
            "not excluded") in ch09.targets_summary(inside, lose)
    inside.loc["HR-CelestialNet (LCID)", "95 % upper bound"] = 0.8
    assert "with 0.85 above its 95 % interval (upper bound 0.800)" in ch09.targets_summary(
        inside, lose)
    assert ("Of the runs that fall short, some trained for fewer epochs than the paper's 20 "
            "(HR-CelestialNet (LCID) 5: what fitted") in text
    longer = table.assign(epochs=32)
    assert "fewer epochs than the paper's" not in ch09.targets_summary(longer, lose)
    assert "on a GPU" not in text.split("record-gpu")[0]


def test_a_pipeline_check_tests_no_claim_on_accuracy(tmp_path):
    """A live build's full-resolution runs are pipeline checks (32 samples, one epoch): a
    clear loss of HR-CelestialNet's check must not read as "does not hold", and a baseline's
    check is left out of the comparisons, by name, instead of deciding them."""
    rec = make_record(tmp_path, {"hr-celestialnet_lcid": (0.5, 0.5, 1),
                                 "alexnet_lcid": (0.5, 0.5, 1),
                                 "alexnet_lcid-resize": (0.97, 0.9, 1),
                                 "resnet_lcid-resize": (0.97, 0.9, 1)})
    res = ch09.from_record(rec)
    best = "HR-CelestialNet is the most accurate model (testing set)"
    alexnet = "AlexNet: full resolution (LCID) beats LCID-Resize"
    drop = "Every model is less accurate on LCID-Blurry than on the testing set"
    trained = ch09.claims(res)
    assert trained.loc[best, "verdict"] == "does not hold"
    assert trained.loc[alexnet, "verdict"] == "does not hold"
    # how much each side of the resolution comparison trained, from the record's recipes
    assert trained.loc[alexnet, "on LCID-sim"].endswith(
        "(trained 5 epochs x 120 samples (peak lr 1e-3, batch 16) at full resolution, "
        "5 epochs x 120 samples (peak lr 1e-3, batch 16) at 224 x 448)")
    unequal = ch09.claims(replace(res, training={
        **res.training, "alexnet_lcid": ch09.Trained(2, 120, 1e-4, 4)}))
    assert unequal.loc[alexnet, "on LCID-sim"].endswith(
        "(trained 2 epochs x 120 samples (peak lr 1e-4, batch 4) at full resolution, "
        "5 epochs x 120 samples (peak lr 1e-3, batch 16) at 224 x 448; unequal training "
        "(samples seen, peak rate, batch), so the difference is not resolution alone)")
    same_steps = ch09.claims(replace(res, training={
        **res.training, "alexnet_lcid": ch09.Trained(5, 120, 1e-4, 16)}))
    assert same_steps.loc[alexnet, "on LCID-sim"].endswith(
        "; unequal training (peak rate), so the difference is not resolution alone)")
    unknown = ch09.claims(replace(res, training={
        "alexnet_lcid": ch09.Trained(5, 120), "alexnet_lcid-resize": ch09.Trained(5, 120)}))
    assert unknown.loc[alexnet, "on LCID-sim"].endswith(
        "(trained 5 epochs x 120 samples at full resolution, 5 epochs x 120 samples at "
        "224 x 448)")

    note = "pipeline check: 32 training samples for 1 epoch(s) on a CPU"
    checked = ch09.claims(replace(res, checks={"hr-celestialnet_lcid": note,
                                               "alexnet_lcid": note}))
    for claim in (best, "HR-CelestialNet is the most robust on LCID-Blurry", alexnet):
        assert checked.loc[claim, "verdict"] == "not testable here", claim
        assert "pipeline check" in checked.loc[claim, "on LCID-sim"], claim
    text = checked.loc[drop, "on LCID-sim"]
    assert "left out, as pipeline checks not sized to learn: AlexNet (LCID), " \
           "HR-CelestialNet (LCID)" in text
    assert "AlexNet (LCID-Resize):" in text and "HR-CelestialNet (LCID):" not in text

    only_hr = ch09.claims(replace(res, checks={"alexnet_lcid": note})).loc[best]
    assert only_hr["verdict"] == "does not hold"  # against the trained baselines
    assert "vs AlexNet (LCID)" not in only_hr["on LCID-sim"]
    assert "left out, as pipeline checks not sized to learn: AlexNet (LCID)" \
        in only_hr["on LCID-sim"]


def test_a_cause_compared_over_few_bodies_decides_nothing(record, monkeypatch):
    """The record's "does not hold" for the causes rested on NSC samples without
    inter-class similarity from 3 bodies: a bootstrap over three bodies cannot say how bodies
    vary, so such a cause is shown with its body count and the claim is not resolved."""
    rows = []
    for b in range(40):
        label = "galaxy" if b % 2 else "NSC"
        few = b in (0, 2, 4)  # NSC bodies without a look-alike: edge views with a trail
        for k in range(3):
            rows.append({"pair": "hr-celestialnet_lcid", "set": "test", "obsid": f"o{b}{k}",
                         "hdu": 1, "body": f"B{b}", "label": label,
                         "pred": label if (k and not few) else
                         {"galaxy": "NSC", "NSC": "galaxy"}[label],
                         "lookalike": "" if few else "spiral_arms",
                         "edge_view": few or b % 4 == 1, "blurry": False,
                         "defects": "satellite_trail" if few or b % 3 == 1 else ""})
    res = replace(ch09.from_record(record), predictions=pd.DataFrame(rows), checks={})
    excess = error_excess(res.predictions, n_boot=500)
    assert excess.loc["inter-class similarity", ["bodies with", "bodies without"]].tolist() \
        == [17, 3]  # the NSC class only: every galaxy has a look-alike
    assert excess.loc["inter-class similarity", "high"] < 0  # an interval "below zero"
    claim = "Misclassifications come from inter-class similarity, insufficient features " \
            "and image noise"
    row = ch09.claims(res).loc[claim]
    assert row["verdict"] == "not resolved"
    assert ("inter-class similarity: 3 bodies without it, fewer than the 10 an interval over "
            "bodies needs here, so it decides nothing") in row["on LCID-sim"]
    monkeypatch.setattr(ch09, "MIN_CAUSE_BODIES", 3)
    assert ch09.claims(res).loc[claim, "verdict"] == "does not hold"


def test_a_matched_run_decides_the_resolution_claim(tmp_path):
    """With an LCID-Resize run trained as the full-resolution pair was, the claim is decided
    on the two runs that differ in resolution only; the record's own runs stay beside it."""
    skill = {"hr-celestialnet_lcid": (0.9, 0.9, 1), "alexnet_lcid": (0.97, 0.9, 1),
             "alexnet_lcid-resize": (0.97, 0.9, 1)}
    claim = "AlexNet: full resolution (LCID) beats LCID-Resize"
    plain = ch09.claims(ch09.from_record(make_record(tmp_path / "a", skill))).loc[claim]
    assert plain["verdict"] == "not resolved" and "same recipe" not in plain["on LCID-sim"]
    rec = make_record(tmp_path / "b", skill, matched={"alexnet_lcid-resize": 0.5})
    res = ch09.from_record(rec)
    assert set(res.matched["pair"]) == {"alexnet_lcid-resize"}
    row = ch09.claims(res).loc[claim]
    assert row["verdict"] == "holds"  # 0.97 against 0.5 on the same samples
    text = row["on LCID-sim"]
    assert text.startswith("with the same recipe (LCID-Resize trained as AlexNet (LCID) was): "
                           "LCID-Resize ")
    assert "the verdict's comparison; as the record trained each: LCID " in text
    # the matched run is not a main run: no pair, target or seed sees it
    assert "alexnet_lcid-resize" in res.pairs() and len(res.predictions.loc[
        res.predictions["pair"] == "alexnet_lcid-resize"]) == len(res.correct(
            "alexnet_lcid-resize", "test")) + len(res.correct("alexnet_lcid-resize", "blurry"))
