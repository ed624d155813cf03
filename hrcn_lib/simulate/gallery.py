"""Thumbnail grid of clear and blurry samples per morphology (the book's data chapter, Fig. 2).

Draws only: samples are loaded with :func:`hrcn_lib.preprocess.load_sample`
(the model input) and shrunk with OpenCV's area interpolation.
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

__all__ = ["pick_gallery_rows", "sample_gallery", "THUMB_SHAPE"]

#: (rows, cols) of each thumbnail.
THUMB_SHAPE: tuple[int, int] = (128, 256)


def pick_gallery_rows(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """One clear and one blurry row per morphology (when the manifest has one).

    Args:
        df: manifest (:func:`hrcn_lib.manifest.read_manifest`, absolute ``path``)
            with ``morphology`` and ``blurry`` columns.
        seed: which of the candidates to show.

    Returns:
        rows with a new ``kind`` column (``"clear"``/``"blurry"``), ordered by
        label, morphology, kind.

    Raises:
        ValueError: the manifest lacks ``morphology`` or ``blurry``.
    """
    missing = {"morphology", "blurry", "path", "hdu", "label"} - set(df.columns)
    if missing:
        raise ValueError(f"gallery needs manifest columns {sorted(missing)}")
    out = []
    for _, group in df.groupby(["label", "morphology"], sort=True):
        for kind, flag in (("clear", False), ("blurry", True)):
            cand = group[group["blurry"] == flag]
            if len(cand):
                row = cand.sample(1, random_state=seed).iloc[0].copy()
                row["kind"] = kind
                out.append(row)
    return pd.DataFrame(out).reset_index(drop=True)


def _thumb(path: str, hdu: int) -> np.ndarray:
    from hrcn_lib.preprocess import load_sample

    sample = load_sample(path, int(hdu))
    return cv2.resize(sample, (THUMB_SHAPE[1], THUMB_SHAPE[0]), interpolation=cv2.INTER_AREA)


def sample_gallery(df: pd.DataFrame, seed: int = 0, ax_width: float = 2.6):
    """Figure: per morphology (rows), a clear and a blurry sample (columns).

    Args:
        df: manifest with absolute paths (``read_manifest``), e.g. LCID-sim's.
        seed: picks the samples.
        ax_width: inches per thumbnail.

    Returns:
        matplotlib ``Figure``; a cell without a sample of that kind says so.
    """
    import matplotlib.pyplot as plt

    rows = pick_gallery_rows(df, seed)
    morphs = list(dict.fromkeys(zip(rows["label"], rows["morphology"], strict=True)))
    fig, axes = plt.subplots(len(morphs), 2, figsize=(2 * ax_width, 0.55 * ax_width * len(morphs)
                                                      + 0.4), squeeze=False)
    for i, (label, morph) in enumerate(morphs):
        for j, kind in enumerate(("clear", "blurry")):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f"{label}\n{morph.replace('_', ' ')}", fontsize=8)
            hit = rows[(rows["morphology"] == morph) & (rows["kind"] == kind)]
            if not len(hit):
                ax.text(0.5, 0.5, f"no {kind} sample", ha="center", va="center",
                        transform=ax.transAxes, fontsize=8)
                continue
            r = hit.iloc[0]
            ax.imshow(_thumb(r["path"], r["hdu"]), cmap="gray", origin="lower",
                      vmin=-0.5, vmax=6.0, interpolation="nearest")
            ax.set_title(f"{r['body']} {r['filter']} {r['exptime']:g}s\n"
                         f"FWHM {r['psf_fwhm']:.2f}\" S/N {r['snr']:.1f}", fontsize=7)
    axes[0, 0].annotate("clear", (0.5, 1.45), xycoords="axes fraction", ha="center",
                        fontsize=9, weight="bold")
    axes[0, 1].annotate("blurry", (0.5, 1.45), xycoords="axes fraction", ha="center",
                        fontsize=9, weight="bold")
    fig.tight_layout()
    return fig
