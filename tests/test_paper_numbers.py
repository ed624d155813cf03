"""hrcn_lib.paper_numbers: the transcribed numbers are internally consistent."""

from __future__ import annotations

import numpy as np
import pytest

from hrcn_lib import paper_numbers as pn


def test_table1_sums():
    for cls in ("galaxy", "NSC", "total"):
        row = pn.PAPER_TABLE1[cls]
        assert row["train"] + row["test"] == row["total"]
    assert pn.paper_table1().loc["Samples (Total)", "Total"] == 7813


def test_table2_parameters_follow_from_the_layers():
    rows = pn.PAPER_TABLE2
    assert len(rows) == 23 and sum(r[1] == "Convolution" for r in rows) == 12
    assert sum(r[1] == "Max Pooling" for r in rows) == 7
    prev_channels = 1
    for _, kind, kernel, _, out, _, params in rows[1:]:
        if kind == "Convolution":
            k = int(kernel.split("x")[0])
            assert params == out[0] * (prev_channels * k * k + 1)
        if len(out) == 3:
            prev_channels = out[0]
    assert rows[20][-1] == 512 * 3 * 11 * 4096 + 4096


def test_table4_totals_and_blurry_counts():
    for row in pn.PAPER_TABLE4.values():
        assert row["preprocess_ms"] + row["classify_ms"] == pytest.approx(row["total_ms"], abs=0.05)
    b = pn.PAPER_BLURRY
    assert b["galaxy_samples"] + b["nsc_samples"] == b["samples"] == 116
    for model, acc in pn.PAPER_BLURRY_ACCURACY.items():
        errors = sum(pn.PAPER_BLURRY_MISCLASSIFIED[model].values())
        assert round(116 * (1 - acc / 100)) == errors, model


def test_table3_and_table4_cover_the_seven_pairs_in_the_papers_order():
    t3 = pn.paper_table3()
    assert len(t3) == 7
    row = t3[(t3["model"] == "vgg") & (t3["dataset"] == "lcid")].iloc[0]
    assert row["total_gb"] == 211.14
    assert len(pn.paper_table4()) == 7


def test_table_a1_has_the_twenty_printed_rows_once_each():
    a1 = pn.paper_table_a1()
    assert len(a1) == 20
    keys = list(zip(a1["obsid"], a1["hdu"], strict=True))
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("model,dataset", list(pn.PAPER_TABLE4))
def test_paper_confusion_reproduces_every_printed_test_metric(model, dataset):
    from sklearn.metrics import f1_score

    cm = pn.paper_confusion(model, dataset)
    assert cm.sum(axis=1).tolist() == [852, 743]  # Table 1's test counts
    y_true = np.repeat([0, 0, 1, 1], [cm[0, 0], cm[0, 1], cm[1, 0], cm[1, 1]])
    y_pred = np.repeat([0, 1, 0, 1], [cm[0, 0], cm[0, 1], cm[1, 0], cm[1, 1]])
    row = pn.PAPER_TABLE4[(model, dataset)]
    assert round(100 * (y_true == y_pred).mean(), 2) == row["accuracy"]
    f1 = f1_score(y_true, y_pred, average=None, labels=[0, 1])
    assert round(100 * f1[0], 2) == row["f1_galaxy"]
    assert round(100 * f1[1], 2) == row["f1_nsc"]


def test_paper_confusion_of_hr_celestialnet_and_blurry():
    # 801 + 620 of 1,595 right: 89.09 %; Sec. 4.2: 1 galaxy and 17 NSC blurry errors.
    assert pn.paper_confusion("hr-celestialnet").tolist() == [[801, 51], [123, 620]]
    blurry = pn.paper_confusion("hr-celestialnet", set_name="blurry")
    assert blurry.tolist() == [[72, 1], [17, 26]]
    for model, acc in pn.PAPER_BLURRY_ACCURACY.items():
        cm = pn.paper_confusion(model, set_name="blurry")
        assert round(100 * np.trace(cm) / cm.sum(), 2) == acc


def test_paper_confusion_refuses_what_the_paper_does_not_report():
    with pytest.raises(KeyError):
        pn.paper_confusion("hr-celestialnet", "lcid-resize")
    with pytest.raises(KeyError):
        pn.paper_confusion("vgg", set_name="train")
    with pytest.raises(ValueError, match="expected exactly one"):
        pn._confusion_from_scores(852, 743, 50.0, 99.0, 99.0)
