"""Chapter 2, preprocessing raw frames (the paper's Sec. 2.2, Figure 1, Table 4's times)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from astropy.io import fits
from matplotlib.figure import Figure

from hrcn_lib import figures
from hrcn_lib.datasets import resize_sample
from hrcn_lib.names import RESIZE_SIZE
from hrcn_lib.paper_numbers import PAPER_TABLE4
from hrcn_lib.preprocess import load_sample

__all__ = ["numbers", "figure1_panels", "resize_figure"]


def numbers(timing: pd.DataFrame) -> dict[str, object]:
    """The numbers the chapter's prose glues.

    Args:
        timing: :func:`hrcn_lib.evaluate.time_preprocessing` output.

    Returns:
        ``pre_n``, ``pre_lcid_ms``, ``pre_resize_ms`` (medians of this run),
        ``pre_lcid_range`` and ``pre_resize_range`` (``"a-b ms"``: the fastest and slowest
        sample, so a median of a few samples is read with its spread) and the paper's
        ``paper_pre_lcid_ms``, ``paper_pre_resize_ms`` (Table 4: one value, an average, for
        every pair of a data set).
    """
    return {
        "pre_n": len(timing),
        "pre_lcid_ms": float(timing["lcid_ms"].median()),
        "pre_resize_ms": float(timing["lcid_resize_ms"].median()),
        "pre_lcid_range": _range(timing["lcid_ms"]),
        "pre_resize_range": _range(timing["lcid_resize_ms"]),
        "paper_pre_lcid_ms": PAPER_TABLE4[("hr-celestialnet", "lcid")]["preprocess_ms"],
        "paper_pre_resize_ms": PAPER_TABLE4[("alexnet", "lcid-resize")]["preprocess_ms"],
    }


def _range(ms: pd.Series) -> str:
    return f"{ms.min():.1f}-{ms.max():.1f} ms"


def figure1_panels(df: pd.DataFrame, loader: Callable | None = None
                   ) -> list[tuple[str, int, np.ndarray, np.ndarray, str]]:
    """Inputs of :func:`hrcn_lib.figures.figure1`: one raw SCI array + sample per camera.

    Picks, like the paper, a galaxy exposure of ACS/WFC and an NSC exposure of
    WFC3/UVIS when the manifest has them (else any exposure of that camera).

    Returns:
        ``(instrument, hdu, raw DN array (raw_shape), sample (2048, 4096), caption)`` per camera.
    """
    loader = loader or load_sample
    panels = []
    for inst, label in (("ACS/WFC", "galaxy"), ("WFC3/UVIS", "NSC")):
        cand = df.loc[df["instrument"] == inst]
        if cand.empty:
            continue
        pref = cand.loc[cand["label"] == label]
        rec = (pref if not pref.empty else cand).iloc[0]
        path, hdu = str(rec["path"]), int(rec["hdu"])
        with fits.open(path) as hdul:
            raw = np.asarray(hdul[hdu].data, dtype=np.float32)
        caption = f"{rec['body']} ({rec['label']}) {rec['obsid']} HDU {hdu}"
        panels.append((inst, hdu, raw, loader(path, hdu), caption))
    return panels


def resize_figure(sample: np.ndarray) -> Figure:
    """One LCID sample beside its LCID-Resize version (:func:`hrcn_lib.datasets.resize_sample`)."""
    small = resize_sample(sample, RESIZE_SIZE)
    return figures.thumbnail_gallery(
        [sample, small], [f"LCID {sample.shape[0]} x {sample.shape[1]}",
                          f"LCID-Resize {small.shape[0]} x {small.shape[1]}"],
        ncols=2, max_pixels=512)
