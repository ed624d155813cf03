"""Regression tests of issue 16: faults found by attacking the command line.

Each case of the issue (its table's rows 1-11 and its "smaller" items) ends in one clear
error naming the file / HDU / row / argument, exit status 1 for runtime and 2 for usage
errors, and no misleading artefact on disk. The catalogue of what each bad input gets is
``docs/bad_inputs.md``. CLI runs use a 4-row subset of the ``smoke_data`` fixture and a
ResNet/LCID-Resize model trained on it once (the cheapest pair).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.io import fits
from rawfixtures import flt_from_sample, write_bias_raw, write_flt
from test_train import cfg, tiny_data, tiny_model
from torch.utils.data import TensorDataset

from hrcn_lib import preprocess as pp
from hrcn_lib import runfolder
from hrcn_lib.cli import UsageError, main
from hrcn_lib.datasets import SampleError, check_manifest_files
from hrcn_lib.evaluate import Predictor, TrainingOverlapError, evaluate
from hrcn_lib.instruments import SAMPLE_SHAPE, SCIENCE_HDUS, detector
from hrcn_lib.manifest import ManifestError, read_manifest, write_manifest
from hrcn_lib.runfolder import RunFolderError
from hrcn_lib.runtime import MODEL_FORMAT, CheckpointError, load_trained_model, save_checkpoint
from hrcn_lib.train import TrainConfig, TrainingDiverged, fit

TRAIN = ["--model", "resnet", "--dataset", "lcid-resize", "--precision", "fp32", "--device",
         "cpu", "--seed", "1", "--no-progress"]


def _strict_json(text: str):
    """json.loads that refuses bare NaN/Infinity (which JSON does not have)."""
    def refuse(name: str):
        raise ValueError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)


def _exit_code(argv: list[str]) -> int:
    """Exit status of ``hrcn argv``, whether main returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


@pytest.fixture(scope="module")
def four(smoke_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-row manifest (2 galaxy rows of one body, 2 NSC rows of another) of smoke data."""
    df = read_manifest(smoke_data / "lcid_manifest.csv")
    sub = df.groupby("label").head(2)
    return write_manifest(sub, tmp_path_factory.mktemp("four") / "four.csv")


@pytest.fixture(scope="module")
def a_raw(four: Path) -> str:
    """One raw file of ``four``."""
    return str(read_manifest(four)["path"].iloc[0])


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def trained(four: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ResNet/LCID-Resize run on ``four`` (one step of 4 samples)."""
    out = tmp_path_factory.mktemp("runs") / "resnet_lcid-resize"
    assert main(["train", "--manifest", str(four), "--out", str(out), "--epochs", "1",
                 "--cache-dir", str(cache), *TRAIN]) == 0
    return out


# --------------------------------------------------------------------------- 1, 2: preprocessing


def test_1_nan_grid_on_the_subsample_rows_and_columns(tmp_path):
    """NaN on every 16th row and column (1/256 of the pixels) left the background subsample
    empty, and the sample all zeros; now the statistics use every finite pixel."""
    rng = np.random.default_rng(0)
    sample = rng.normal(10.0, 4.0, SAMPLE_SHAPE).astype(np.float32)
    sample[1000:1040, 3000:3040] += 500.0  # a source
    clean = write_flt(tmp_path / "clean_flt.fits", "ACS/WFC", {
        h: flt_from_sample("ACS/WFC", h, sample, 0.0) for h in SCIENCE_HDUS})
    holed = sample.copy()
    holed[::16, :] = np.nan
    holed[:, ::16] = np.nan
    nan_grid = write_flt(tmp_path / "grid_flt.fits", "ACS/WFC", {
        h: flt_from_sample("ACS/WFC", h, holed, 0.0) for h in SCIENCE_HDUS})
    got, ref = pp.load_sample(nan_grid, 1), pp.load_sample(clean, 1)
    finite = np.isfinite(holed)
    assert np.isfinite(got).all() and np.all(got[~finite] == 0.0)
    assert 0.2 < float(got[finite].std()) < 1.0  # a real sample, not zeros
    np.testing.assert_allclose(got[finite], ref[finite], atol=0.03)
    assert pp.check_input(nan_grid, 1).kind == "flt"


@pytest.fixture(scope="module")
def raw_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A good 16-bit raw file and a raw-shaped BITPIX -32 copy whose HDU 1 has NaN bias columns."""
    folder = tmp_path_factory.mktemp("raw")
    good = write_bias_raw(folder / "good_raw.fits", "ACS/WFC",
                          {1: (2400.0, 2500.0), 4: (2450.0, 2550.0)})
    bad = folder / "nanbias_raw.fits"
    with fits.open(good) as hdul:
        for h in SCIENCE_HDUS:
            hdul[h].data = hdul[h].data.astype(np.float32)
        a, b = detector("ACS/WFC").chips[1].amps[0].bias_cols
        hdul[1].data[:, a:b] = np.nan
        hdul.writeto(bad)
    return good, bad


def test_2_nan_bias_columns_refuse_the_batch_before_writing(raw_pair, tmp_path, capsys):
    good, bad = raw_pair
    with pytest.raises(pp.PreprocessError, match=r"nanbias_raw.fits \[HDU 1\]: the bias columns "
                                                 r"of amplifier C .* hold 0 finite values"):
        pp.check_input(bad, 1)  # the bias step runs in the pre-flight check
    assert pp.check_input(bad, 4).kind == "raw"  # the other chip is fine
    out = tmp_path / "out"
    assert main(["preprocess", str(good), str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nanbias_raw.fits [HDU 1]" in err[0]
    assert not out.exists()  # the good file's samples are not written either


def test_2_classify_keeps_the_good_results_and_exits_1(raw_pair, trained, capsys):
    good, bad = raw_pair
    rc = main(["classify", str(bad), str(good), "--checkpoint", str(trained), "--json"])
    captured = capsys.readouterr()
    assert rc == 1
    records = _strict_json(captured.out)  # strict JSON: no bare NaN
    assert [(Path(r["file"]).name, r["hdu"]) for r in records] == [
        ("nanbias_raw.fits", 4), ("good_raw.fits", 1), ("good_raw.fits", 4)]
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].count(str(bad)) == 1 and "[HDU 1]" in err[0]


# --------------------------------------------------------------------------- 3: divergence


def test_3_fit_stops_at_the_first_nonfinite_loss(tmp_path):
    data = tiny_data(12)
    x, y = data.tensors
    x = x.clone()
    x[5] = float("nan")  # the first step whose batch holds sample 5 gives a NaN loss
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 1, step \d .*the loss is nan"
                                               r".*lower the learning rate"):
        fit(tiny_model(), TensorDataset(x, y), out, cfg(epochs=2), progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]  # no checkpoint, no model
    record = json.loads((out / "config.json").read_text())["diverged"]
    assert record["loss"] == "nan" and record["epoch"] == 1
    with pytest.raises(CheckpointError, match="diverged at optimizer step"):
        load_trained_model(out)  # says why there is no model


def test_3_train_lr_1e8_exits_1_without_a_model(four, a_raw, cache, tmp_path, capsys):
    out = tmp_path / "diverged"
    rc = main(["train", "--manifest", str(four), "--out", str(out), "--epochs", "3",
               "--batch-size", "2", "--lr", "1e8", "--cache-dir", str(cache), *TRAIN])
    err = capsys.readouterr().err
    assert rc == 1 and "training diverged" in err and "lower the learning rate" in err
    assert not (out / "model.pt").exists() and not (out / "checkpoint.pt").exists()
    assert "diverged" in json.loads((out / "config.json").read_text())
    assert main(["classify", a_raw, "--checkpoint", str(out)]) == 1
    assert "diverged at optimizer step" in capsys.readouterr().err


def test_3_nan_weights_are_refused(trained, four, a_raw, tmp_path, capsys):
    payload = torch.load(trained / "model.pt", weights_only=True)
    payload["model"]["fc.weight"][0, 0] = float("nan")
    bad = save_checkpoint(tmp_path / "model.pt", payload)
    with pytest.raises(CheckpointError, match=r"model.pt: weight 'fc.weight' holds NaN/inf"):
        load_trained_model(bad)
    with pytest.raises(CheckpointError, match="NaN/inf"):
        Predictor.from_checkpoint(bad)
    assert main(["classify", a_raw, "--checkpoint", str(bad)]) == 1
    assert main(["evaluate", "--run", str(bad), "--manifest", str(four), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("holds NaN/inf" in line for line in err)
    assert not list(tmp_path.glob("metrics_*"))
    model = tiny_model().eval()
    model.fc.bias.data[0] = float("nan")  # a model that never went through a checkpoint
    with pytest.raises(ValueError, match="probabilities of sample 0 are NaN"):
        Predictor(model)(torch.zeros(1, 1, 16, 32))


# --------------------------------------------------------------------------- 4: run folders


def test_4_a_used_run_folder_needs_resume_or_force(trained, four, cache, tmp_path, capsys):
    run = shutil.copytree(trained, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    argv = ["train", "--manifest", str(four), "--out", str(run), "--epochs", "1",
            "--cache-dir", str(cache), *TRAIN]
    assert main(argv) == 1
    assert "already holds a training run (checkpoint.pt, config.json, history.csv, model.pt)" \
        in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # untouched
    assert _exit_code([*argv, "--resume", "--force"]) == 2
    (run / "metrics_test.json").write_text("{}")  # an evaluation of the old model
    assert main([*argv, "--force", "--seed", "2"]) == 0
    assert not (run / "metrics_test.json").exists()
    assert json.loads((run / "config.json").read_text())["seed"] == 2
    assert (run / "model.pt").read_bytes() != before["model.pt"]


def test_4_fit_refuses_a_used_folder_and_resume_drops_stale_results(tmp_path):
    out = tmp_path / "run"
    fit(tiny_model(), tiny_data(), out, cfg(epochs=1), progress=False)
    with pytest.raises(RunFolderError, match="already holds a training run"):
        fit(tiny_model(), tiny_data(), out, cfg(epochs=1), progress=False)
    with pytest.raises(ValueError, match="resume and force exclude each other"):
        fit(tiny_model(), tiny_data(), out, cfg(epochs=1), resume=True, force=True,
            progress=False)
    (out / "predictions_test.csv").write_text("x")
    first_model = (out / "model.pt").read_bytes()
    fit(tiny_model(), tiny_data(), out, cfg(epochs=1), resume=True, progress=False)
    assert (out / "predictions_test.csv").exists()  # nothing trained: still this model's
    assert (out / "model.pt").read_bytes() == first_model
    fit(tiny_model(), tiny_data(), out, cfg(epochs=2), resume=True, progress=False)
    assert not (out / "predictions_test.csv").exists()  # another model now
    with runfolder.hold(out), pytest.raises(RunFolderError, match="another process"):
        fit(tiny_model(), tiny_data(), out, cfg(epochs=3), resume=True, progress=False)


# --------------------------------------------------------------------------- 5: train/test overlap


def test_5_config_records_the_training_bodies(trained, four):
    conf = json.loads((trained / "config.json").read_text())
    df = read_manifest(four)
    assert conf["train_bodies"] == sorted(set(df["body"])) == ["SIM-G001", "SIM-N001"]
    assert conf["train_obsids"] == sorted(set(df["obsid"]))
    assert list(load_trained_model(trained).hrcn_config["train_bodies"]) == conf["train_bodies"]


def test_5_evaluate_refuses_the_training_bodies(trained, four, tmp_path, capsys):
    argv = ["evaluate", "--run", str(trained), "--manifest", str(four), "--out", str(tmp_path),
            "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "shares 2 celestial bodies (SIM-G001, SIM-N001)" in err and "--allow-overlap" in err
    assert not list(tmp_path.iterdir())
    with pytest.warns(UserWarning, match="evaluated anyway"):
        assert main([*argv, "--allow-overlap", "--max-samples", "2"]) == 0
    metrics = _strict_json((tmp_path / "metrics_test.json").read_text())
    assert metrics["bodies_shared_with_training"] == 1  # the first 2 rows: one body
    with pytest.raises(TrainingOverlapError):
        evaluate(load_trained_model(trained), read_manifest(four), "lcid-resize", progress=False)


# --------------------------------------------------------------------------- 6, 10, 11: arguments


@pytest.mark.parametrize("args", [["--max-samples", "-1"], ["--max-samples", "0"],
                                  ["--timing-samples", "-1"], ["--set", "a/b"],
                                  ["--set", "../../x"], ["--set", ""]])
def test_6_10_evaluate_arguments_are_validated(trained, four, args, capsys):
    argv = ["evaluate", "--run", str(trained), "--manifest", str(four), *args]
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    assert f"argument {args[0]}" in err and "expected" in err
    assert not list(trained.glob("predictions_*"))


def test_6_10_evaluate_library_validates_too(trained, four):
    model, df = load_trained_model(trained), read_manifest(four)
    for kw, match in [({"max_samples": -1}, "max_samples"), ({"timing_samples": -2},
                      "timing_samples"), ({"set_name": "../x"}, "set name")]:
        with pytest.raises(ValueError, match=match):
            evaluate(model, df, "lcid-resize", allow_overlap=True, progress=False, **kw)


@pytest.mark.parametrize("args", [["--max-steps", "0"], ["--workers", "-1"], ["--lr", "0"],
                                  ["--lr", "nan"], ["--epochs", "0"], ["--batch-size", "-4"],
                                  ["--checkpoint-every", "-1"], ["--model", "lenet"]])
def test_8_11_train_arguments_are_validated(four, tmp_path, args, capsys):
    out = tmp_path / "run"
    assert _exit_code(["train", "--manifest", str(four), "--out", str(out), *TRAIN, *args]) == 2
    assert args[0] in capsys.readouterr().err
    assert not out.exists()


def test_11_max_steps_counts_steps_and_is_not_exceeded_on_resume(tmp_path):
    with pytest.raises(ValueError, match="max_steps must be an integer >= 1"):
        TrainConfig(max_steps=0).validate()
    out = tmp_path / "run"
    assert fit(tiny_model(), tiny_data(), out, cfg(max_steps=2), progress=False).global_step == 2
    again = fit(tiny_model(), tiny_data(), out, cfg(max_steps=2), resume=True, progress=False)
    assert again.global_step == 2 and not again.completed
    assert fit(tiny_model(), tiny_data(), out, cfg(max_steps=3), resume=True,
               progress=False).global_step == 3


# --------------------------------------------------------------------------- 7: stale temporaries


def test_7_stale_temporary_checkpoints_are_removed_on_start(tmp_path):
    out = tmp_path / "run"
    fit(tiny_model(), tiny_data(), out, cfg(max_steps=1), progress=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {f".checkpoint.pt.{dead.pid}.tmp": False,  # what a kill -9 leaves
             ".model.pt.4.tmp": False,  # train files: the run holding the folder owns them
             f".metrics_test.json.{dead.pid}.tmp": False,  # evaluate's, process gone
             f".metrics_test.json.{os.getpid()}.tmp": True,  # evaluate's, process alive
             ".notes.tmp": True, "notes.txt": True}  # not ours
    for name in names:
        (out / name).write_bytes(b"x" * 100)
    fit(tiny_model(), tiny_data(), out, cfg(max_steps=2), resume=True, progress=False)
    assert {n: (out / n).exists() for n in names} == names


def test_7_without_flock_only_dead_processes_temporaries_go(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_flock(fd, op):  # as on a network file system without flock on folders
        raise OSError(errno.EBADF, "Bad file descriptor")

    out = tmp_path / "run"
    fit(tiny_model(), tiny_data(), out, cfg(max_steps=1), progress=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {f".checkpoint.pt.{dead.pid}.tmp": False, f".checkpoint.pt.{os.getppid()}.tmp": True}
    for name in names:
        (out / name).write_bytes(b"x")
    monkeypatch.setattr(fcntl, "flock", no_flock)
    fit(tiny_model(), tiny_data(), out, cfg(max_steps=2), resume=True, progress=False)
    assert {n: (out / n).exists() for n in names} == names


# --------------------------------------------------------------------------- 8: rows and files


def _edited(four: Path, tmp_path: Path, edit) -> Path:
    df = read_manifest(four)
    edit(df)
    return write_manifest(df, tmp_path / "edited.csv")


@pytest.mark.parametrize("case", ["missing", "truncated", "directory", "instrument", "obsid"])
def test_8_every_row_is_checked_before_anything_is_written(four, tmp_path, case, capsys):
    last = read_manifest(four).index[-1]
    src = Path(read_manifest(four)["path"].iloc[-1])
    cut = tmp_path / "cut_raw.fits"
    cut.write_bytes(src.read_bytes()[:200_000])
    (tmp_path / "adir").mkdir()

    def edit(df):
        if case == "missing":
            df.loc[last, "path"] = str(tmp_path / "gone_raw.fits")
        elif case == "truncated":
            df.loc[last, "path"] = str(cut)
        elif case == "directory":
            df.loc[last, "path"] = str(tmp_path / "adir")
        elif case == "instrument":
            df.loc[last, "instrument"] = ("WFC3/UVIS" if df.loc[last, "instrument"] == "ACS/WFC"
                                          else "ACS/WFC")
        else:
            df.loc[last, "obsid"] = "jzzzzzzzq"

    manifest = _edited(four, tmp_path, edit)
    out = tmp_path / "run"
    assert main(["train", "--manifest", str(manifest), "--out", str(out), *TRAIN]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"manifest row {last} (" in err[0]
    expected = {"missing": "no such file", "truncated": "truncated file",
                "directory": "is a directory", "instrument": "exposure but the row says",
                "obsid": "ROOTNAME is"}[case]
    assert expected in err[0]
    assert not out.exists()  # not even config.json
    with pytest.raises(SampleError, match=f"manifest row {last}"):
        check_manifest_files(read_manifest(manifest))


def test_8_single_class_training_data_is_refused(four, tmp_path, capsys):
    manifest = write_manifest(read_manifest(four).query("label == 'galaxy'"),
                              tmp_path / "galaxies.csv")
    out = tmp_path / "run"
    assert main(["train", "--manifest", str(manifest), "--out", str(out), *TRAIN]) == 1
    assert "only the class(es) ['galaxy']" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- 9: crafted checkpoints


@pytest.mark.parametrize("craft,match", [
    (lambda p: p.update(config="resnet"), "'config' is a str"),
    (lambda p: p.update(model=[1, 2]), "'model' is a list"),
    (lambda p: p.pop("model"), r"it lacks \['model'\]"),
    (lambda p: p["config"].pop("dataset_name"), "'config' is a dict, expected"),
])
def test_9_crafted_checkpoints_give_one_clear_error(trained, a_raw, tmp_path, craft, match,
                                                   capsys):
    payload = torch.load(trained / "model.pt", weights_only=True)
    craft(payload)
    bad = save_checkpoint(tmp_path / "crafted.pt", payload)
    with pytest.raises(CheckpointError, match=f"crafted.pt: malformed checkpoint: {match}"):
        load_trained_model(bad)
    assert main(["classify", a_raw, "--checkpoint", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "malformed checkpoint" in err[0]


def test_9_crafted_resumable_checkpoint(tmp_path):
    out = tmp_path / "run"
    fit(tiny_model(), tiny_data(), out, cfg(max_steps=1), progress=False)
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    payload["position"] = {"epoch": "0", "step": 1, "global_step": 1}
    save_checkpoint(out / "checkpoint.pt", payload)
    with pytest.raises(CheckpointError, match="'position'.*non-negative integers"):
        fit(tiny_model(), tiny_data(), out, cfg(), resume=True, progress=False)
    payload["position"] = {"epoch": 0, "step": 1, "global_step": 1}
    payload["history"] = [3]
    save_checkpoint(out / "checkpoint.pt", payload)
    with pytest.raises(CheckpointError, match="cannot resume from it"):
        fit(tiny_model(), tiny_data(), out, cfg(), resume=True, progress=False)


# --------------------------------------------------------------------------- smaller items


def test_error_prefix_once_and_directories_named(four, tmp_path, capsys):
    junk = tmp_path / "junk_raw.fits"
    junk.write_text("not FITS")
    folder = tmp_path / "folder.fits"
    folder.mkdir()
    assert main(["preprocess", str(folder), "--out", str(tmp_path / "o")]) == 1
    assert "folder.fits [HDU 1]: is a directory: expected a FITS file" in capsys.readouterr().err
    with pytest.raises(ManifestError, match="is a directory"):
        read_manifest(tmp_path)
    df = read_manifest(four)
    df.loc[df.index[0], "path"] = str(junk)
    with pytest.raises(SampleError) as err:
        check_manifest_files(df)
    assert str(err.value).count(str(junk)) == 1


def test_nextend_3_is_not_called_a_subarray_flag(tmp_path):
    prim = fits.PrimaryHDU()
    for k, v in {"INSTRUME": "ACS", "DETECTOR": "WFC", "SUBARRAY": False, "NEXTEND": 3}.items():
        prim.header[k] = v
    path = tmp_path / "one_chip_raw.fits"
    fits.HDUList([prim, fits.ImageHDU(np.zeros((8, 8), np.int16), name="SCI", ver=1),
                  fits.ImageHDU(name="ERR"), fits.ImageHDU(name="DQ")]).writeto(path)
    with pytest.raises(pp.PreprocessError) as err:
        pp.read_header_info(path, 1)
    assert "NEXTEND = 3" in str(err.value) and "SUBARRAY=False" not in str(err.value)


def test_duplicate_index_is_printed_as_a_plain_number(tmp_path):
    csv = tmp_path / "dup.csv"
    csv.write_text(",ID,Instrument,OBSID,Filter,RA,DEC,HDU Index,Label\n"
                   "0,A,ACS/WFC,j96r23b7q,F814W,10,10,1,galaxy\n"
                   "0,A,ACS/WFC,j96r23b7q,F814W,10,10,4,galaxy\n")
    with pytest.raises(ManifestError) as err:
        read_manifest(csv)
    assert "row index 0 appears twice" in str(err.value) and "np." not in str(err.value)


def test_evaluate_dataset_must_be_the_trained_one(trained, four, capsys):
    assert main(["evaluate", "--run", str(trained), "--manifest", str(four), "--dataset",
                 "lcid", "--quiet"]) == 2
    assert "trained on lcid-resize" in capsys.readouterr().err
    with pytest.raises(ValueError, match="trained on 'lcid-resize'"):
        evaluate(load_trained_model(trained), read_manifest(four), "lcid", allow_overlap=True,
                 progress=False)


def test_evaluate_json_is_strict_with_one_sample(trained, smoke_data, tmp_path):
    blurry = read_manifest(smoke_data / "blurry_manifest.csv")
    res = evaluate(load_trained_model(trained), blurry, "lcid-resize", tmp_path,
                   set_name="blurry", max_samples=1, progress=False)
    assert res.timing["total_ms_median"] is None  # nothing timed after the warm-up
    for name in ("metrics_blurry.json", "timing_blurry.json"):
        _strict_json((tmp_path / name).read_text())


def test_peak_memory_table_is_written_atomically_and_checked(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import hrcn_lib.hardware as hardware
    from hrcn_lib.paths import RunPaths

    cache = RunPaths(tmp_path).peak_memory
    fake = SimpleNamespace(peak_mb=100.0, training_mb=60.0, seconds=0.5, method="test")
    calls = []
    monkeypatch.setattr(hardware, "measure_peak_memory",
                        lambda *a, **k: calls.append((a, k)) or fake)
    pairs = [("resnet", "lcid-resize"), ("hr-celestialnet", "lcid")]
    table = hardware.measured_memory(pairs, cache, device="cpu", precision="fp32",
                                     max_pixels=224 * 448)
    assert sorted(p.name for p in cache.parent.iterdir()) == ["peak_memory.csv"]
    assert [a[:2] for a, _ in calls] == [("resnet", (224, 448))]  # the other is above the limit
    assert table.loc["ResNet (LCID-Resize)", "peak_mb"] == 100.0
    assert table.loc["HR-CelestialNet (LCID)", "note"].startswith("not measured: 2048 x 4096")
    assert hardware.measured_memory(pairs, cache, measure=False).equals(table)
    cache.write_text(cache.read_text()[:40])  # a half-written table
    with pytest.raises(ValueError, match="peak_memory.csv.*delete it to measure again"):
        hardware.measured_memory(pairs, cache, measure=False)


def test_exit_status_convention(monkeypatch, capsys):
    import hrcn_lib.cli.classify as classify_cli

    def raiser(exc):
        def run(args):
            raise exc
        return run

    for exc, code in [(UsageError("bad flag"), 2), (ValueError("bad file"), 1),
                      (FileNotFoundError("gone"), 1), (TrainingDiverged("nan"), 1)]:
        monkeypatch.setattr(classify_cli, "run", raiser(exc))
        assert main(["classify", "x.fits", "--checkpoint", "m.pt"]) == code
        assert capsys.readouterr().err.strip() == f"hrcn classify: error: {exc}"
    monkeypatch.setattr(classify_cli, "run", raiser(KeyError("a bug")))
    with pytest.raises(KeyError):  # a bug keeps its traceback
        main(["classify", "x.fits", "--checkpoint", "m.pt"])


def test_train_config_records_data_for_resume_checks(tmp_path):
    conf = TrainConfig(model_name="resnet", dataset_name="lcid-resize", train_bodies=("a",))
    assert asdict(conf)["train_bodies"] == ("a",)
    with pytest.raises(ValueError, match="workers must be an integer >= 0"):
        TrainConfig(workers=-1).validate()
    with pytest.raises(ValueError, match="momentum"):
        TrainConfig(momentum=float("nan")).validate()
    save_checkpoint(tmp_path / "m.pt", {"format": MODEL_FORMAT, "version": 1,
                                        "config": asdict(conf), "model": {}})
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_trained_model(tmp_path / "m.pt")


def test_torchrun_entry_uses_the_same_exit_status(tmp_path, capsys):
    from hrcn_lib.cli.train import main as train_main

    argv = ["--manifest", str(tmp_path / "none.csv"), "--out", str(tmp_path / "run"), *TRAIN]
    assert train_main(argv) == 1
    assert "manifest not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        train_main([*argv, "--max-steps", "0"])
    assert exc.value.code == 2


# --------------------------------------------------------------------------- second audit
# Faults a read-and-try audit of every command found later: each gets one line naming the
# argument or file, the right status, and nothing on disk.


@pytest.mark.parametrize("name", ["bogus", "mps", "meta", "cuda:x"])
def test_device_names_are_checked_before_any_work(trained, a_raw, name, capsys):
    """--device was passed to torch unchecked: a traceback, or (meta) a crash after reading."""
    from hrcn_lib.runtime import resolve_device

    assert _exit_code(["classify", a_raw, "--checkpoint", str(trained), "--device", name]) == 2
    err = capsys.readouterr().err
    assert f"argument --device: device {name!r} is not supported: use cpu, cuda" in err
    with pytest.raises(ValueError, match="not supported"):
        resolve_device(name)  # the library refuses it too
    assert resolve_device("cpu").type == "cpu"


def test_a_nan_sample_is_refused_by_name_and_the_others_classified(trained, a_raw, tmp_path,
                                                                   capsys):
    """One NaN .npy sample made the whole batch fail, without naming it."""
    bad = tmp_path / "nan_hdu1.npy"
    np.save(bad, np.full((8, 16), np.nan, dtype=np.float32))
    rc = main(["classify", str(bad), a_raw, "--hdu", "1", "--checkpoint", str(trained),
               "--json"])
    captured = capsys.readouterr()
    assert rc == 1
    assert [Path(r["file"]).name for r in _strict_json(captured.out)] == [Path(a_raw).name]
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "128 pixel(s) are NaN or infinite" in err[0]


@pytest.mark.parametrize("args,flag", [(["--bodies-galaxy", "10000"], "--bodies-galaxy"),
                                       (["--exposures", "10000"], "--exposures"),
                                       (["--bodies-galaxy", "0", "--bodies-nsc", "0"],
                                        "--bodies-galaxy 0 and --bodies-nsc 0")])
def test_simulate_sizes_out_of_range_are_usage_errors(tmp_path, args, flag, capsys):
    """They were exit 1 with the library's field names (bodies_galaxy)."""
    out = tmp_path / "sim"
    assert _exit_code(["simulate", "--out", str(out), *args]) == 2
    assert flag in capsys.readouterr().err
    assert not out.exists()


def test_output_folders_that_cannot_be_made_are_refused_first(trained, four, cache, a_raw,
                                                              tmp_path, capsys):
    """An --out (or --cache-dir, --dest, --work-dir) that is a file or lies under one gave
    errno text after the work, or (record) would have failed after hours of training."""
    from hrcn_lib.recording import check_request

    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    runs = [(["preprocess", a_raw, "--out", str(afile)], "--out"),
            (["evaluate", "--run", str(trained), "--manifest", str(four), "--out", str(afile)],
             "--out"),
            (["evaluate", "--run", str(trained), "--manifest", str(four), "--cache-dir",
              str(afile / "c")], "--cache-dir"),
            (["train", "--manifest", str(four), "--out", str(afile / "run"), *TRAIN], "--out"),
            (["fetch", str(four), "--dest", str(afile)], "--dest"),
            (["book", "--skip-execute", "--root", str(afile)], "--root")]
    for argv, flag in runs:
        assert _exit_code(argv) == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"error: {flag} " in err[0] and "afile" in err[0], err
    with pytest.raises(ValueError, match=r"--out .*afile is a file, so no folder can be made"):
        check_request("smoke", afile / "record", work_dir=tmp_path / "w")
    with pytest.raises(ValueError, match=r"--work-dir .*afile is a file"):
        check_request("smoke", tmp_path / "record", work_dir=afile / "w")
    with pytest.raises(ValueError, match=r"--out .*afile: exists and is not a folder"):
        check_request("smoke", afile, work_dir=tmp_path / "w", force=True)
    assert afile.read_text() == "not a folder" and not (tmp_path / "w").exists()


def test_fetch_keeps_its_input_and_an_empty_manifest_is_named(four, tmp_path, capsys):
    """--output equal to the input manifest overwrote it; a header-only manifest left an empty
    --dest folder behind; train and evaluate named no file for it."""
    before = four.read_bytes()
    assert _exit_code(["fetch", str(four), "--dest", str(tmp_path / "d"), "--output",
                       str(four)]) == 1
    assert "is the input" in capsys.readouterr().err and four.read_bytes() == before
    empty = tmp_path / "empty.csv"
    empty.write_text(four.read_text().splitlines()[0] + "\n")
    for argv in (["fetch", str(empty), "--dest", str(tmp_path / "d")],
                 ["train", "--manifest", str(empty), "--out", str(tmp_path / "run"), *TRAIN]):
        assert _exit_code(argv) == 1
        err = capsys.readouterr().err
        assert f"{empty}: no rows" in err, err
    assert not (tmp_path / "d").exists() and not (tmp_path / "run").exists()


def test_a_file_named_twice_is_one_sample(a_raw, tmp_path, caplog):
    """`preprocess f ./f` said it wrote 2 samples where one file exists."""
    import logging

    out = tmp_path / "o"
    spelled = os.path.join(os.path.dirname(a_raw), ".", os.path.basename(a_raw))
    with caplog.at_level(logging.INFO, logger="hrcn_lib"):
        assert main(["preprocess", a_raw, spelled, "--hdu", "1", "--out", str(out)]) == 0
    assert len(list(out.glob("*.npy"))) == 1 and "wrote 1 sample(s)" in caplog.text


def test_f1_of_a_class_in_neither_labels_nor_answers_is_undefined():
    """A set of galaxies alone, all answered galaxy, reported F1 NSC 0.0."""
    from hrcn_lib.metrics import compute_metrics

    m, _ = compute_metrics(np.zeros(4, int), np.zeros(4, int))
    assert m["f1_galaxy"] == 1.0 and np.isnan(m["f1_nsc"])
    m, _ = compute_metrics(np.array([0, 0, 1, 1]), np.zeros(4, int))
    assert m["f1_nsc"] == 0.0  # NSCs missed: a score of 0, not undefined


def test_python_warnings_are_one_hrcn_line():
    """evaluate's warnings came out as Python's, with a source line, unlike every other line.
    (A fresh interpreter: pytest records every test's warnings instead of printing them.)"""
    import warnings

    from hrcn_lib.cli.verbosity import configure_logging

    code = ("import warnings; from hrcn_lib.cli.verbosity import configure_logging; "
            "configure_logging('evaluate'); warnings.warn('overlap is not checked')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert run.stderr == "hrcn evaluate: warning: overlap is not checked\n"
    saved = warnings.formatwarning
    try:
        configure_logging("evaluate")
        with pytest.warns(UserWarning, match="still recorded"):  # tests still see warnings
            warnings.warn("still recorded", UserWarning, stacklevel=1)
    finally:
        warnings.formatwarning = saved
