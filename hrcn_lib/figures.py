"""The paper's figures (and the book's extra ones), drawn from run artefacts.

Every function takes arrays / DataFrames that other modules produced (raw SCI
arrays, samples, confusion matrices, histories, binned accuracies, layer
tables) and returns a :class:`matplotlib.figure.Figure`. Nothing here computes
a metric: binned accuracies, confusion matrices and the like come from
:mod:`hrcn_lib.evaluate` / :mod:`hrcn_lib.chapters`.

Figures are created with :class:`matplotlib.figure.Figure` directly (not
``pyplot``), so a notebook shows each one exactly once (as the cell's value)
and nothing accumulates in pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from hrcn_lib.instruments import ChipLayout, chip_layout

__all__ = [
    "REGION_COLOURS",
    "display_image",
    "draw_layout",
    "figure1",
    "layout_figure",
    "thumbnail_gallery",
    "confusion_matrices",
    "training_curves",
    "accuracy_by_bin",
    "misclassified_grid",
    "saliency_grid",
    "network_diagram",
    "timing_bars",
    "memory_bars",
    "resolution_comparison",
]

#: Colour of each :class:`hrcn_lib.instruments.Region` kind in Figure 1.
REGION_COLOURS: dict[str, str] = {
    "science": "#4c72b0",
    "prescan": "#dd8452",
    "physical_overscan": "#dd8452",
    "serial_virtual": "#55a868",
    "parallel_virtual": "#c44e52",
    "gap_trim": "#8172b3",
}

_REGION_LABELS: dict[str, str] = {
    "science": "science (kept)",
    "prescan": "physical prescan",
    "physical_overscan": "physical overscan",
    "serial_virtual": "serial virtual overscan",
    "parallel_virtual": "parallel virtual overscan",
    "gap_trim": "gap-side rows (trimmed)",
}


def _check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 2-D array (H, W), got shape {arr.shape}")
    return arr


def display_image(image: np.ndarray, max_pixels: int = 1024) -> np.ndarray:
    """Block-average a large 2-D image down for display (no science use).

    Args:
        image: 2-D array (H, W) (or (1, H, W)), any real dtype.
        max_pixels: the longer side of the result is at most this many pixels.

    Returns:
        float32 array (h, w) with ``h, w <= max_pixels``; the same values'
        block means, so extended structure stays visible on screen.

    Raises:
        ValueError: if ``image`` is not 2-D or is empty, or ``max_pixels < 1``.
    """
    arr = _check_image(image).astype(np.float32, copy=False)
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
    factor = int(np.ceil(max(arr.shape) / max_pixels))
    if factor <= 1:
        return arr
    h, w = (arr.shape[0] // factor) * factor, (arr.shape[1] // factor) * factor
    if h == 0 or w == 0:
        return arr[::factor, ::factor]
    return arr[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _show(ax, image: np.ndarray, title: str = "", max_pixels: int = 1024, cmap: str = "gray",
          extent=None) -> None:
    """Imshow with a zscale + asinh stretch (the astronomer's default look)."""
    img = display_image(image, max_pixels)
    finite = img[np.isfinite(img)]
    if finite.size and float(finite.max()) > float(finite.min()):
        norm = ImageNormalize(finite, interval=ZScaleInterval(), stretch=AsinhStretch())
    else:
        norm = None
    ax.imshow(img, origin="lower", cmap=cmap, norm=norm, interpolation="nearest", extent=extent,
              aspect="auto")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _warp(bounds: set[int], total: int, min_frac: float) -> Callable[[float], float]:
    """Piecewise-linear axis map that widens narrow segments (schematic, not to scale).

    Segments between consecutive ``bounds`` shorter than ``min_frac * total``
    are drawn ``min_frac * total`` long; the map is monotonic, so a region's
    rectangle stays a rectangle and the tick labels can show true pixels.
    """
    edges = sorted({0, total, *bounds})
    lengths = np.diff(edges).astype(float)
    shown = np.maximum(lengths, min_frac * total)
    shown *= total / shown.sum()
    starts = np.concatenate([[0.0], np.cumsum(shown)])

    def f(v: float) -> float:
        return float(np.interp(v, edges, starts))

    f.edges = edges  # type: ignore[attr-defined]
    return f


def draw_layout(ax, layout: ChipLayout, *, label: bool = True, alpha: float = 0.6,
                schematic: bool = True) -> None:
    """Draw one chip's raw layout (every region of ``layout.regions``) on ``ax``.

    Coordinates are raw-array pixels (x = column, y = row, origin lower left).
    With ``schematic`` (default) the narrow prescan/overscan bands (20-60
    pixels of 4144) are widened so they can be seen, like the paper's
    Figure 1; tick labels still give the true pixel boundaries. Each band is
    labelled with its width in pixels.
    """
    nrow, ncol = layout.raw_shape
    cols = {c for r in layout.regions for c in r.cols}
    rows = {v for r in layout.regions for v in r.rows}
    fx = _warp(cols, ncol, 0.05 if schematic else 0.0)
    fy = _warp(rows, nrow, 0.06 if schematic else 0.0)
    ax.add_patch(Rectangle((0, 0), ncol, nrow, facecolor="white", edgecolor="black", lw=1.0))
    seen: set[str] = set()
    for region in layout.regions:
        (r0, r1), (c0, c1) = region.rows, region.cols
        x0, x1, y0, y1 = fx(c0), fx(c1), fy(r0), fy(r1)
        kind_label = _REGION_LABELS.get(region.kind, region.kind)
        ax.add_patch(Rectangle(
            (x0, y0), x1 - x0, y1 - y0, facecolor=REGION_COLOURS.get(region.kind, "grey"),
            edgecolor="black", lw=0.4, alpha=alpha,
            label=kind_label if kind_label not in seen else None))
        seen.add(kind_label)
        if region.kind != "science":
            w, h = c1 - c0, r1 - r0
            text, rot = (f"{w}", 90) if h > w else (f"{h}", 0)
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, text, ha="center", va="center", fontsize=6,
                    rotation=rot)
        else:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"science\n{r1 - r0} x {c1 - c0}",
                    ha="center", va="center", fontsize=7)
    for amp in layout.amps:
        row, col = amp.corner
        x, y = fx(col), fy(row)
        ax.plot([x], [y], marker="o", ms=5, color="black", clip_on=False)
        ax.annotate(f"amp {amp.name}", (x, y), xytext=(0, 6 if row == 0 else -12),
                    textcoords="offset points", ha="center", fontsize=7)
    for axis, f in ((ax.xaxis, fx), (ax.yaxis, fy)):  # ticks at the true region boundaries
        axis.set_ticks([f(t) for t in f.edges], [str(t) for t in f.edges])
    ax.tick_params(labelsize=6)
    for lab in ax.get_xticklabels():
        lab.set_rotation(90)
    ax.set_xlim(-60, ncol + 60)
    ax.set_ylim(-60, nrow + 60)
    ax.set_aspect("equal")
    ax.set_xlabel("raw column (pixel)" + (", not to scale" if schematic else ""), fontsize=8)
    ax.set_ylabel("raw row (pixel)", fontsize=8)
    if label:
        ax.set_title(f"{layout.instrument} {layout.chip} (HDU {layout.hdu}): raw "
                     f"{nrow} x {ncol}", fontsize=9)


def layout_figure(instruments: Sequence[str] = ("ACS/WFC", "WFC3/UVIS"),
                  hdus: Sequence[int] = (1, 4)) -> Figure:
    """Both chips of each camera drawn from :mod:`hrcn_lib.instruments` (rows: cameras)."""
    fig = Figure(figsize=(11, 3.2 * len(instruments)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(instruments), len(hdus), squeeze=False))
    for i, inst in enumerate(instruments):
        for j, hdu in enumerate(hdus):
            draw_layout(axes[i, j], chip_layout(inst, hdu))
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    return fig


def figure1(panels: Sequence[tuple[str, int, np.ndarray, np.ndarray, str]],
            max_pixels: int = 800) -> Figure:
    """The paper's Figure 1: layout | raw frame | cropped sample, one row per camera.

    Args:
        panels: one ``(instrument, hdu, raw, sample, caption)`` per row, where
            ``raw`` is the raw SCI array in DN with the layout's ``raw_shape``
            (e.g. (2068, 4144) for ACS/WFC) and ``sample`` the (2048, 4096)
            output of the preprocessing; ``caption`` names the exposure.
        max_pixels: display size of the image panels (block-averaged).

    Raises:
        ValueError: if a raw array does not have its layout's shape, or
            ``panels`` is empty.
    """
    if not panels:
        raise ValueError("figure1 needs at least one (instrument, hdu, raw, sample, caption) panel")
    fig = Figure(figsize=(15, 3.4 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 3, squeeze=False)
    for i, (instrument, hdu, raw, sample, caption) in enumerate(panels):
        layout = chip_layout(instrument, hdu)
        raw = _check_image(raw, f"raw frame of {caption}")
        sample = _check_image(sample, f"sample of {caption}")
        if raw.shape != layout.raw_shape:
            raise ValueError(f"raw frame of {caption} ({instrument} HDU {hdu}): expected shape "
                             f"{layout.raw_shape}, got {raw.shape}")
        letter = "ab"[i] if i < 2 else str(i + 1)
        draw_layout(axes[i, 0], layout, label=False)
        axes[i, 0].set_title(f"({letter}) {instrument} full-frame layout ({layout.chip})", fontsize=9)
        nrow, ncol = layout.raw_shape
        _show(axes[i, 1], raw, f"raw {caption} [{nrow} x {ncol}, DN]", max_pixels,
              extent=(0, ncol, 0, nrow))
        for region in layout.regions:
            if region.kind == "science":
                continue
            (r0, r1), (c0, c1) = region.rows, region.cols
            axes[i, 1].add_patch(Rectangle((c0, r0), c1 - c0, r1 - r0, fill=False, lw=0.8,
                                           edgecolor=REGION_COLOURS.get(region.kind, "grey")))
        _show(axes[i, 2], sample, f"cropped sample [{sample.shape[0]} x {sample.shape[1]}]",
              max_pixels)
    handles = [Rectangle((0, 0), 1, 1, color=c, alpha=0.55) for c in REGION_COLOURS.values()]
    fig.legend(handles, [_REGION_LABELS[k] for k in REGION_COLOURS], loc="outside lower center",
               ncol=6, fontsize=8)
    return fig


def thumbnail_gallery(images: Sequence[np.ndarray], titles: Sequence[str], *, ncols: int = 4,
                      max_pixels: int = 256, row_labels: Sequence[str] | None = None) -> Figure:
    """A grid of sample thumbnails (e.g. one row per morphology).

    Args:
        images: 2-D arrays (H, W), any size (block-averaged for display).
        titles: one caption per image.
        ncols: images per row.
        max_pixels: display size of each thumbnail.
        row_labels: optional label of each row (drawn as the first image's y-label).

    Raises:
        ValueError: if ``images`` is empty or ``titles`` has another length.
    """
    if not images:
        raise ValueError("thumbnail_gallery: no images to draw")
    if len(titles) != len(images):
        raise ValueError(f"thumbnail_gallery: {len(images)} images but {len(titles)} titles")
    nrows = int(np.ceil(len(images) / ncols))
    fig = Figure(figsize=(3.2 * ncols, 1.9 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (img, title) in enumerate(zip(images, titles, strict=True)):
        ax = axes.flat[k]
        ax.axis("on")
        _show(ax, img, title, max_pixels)
    if row_labels:
        for r, lab in enumerate(row_labels[:nrows]):
            axes[r, 0].set_ylabel(lab, fontsize=9)
    return fig


def confusion_matrices(confusions: Mapping[str, np.ndarray], *,
                       classes: Sequence[str] = ("galaxy", "NSC"), ncols: int = 4,
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
        histories: run name -> DataFrame of :mod:`hrcn_lib.train`'s
            ``history.csv``: an ``epoch`` column plus columns whose names
            contain ``loss`` and/or ``acc`` (e.g. ``train_loss``, ``val_accuracy``).

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
            :func:`hrcn_lib.chapters.binned_accuracy`.
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
    for model, grp in binned.groupby("model", sort=False):
        xs = [x[str(b)] for b in grp["bin"]]
        ax.plot(xs, grp["accuracy"], marker="o", color=palette[model], label=str(model))
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


def misclassified_grid(images: Sequence[np.ndarray], captions: Sequence[str],
                       causes: Sequence[str], *, per_cause: int = 4,
                       max_pixels: int = 256) -> Figure:
    """Fig. 4 style: misclassified samples in rows grouped by cause.

    Args:
        images: 2-D sample arrays (H, W).
        captions: one caption per image (body, true -> predicted, ...).
        causes: the cause each sample is attributed to (one row per distinct cause,
            in order of first appearance).
        per_cause: at most this many samples per row.

    Raises:
        ValueError: if the sequences are empty or of different lengths.
    """
    if not images:
        raise ValueError("misclassified_grid: no misclassified sample to draw")
    if not len(images) == len(captions) == len(causes):
        raise ValueError(f"misclassified_grid: {len(images)} images, {len(captions)} captions, "
                         f"{len(causes)} causes")
    groups: dict[str, list[int]] = {}
    for k, cause in enumerate(causes):
        groups.setdefault(cause, [])
        if len(groups[cause]) < per_cause:
            groups[cause].append(k)
    ncols = max(len(v) for v in groups.values())
    fig = Figure(figsize=(3.4 * ncols, 2.1 * len(groups)), layout="constrained")
    axes = fig.subplots(len(groups), ncols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, (cause, idx) in enumerate(groups.items()):
        for c, k in enumerate(idx):
            ax = axes[r, c]
            ax.axis("on")
            _show(ax, images[k], captions[k], max_pixels)
        axes[r, 0].set_ylabel(cause, fontsize=9)
    return fig


def saliency_grid(images: Sequence[np.ndarray], heatmaps: Sequence[np.ndarray],
                  captions: Sequence[str], *, max_pixels: int = 256, alpha: float = 0.45) -> Figure:
    """Grad-CAM overlays: each sample in grey with its heat map (0-1) in colour on top.

    Args:
        images: 2-D samples (H, W).
        heatmaps: 2-D arrays (H, W) in [0, 1], same shape as their image
            (from :func:`hrcn_lib.saliency.grad_cam`).
        captions: one per image.

    Raises:
        ValueError: on empty input, unequal lengths or a heat map whose shape
            differs from its image's.
    """
    if not images:
        raise ValueError("saliency_grid: no image to draw")
    if not len(images) == len(heatmaps) == len(captions):
        raise ValueError(f"saliency_grid: {len(images)} images, {len(heatmaps)} heat maps, "
                         f"{len(captions)} captions")
    ncols = min(4, len(images))
    nrows = int(np.ceil(len(images) / ncols))
    fig = Figure(figsize=(3.4 * ncols, 2.1 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (img, heat, cap) in enumerate(zip(images, heatmaps, captions, strict=True)):
        img, heat = _check_image(img), _check_image(heat, "heat map")
        if img.shape != heat.shape:
            raise ValueError(f"heat map of {cap!r}: shape {heat.shape} differs from image {img.shape}")
        ax = axes.flat[k]
        ax.axis("on")
        _show(ax, img, cap, max_pixels)
        ax.imshow(display_image(heat, max_pixels), origin="lower", cmap="jet", alpha=alpha,
                  vmin=0, vmax=1, aspect="auto", interpolation="bilinear")
    return fig


def _norm_columns(table: pd.DataFrame) -> pd.DataFrame:
    return table.rename(columns={c: str(c).strip().lower().replace(" ", "_") for c in table.columns})


def network_diagram(layers: pd.DataFrame, *, title: str = "HR-CelestialNet") -> Figure:
    """A block diagram of a sequential network from its layer table.

    Args:
        layers: one row per layer (input first) with a type column (``type``)
            and an output-size column (``output_size`` / ``output_shape``: a
            tuple like (C, H, W) or text like ``"32 x 2042 x 4090"``); a
            ``kernel`` column is shown when present. Column names are matched
            case-insensitively with spaces as underscores (Table 2's headers work).

    Returns:
        A figure with one box per layer, left to right, box height growing with
        log10 of the output's spatial size and box width with its channels.

    Raises:
        ValueError: if the type or output-size column is missing or the table is empty.
    """
    tab = _norm_columns(layers)
    out_col = next((c for c in ("output_size", "output_shape", "output") if c in tab.columns), None)
    if "type" not in tab.columns or out_col is None or tab.empty:
        raise ValueError(f"network_diagram: need a 'type' and an 'output size' column, got "
                         f"{list(layers.columns)}")
    colours = {"conv": "#4c72b0", "pool": "#dd8452", "full": "#55a868", "linear": "#55a868",
               "out": "#c44e52", "input": "#8c8c8c"}
    fig = Figure(figsize=(max(10, 0.62 * len(tab)), 4.2), layout="constrained")
    ax = fig.subplots()
    x = 0.0
    for _, row in tab.iterrows():
        shape = row[out_col]
        dims = [int(v) for v in (shape if isinstance(shape, (tuple, list)) else
                                 str(shape).replace("×", "x").replace("(", "").replace(")", "")
                                 .replace(",", "x").split("x")) if str(v).strip()]
        spatial = int(np.prod(dims[1:])) if len(dims) > 1 else 1
        height = 0.5 + 0.6 * np.log10(max(spatial, 1))
        width = 0.2 + 0.17 * np.log2(max(dims[0], 1)) if dims else 0.5
        kind = str(row["type"]).lower()
        colour = next((v for k, v in colours.items() if k in kind), "#937860")
        ax.add_patch(FancyBboxPatch((x, -height / 2), width, height, boxstyle="round,pad=0.02",
                                    facecolor=colour, edgecolor="black", lw=0.6, alpha=0.85))
        label = str(row["type"]).replace("Convolution", "Conv").replace("Max Pooling", "MaxPool")
        if "kernel" in tab.columns and str(row["kernel"]) not in ("-", "", "nan", "None"):
            label += f"\n{row['kernel']}"
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


def resolution_comparison(pairs: Sequence[Mapping], *, vmin: float = -0.5, vmax: float = 6.0,
                          panel: float = 2.4) -> Figure:
    """Full resolution against LCID-Resize, one morphology per row.

    Columns: a full-resolution crop of the preprocessed sample; the same patch of
    sky as the 224 x 448 resize holds it (its pixels drawn as blocks); the whole
    resized chip with the patch outlined. All panels share one linear display
    range of the preprocessed (asinh) values, so the two resolutions compare fairly.

    Args:
        pairs: dicts with ``label``, ``morphology``, ``body``, ``crop`` (2-D full
            resolution), ``resized`` (2-D, (224, 448)) and ``box`` ``(row0, col0,
            size)`` of the crop in the full-resolution sample (2048 x 4096)
            (:func:`hrcn_lib.simulate.realism.resolution_crops`).
        vmin, vmax: display range of the sample values.
        panel: inches per panel side.

    Raises:
        ValueError: if ``pairs`` is empty or an entry lacks a field.
    """
    if not pairs:
        raise ValueError("resolution_comparison: no sample to draw")
    need = {"label", "morphology", "body", "crop", "resized", "box"}
    for k, p in enumerate(pairs):
        if need - set(p):
            raise ValueError(f"resolution_comparison: entry {k} lacks {sorted(need - set(p))}")
    fig = Figure(figsize=(panel * 3.6, panel * len(pairs)), layout="constrained")
    axes = fig.subplots(len(pairs), 3, squeeze=False,
                        gridspec_kw={"width_ratios": [1.0, 1.0, 1.6]})
    for r, p in enumerate(pairs):
        crop = _check_image(p["crop"], "crop")
        small = _check_image(p["resized"], "resized")
        r0, c0, size = p["box"]
        fy, fx = small.shape[0] / 2048.0, small.shape[1] / 4096.0
        a0, b0 = int(r0 * fy), int(c0 * fx)
        a1, b1 = max(a0 + 1, int(np.ceil((r0 + size) * fy))), max(b0 + 1, int(np.ceil((c0 + size) * fx)))
        same = small[a0:a1, b0:b1]
        kw = {"origin": "lower", "cmap": "gray", "vmin": vmin, "vmax": vmax}
        axes[r, 0].imshow(crop, interpolation="nearest", **kw)
        axes[r, 0].set_title(f"full resolution ({crop.shape[0]}x{crop.shape[1]} px)", fontsize=8)
        axes[r, 1].imshow(same, interpolation="nearest", **kw)
        axes[r, 1].set_title(f"same sky at 224x448 ({same.shape[0]}x{same.shape[1]} px)",
                             fontsize=8)
        axes[r, 2].imshow(small, interpolation="nearest", aspect="auto", **kw)
        axes[r, 2].add_patch(Rectangle((b0 - 0.5, a0 - 0.5), b1 - b0, a1 - a0, fill=False,
                                       edgecolor="#dd8452", linewidth=1.2))
        axes[r, 2].set_title("whole chip at 224x448", fontsize=8)
        axes[r, 0].set_ylabel(f"{p['label']}\n{str(p['morphology']).replace('_', ' ')}\n"
                              f"{p['body']}", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    return fig
