"""Tests of hrcn_lib.evaluate: metrics, timings, evaluate() on files, EvalResult.load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from hrcn_lib.evaluate import (
    CLASS_NAMES,
    EvalResult,
    as_label,
    compute_metrics,
    evaluate,
    time_preprocessing,
    timing_summary,
)
from hrcn_lib.manifest import read_manifest
from hrcn_lib.models import build_model
from hrcn_lib.paths import ModelRun


def test_compute_metrics_equals_sklearn():
    y_true = np.array([0, 0, 0, 0, 1, 1, 1, 0, 1, 1])
    y_pred = np.array([0, 0, 1, 0, 1, 0, 1, 0, 1, 1])
    metrics, cm = compute_metrics(y_true, y_pred)
    assert cm.tolist() == [[4, 1], [1, 4]]
    assert metrics["accuracy"] == pytest.approx(0.8)
    assert metrics["f1_galaxy"] == pytest.approx(0.8) and metrics["f1_nsc"] == pytest.approx(0.8)
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    metrics, cm = compute_metrics(t, p)
    f1 = f1_score(t, p, labels=[0, 1], average=None)
    assert metrics == {"accuracy": accuracy_score(t, p), "f1_galaxy": f1[0], "f1_nsc": f1[1]}
    assert (cm == confusion_matrix(t, p, labels=[0, 1])).all()
    _, cm = compute_metrics(np.array([1, 1]), np.array([1, 1]))  # one class only: still 2x2
    assert cm.tolist() == [[0, 0], [0, 2]]
    with pytest.raises(ValueError, match="non-empty"):
        compute_metrics(np.array([]), np.array([]))


def test_timing_summary():
    s = timing_summary([1.0, 2.0, 3.0, 4.0, 10.0])
    assert (s["n"], s["median"], s["q25"], s["q75"], s["iqr"]) == (5, 3.0, 2.0, 4.0, 2.0)
    assert s["mean"] == pytest.approx(4.0) and (s["min"], s["max"]) == (1.0, 10.0)
    assert timing_summary([]) == {"n": 0}


def test_evaluate_on_simulated_data(smoke_data, tmp_path):
    df = read_manifest(smoke_data / "lcid_manifest.csv")
    torch.manual_seed(0)
    model = build_model("resnet", "lcid-resize").eval()
    res = evaluate(model, df, "lcid-resize", tmp_path, set_name="test", max_samples=6,
                   progress=False)
    pred = res.predictions
    assert len(pred) == 6
    assert list(pred.columns[:7]) == ["path", "hdu", "body", "label", "p_galaxy", "p_nsc",
                                      "prediction"]
    for col in ("blurry", "psf_fwhm", "snr", "morphology", "defects", "lookalike"):
        assert col in pred.columns
    np.testing.assert_allclose(pred["p_galaxy"] + pred["p_nsc"], 1.0, atol=1e-6)
    assert set(pred["prediction"]) <= set(CLASS_NAMES)
    t = pred["label"].map({"galaxy": 0, "NSC": 1}).to_numpy()
    p = pred["prediction"].map({"galaxy": 0, "NSC": 1}).to_numpy()
    assert res.metrics["accuracy"] == pytest.approx(accuracy_score(t, p))
    assert (res.confusion == confusion_matrix(t, p, labels=[0, 1])).all()
    assert res.confusion.sum() == 6 and res.metrics["n"] == 6
    assert res.timing["preprocess_ms"]["n"] == 5 and res.timing["classify_ms"]["n"] == 5
    assert res.timing["classify_ms"]["median"] > 0 and res.timing["preprocess_ms"]["iqr"] >= 0
    for name in ("predictions_test.csv", "metrics_test.json", "timing_test.json", "timing.json"):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics_test.json").read_text())
    assert saved["confusion"] == res.confusion.tolist()
    assert saved["confusion_labels"] == ["galaxy", "NSC"]
    blurry = read_manifest(smoke_data / "blurry_manifest.csv")
    evaluate(model, blurry, "lcid-resize", tmp_path / "b", set_name="blurry", progress=False)
    assert (tmp_path / "b" / "predictions_blurry.csv").is_file()
    assert not (tmp_path / "b" / "timing.json").exists()
    with pytest.raises(ValueError, match="no samples"):
        evaluate(model, df.iloc[:0], "lcid-resize", progress=False)
    loaded = EvalResult.load(tmp_path, "test")  # what the book reads back
    pd.testing.assert_frame_equal(loaded.predictions[["path", "hdu", "label", "prediction"]],
                                  pred[["path", "hdu", "label", "prediction"]])
    np.testing.assert_allclose(loaded.predictions["p_nsc"], pred["p_nsc"], rtol=1e-12)
    np.testing.assert_array_equal(loaded.confusion, res.confusion)
    np.testing.assert_equal(loaded.metrics, res.metrics)  # NaN (an absent class's F1) too
    assert np.isnan(res.metrics["f1_nsc"]) or set(pred["label"]) == {"galaxy", "NSC"}
    assert loaded.median_ms("classify") == res.timing["classify_ms"]["median"]


def test_eval_result_load_reads_what_evaluate_wrote(tmp_path):
    run = ModelRun(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="no evaluation of set 'test'.*hrcn evaluate"):
        EvalResult.load(run, "test")
    run.root.mkdir()
    pd.DataFrame({"path": ["a", "b", "c"], "hdu": [1, 4, 1], "label": ["galaxy", "NSC", "NSC"],
                  "prediction": ["NSC", "NSC", "galaxy"], "psf_fwhm": [0.1, "", 0.3],
                  "defects": ["", "ghost", ""]}).to_csv(run.predictions("test"), index=False)
    run.metrics("test").write_text(json.dumps({"accuracy": 1 / 3, "n": 3}))
    res = EvalResult.load(run.root, "test")
    # no confusion recorded: computed from the predictions (rows true, columns predicted)
    assert res.confusion.tolist() == [[0, 1], [1, 1]] and res.confusion.dtype == np.int64
    assert res.timing == {} and np.isnan(res.median_ms("preprocess"))
    assert np.isnan(res.predictions["psf_fwhm"].iloc[1]) and res.predictions["defects"][0] == ""
    run.metrics("test").write_text(json.dumps({"accuracy": 0.5, "confusion": [[1, 0], [1, 0]],
                                               "confusion_labels": ["galaxy", "NSC"],
                                               "set": "test"}))
    run.table4_timing.write_text(json.dumps({"preprocess_ms": {"median": 5.0, "n": 3},
                                             "classify_ms": {"median": None, "n": 0}}))
    res = EvalResult.load(run, "test")
    assert res.metrics == {"accuracy": 0.5}  # the confusion entries are the matrix's
    assert res.confusion.tolist() == [[1, 0], [1, 0]]
    assert res.median_ms("preprocess") == 5.0 and np.isnan(res.median_ms("classify"))
    run.timing("test").write_text(json.dumps({"preprocess_ms": {"median": 7.0}}))
    assert EvalResult.load(run, "test").median_ms("preprocess") == 7.0  # the set's own first
    with pytest.raises(ValueError, match="set name"):
        EvalResult.load(run, "../x")


def test_as_label_accepts_names_and_numbers_only():
    assert as_label(pd.Series([0, "1", "galaxy", "NSC"])).tolist() == list(CLASS_NAMES * 2)
    with pytest.raises(ValueError, match="unknown class label.*'star'"):
        as_label(pd.Series(["star"]))


def test_time_preprocessing_times_both_data_sets(smoke_data):
    df = read_manifest(smoke_data / "lcid_manifest.csv")
    table = time_preprocessing(df, 2, repeats=2)
    assert list(table.columns) == ["path", "hdu", "lcid_ms", "lcid_resize_ms"]
    assert len(table) == 2 and table["path"].tolist() == [p.split("/")[-1] for p in df["path"][:2]]
    assert (table["lcid_ms"] > 0).all() and (table["lcid_resize_ms"] > table["lcid_ms"]).all()
