"""hrcn_lib.paper_numbers: the transcribed numbers are internally consistent."""

from __future__ import annotations

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
