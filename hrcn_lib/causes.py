"""Why was a sample misclassified? The paper's three causes (Sec. 5.2), two ways.

* **From the simulator's truth** (:func:`cause_from_truth`): what LCID-sim recorded about the
  sample -- a body built to look like the other class (``lookalike``), a satellite trail or
  an optical ghost (``defects``), a chip that sees only the edge of its body (``edge_view``)
  or a blurry (low S/N) sample. Exact for LCID-sim, unavailable for real data.
* **From the model and the image** (:func:`cause_from_image`), as a reader with only the
  image and the trained network could: the object is found in the preprocessed sample
  (:func:`measure_image`: 8 x 8-pixel screen view, then 4 x 4 of those, pixels 3 sigma above
  the background), which gives its per-pixel S/N and the fraction of the frame it covers;
  Grad-CAM (:func:`hrcn_lib.saliency.grad_cam`) says where the network looked
  (:func:`heat_on_object`: the fraction of the heat map on the object). Then:

  1. too little of the object to go on -- measured per-pixel S/N below the simulator's
     blur threshold (:data:`~hrcn_lib.simulate.exposures.BLURRY_SNR`) or object on less
     than :data:`~hrcn_lib.simulate.screening.EDGE_VIEW_FRACTION` of the frame:
     **insufficient features**;
  2. the network looked mostly off the object (less than :data:`OBJECT_HEAT` of its heat on
     it): **image noise** (a trail, a ghost, a bright artefact drew it);
  3. it looked at a well-seen object and still chose the other class: **inter-class
     similarity**.

:func:`agreement` compares the two. The thresholds are the simulator's own definitions (blurry
below S/N 0.5; edge view below 30 % of the frame), measured here from the image instead of
read from the simulator.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import cohen_kappa_score

from hrcn_lib import figures
from hrcn_lib.datasets import make_dataset
from hrcn_lib.metrics import bootstrap_excess
from hrcn_lib.preprocess import load_sample
from hrcn_lib.saliency import grad_cam
from hrcn_lib.simulate.exposures import BLURRY_SNR
from hrcn_lib.simulate.screening import EDGE_VIEW_FRACTION

__all__ = ["CAUSES", "NOISE_DEFECTS", "EDGE_VIEW", "OBJECT_HEAT", "SCREEN_BIN", "ZOOM",
           "DETECT_SIGMA", "ImageMeasures", "measure_image", "heat_on_object",
           "cause_from_image", "cause_from_truth", "true_causes", "agreement", "error_excess",
           "TRUTH_COLUMNS", "diagnose", "DIAGNOSIS_FIELDS"]

#: Columns of :func:`diagnose`'s table (a record's ``causes.csv`` adds ``pair`` and ``set``).
DIAGNOSIS_FIELDS: tuple[str, ...] = (
    "obsid", "hdu", "body", "label", "pred", "p_nsc", "snr_image", "object_fraction_image",
    "heat_on_object", "cause_image", "cause_truth", "causes_truth", "snr", "object_fraction",
    "gradcam")

#: The paper's three causes of misclassification (Sec. 5.2), plus the rest.
CAUSES: tuple[str, ...] = ("inter-class similarity", "insufficient features", "image noise",
                           "not attributed")
#: The simulator's ``defects`` entries that make an "image noise" sample: the paper's bright
#: slanted trail and its "8"-shaped optical ghost (cosmic rays and hot pixels are in every
#: frame and are no cause).
NOISE_DEFECTS: tuple[str, ...] = ("satellite_trail", "ghost")
#: The simulator's ``lookalike`` tag of a chip that sees only the edge of its body.
EDGE_VIEW: str = "edge_view"
#: Fraction of the Grad-CAM heat on the object below which the network "looked elsewhere".
OBJECT_HEAT = 0.5
#: Pixels averaged per side into one screen pixel, and screen pixels per side into one
#: zoomed-out pixel (the screening's view of a 2048 x 4096 sample).
SCREEN_BIN = 8
ZOOM = 4
#: Zoomed-out pixels this many sigma above the background are object.
DETECT_SIGMA = 3.0


@dataclass(frozen=True)
class ImageMeasures:
    """What :func:`measure_image` finds in one preprocessed sample.

    Attributes:
        snr: mean per-pixel S/N of the detected object (its mean excess over the background
            divided by the per-pixel noise); 0 when nothing is detected.
        object_fraction: fraction of the frame the detected object covers, in [0, 1].
        mask: bool (H / 32, W / 32): the detected object at the zoomed-out scale.
    """

    snr: float
    object_fraction: float
    mask: np.ndarray


def _block_mean(image: np.ndarray, k: int) -> np.ndarray:
    h, w = (image.shape[0] // k) * k, (image.shape[1] // k) * k
    return image[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3), dtype=np.float64)


def measure_image(sample: np.ndarray) -> ImageMeasures:
    """Find the object of a preprocessed sample and measure it, from the pixels alone.

    The sample is averaged over :data:`SCREEN_BIN` x :data:`SCREEN_BIN` blocks (the noise of
    a block, ``sigma``, is 1.4826 x the median absolute difference of horizontally adjacent
    blocks / sqrt(2): smooth light cancels out), then over :data:`ZOOM` x :data:`ZOOM`
    blocks of those (noise ``sigma / ZOOM``). The background is the 10th percentile of the
    zoomed view plus 1.28 of its sigma (the sky whenever a tenth of the frame is sky);
    zoomed pixels :data:`DETECT_SIGMA` sigma above it are the object.

    Args:
        sample: float (H, W) preprocessed sample (2048 x 4096; any size with H, W >= 64).

    Returns:
        :class:`ImageMeasures`.

    Raises:
        ValueError: not a 2-D array of at least 64 x 64 finite-valued pixels.
    """
    img = np.asarray(sample, dtype=np.float32)
    if img.ndim != 2 or min(img.shape) < SCREEN_BIN * ZOOM * 2:
        raise ValueError(f"measure_image: expected a 2-D sample of at least 64 x 64 pixels, "
                         f"got shape {img.shape}")
    img = np.where(np.isfinite(img), img, np.float32(0.0))
    view = _block_mean(img, SCREEN_BIN)
    sigma = 1.4826 * float(np.median(np.abs(np.diff(view, axis=1)))) / np.sqrt(2.0)
    zoom = _block_mean(view, ZOOM)
    sigma_zoom = max(sigma / ZOOM, 1e-12)
    background = float(np.percentile(zoom, 10)) + 1.28 * sigma_zoom
    mask = zoom > background + DETECT_SIGMA * sigma_zoom
    if not mask.any():
        return ImageMeasures(0.0, 0.0, mask)
    per_pixel_noise = max(sigma * SCREEN_BIN, 1e-12)  # independent pixels: block mean / 8
    snr = float((zoom[mask] - background).mean()) / per_pixel_noise
    return ImageMeasures(snr, float(mask.mean()), mask)


def heat_on_object(heat: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of a Grad-CAM heat map that lies on the object.

    Args:
        heat: float (h, w) in [0, 1], at the model's input size.
        mask: bool object mask at any size (resized to ``heat``'s, nearest neighbour).

    Returns:
        ``sum(heat on object) / sum(heat)`` in [0, 1]; NaN when the heat map is all zero.
    """
    heat = np.asarray(heat, dtype=np.float64)
    total = float(heat.sum())
    if total <= 0:
        return float("nan")
    on = cv2.resize(np.asarray(mask, dtype=np.uint8), (heat.shape[1], heat.shape[0]),
                    interpolation=cv2.INTER_NEAREST).astype(bool)
    return float(heat[on].sum() / total)


def cause_from_image(snr: float, object_fraction: float, heat_fraction: float) -> str:
    """The cause a reader assigns from the image and the network (see the module docstring).

    Args:
        snr: :attr:`ImageMeasures.snr`.
        object_fraction: :attr:`ImageMeasures.object_fraction`.
        heat_fraction: :func:`heat_on_object` (NaN: no heat anywhere, treated as "not
            on the object").
    """
    if snr < BLURRY_SNR or object_fraction < EDGE_VIEW_FRACTION:
        return CAUSES[1]
    if not heat_fraction >= OBJECT_HEAT:  # NaN included
        return CAUSES[2]
    return CAUSES[0]


def _tags(value: object) -> set[str]:
    """The ``;``-separated entries of a manifest cell (empty / NaN: none)."""
    return {t.strip() for t in str(value or "").split(";")} - {"", "nan", "none"}


def _is_true(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0")


def true_causes(row: Mapping) -> list[str]:
    """Every cause the simulator put into a sample, in :data:`CAUSES` order (may be empty):
    a look-alike body, a trail or ghost, an edge view or a blurry sample."""
    looks = _tags(row.get("lookalike"))
    found = []
    if looks - {EDGE_VIEW}:
        found.append(CAUSES[0])
    if EDGE_VIEW in looks or _is_true(row.get("edge_view")) or _is_true(row.get("blurry")):
        found.append(CAUSES[1])
    if _tags(row.get("defects")) & set(NOISE_DEFECTS):
        found.append(CAUSES[2])
    return found


def cause_from_truth(row: Mapping) -> str:
    """The paper's cause (Sec. 5.2) of one misclassified sample, from what the simulator recorded.

    In this order: a built-in look-alike of the body (``lookalike`` holds e.g.
    ``"arm_segment~nebula_filament"``) -> inter-class similarity; a trail or ghost among
    its ``defects`` (:data:`NOISE_DEFECTS`) -> image noise; an ``edge_view`` chip or a
    ``blurry`` sample -> insufficient features; otherwise "not attributed".
    """
    looks = _tags(row.get("lookalike"))
    if looks - {EDGE_VIEW}:
        return CAUSES[0]
    if _tags(row.get("defects")) & set(NOISE_DEFECTS):
        return CAUSES[2]
    if EDGE_VIEW in looks or _is_true(row.get("edge_view")) or _is_true(row.get("blurry")):
        return CAUSES[1]
    return CAUSES[3]


def agreement(diagnosed: pd.DataFrame) -> dict[str, object]:
    """How often the cause read from the model and the image matches the simulator's.

    Args:
        diagnosed: rows with ``cause_image``, ``cause_truth`` (:func:`cause_from_truth`) and
            ``causes_truth`` (``;``-joined :func:`true_causes`).

    Returns:
        ``n``; ``among_true`` (fraction whose image cause is one of the causes the simulator
        put into the sample); ``primary`` (fraction equal to :func:`cause_from_truth`);
        ``kappa`` (Cohen's kappa against it, scikit-learn; NaN when undefined) and
        ``table`` (crosstab, rows image cause, columns the simulator's).
    """
    n = len(diagnosed)
    if n == 0:
        return {"n": 0, "among_true": float("nan"), "primary": float("nan"),
                "kappa": float("nan"), "table": pd.DataFrame()}
    image = diagnosed["cause_image"].astype(str)
    truth = diagnosed["cause_truth"].astype(str)
    among = [c in str(s).split(";") for c, s in zip(image, diagnosed["causes_truth"],
                                                     strict=True)]
    kappa = (float(cohen_kappa_score(image, truth))
             if len(set(image) | set(truth)) > 1 else float("nan"))
    return {"n": n, "among_true": float(np.mean(among)), "primary": float((image == truth).mean()),
            "kappa": kappa,
            "table": pd.crosstab(image.rename("from the model and the image"),
                                 truth.rename("from the simulator"))}


#: Manifest columns :func:`true_causes` reads.
TRUTH_COLUMNS: tuple[str, ...] = ("lookalike", "edge_view", "blurry", "defects")


def error_excess(rows: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Are samples that carry one of the paper's causes misclassified more often?

    The test of Sec. 5.2's claim that LCID-sim can make: the simulator knows every sample's
    causes (:func:`true_causes`), so for each cause the error rate of the samples with it is
    compared with that of the samples without it, within each true class
    (:func:`hrcn_lib.metrics.bootstrap_excess`, 95 % interval over bodies).

    Args:
        rows: evaluated samples: ``body``, ``label``, ``pred`` and :data:`TRUTH_COLUMNS`
            (e.g. a record's predictions, one or several runs).

    Returns:
        DataFrame indexed by the first three :data:`CAUSES` with ``n with``,
        ``errors with`` and ``errors without`` (fractions), ``excess``, ``low``, ``high``
        (fractions; NaN when no class has samples both with and without the cause), and
        ``bodies with`` / ``bodies without``: the distinct bodies on each side within the
        classes compared (the bootstrap resamples them, so few bodies on a side make its
        interval say little).

    Raises:
        KeyError: a required column is missing.
    """
    missing = [c for c in ("body", "label", "pred", *TRUTH_COLUMNS) if c not in rows.columns]
    if missing:
        raise KeyError(f"error_excess: rows lack the columns {missing}")
    err = (rows["label"].astype(str) != rows["pred"].astype(str)).to_numpy()
    found = [set(true_causes(r)) for r in rows[list(TRUTH_COLUMNS)].to_dict("records")]
    out = []
    labels, bodies = rows["label"].astype(str).to_numpy(), rows["body"].astype(str).to_numpy()
    for cause in CAUSES[:3]:
        has = np.array([cause in f for f in found], dtype=bool)
        excess, low, high, n = bootstrap_excess(err, has, labels, bodies,
                                                n_boot=n_boot, seed=seed)
        compared = np.isin(labels, [c for c in np.unique(labels)
                                    if has[labels == c].any() and (~has[labels == c]).any()])
        out.append({"cause": cause, "n with": int(has.sum()),
                    "errors with": float(err[has].mean()) if has.any() else float("nan"),
                    "errors without": float(err[~has].mean()) if (~has).any() else float("nan"),
                    "excess": excess, "low": low, "high": high,
                    "bodies with": len(set(bodies[compared & has])),
                    "bodies without": len(set(bodies[compared & ~has]))})
    return pd.DataFrame(out).set_index("cause")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    return buf.getvalue()


def diagnose(model: torch.nn.Module, rows: pd.DataFrame, dataset_name: str, *,
             cache_dir: Path | None = None, images_for: int = 0,
             progress: Callable[[str], None] | None = None
             ) -> tuple[pd.DataFrame, dict[str, bytes]]:
    """The cause of each misclassified sample, from the model and the image, beside the
    simulator's (:mod:`hrcn_lib.causes`), and Grad-CAM pictures of the first ``images_for``.

    Args:
        model: the trained network.
        rows: the misclassified samples: ``path, hdu, obsid, body, label, pred, p_nsc`` and the
            manifest's truth columns (``lookalike, defects, edge_view, blurry, snr,
            object_fraction``).
        dataset_name: what the model reads (``"lcid"`` or ``"lcid-resize"``).
        cache_dir: preprocessed-sample cache of the model's inputs.
        images_for: how many of the rows get a Grad-CAM PNG.

    Returns:
        ``(table, images)``: one row per sample (:data:`DIAGNOSIS_FIELDS`) and PNG name ->
        bytes (``<obsid>_<hdu>.png``, a :func:`hrcn_lib.figures.saliency_grid` of one panel).
    """
    dev = next(model.parameters()).device
    data = make_dataset(rows.reset_index(drop=True), dataset_name, cache_dir=cache_dir)
    out, images = [], {}
    for i, row in enumerate(rows.to_dict("records")):
        sample = load_sample(str(row["path"]), int(row["hdu"]))
        measures = measure_image(sample)
        x, _ = data[i]
        heat, _ = grad_cam(model, x.to(dev))
        on = heat_on_object(heat, measures.mask)
        png = ""
        if i < images_for:
            png = f"{row['obsid']}_{int(row['hdu'])}.png"
            caption = f"{row['body']}: {row['label']} -> {row['pred']}"
            images[png] = _png(figures.saliency_grid([x[0].numpy()], [heat], [caption],
                                                     max_pixels=160))
        out.append({"obsid": row["obsid"], "hdu": int(row["hdu"]), "body": row["body"],
                    "label": row["label"], "pred": row["pred"], "p_nsc": row["p_nsc"],
                    "snr_image": measures.snr, "object_fraction_image": measures.object_fraction,
                    "heat_on_object": on,
                    "cause_image": cause_from_image(measures.snr, measures.object_fraction, on),
                    "cause_truth": cause_from_truth(row), "causes_truth": ";".join(
                        true_causes(row)), "snr": row.get("snr"),
                    "object_fraction": row.get("object_fraction"), "gradcam": png})
        if progress:
            progress(f"diagnosed {i + 1}/{len(rows)}")
    return pd.DataFrame(out, columns=list(DIAGNOSIS_FIELDS)), images
