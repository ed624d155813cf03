"""``hrcn record --reuse``: which runs of an earlier record are taken over, and what is refused."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest
import torch

from hrcn_lib.cli import main
from hrcn_lib.record_reuse import check_same_data, open_reuse, reusable, take_run
from hrcn_lib.records import RecordError, read_record, write_record
from hrcn_lib.train import TrainConfig
from tests.test_records import synthetic

RUN = "resnet_lcid-resize"


def _earlier(tmp_path, profile: str = "record-cpu"):
    """A synthetic record with one recipe per run (as ``make_record`` writes them)."""
    split, preds = synthetic()
    train = split.loc[split["subset"] == "train"]
    trained = TrainConfig(model_name="resnet", dataset_name="lcid-resize", lr=1e-3)
    recipe = {**asdict(trained.with_layout(torch.device("cpu"))),  # fit records the layout
              "n_samples": len(train), "train_bodies": sorted(set(train["body"])),
              "train_obsids": sorted(set(train["obsid"])), "recipe": "profile"}
    recipes = {RUN: recipe, f"{RUN}.seed1": {**recipe, "seed": 1},
               f"{RUN}.paper": {**recipe, "recipe": "paper", "lr": 1e-4}}
    curve = pd.DataFrame({"epoch": [1, 2], "loss": [0.7, 0.5], "seconds": [3.0, 4.0]})
    causes = pd.DataFrame({"pair": [RUN], "set": ["test"], "obsid": ["x"], "hdu": [1],
                           "gradcam": [f"{RUN}_test_x_1.png"]})
    path = write_record(tmp_path / "earlier", info={
        "profile": profile, "git": {"commit": "abc", "dirty": False}, "date": "2026-01-01",
        "command": "hrcn record", "recipes": recipes}, split=split, predictions=preds,
        curves={name: curve for name in recipes}, causes=causes,
        images={f"{RUN}_test_x_1.png": b"\x89PNG", "other_test_y_1.png": b"\x89PNG"})
    return read_record(path), split, train, recipe


def _sets(split: pd.DataFrame, preds: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """This call's manifests of the test and blurry sets, with the simulator's S/N."""
    snr = preds.drop_duplicates(["obsid", "hdu"])[["obsid", "hdu", "snr"]]
    return {s: split.loc[split["subset"] == s].merge(snr, on=["obsid", "hdu"])
            for s in ("test", "blurry")}


def test_a_run_is_reused_only_with_its_recipe_and_samples(tmp_path):
    old, _split, train, _recipe = _earlier(tmp_path)
    cfg = TrainConfig(model_name="resnet", dataset_name="lcid-resize", lr=1e-3)
    assert reusable(old, RUN, cfg, train) is None
    assert reusable(old, f"{RUN}.seed1", replace(cfg, seed=1), train) is None
    assert "lr was 0.001, is 0.0001" in reusable(old, RUN, replace(cfg, lr=1e-4), train)
    assert "epochs" in reusable(old, RUN, replace(cfg, epochs=3), train)
    assert "training samples" in reusable(old, RUN, cfg, train.iloc[1:])
    assert reusable(old, "vgg_lcid-resize", cfg, train) == "not in the earlier record"


def test_auto_layout_is_compared_as_the_layout_it_means_here(tmp_path):
    """A record holds the layout its runs used (True/False); the profile's "auto" is compared
    as what it resolves to on this machine, and a record written before the field existed
    counts as channels_last, which every run then used."""
    old, _split, train, _recipe = _earlier(tmp_path)
    cfg = TrainConfig(model_name="resnet", dataset_name="lcid-resize", lr=1e-3)
    assert cfg.channels_last == "auto" and old.info["recipes"][RUN]["channels_last"] is True
    assert reusable(old, RUN, cfg, train) is None
    assert "channels_last was True, is False" in reusable(
        old, RUN, replace(cfg, channels_last=False), train)
    del old.info["recipes"][RUN]["channels_last"]
    assert reusable(old, RUN, cfg, train) is None


def test_a_taken_run_keeps_its_rows_images_and_provenance(tmp_path):
    old, *_ = _earlier(tmp_path)
    got = take_run(old, RUN, RUN, 0, "profile")
    p = old.predictions
    assert len(got.predictions) == int(((p["pair"] == RUN) & (p["seed"] == 0)
                                         & (p["recipe"] == "profile")).sum())
    assert set(got.timings["set"]) == {"test", "blurry"}
    assert got.train_seconds == 7.0 and got.config["lr"] == 1e-3
    assert list(got.images) == [f"{RUN}_test_x_1.png"] and len(got.causes) == 1
    assert got.provenance["git"]["commit"] == "abc" and got.provenance["record"] == "earlier"
    other = take_run(old, f"{RUN}.seed1", RUN, 1, "profile")  # not a main run: no diagnosis
    assert other.causes.empty and not other.images


def test_the_book_names_who_trained_each_run(tmp_path):
    """Chapter 4's provenance table: a reused run shows the commit, date and machine of the
    call that trained it, the others the record's own."""
    from hrcn_lib.chapters.ch04_training import record_provenance

    old, *_ = _earlier(tmp_path)
    old.info.update(git={"commit": "0123456789abcdef", "dirty": False}, date="2026-12-06T04:00",
                    device={"type": "cpu", "name": "AMD EPYC"},
                    cpu={"flags": ["avx2", "avx512_bf16", "fma"]},
                    train_seconds={RUN: 7200.0},
                    reused_runs={f"{RUN}.paper": take_run(old, f"{RUN}.paper", RUN, 0,
                                                          "paper").provenance})
    table = record_provenance(old)
    assert list(table.index) == [RUN, f"{RUN}.seed1", f"{RUN}.paper"]
    assert table.loc[RUN, "commit"] == "0123456789" and table.loc[RUN, "date"] == "2026-12-06"
    assert table.loc[RUN, "CPU flags"] == "avx2 avx512_bf16"
    assert table.loc[RUN, "training hours"] == 2.0 and table.loc[RUN, "made by"] == "this record"
    paper = table.loc[f"{RUN}.paper"]
    assert (paper["commit"], paper["date"]) == ("abc", "2026-01-01")
    assert paper["made by"] == "taken from an earlier earlier"
    assert record_provenance(None).empty


def test_other_data_or_another_profile_is_refused(tmp_path):
    old, split, _train, _recipe = _earlier(tmp_path)
    sets = _sets(split, old.predictions)
    check_same_data(old, split, sets)  # the same data passes
    moved = split.copy()
    moved.loc[moved.index[moved["subset"] == "test"][0], "subset"] = "blurry"
    with pytest.raises(RecordError, match="not this call's split.*leave --reuse out"):
        check_same_data(old, moved, sets)
    brighter = {**sets, "test": sets["test"].assign(snr=sets["test"]["snr"] * 1.01)}
    with pytest.raises(RecordError, match=r"snr of \S+ HDU \d is .* other data"):
        check_same_data(old, split, brighter)
    with pytest.raises(RecordError, match="made with profile 'record-cpu', not 'record-gpu'"):
        open_reuse(old.root, "record-gpu")


def test_record_cli_refuses_a_bad_reuse_before_writing(tmp_path, capsys, monkeypatch):
    """A bad --reuse is named first, whatever the disk holds (here: a full disk)."""
    from hrcn_lib import recording

    old, *_ = _earlier(tmp_path, profile="smoke")
    monkeypatch.setattr(recording, "_free_bytes", lambda _path: 0)
    out, work = tmp_path / "new", tmp_path / "w"
    code = main(["record", "--profile", "smoke", "--out", str(out), "--work-dir", str(work),
                 "--reuse", str(tmp_path / "nothing")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "nothing: no such record directory" in err and err.count("\n") == 0
    code = main(["record", "--profile", "cpu", "--out", str(out), "--work-dir", str(work),
                 "--reuse", str(old.root)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "made with profile 'smoke', not 'cpu'" in err
    assert not out.exists() and not work.exists()


@pytest.mark.slow
def test_a_record_remade_with_reuse_trains_only_the_changed_runs(smoke_data, tmp_path):
    """The smoke record of one cheap pair (two seeds and the paper's recipe) remade with a
    new learning rate for the pair in an empty work directory: the two profile runs are
    trained again, the paper-recipe run is taken over with its provenance, unchanged."""
    from hrcn_lib.profiles import get_profile
    from hrcn_lib.recording import make_record

    smoke = get_profile("smoke")
    runs = tuple(replace(r, enabled=(r.model, r.dataset) == ("resnet", "lcid-resize"),
                         seeds=2, reason=r.reason or "test: one pair") for r in smoke.runs)
    prof = replace(smoke, runs=runs, paper_recipe_pairs=(RUN,), gradcam_per_set=1,
                   where="test")
    out = tmp_path / "records" / "smoke"
    make_record(prof, out, data_dir=smoke_data, work_dir=tmp_path / "w1", command="first")
    first = read_record(out)
    faster = replace(prof, runs=tuple(replace(r, lr=3e-3) if r.key == RUN else r
                                      for r in runs))
    make_record(faster, out, data_dir=smoke_data, work_dir=tmp_path / "w2", force=True,
                command="second", reuse=out)
    second = read_record(out)
    assert set(second.info["reused_runs"]) == {f"{RUN}.paper"}
    assert second.info["reused_runs"][f"{RUN}.paper"]["command"] == "first"
    assert second.info["recipes"][RUN]["lr"] == pytest.approx(3e-3)
    assert not (tmp_path / "w2" / "models" / "resnet_lcid-resize.paper").exists()
    key = ["pair", "seed", "recipe", "set", "obsid", "hdu"]

    def paper(rec):
        p = rec.predictions
        return p.loc[p["recipe"] == "paper"].sort_values(key).reset_index(drop=True)

    pd.testing.assert_frame_equal(paper(first), paper(second))
    pd.testing.assert_frame_equal(first.curves[f"{RUN}.paper"], second.curves[f"{RUN}.paper"])
    assert np.isclose(second.info["train_seconds"][f"{RUN}.paper"],
                      first.info["train_seconds"][f"{RUN}.paper"])
    assert sorted(second.curves) == sorted(first.curves)
