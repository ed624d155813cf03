"""hrcn_lib.figures: each function returns a Figure that draws what it is given (panels, data,
labels, titles); bad input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from hrcn_lib import figures
from hrcn_lib.instruments import chip_layout
from hrcn_lib.train import HISTORY_COLUMNS


def test_display_image_block_means():
    img = np.arange(16, dtype=np.float32).reshape(4, 4)
    small = figures.display_image(img, max_pixels=2)
    assert small.shape == (2, 2)
    np.testing.assert_allclose(small, [[2.5, 4.5], [10.5, 12.5]])
    assert figures.display_image(img, max_pixels=8) is not None
    with pytest.raises(ValueError, match="2-D"):
        figures.display_image(np.zeros((2, 2, 2)))


def test_draw_layout_draws_every_region():
    fig = Figure()
    ax = fig.subplots()
    layout = chip_layout("WFC3/UVIS", 4)
    figures.draw_layout(ax, layout)
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rects) == 1 + len(layout.regions)  # frame + one per region
    labels = set(ax.get_legend_handles_labels()[1])
    assert {"serial virtual overscan", "parallel virtual overscan", "physical overscan"} <= labels
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert "2073" in ticks and "4206" in ticks  # true pixel boundaries on the axis


def test_layout_figure_and_figure1():
    fig = figures.layout_figure()
    assert len(fig.axes) == 4
    for ax, (inst, hdu) in zip(fig.axes, [("ACS/WFC", 1), ("ACS/WFC", 4), ("WFC3/UVIS", 1),
                                          ("WFC3/UVIS", 4)], strict=True):
        layout = chip_layout(inst, hdu)
        assert ax.get_title().startswith(f"{inst} {layout.chip} (HDU {hdu}): raw")
        assert len(ax.patches) == 1 + len(layout.regions)
        assert ax.get_ylabel() == "raw row (pixel)"
    assert {"science (kept)", "physical prescan", "gap-side rows (trimmed)"} <= {
        t.get_text() for t in fig.legends[0].get_texts()}
    layout = chip_layout("ACS/WFC", 1)
    raw = np.full(layout.raw_shape, 2000.0, dtype=np.float32)
    raw[100:200, 100:300] += 50
    sample = np.random.default_rng(0).normal(size=(2048, 4096)).astype(np.float32)
    fig = figures.figure1([("ACS/WFC", 1, raw, sample, "test")])
    ax_layout, ax_raw, ax_sample = fig.axes
    assert ax_layout.get_title() == f"(a) ACS/WFC full-frame layout ({layout.chip})"
    assert ax_raw.get_title() == "raw test [2068 x 4144, DN]"
    assert ax_sample.get_title() == "cropped sample [2048 x 4096]"
    # one image each, block-averaged to at most 800 px; every non-science region outlined
    assert [len(ax.images) for ax in (ax_layout, ax_raw, ax_sample)] == [0, 1, 1]
    assert max(ax_raw.images[0].get_array().shape) <= 800
    outlined = sum(1 for r in layout.regions if r.kind != "science")
    assert len(ax_raw.patches) == outlined
    with pytest.raises(ValueError, match=r"expected shape \(2070, 4206\)"):
        figures.figure1([("WFC3/UVIS", 1, raw, sample, "wrong shape")])
    with pytest.raises(ValueError, match="at least one"):
        figures.figure1([])


def test_confusion_matrices_annotations():
    fig = figures.confusion_matrices({"A": np.array([[3, 1], [2, 4]]), "B": np.eye(2, dtype=int)})
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["3", "1", "2", "4"]
    assert fig.axes[1].get_title() == "B"
    with pytest.raises(ValueError, match="expected shape"):
        figures.confusion_matrices({"bad": np.zeros((3, 3), dtype=int)})
    with pytest.raises(ValueError, match="no confusion"):
        figures.confusion_matrices({})


def test_training_curves_draw_the_columns_train_writes():
    hist = pd.DataFrame([[1, 0.7, 0.5, 1e-4, 10.0, 0.4], [2, 0.6, 0.6, 1e-4, 9.0, 0.44]],
                        columns=list(HISTORY_COLUMNS))
    fig = figures.training_curves({"a": hist, "b": hist.assign(loss=[0.9, 0.8])})
    ax_loss, ax_acc = fig.axes
    assert [line.get_label() for line in ax_loss.lines] == ["a: loss", "b: loss"]
    assert [line.get_label() for line in ax_acc.lines] == ["a: accuracy", "b: accuracy"]
    assert list(ax_loss.lines[1].get_ydata()) == [0.9, 0.8]
    assert list(ax_acc.lines[0].get_xdata()) == [1, 2]
    assert (ax_loss.get_xlabel(), ax_loss.get_ylabel()) == ("epoch", "cross-entropy loss")
    assert ax_acc.get_ylabel() == "accuracy"
    with pytest.raises(ValueError, match="epoch"):
        figures.training_curves({"run": hist.drop(columns="epoch")})


def test_accuracy_by_bin_and_timing_bars():
    binned = pd.DataFrame({"model": ["m", "m"], "bin": ["[0, 1)", "[1, 2)"],
                           "accuracy": [0.5, 1.0], "n": [2, 3]})
    fig = figures.accuracy_by_bin(binned, xlabel="x", reference={"m": 0.8})
    ax = fig.axes[0]
    assert list(ax.lines[0].get_ydata()) == [0.5, 1.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["[0, 1)", "[1, 2)"]
    with pytest.raises(ValueError, match="missing column"):
        figures.accuracy_by_bin(binned.drop(columns="n"), xlabel="x")
    two = pd.concat([binned.assign(lo=[0.2, 0.7], hi=[0.8, 1.0]),
                     binned.assign(model="k", lo=[0.1, 0.6], hi=[0.9, 1.0])])
    ax = figures.accuracy_by_bin(two, xlabel="x").axes[0]
    segments = [seg for c in ax.collections for seg in c.get_segments()]
    assert len(segments) == 4  # one error bar per model and bin
    spans = sorted((round(seg[0][1], 3), round(seg[1][1], 3)) for seg in segments)
    assert spans == [(0.1, 0.9), (0.2, 0.8), (0.6, 1.0), (0.7, 1.0)]
    assert sorted({round(seg[0][0], 3) for seg in segments}) == [-0.03, 0.03, 0.97, 1.03]
    table = pd.DataFrame({"run": ["a", "b"], "preprocess_ms": [1.0, 2.0], "classify_ms": [3.0, 4.0]})
    fig = figures.timing_bars(table)
    widths = sorted(p.get_width() for p in fig.axes[0].patches)
    assert widths == [1.0, 2.0, 3.0, 4.0]


def test_grids_group_and_validate():
    imgs = [np.random.default_rng(i).normal(size=(64, 128)) for i in range(5)]
    causes = ["a", "b", "a", "a", "b"]
    fig = figures.misclassified_grid(imgs, [f"s{i}" for i in range(5)], causes, per_cause=2)
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(visible) == 4  # 2 per cause
    assert fig.axes[0].get_ylabel() == "a"
    with pytest.raises(ValueError, match="captions"):
        figures.misclassified_grid(imgs, ["x"], causes)
    heats = [np.clip(i, 0, 1) for i in imgs]
    fig = figures.saliency_grid(imgs[:2], heats[:2], ["x", "y"])
    assert len(fig.axes[0].images) == 2  # sample + overlay
    with pytest.raises(ValueError, match="differs"):
        figures.saliency_grid(imgs[:1], [np.zeros((2, 2))], ["x"])
    with pytest.raises(ValueError, match="titles"):
        figures.thumbnail_gallery(imgs, ["only one"])


def test_network_diagram_one_box_per_layer():
    table = pd.DataFrame({"type": ["Input", "Convolution", "Max Pooling", "Output"],
                          "kernel": ["-", "7x7", "8x8", "-"],
                          "output_size": [(1, 64, 128), (32, 58, 122), (32, 13, 29), (2,)]})
    fig = figures.network_diagram(table)
    assert len(fig.axes[0].patches) == 4
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "32 x 58 x 122" in texts and "Conv\n7x7" in texts and "MaxPool\n8x8" in texts
    assert fig.axes[0].get_title() == "HR-CelestialNet"
    with pytest.raises(ValueError, match="output_size"):
        figures.network_diagram(table.drop(columns="output_size"))
    with pytest.raises(ValueError, match="not a tuple"):
        figures.network_diagram(table.assign(output_size=["1 x 64 x 128"] * 4))


def _gallery_manifest() -> pd.DataFrame:
    rows = []
    for label, morph, blurry in [("galaxy", "spiral", False), ("galaxy", "spiral", True),
                                 ("galaxy", "elliptical", False), ("NSC", "open_cluster", True),
                                 ("NSC", "open_cluster", False), ("NSC", "open_cluster", False)]:
        rows.append({"label": label, "morphology": morph, "blurry": blurry, "body": f"B{len(rows)}",
                     "filter": "F814W", "exptime": 100.0, "psf_fwhm": 0.1, "snr": 20.0,
                     "path": f"f{len(rows)}", "hdu": 1})
    return pd.DataFrame(rows)


def test_figure2_draws_clear_and_blurry_per_morphology():
    df = _gallery_manifest()
    rows = figures.pick_gallery_rows(df, seed=0)
    assert rows["morphology"].tolist() == ["open_cluster", "open_cluster", "elliptical", "spiral",
                                           "spiral"]  # by label ("NSC" < "galaxy"), morphology
    assert rows["kind"].tolist() == ["clear", "blurry", "clear", "clear", "blurry"]
    assert (rows["blurry"] == (rows["kind"] == "blurry")).all()
    samples = [np.full((64, 128), float(i + 1), dtype=np.float32) for i in range(len(rows))]
    fig = figures.figure2(rows, samples)
    assert fig.axes[0].get_gridspec().get_geometry() == (3, 2)  # morphologies x (clear, blurry)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == len(rows)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["clear", "blurry"]
    assert fig.axes[0].get_ylabel() == "NSC\nopen cluster"
    assert [t.get_text() for t in fig.axes[3].texts] == ["no blurry sample"]  # elliptical
    assert len(fig.axes[3].images) == 0 and fig.axes[2].get_ylabel() == "galaxy\nelliptical"
    # each cell shows its own row's sample
    assert [ax.images[0].get_array()[0, 0] for ax in drawn] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert "FWHM 0.10\" S/N 20.0" in drawn[0].get_xlabel()
    with pytest.raises(ValueError, match="morphology"):
        figures.pick_gallery_rows(df.drop(columns=["morphology"]))
    with pytest.raises(ValueError, match="5 rows and 4 samples"):
        figures.figure2(rows, samples[:4])


def test_memory_bars_one_bar_per_finite_value():
    table = pd.DataFrame({"estimate": [0.44, 32.79], "measured": [np.nan, 9.6]},
                         index=["AlexNet (LCID-Resize)", "HR-CelestialNet (LCID)"])
    fig = figures.memory_bars(table)
    ax = fig.axes[0]
    assert sorted(p.get_width() for p in ax.patches) == [0.44, 9.6, 32.79]  # NaN left out
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "GB (log scale)"
    assert [t.get_text() for t in ax.get_yticklabels()] == list(table.index)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["estimate", "measured"]


def test_resolution_comparison_shows_crop_patch_and_whole_resize():
    rng = np.random.default_rng(0)
    pairs = [{"label": lab, "morphology": m, "body": f"SIM-{k}", "crop": rng.random((400, 400)),
              "resized": rng.random((224, 448)), "box": (800, 1600, 400)}
             for k, (lab, m) in enumerate([("galaxy", "spiral"), ("NSC", "open_cluster")])]
    fig = figures.resolution_comparison(pairs)
    assert fig.axes[0].get_gridspec().get_geometry() == (2, 3)
    shapes = [ax.images[0].get_array().shape for ax in fig.axes]
    # crop at full size, the same sky in the resize ~ 400 * 224 / 2048 ~ 44 px, whole resize
    assert shapes[0] == (400, 400) and shapes[2] == (224, 448)
    assert 43 <= shapes[1][0] <= 45 and 43 <= shapes[1][1] <= 45
    box = [p for p in fig.axes[2].patches if isinstance(p, Rectangle)][0]
    assert box.get_x() == pytest.approx(1600 * 448 / 4096 - 0.5)
    assert "spiral" in fig.axes[0].get_ylabel() and "NSC" in fig.axes[3].get_ylabel()
    with pytest.raises(ValueError, match="lacks"):
        figures.resolution_comparison([{"crop": pairs[0]["crop"]}])
    with pytest.raises(ValueError, match="no sample"):
        figures.resolution_comparison([])
