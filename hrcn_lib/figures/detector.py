"""The raw layouts of the cameras drawn from :mod:`hrcn_lib.instruments`, and Figure 1."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from hrcn_lib.figures.images import check_image, show_image
from hrcn_lib.instruments import ChipLayout, chip_layout

__all__ = ["REGION_COLOURS", "draw_layout", "layout_figure", "figure1"]

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
        raw = check_image(raw, f"raw frame of {caption}")
        sample = check_image(sample, f"sample of {caption}")
        if raw.shape != layout.raw_shape:
            raise ValueError(f"raw frame of {caption} ({instrument} HDU {hdu}): expected shape "
                             f"{layout.raw_shape}, got {raw.shape}")
        letter = "ab"[i] if i < 2 else str(i + 1)
        draw_layout(axes[i, 0], layout, label=False)
        axes[i, 0].set_title(f"({letter}) {instrument} full-frame layout ({layout.chip})", fontsize=9)
        nrow, ncol = layout.raw_shape
        show_image(axes[i, 1], raw, f"raw {caption} [{nrow} x {ncol}, DN]", max_pixels,
              extent=(0, ncol, 0, nrow))
        for region in layout.regions:
            if region.kind == "science":
                continue
            (r0, r1), (c0, c1) = region.rows, region.cols
            axes[i, 1].add_patch(Rectangle((c0, r0), c1 - c0, r1 - r0, fill=False, lw=0.8,
                                           edgecolor=REGION_COLOURS.get(region.kind, "grey")))
        show_image(axes[i, 2], sample, f"cropped sample [{sample.shape[0]} x {sample.shape[1]}]",
              max_pixels)
    handles = [Rectangle((0, 0), 1, 1, color=c, alpha=0.55) for c in REGION_COLOURS.values()]
    fig.legend(handles, [_REGION_LABELS[k] for k in REGION_COLOURS], loc="outside lower center",
               ncol=6, fontsize=8)
    return fig
