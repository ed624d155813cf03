"""Images of samples: display scaling, thumbnails, Figure 2, Figure 4, Grad-CAM grids, and
full resolution against LCID-Resize."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["display_image", "show_image", "check_image", "thumbnail_gallery", "pick_gallery_rows",
           "figure2", "misclassified_grid", "saliency_grid", "resolution_comparison"]


def check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """``image`` as a 2-D array ((1, H, W) is squeezed); ValueError for anything else."""
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
    arr = check_image(image).astype(np.float32, copy=False)
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
    factor = int(np.ceil(max(arr.shape) / max_pixels))
    if factor <= 1:
        return arr
    h, w = (arr.shape[0] // factor) * factor, (arr.shape[1] // factor) * factor
    if h == 0 or w == 0:
        return arr[::factor, ::factor]
    return arr[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def show_image(ax, image: np.ndarray, title: str = "", max_pixels: int = 1024, cmap: str = "gray",
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


def pick_gallery_rows(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The samples of :func:`figure2`: one clear and one blurry row per morphology (if any).

    Args:
        df: manifest with ``label``, ``morphology`` and ``blurry`` columns (LCID-sim's).
        seed: which of the candidates to show.

    Returns:
        The chosen rows with a new ``kind`` column (``"clear"``/``"blurry"``), ordered by
        label, morphology, kind.

    Raises:
        ValueError: the manifest lacks one of those columns.
    """
    missing = {"morphology", "blurry", "label"} - set(df.columns)
    if missing:
        raise ValueError(f"Figure 2 needs manifest columns {sorted(missing)}")
    out = []
    for _, group in df.groupby(["label", "morphology"], sort=True):
        for kind, flag in (("clear", False), ("blurry", True)):
            cand = group[group["blurry"] == flag]
            if len(cand):
                row = cand.sample(1, random_state=seed).iloc[0].copy()
                row["kind"] = kind
                out.append(row)
    return pd.DataFrame(out).reset_index(drop=True)


#: Display range of the samples in Figure 2 (the preprocessed sky is ~0, saturation ~10).
_FIGURE2_RANGE: tuple[float, float] = (-0.5, 6.0)


def figure2(rows: pd.DataFrame, samples: Sequence[np.ndarray], *, ax_width: float = 2.6,
            max_pixels: int = 256) -> Figure:
    """The paper's Figure 2 for simulated data: per morphology (rows), a clear and a blurry
    sample (columns), as the models see them after preprocessing.

    Args:
        rows: :func:`pick_gallery_rows` output (``label, morphology, kind, body, filter,
            exptime, psf_fwhm, snr``).
        samples: one preprocessed sample (H, W) per row, in the same order.
        ax_width: inches per thumbnail.
        max_pixels: display size of each thumbnail (block-averaged).

    Returns:
        A Figure; a cell without a sample of that kind says so.

    Raises:
        ValueError: ``rows`` empty or ``samples`` of another length.
    """
    if rows.empty or len(samples) != len(rows):
        raise ValueError(f"figure2: {len(rows)} rows and {len(samples)} samples: expected the "
                         "same non-zero number")
    morphs = list(dict.fromkeys(zip(rows["label"], rows["morphology"], strict=True)))
    fig = Figure(figsize=(2 * ax_width, 0.55 * ax_width * len(morphs) + 0.6),
                 layout="constrained")
    axes = fig.subplots(len(morphs), 2, squeeze=False)
    for i, (label, morph) in enumerate(morphs):
        for j, kind in enumerate(("clear", "blurry")):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f"{label}\n{morph.replace('_', ' ')}", fontsize=8)
            if i == 0:
                ax.set_title(kind, fontsize=9, weight="bold", loc="center", pad=18)
            hit = np.flatnonzero(((rows["label"] == label) & (rows["morphology"] == morph)
                                  & (rows["kind"] == kind)).to_numpy())
            if not len(hit):
                ax.text(0.5, 0.5, f"no {kind} sample", ha="center", va="center",
                        transform=ax.transAxes, fontsize=8)
                continue
            r = rows.iloc[hit[0]]
            ax.imshow(display_image(samples[hit[0]], max_pixels), cmap="gray", origin="lower",
                      vmin=_FIGURE2_RANGE[0], vmax=_FIGURE2_RANGE[1], interpolation="nearest",
                      aspect="auto")
            ax.set_xlabel(f"{r['body']} {r['filter']} {r['exptime']:g}s, "
                          f"FWHM {r['psf_fwhm']:.2f}\" S/N {r['snr']:.1f}", fontsize=7)
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
        show_image(ax, img, title, max_pixels)
    if row_labels:
        for r, lab in enumerate(row_labels[:nrows]):
            axes[r, 0].set_ylabel(lab, fontsize=9)
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
            show_image(ax, images[k], captions[k], max_pixels)
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
        img, heat = check_image(img), check_image(heat, "heat map")
        if img.shape != heat.shape:
            raise ValueError(f"heat map of {cap!r}: shape {heat.shape} differs from image {img.shape}")
        ax = axes.flat[k]
        ax.axis("on")
        show_image(ax, img, cap, max_pixels)
        ax.imshow(display_image(heat, max_pixels), origin="lower", cmap="jet", alpha=alpha,
                  vmin=0, vmax=1, aspect="auto", interpolation="bilinear")
    return fig


def picture_grid(pictures: Sequence[np.ndarray], captions: Sequence[str], *,
                 ncols: int = 3) -> Figure:
    """Already-rendered pictures (e.g. a record's Grad-CAM PNGs, read by the caller) in a
    grid, each under its caption, shown as they are (no stretch).

    Args:
        pictures: RGB or RGBA arrays (H, W, 3 | 4), float in [0, 1] or uint8.
        captions: one per picture.
        ncols: pictures per row (fewer when there are fewer pictures).

    Raises:
        ValueError: on empty input, unequal lengths or a picture that is not (H, W, 3 | 4).
    """
    if not pictures:
        raise ValueError("picture_grid: no picture to draw")
    if len(pictures) != len(captions):
        raise ValueError(f"picture_grid: {len(pictures)} pictures but {len(captions)} captions")
    for pic, cap in zip(pictures, captions, strict=True):
        if np.ndim(pic) != 3 or np.shape(pic)[2] not in (3, 4):
            raise ValueError(f"picture {cap!r}: expected (H, W, 3 | 4), got {np.shape(pic)}")
    ncols = max(1, min(ncols, len(pictures)))
    nrows = int(np.ceil(len(pictures) / ncols))
    fig = Figure(figsize=(3.4 * ncols, 2.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, pic, cap in zip(axes.flat, pictures, captions, strict=False):
        ax.imshow(pic, interpolation="nearest")
        ax.set_title(cap, fontsize=8)
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
        crop = check_image(p["crop"], "crop")
        small = check_image(p["resized"], "resized")
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
