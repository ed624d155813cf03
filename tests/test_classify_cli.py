"""CLI tests on simulated raw files: hrcn train (+ --resume), hrcn evaluate, hrcn classify.

These use the real modules: build_model (ResNet on LCID-Resize, the cheapest pair),
make_dataset and the preprocessing of raw files of the ``smoke_data`` fixture.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hrcn_lib.cli import main
from hrcn_lib.runtime import CheckpointError, load_trained_model

TRAIN_ARGS = ["--model", "resnet", "--dataset", "lcid-resize", "--epochs", "1",
              "--batch-size", "4", "--micro-batch", "2", "--precision", "fp32", "--device", "cpu",
              "--checkpoint-every", "1", "--seed", "5", "--no-progress"]


@pytest.fixture(scope="module")
def trained_run(smoke_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ResNet/LCID-Resize run trained through ``hrcn train``, killed after 2 steps
    (``--max-steps``) and finished with ``--resume``."""
    out = tmp_path_factory.mktemp("run") / "resnet_lcid-resize"
    manifest = str(smoke_data / "lcid_manifest.csv")
    argv = ["train", "--manifest", manifest, "--out", str(out), *TRAIN_ARGS]
    assert main([*argv, "--max-steps", "2"]) == 0
    assert (out / "checkpoint.pt").is_file() and not (out / "model.pt").exists()
    assert main([*argv, "--resume"]) == 0
    return out


def test_train_cli_run_directory(trained_run):
    for name in ("config.json", "history.csv", "checkpoint.pt", "model.pt"):
        assert (trained_run / name).is_file(), name
    conf = json.loads((trained_run / "config.json").read_text())
    assert (conf["model_name"], conf["dataset_name"], conf["n_samples"]) == ("resnet",
                                                                              "lcid-resize", 16)
    assert conf["lr"] == 1e-4  # the paper's default, not overridden
    payload = torch.load(trained_run / "checkpoint.pt", weights_only=True)
    assert payload["position"] == {"epoch": 1, "step": 0, "global_step": 4}
    model = load_trained_model(trained_run)
    assert not model.training and model.hrcn_config["model_name"] == "resnet"
    weights = torch.load(trained_run / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_evaluate_cli(trained_run, smoke_data, capsys):
    argv = ["evaluate", "--run", str(trained_run), "--manifest",
            str(smoke_data / "blurry_manifest.csv"), "--set", "blurry"]
    with open(smoke_data / "blurry_manifest.csv", newline="") as f:
        n_rows = sum(1 for _ in csv.DictReader(f))
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert f"evaluate blurry: n={n_rows} accuracy" in captured.err and captured.out == ""
    metrics = json.loads((trained_run / "metrics_blurry.json").read_text())
    assert sum(map(sum, metrics["confusion"])) == n_rows
    assert main([*argv, "--quiet"]) == 0  # no information, no progress bar
    assert capsys.readouterr().err == ""


def test_classify_cli_json_matches_predictor(trained_run, smoke_data, capsys):
    from hrcn_lib.datasets import resize_sample
    from hrcn_lib.evaluate import Predictor
    from hrcn_lib.preprocess import load_sample

    files = sorted((smoke_data / "raw").glob("*.fits"))[:2]
    rc = main(["classify", *map(str, files), "--checkpoint", str(trained_run / "model.pt"),
               "--json"])
    assert rc == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["file"], r["hdu"]) for r in records] == [
        (str(f.resolve()), h) for f in files for h in (1, 4)]
    pred = Predictor(load_trained_model(trained_run))
    for r in records:
        assert r["label"] in ("galaxy", "NSC")
        assert r["p_galaxy"] + r["p_nsc"] == pytest.approx(1.0, abs=1e-6)
        assert r["probability"] == max(r["p_galaxy"], r["p_nsc"])
        assert r["classify_ms"] > 0 and r["preprocess_ms"] > 0
        x = torch.from_numpy(resize_sample(load_sample(r["file"], r["hdu"])))[None, None]
        assert pred(x)[0, 1].item() == pytest.approx(r["p_nsc"], abs=1e-6)


def test_classify_cli_table_and_bad_file(trained_run, smoke_data, tmp_path, capsys):
    good = sorted((smoke_data / "raw").glob("*.fits"))[0]
    bad = tmp_path / "broken_raw.fits"
    bad.write_text("not a FITS file")
    rc = main(["classify", str(bad), str(good), "--checkpoint", str(trained_run)])
    captured = capsys.readouterr()
    assert rc == 1
    errors = captured.err.splitlines()
    assert len(errors) == 2  # HDU 1 and HDU 4, one line each, the path named once
    for hdu, line in zip((1, 4), errors, strict=True):
        assert line.startswith(f"hrcn classify: error: {bad} [HDU {hdu}]: not a FITS file")
        assert line.count(str(bad)) == 1
    lines = [ln for ln in captured.out.splitlines() if good.name in ln]
    assert len(lines) == 2 and all(("galaxy" in ln) or ("NSC" in ln) for ln in lines)


def test_classify_cli_csv_hdu_npy_and_gzip(trained_run, smoke_data, tmp_path, capsys):
    """--csv with both probabilities and full paths; --hdu; the .npy of hrcn preprocess and a
    gzipped raw file give the probabilities of the raw file."""
    raw = sorted((smoke_data / "raw").glob("*.fits"))[0]
    gz = tmp_path / (raw.name + ".gz")
    gz.write_bytes(gzip.compress(raw.read_bytes(), compresslevel=1))
    assert main(["preprocess", str(raw), "--hdu", "4", "--out", str(tmp_path / "npy"), "-q"]) == 0
    npy = tmp_path / "npy" / f"{raw.name[:-5]}_hdu4.npy"
    assert npy.is_file()
    capsys.readouterr()
    rc = main(["classify", str(raw), str(gz), str(npy), "--hdu", "4", "--csv",
               "--checkpoint", str(trained_run)])
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == ["file", "hdu", "label", "probability", "p_galaxy", "p_nsc",
                             "preprocess_ms", "classify_ms"]
    assert [(r["file"], r["hdu"]) for r in rows] == [(str(raw.resolve()), "4"),
                                                     (str(gz.resolve()), "4"),
                                                     (str(npy.resolve()), "4")]
    p_nsc = [float(r["p_nsc"]) for r in rows]
    assert p_nsc[1] == pytest.approx(p_nsc[0], abs=1e-6)  # gzip read by astropy
    assert p_nsc[2] == pytest.approx(p_nsc[0], abs=1e-6)  # the .npy is the very sample
    for r in rows:
        assert float(r["p_galaxy"]) + float(r["p_nsc"]) == pytest.approx(1.0, abs=1e-6)
    # a .npy the model cannot read names the file once and the size it expects
    odd = tmp_path / "odd.npy"
    np.save(odd, np.zeros((100, 100), dtype=np.float32))
    assert main(["classify", str(odd), "--checkpoint", str(trained_run)]) == 1
    err = capsys.readouterr().err
    assert err.count(str(odd)) == 1 and "(224, 448)" in err


def test_classify_help_is_plain_text(capsys):
    with pytest.raises(SystemExit) as done:
        main(["classify", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--hdu" in text and "--csv" in text and ".npy" in text
    assert ":func:" not in text and ":class:" not in text and "``" not in text


def test_classify_cli_corrupt_checkpoint(smoke_data, tmp_path, capsys):
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"PK\x03\x04 truncated zip")
    good = sorted((smoke_data / "raw").glob("*.fits"))[0]
    assert main(["classify", str(good), "--checkpoint", str(ckpt)]) == 1
    assert f"{ckpt}: not a readable torch checkpoint" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="model.pt"):
        load_trained_model(ckpt)
