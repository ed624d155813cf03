"""Results: confusion matrices (Figure 3), training curves, accuracy per bin, the network
diagram, time and memory bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from hrcn_lib.names import CLASS_NAMES

__all__ = ["confusion_matrices", "training_curves", "accuracy_by_bin", "network_diagram",
           "timing_bars", "memory_bars"]


def confusion_matrices(confusions: Mapping[str, np.ndarray], *,
                       classes: Sequence[str] = CLASS_NAMES, ncols: int = 4,
                       title: str = "") -> Figure:
    """Fig. 3 style panels: one annotated 2x2 confusion matrix per model.

    Args:
        confusions: panel title -> integer array (2, 2), rows = true class,
            columns = predicted class, in the order of ``classes``.
        classes: class names of rows/columns.
        ncols: panels per row.
        title: figure title.

    Raises:
        ValueError: if ``confusions`` is empty or a matrix is not (n, n) with
            n = len(classes).
    """
    if not confusions:
        raise ValueError("confusion_matrices: no confusion matrix to draw")
    n = len(classes)
    ncols = min(ncols, len(confusions))
    nrows = int(np.ceil(len(confusions) / ncols))
    fig = Figure(figsize=(3.4 * ncols, 3.0 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(confusions):]:
        ax.axis("off")
    for ax, (name, cm) in zip(axes.flat, confusions.items(), strict=False):
        cm = np.asarray(cm)
        if cm.shape != (n, n):
            raise ValueError(f"confusion matrix of {name!r}: expected shape {(n, n)}, got {cm.shape}")
        sns.heatmap(cm, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax, square=True,
                    xticklabels=list(classes), yticklabels=list(classes),
                    annot_kws={"fontsize": 12}, vmin=0)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


def training_curves(histories: Mapping[str, pd.DataFrame]) -> Figure:
    """Loss and accuracy per epoch for each run (one line per run and split).

    Args:
        histories: run name -> DataFrame of :mod:`hrcn_lib.train`'s ``history.csv``
            (:data:`hrcn_lib.train.HISTORY_COLUMNS`: ``epoch, loss, accuracy, lr, seconds,
            samples_per_s``): an ``epoch`` column plus columns whose names contain ``loss``
            (left panel) or ``acc`` (right panel); a column named ``val_*`` or ``test_*``
            is drawn dashed. Other columns are not drawn.

    Raises:
        ValueError: if ``histories`` is empty or a history has no ``epoch`` column.
    """
    if not histories:
        raise ValueError("training_curves: no training history to draw")
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    palette = sns.color_palette("tab10", len(histories))
    for colour, (name, hist) in zip(palette, histories.items(), strict=True):
        if "epoch" not in hist.columns:
            raise ValueError(f"history of {name!r} has no 'epoch' column: {list(hist.columns)}")
        for col in hist.columns:
            style = "--" if col.startswith(("val", "test")) else "-"
            if "loss" in col:
                ax_loss.plot(hist["epoch"], hist[col], style, marker="o", ms=3, color=colour,
                             label=f"{name}: {col}")
            elif "acc" in col:
                ax_acc.plot(hist["epoch"], hist[col], style, marker="o", ms=3, color=colour,
                            label=f"{name}: {col}")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return fig


def accuracy_by_bin(binned: pd.DataFrame, *, xlabel: str, reference: Mapping[str, float] | None = None,
                    title: str = "") -> Figure:
    """Accuracy per bin of a sample property (PSF FWHM, S/N), one line per model.

    Args:
        binned: DataFrame with columns ``model``, ``bin`` (label, in order),
            ``accuracy`` (0-1) and ``n`` (samples in the bin), as made by
            :func:`hrcn_lib.chapters.ch07_blurry_robustness.binned_accuracy`; where it also
            has finite ``lo`` and ``hi`` (the 95 % interval), they are drawn as error bars
            (each model's points shifted a little sideways so the bars do not overlap).
        xlabel: axis label naming the property and its unit.
        reference: optional model -> accuracy (0-1) drawn as dotted lines
            (e.g. the paper's LCID-Blurry accuracies).
        title: axes title.

    Raises:
        ValueError: if a required column is missing.
    """
    missing = {"model", "bin", "accuracy", "n"} - set(binned.columns)
    if missing:
        raise ValueError(f"accuracy_by_bin: missing column(s) {sorted(missing)}")
    fig = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = fig.subplots()
    order = list(dict.fromkeys(binned["bin"].astype(str)))
    x = {b: i for i, b in enumerate(order)}
    palette = dict(zip(dict.fromkeys(binned["model"]), sns.color_palette("tab10"), strict=False))
    models = list(palette)
    bars = {"lo", "hi"} <= set(binned.columns)
    for model, grp in binned.groupby("model", sort=False):
        shift = 0.06 * (models.index(model) - (len(models) - 1) / 2) if bars else 0.0
        xs = [x[str(b)] + shift for b in grp["bin"]]
        ax.plot(xs, grp["accuracy"], marker="o", color=palette[model], label=str(model))
        if bars:
            lo = grp["accuracy"] - pd.to_numeric(grp["lo"], errors="coerce")
            hi = pd.to_numeric(grp["hi"], errors="coerce") - grp["accuracy"]
            ax.errorbar(xs, grp["accuracy"], yerr=[lo.to_numpy(), hi.to_numpy()], fmt="none",
                        ecolor=palette[model], elinewidth=0.8, capsize=2, alpha=0.7)
        for xi, acc, n in zip(xs, grp["accuracy"], grp["n"], strict=True):
            ax.annotate(f"n={int(n)}", (xi, acc), xytext=(0, 5), textcoords="offset points",
                        fontsize=7, ha="center")
    for model, acc in (reference or {}).items():
        ax.axhline(acc, ls=":", color=palette.get(model, "grey"), label=f"paper: {model}")
    ax.set_xticks(range(len(order)), order, fontsize=8)
    ax.set(xlabel=xlabel, ylabel="accuracy", ylim=(-0.05, 1.1), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def network_diagram(layers: pd.DataFrame, *, title: str = "HR-CelestialNet") -> Figure:
    """A block diagram of a sequential network from its layer table.

    Args:
        layers: :func:`hrcn_lib.hardware.layer_table` output: one row per layer (input
            first) with ``type``, ``output_size`` (a tuple: (C, H, W) or (features,)) and
            ``kernel`` (``"7x7"`` or ``"-"``).

    Returns:
        A figure with one box per layer, left to right, box height growing with
        log10 of the output's spatial size and box width with its channels.

    Raises:
        ValueError: if a column is missing, an output size is not a tuple of ints, or the
            table is empty.
    """
    missing = {"type", "output_size", "kernel"} - set(layers.columns)
    if missing or layers.empty:
        raise ValueError(f"network_diagram: need the columns type, output_size and kernel of "
                         f"hardware.layer_table (missing {sorted(missing)}) and at least one row")
    colours = {"conv": "#4c72b0", "pool": "#dd8452", "full": "#55a868", "linear": "#55a868",
               "out": "#c44e52", "input": "#8c8c8c"}
    fig = Figure(figsize=(max(10, 0.62 * len(layers)), 4.2), layout="constrained")
    ax = fig.subplots()
    x = 0.0
    for row in layers.itertuples():
        if not isinstance(row.output_size, (tuple, list)):
            raise ValueError(f"network_diagram: output_size {row.output_size!r} of layer "
                             f"{row.type!r} is not a tuple (C, H, W) or (features,)")
        dims = [int(v) for v in row.output_size]
        spatial = int(np.prod(dims[1:])) if len(dims) > 1 else 1
        height = 0.5 + 0.6 * np.log10(max(spatial, 1))
        width = 0.2 + 0.17 * np.log2(max(dims[0], 1)) if dims else 0.5
        kind = str(row.type).lower()
        colour = next((v for k, v in colours.items() if k in kind), "#937860")
        ax.add_patch(FancyBboxPatch((x, -height / 2), width, height, boxstyle="round,pad=0.02",
                                    facecolor=colour, edgecolor="black", lw=0.6, alpha=0.85))
        label = str(row.type).replace("Convolution", "Conv").replace("Max Pooling", "MaxPool")
        if str(row.kernel) not in ("-", ""):
            label += f"\n{row.kernel}"
        ax.text(x + width / 2, height / 2 + 0.15, label, ha="center", va="bottom", fontsize=6.5,
                rotation=90)
        ax.text(x + width / 2, -height / 2 - 0.15, " x ".join(map(str, dims)), ha="center",
                va="top", fontsize=6, rotation=90)
        x += width + 0.25
    ax.set_xlim(-0.3, x)
    ax.set_ylim(-4.2, 4.6)
    ax.axis("off")
    ax.set_title(title)
    return fig


def timing_bars(table: pd.DataFrame, *, title: str = "time per sample") -> Figure:
    """Stacked bars of preprocessing + classification time (ms/sample) per run.

    Args:
        table: columns ``run`` (label), ``preprocess_ms``, ``classify_ms``
            (and optionally ``source``, e.g. "ours"/"paper", drawn side by side).

    Raises:
        ValueError: if a required column is missing or the table is empty.
    """
    missing = {"run", "preprocess_ms", "classify_ms"} - set(table.columns)
    if missing or table.empty:
        raise ValueError(f"timing_bars: missing column(s) {sorted(missing)} or empty table")
    fig = Figure(figsize=(9, 0.5 * len(table) + 1.6), layout="constrained")
    ax = fig.subplots()
    labels = [f"{r.run} ({r.source})" if "source" in table.columns else str(r.run)
              for r in table.itertuples()]
    y = np.arange(len(table))
    ax.barh(y, table["preprocess_ms"], color="#dd8452", label="preprocessing")
    ax.barh(y, table["classify_ms"], left=table["preprocess_ms"], color="#4c72b0",
            label="classification")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="ms per sample", title=title)
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def memory_bars(table: pd.DataFrame, *, title: str = "training memory") -> Figure:
    """Grouped horizontal bars (log scale, GB) of memory columns per run.

    Args:
        table: indexed by run label; every numeric column (e.g. ``"estimate
            (ours)"``, ``"estimate (paper)"``, ``"measured peak"``) is one bar
            per run, in GB; NaN bars are left out.

    Raises:
        ValueError: if the table has no numeric column or no row.
    """
    num = table.select_dtypes("number")
    if num.empty or len(num.columns) == 0:
        raise ValueError("memory_bars: no numeric column / row to draw")
    fig = Figure(figsize=(9, 0.55 * len(num) * max(1, len(num.columns)) / 2 + 1.8),
                 layout="constrained")
    ax = fig.subplots()
    height = 0.8 / len(num.columns)
    y = np.arange(len(num))
    for k, (col, colour) in enumerate(zip(num.columns, sns.color_palette("tab10"), strict=False)):
        vals = num[col].to_numpy(dtype=float)
        ok = np.isfinite(vals) & (vals > 0)
        ax.barh(y[ok] + k * height, vals[ok], height=height, color=colour, label=str(col))
    ax.set_xscale("log")
    ax.set_yticks(y + height * (len(num.columns) - 1) / 2, [str(i) for i in num.index], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="GB (log scale)", title=title)
    ax.grid(axis="x", alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig
