"""Records: round trip, metrics re-derived from predictions, body overlap, intervals, the CLI."""

from __future__ import annotations

import json
import shutil
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hrcn_lib import records
from hrcn_lib.cli import main
from hrcn_lib.metrics import (
    bootstrap_accuracy,
    bootstrap_difference,
    bootstrap_excess,
    majority_fraction,
)
from hrcn_lib.records import RecordError, derive_metrics, read_record, write_record


def synthetic(seed: int = 0, n_bodies: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A split of ``n_bodies`` train, test and blurry bodies and two runs' predictions."""
    rng = np.random.default_rng(seed)
    rows = []
    for subset in ("train", "test", "blurry"):
        for b in range(n_bodies):
            label = "galaxy" if b % 2 else "NSC"
            for k in range(int(rng.integers(1, 6))):
                rows.append({"obsid": f"{subset[:2]}{b:02d}{k}x", "hdu": 1 + 3 * (k % 2),
                             "body": f"{subset}-B{b}", "label": label, "subset": subset})
    split = pd.DataFrame(rows)
    preds = []
    for pair, seed_, recipe, skill in (("resnet_lcid-resize", 0, "profile", 0.8),
                                       ("resnet_lcid-resize", 1, "profile", 0.7),
                                       ("resnet_lcid-resize", 0, "paper", 0.5)):
        for set_name in ("test", "blurry"):
            part = split.loc[split["subset"] == set_name]
            right = rng.random(len(part)) < skill
            other = part["label"].map({"galaxy": "NSC", "NSC": "galaxy"})
            pred = np.where(right, part["label"], other)
            preds.append(pd.DataFrame({
                "pair": pair, "seed": seed_, "recipe": recipe, "set": set_name,
                "obsid": part["obsid"].to_numpy(), "hdu": part["hdu"].to_numpy(),
                "body": part["body"].to_numpy(), "label": part["label"].to_numpy(),
                "p_nsc": np.where(pred == "NSC", 0.8, 0.2), "pred": pred,
                "snr": rng.random(len(part))}))
    return split, pd.concat(preds, ignore_index=True)


def _write(tmp_path: Path, **kw) -> Path:
    split, preds = synthetic()
    timings = pd.DataFrame([{"pair": "resnet_lcid-resize", "seed": 0, "recipe": "profile",
                             "set": "test", "preprocess_ms": 120.0, "classify_ms": 5.5}])
    curves = {"resnet_lcid-resize": pd.DataFrame({"epoch": [1, 2], "loss": [0.7, 0.5]})}
    return write_record(tmp_path / "rec", info={"profile": "test", "command": "pytest"},
                        split=split, predictions=preds, timings=timings, curves=curves,
                        images={"a_test_x_1.png": b"\x89PNG fake"}, **kw)


def test_round_trip_and_metrics_follow_from_predictions(tmp_path):
    split, preds = synthetic()
    path = _write(tmp_path)
    rec = read_record(path)
    assert rec.info["format"] == records.RECORD_FORMAT and rec.info["command"] == "pytest"
    pd.testing.assert_frame_equal(rec.split, split[list(records.SPLIT_COLUMNS)],
                                  check_dtype=False)
    assert len(rec.predictions) == len(preds) and set(rec.predictions.columns) >= {"snr"}
    assert list(rec.metrics.columns) == list(records.METRIC_COLUMNS)
    assert len(rec.metrics) == 6  # three runs x two sets
    row = rec.metric("resnet_lcid-resize", "test")
    p = rec.run_predictions("resnet_lcid-resize", "test")
    assert row["seed"] == 0 and row["n"] == len(p)
    assert row["accuracy"] == pytest.approx((p["label"] == p["pred"]).mean(), abs=1e-6)
    assert row["acc_lo"] <= row["accuracy"] <= row["acc_hi"]
    assert row["majority"] == pytest.approx(majority_fraction(p["label"]), abs=1e-6)
    assert row["ms_per_sample"] == pytest.approx(125.5)
    assert np.isnan(rec.metric("resnet_lcid-resize", "blurry")["ms_per_sample"])
    assert rec.metric("resnet_lcid-resize", "test", recipe="paper") is not None
    assert rec.metric("alexnet_lcid", "test") is None
    assert rec.pairs() == ["resnet_lcid-resize"] and list(rec.curves) == ["resnet_lcid-resize"]
    assert [g.name for g in rec.gradcam] == ["a_test_x_1.png"]
    assert not list(tmp_path.glob(".*tmp"))  # no temporary left


def test_a_tampered_metrics_file_is_refused(tmp_path):
    path = _write(tmp_path)
    metrics = pd.read_csv(path / "metrics.csv")
    metrics.loc[0, "accuracy"] = metrics.loc[0, "accuracy"] + 0.05
    metrics.to_csv(path / "metrics.csv", index=False)
    with pytest.raises(RecordError, match="accuracy of resnet_lcid-resize .* do not follow"):
        read_record(path)
    # a prediction flipped without updating the metrics is caught the same way
    path = _write(tmp_path, force=True)
    preds = pd.read_csv(path / "predictions.csv")
    preds.loc[0, "pred"] = "galaxy" if preds.loc[0, "pred"] == "NSC" else "NSC"
    preds.to_csv(path / "predictions.csv", index=False)
    with pytest.raises(RecordError, match="do not follow from predictions.csv"):
        read_record(path)
    assert read_record(path, verify=False).metrics is not None  # readable when asked not to check


def test_body_in_train_and_test_is_refused_and_nothing_written(tmp_path):
    split, preds = synthetic()
    split.loc[split["subset"] == "test", "body"] = split.loc[split["subset"] == "train",
                                                             "body"].iloc[0]
    with pytest.raises(RecordError, match="in both the training and the testing"):
        write_record(tmp_path / "rec", info={}, split=split, predictions=preds)
    assert not (tmp_path / "rec").exists() and not list(tmp_path.iterdir())
    # and when reading: an edited split.csv
    path = _write(tmp_path)
    s = pd.read_csv(path / "split.csv")
    s.loc[s["subset"] == "test", "body"] = s.loc[s["subset"] == "train", "body"].iloc[0]
    s.to_csv(path / "split.csv", index=False)
    with pytest.raises(RecordError, match="in both the training and the testing"):
        read_record(path)


def test_predictions_must_be_of_their_set(tmp_path):
    split, preds = synthetic()
    preds.loc[preds["set"] == "test", "obsid"] = split.loc[split["subset"] == "train",
                                                          "obsid"].iloc[0]
    with pytest.raises(RecordError, match="not in the 'test' subset"):
        write_record(tmp_path / "rec", info={}, split=split, predictions=preds)


def test_existing_record_needs_force_and_an_interrupted_write_leaves_nothing(tmp_path,
                                                                             monkeypatch):
    path = _write(tmp_path)
    before = (path / "metrics.csv").read_text()
    with pytest.raises(RecordError, match="already exists"):
        _write(tmp_path)
    assert (path / "metrics.csv").read_text() == before

    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(records, "_metrics_csv", boom)
    with pytest.raises(KeyboardInterrupt):
        _write(tmp_path, force=True)
    assert (path / "metrics.csv").read_text() == before  # the old record is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec"]  # no half-written folder
    shutil.rmtree(path)
    with pytest.raises(KeyboardInterrupt):
        _write(tmp_path)
    assert not list(tmp_path.iterdir())


def test_bootstrap_over_bodies_covers_the_truth():
    """Coverage sanity: bodies with their own accuracy around 0.8 (clustered errors). The
    body bootstrap's 95 % interval covers the true 0.8 in about 95 % of data sets; treating
    samples as independent (each its own group) covers it far less often."""
    rng = np.random.default_rng(1)
    n_sets, n_bodies, per_body = 200, 30, 10
    covered_body = covered_sample = 0
    for _ in range(n_sets):
        p = rng.beta(4.0, 1.0, n_bodies)  # mean 0.8, strongly varying between bodies
        correct = (rng.random((n_bodies, per_body)) < p[:, None]).ravel()
        bodies = np.repeat(np.arange(n_bodies), per_body)
        lo, hi = bootstrap_accuracy(correct, bodies, n_boot=400, seed=int(rng.integers(1 << 30)))
        covered_body += lo <= 0.8 <= hi
        lo, hi = bootstrap_accuracy(correct, np.arange(correct.size), n_boot=400)
        covered_sample += lo <= 0.8 <= hi
    assert 0.88 <= covered_body / n_sets <= 0.99
    assert covered_sample / n_sets < 0.85


def test_bootstrap_difference_is_paired_and_signed():
    rng = np.random.default_rng(2)
    bodies = np.repeat(np.arange(20), 5)
    a = rng.random(100) < 0.9
    b = a.copy()
    b[:30] = False  # B is worse on the first six bodies
    diff, lo, hi = bootstrap_difference(a, b, bodies, n_boot=500)
    assert diff == pytest.approx(a.mean() - b.mean()) and 0 < lo <= diff <= hi
    diff, lo, hi = bootstrap_difference(a, a, bodies, n_boot=500)
    assert diff == lo == hi == 0
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_accuracy(a, bodies, n_boot=10)
    with pytest.raises(ValueError, match="equal"):
        bootstrap_accuracy(a[:5], bodies)


def test_bootstrap_excess_finds_a_cause_and_not_a_class_effect():
    rng = np.random.default_rng(3)
    bodies = np.repeat(np.arange(40), 6)
    label = np.where(bodies % 2, "galaxy", "NSC")
    exposed = np.repeat(rng.random(40) < 0.5, 6)  # the property belongs to whole bodies
    # errors: 60 % with the property, 10 % without, in both classes
    errors = rng.random(bodies.size) < np.where(exposed, 0.6, 0.1)
    excess, lo, hi, n = bootstrap_excess(errors, exposed, label, bodies, n_boot=500)
    assert 0.35 < excess < 0.65 and 0 < lo < excess < hi and n == exposed.sum()
    # a model that answers "galaxy" for everything errs on every NSC sample; a property
    # carried by more NSC bodies than galaxies looks like a cause unless the classes are
    # kept apart: within each class its error rate does not move
    exposed = np.repeat(np.where(np.arange(40) % 2, np.arange(40) % 8 == 1, True), 6)
    errors = label == "NSC"
    assert errors[exposed].mean() > errors[~exposed].mean() + 0.3
    assert bootstrap_excess(errors, exposed, label, bodies, n_boot=500)[:3] == (0.0, 0.0, 0.0)
    # no class with both kinds of sample: nothing to compare
    got = bootstrap_excess(errors, label == "NSC", label, bodies, n_boot=500)
    assert np.isnan(got[0]) and got[3] == 0
    with pytest.raises(ValueError, match="equal"):
        bootstrap_excess(errors[:5], exposed, label, bodies)


def test_paired_difference_matches_samples_not_rows():
    """Two runs' predictions in different orders are paired by sample; no shared sample,
    no difference."""
    from hrcn_lib.metrics import correctness, paired_difference

    rows = pd.DataFrame({"obsid": ["a", "b", "c", "d"], "hdu": [1, 1, 1, 4],
                         "body": ["B1", "B1", "B2", "B3"], "label": "galaxy",
                         "pred": ["galaxy", "NSC", "galaxy", "galaxy"]})
    a = correctness(rows)
    assert a["ok"].tolist() == [True, False, True, True] and a["hdu"].dtype.kind == "i"
    b = correctness(rows.assign(pred="galaxy").iloc[::-1])
    d, lo, hi = paired_difference(a, b)
    assert d == pytest.approx(-0.25) and lo <= d <= hi <= 0
    assert paired_difference(a, correctness(rows.assign(obsid="z"))) is None


def test_derive_metrics_is_deterministic():
    _, preds = synthetic()
    pd.testing.assert_frame_equal(derive_metrics(preds), derive_metrics(preds.sample(frac=1,
                                                                                      random_state=3)))


Call = namedtuple("Call", "code err")


def _cli(capsys, *args) -> Call:
    code = main(["record", *map(str, args)])
    return Call(code, capsys.readouterr().err.strip())


def test_record_cli_refuses_bad_input_before_writing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "records" / "r"
    got = _cli(capsys, "--profile", "nope", "--out", out)
    assert got.code == 2 and got.err.count("\n") == 0 and "unknown profile 'nope'" in got.err
    out.mkdir(parents=True)
    (out / "record.json").write_text("{}")
    got = _cli(capsys, "--profile", "smoke", "--out", out, "--work-dir", tmp_path / "w")
    assert got.code == 1 and "already exists; pass --force" in got.err
    assert (out / "record.json").read_text() == "{}" and not (tmp_path / "w").exists()
    got = _cli(capsys, "--profile", "smoke", "--out", tmp_path / "new", "--data-dir",
               tmp_path / "empty", "--work-dir", tmp_path / "w")
    assert got.code == 1 and "no lcid_manifest.csv" in got.err
    assert not (tmp_path / "new").exists() and not (tmp_path / "w").exists()
    import hrcn_lib.recording as recording

    monkeypatch.setattr(recording.shutil, "disk_usage",
                        lambda _p: shutil._ntuple_diskusage(10**12, 10**12 - 10**6, 10**6))
    got = _cli(capsys, "--profile", "smoke", "--out", tmp_path / "new", "--work-dir",
               tmp_path / "w")
    assert got.code == 1 and "not enough disk space" in got.err and "GB are free" in got.err
    assert not (tmp_path / "new").exists() and not (tmp_path / "w").exists()


def test_resumed_record_counts_what_its_work_dir_holds(tmp_path, monkeypatch):
    """A resume needs free space only for what is not written yet (checkpoints, cache, data
    already in the work directory count against the estimate)."""
    import hrcn_lib.recording as recording

    gb = 10**9
    monkeypatch.setattr(recording, "_needed_bytes", lambda *_a: 10 * gb)
    monkeypatch.setattr(recording.shutil, "disk_usage",
                        lambda _p: shutil._ntuple_diskusage(100 * gb, 94 * gb, 6 * gb))
    work = tmp_path / "w"
    with pytest.raises(recording.RecordError, match="needs up to 10.0 GB more"):
        recording.check_request("smoke", tmp_path / "rec", work_dir=work)
    (work / "models" / "pair").mkdir(parents=True)
    with open(work / "models" / "pair" / "checkpoint.pt", "wb") as f:
        f.truncate(5 * gb)  # sparse: counted by size, costs no disk here
    assert recording.check_request("smoke", tmp_path / "rec", work_dir=work).name == "smoke"
    assert not (tmp_path / "rec").exists()


def test_record_json_is_strict(tmp_path):
    path = write_record(tmp_path / "rec", info={"nan": float("nan"), "path": tmp_path},
                        split=synthetic()[0], predictions=synthetic()[1])
    doc = json.loads((path / "record.json").read_text())
    assert doc["nan"] is None and doc["path"] == str(tmp_path)


@pytest.mark.slow
def test_a_record_made_on_smoke_data_reads_back(smoke_data, tmp_path):
    """``make_record`` end to end on the smoke data, kept to one cheap pair: two seeds and the
    paper's recipe, evaluated, diagnosed, written, read back with its metrics re-derived; a
    second call reuses every run (resumable) and refuses to overwrite without force."""
    from dataclasses import replace

    from hrcn_lib.profiles import get_profile
    from hrcn_lib.recording import make_record

    smoke = get_profile("smoke")
    runs = tuple(replace(r, enabled=(r.model, r.dataset) == ("resnet", "lcid-resize"),
                         seeds=2, reason=r.reason or "test: one pair")
                 for r in smoke.runs)
    prof = replace(smoke, runs=runs, paper_recipe_pairs=("resnet_lcid-resize",),
                   gradcam_per_set=1, where="test")
    out = tmp_path / "records" / "smoke"
    make_record(prof, out, data_dir=smoke_data, work_dir=tmp_path / "work", command="pytest")
    rec = read_record(out)
    runs = set(zip(rec.metrics["seed"], rec.metrics["recipe"], strict=True))
    assert runs == {(0, "profile"), (1, "profile"), (0, "paper")}
    assert set(rec.metrics["set"]) == {"test", "blurry"}
    assert sorted(rec.curves) == ["resnet_lcid-resize", "resnet_lcid-resize.paper",
                                  "resnet_lcid-resize.seed1"]
    assert rec.info["recipes"]["resnet_lcid-resize.paper"]["optimizer"] == "sgd"
    assert rec.info["command"] == "pytest" and rec.info["where"] == "test"
    assert rec.info["device"]["type"] == "cpu" and "flags" in rec.info["cpu"]
    train = set(rec.split.loc[rec.split["subset"] == "train", "body"])
    assert not train & set(rec.split.loc[rec.split["subset"] == "test", "body"])
    main = rec.metric("resnet_lcid-resize", "test")
    assert np.isfinite(main["ms_per_sample"])  # the main run is timed
    assert np.isnan(rec.metric("resnet_lcid-resize", "test", seed=1)["ms_per_sample"])
    wrong = rec.run_predictions("resnet_lcid-resize", "test")
    blurry = rec.run_predictions("resnet_lcid-resize", "blurry")
    n_wrong = int((wrong["label"] != wrong["pred"]).sum() + (blurry["label"] != blurry["pred"]).sum())
    assert len(rec.causes) == n_wrong
    assert len(rec.gradcam) <= 2 and all(p.stat().st_size < 200_000 for p in rec.gradcam)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size < 5_000_000
    with pytest.raises(RecordError, match="already exists"):
        make_record(prof, out, data_dir=smoke_data, work_dir=tmp_path / "work")
    before = (out / "metrics.csv").read_text()
    make_record(prof, out, data_dir=smoke_data, work_dir=tmp_path / "work", force=True)
    assert (out / "metrics.csv").read_text() == before  # reused runs: the same record


def test_a_matched_run_is_recorded_and_decides_the_resolution_row(smoke_data, tmp_path):
    """End to end: AlexNet at full resolution (two samples, one epoch), AlexNet on
    LCID-Resize, and the LCID-Resize run trained with the full-resolution recipe: the record
    holds the matched run beside the main ones, and chapter 9 compares it."""
    from dataclasses import replace

    from hrcn_lib.chapters import ch09_what_holds as ch09
    from hrcn_lib.profiles import get_profile
    from hrcn_lib.recording import make_record

    smoke = get_profile("smoke")
    keep = {"alexnet_lcid", "alexnet_lcid-resize"}
    runs = tuple(replace(r, enabled=r.key in keep, reason=r.reason or "test: two pairs",
                         max_train_samples=2 if r.key == "alexnet_lcid" else None,
                         lr=1e-4 if r.key == "alexnet_lcid" else None)
                 for r in smoke.runs)
    prof = replace(smoke, runs=runs, matched_resolution_pairs=("alexnet_lcid-resize",),
                   gradcam_per_set=0, max_eval_samples=4, where="test")
    out = tmp_path / "records" / "matched"
    make_record(prof, out, data_dir=smoke_data, work_dir=tmp_path / "work", command="pytest")
    rec = read_record(out)
    assert set(zip(rec.metrics["pair"], rec.metrics["recipe"], strict=True)) == {
        ("alexnet_lcid", "profile"), ("alexnet_lcid-resize", "profile"),
        ("alexnet_lcid-resize", "matched")}
    recipes = rec.info["recipes"]
    matched, full = recipes["alexnet_lcid-resize.matched"], recipes["alexnet_lcid"]
    assert matched["dataset_name"] == "lcid-resize" and matched["recipe"] == "matched"
    assert (matched["lr"], matched["batch_size"], matched["epochs"]) == (
        full["lr"], full["batch_size"], full["epochs"])
    assert matched["train_obsids"] == full["train_obsids"] and full["n_samples"] == 2
    assert recipes["alexnet_lcid-resize"]["n_samples"] > 2
    assert np.isnan(rec.metric("alexnet_lcid-resize", "test", recipe="matched")["ms_per_sample"])
    row = ch09.claims(ch09.from_record(rec)).loc["AlexNet: full resolution (LCID) beats "
                                                 "LCID-Resize"]
    assert row["on LCID-sim"].startswith("with the same recipe (LCID-Resize trained as "
                                         "AlexNet (LCID) was)")


def test_git_commit_outside_a_repository_takes_the_given_commit(tmp_path, monkeypatch):
    """A copy without .git (the device tool's) names the commit device/record_gpu.sh passes."""
    from hrcn_lib.recording import GIT_COMMIT_ENV, git_commit

    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.delenv(GIT_COMMIT_ENV, raising=False)
    assert git_commit(tmp_path) == {"commit": None, "dirty": None}
    monkeypatch.setenv(GIT_COMMIT_ENV, "0123abc")
    got = git_commit(tmp_path)
    assert got["commit"] == "0123abc" and got["dirty"] is None and GIT_COMMIT_ENV in got["source"]
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists():  # in a repository, git's answer wins
        assert git_commit(root)["commit"] != "0123abc"


def test_a_record_trains_hr_celestialnet_first():
    """The headline run is trained by the call that starts a record (on its machine); the
    baselines follow in Table 4's order, each pair's seeds before its paper-recipe run."""
    from hrcn_lib.profiles import get_profile
    from hrcn_lib.recording import planned_runs

    names = [r.name for r in planned_runs(get_profile("record-cpu"))]
    assert names[:1] == ["hr-celestialnet_lcid"]
    assert names[1:6] == ["alexnet_lcid-resize", "alexnet_lcid-resize.seed1",
                          "alexnet_lcid-resize.seed2", "alexnet_lcid-resize.matched",
                          "alexnet_lcid"]
    assert names.index("resnet_lcid-resize.seed2") + 1 == names.index("resnet_lcid-resize.paper")


def test_a_matched_run_takes_the_full_resolution_recipe():
    """AlexNet on LCID-Resize trained as AlexNet at full resolution is (its epochs, peak rate,
    batch and micro-batch), so the resolution comparison differs in resolution only; a
    profile that names a matched pair without its full-resolution pair is refused before
    anything is written."""
    from dataclasses import replace

    from hrcn_lib.profiles import get_profile
    from hrcn_lib.recording import check_request, planned_runs, run_config

    prof = get_profile("record-cpu")
    runs = {r.name: r for r in planned_runs(prof)}
    matched = run_config(prof, runs["alexnet_lcid-resize.matched"])
    full = run_config(prof, runs["alexnet_lcid"])
    assert matched.dataset_name == "lcid-resize" and not runs["alexnet_lcid-resize.matched"].main
    assert replace(matched, dataset_name="lcid") == full
    assert run_config(prof, runs["alexnet_lcid-resize"]).lr != full.lr  # what it fixes
    lone = replace(prof, runs=tuple(s for s in prof.runs if s.key != "alexnet_lcid"))
    with pytest.raises(ValueError, match="does not train alexnet_lcid"):
        check_request(lone, "/nonexistent/out")
    wrong = replace(prof, matched_resolution_pairs=("hr-celestialnet_lcid",))
    with pytest.raises(ValueError, match="only LCID-Resize pairs can be matched"):
        check_request(wrong, "/nonexistent/out")
    typo = replace(prof, matched_resolution_pairs=("alexnet_lcid-resise",))
    with pytest.raises(ValueError, match="matched_resolution_pairs names 'alexnet_lcid-resise', "
                                         "which the profile does not train"):
        check_request(typo, "/nonexistent/out")
    disabled = replace(prof, paper_recipe_pairs=("vgg_lcid",))
    with pytest.raises(ValueError, match="paper_recipe_pairs names 'vgg_lcid'"):
        check_request(disabled, "/nonexistent/out")


def test_the_gpu_record_feeds_every_run_from_loader_workers():
    """record-gpu reads samples in worker processes (its first record on an H200 read them in
    the training process: AlexNet/LCID-Resize at ~200 samples/s); the paper-recipe run keeps
    the profile's hardware settings, workers among them, and only its recipe differs."""
    from hrcn_lib.profiles import get_profile
    from hrcn_lib.recording import planned_runs, run_config

    prof = get_profile("record-gpu")
    cfgs = {r.name: run_config(prof, r) for r in planned_runs(prof)}
    assert prof.workers and all(c.workers == prof.workers for c in cfgs.values())
    paper = cfgs["resnet_lcid-resize.paper"]
    assert (paper.optimizer, paper.lr, paper.batch_size, paper.device) == ("sgd", 1e-4, 4, "cuda")
    assert run_config(get_profile("record-cpu"), planned_runs(get_profile("record-cpu"))[0]
                      ).workers == 0


@pytest.mark.parametrize("name", ["record-cpu", "record-gpu"])
def test_a_record_never_normalises_batchnorm_over_one_sample(name):
    """Every run of a record whose network has BatchNorm passes at least 2 samples at a time:
    HR-CelestialNet trained one sample per pass learns per-sample statistics and collapses to
    one answer in eval mode (the first record-cpu: p_nsc within 0.005 of 0.569 for 57 of 70)."""
    from hrcn_lib.models import has_batchnorm
    from hrcn_lib.profiles import get_profile
    from hrcn_lib.recording import planned_runs, run_config

    prof = get_profile(name)
    for run in planned_runs(prof):
        if has_batchnorm(run.spec.model):
            assert run_config(prof, run).micro_batch >= 2, run.name


def test_answers_alike_counts_samples_at_the_median_answer():
    """A collapsed classifier returns its bias for every sample; one that looks spreads."""
    from hrcn_lib.metrics import answers_alike

    assert answers_alike([0.569, 0.5692, 0.5688, 0.9, 0.1]) == 3
    assert answers_alike(np.linspace(0.0, 1.0, 51)) == 1
    assert answers_alike([0.3, float("nan"), 0.3]) == 2 and answers_alike([]) == 0
    assert answers_alike([0.50, 0.52], tol=0.05) == 2


def test_alike_mask_marks_the_samples_at_the_median_answer():
    """The mask answers_alike counts: finite p_nsc within tol of the finite values' median."""
    from hrcn_lib.metrics import alike_mask

    assert alike_mask([0.569, 0.5692, 0.9, 0.5688, 0.1]).tolist() == [True, True, False, True,
                                                                        False]
    assert alike_mask([0.3, float("nan"), 0.3]).tolist() == [True, False, True]
    assert alike_mask([float("nan")]).tolist() == [False] and alike_mask([]).size == 0


def test_a_resumed_record_says_an_earlier_call_simulated_its_data(tmp_path):
    """record.json's data source: the call that simulates says so and leaves a note in the
    work directory; a call resuming there names that call (commit, start); data given by
    --data-dir, a note of another profile or data without a note are "reused"."""
    import hrcn_lib.recording as recording

    work = tmp_path / "w"
    (work / "data").mkdir(parents=True)
    assert recording._data_source(work, work / "data", "smoke", True) == {
        "source": "simulated by this record"}
    assert recording._data_source(work, work / "data", "smoke", False)["source"] == "reused"
    recording._write_simulation_note(work, "smoke", {"commit": "abc", "dirty": False},
                                     "2026-12-06T15:56:00+00:00", 339.04)
    resumed = recording._data_source(work, work / "data", "smoke", False)
    assert resumed["source"].startswith("simulated by an earlier call of this record")
    assert resumed["simulated_by"] == {"profile": "smoke", "commit": "abc", "dirty": False,
                                       "started": "2026-12-06T15:56:00+00:00",
                                       "seconds": 339.0}
    assert recording._data_source(work, tmp_path / "given", "smoke", False) == {
        "source": "reused"}
    assert recording._data_source(work, work / "data", "cpu", False) == {"source": "reused"}


def _compare_records_module():
    """benchmarks/compare_records.py, which benchmarks/README.md's record comparisons use."""
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_records.py"
    spec = importlib.util.spec_from_file_location("compare_records", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_records_of_one_split_are_compared_sample_by_sample(tmp_path):
    """A remade record is compared with the one it replaces on the same samples: the paired
    difference and the samples right in one run only follow from the predictions; records
    of different splits are refused, not paired."""
    cmp = _compare_records_module()
    split, preds = synthetic()
    timings = pd.DataFrame([{"pair": "resnet_lcid-resize", "seed": 0, "recipe": "profile",
                             "set": s, "preprocess_ms": 1.0, "classify_ms": 1.0}
                            for s in ("test", "blurry")])

    def record(name: str, p: pd.DataFrame, s: pd.DataFrame = split) -> records.Record:
        write_record(tmp_path / name, info={"profile": "test", "command": "pytest"}, split=s,
                     predictions=p, timings=timings)
        return read_record(tmp_path / name)

    old = record("old", preds)
    main_test = ((preds["pair"] == "resnet_lcid-resize") & (preds["seed"] == 0)
                 & (preds["recipe"] == "profile") & (preds["set"] == "test"))
    wrong = preds.index[main_test & (preds["pred"] != preds["label"])][:2]
    better = preds.copy()
    better.loc[wrong, "pred"] = better.loc[wrong, "label"]
    new = record("new", better)
    r = cmp.compare(old, new, "resnet_lcid-resize", "test")
    n = int(main_test.sum())
    assert r["n"] == n and r["only_new"] == 2 and r["only_old"] == 0
    assert r["diff"][0] == pytest.approx(2 / n)
    assert r["new"][0] - r["old"][0] == pytest.approx(2 / n)
    assert cmp.compare(old, new, "resnet_lcid-resize", "blurry")["diff"][0] == 0.0

    other_split, other_preds = synthetic(seed=1)
    with pytest.raises(RecordError, match="different samples"):
        cmp.compare(old, record("other", other_preds, other_split), "resnet_lcid-resize",
                    "test")
    with pytest.raises(RecordError, match="no test predictions of alexnet_lcid"):
        cmp.compare(old, new, "alexnet_lcid", "test")
