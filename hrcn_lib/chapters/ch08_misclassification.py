"""Chapter 8, misclassified samples (the paper's Sec. 5.2 and Figure 4), and Grad-CAM.

Each wrong prediction gets one of the paper's three causes from what the simulator recorded
about its sample (:func:`assign_cause`): the ``lookalike`` tags (a body built to look like
the other class; ``edge_view`` for a chip that sees only the edge of its body), the
``defects`` it drew, and whether the sample is blurry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hrcn_lib import figures
from hrcn_lib.chapters.context import load_images, pick_rows
from hrcn_lib.datasets import make_dataset
from hrcn_lib.evaluate import as_label
from hrcn_lib.names import CLASS_NAMES
from hrcn_lib.paper_numbers import PAPER_MISCLASSIFICATION_CAUSES
from hrcn_lib.profiles import RunSpec
from hrcn_lib.runtime import load_trained_model
from hrcn_lib.saliency import grad_cam

__all__ = ["CAUSES", "NOISE_DEFECTS", "EDGE_VIEW", "assign_cause", "misclassified",
           "cause_counts", "figure4_rows", "figure4", "explained_spec", "saliency_examples",
           "numbers"]

#: The paper's three causes of misclassification (Sec. 5.2), plus the rest.
CAUSES: tuple[str, ...] = ("inter-class similarity", "insufficient features", "image noise",
                           "not attributed")
#: The simulator's ``defects`` entries that make an "image noise" sample: the paper's bright
#: slanted trail and its "8"-shaped optical ghost (cosmic rays and hot pixels are in every
#: frame and are no cause).
NOISE_DEFECTS: tuple[str, ...] = ("satellite_trail", "ghost")
#: The simulator's ``lookalike`` tag of a chip that sees only the edge of its body.
EDGE_VIEW: str = "edge_view"


def _tags(value: object) -> set[str]:
    """The ``;``-separated entries of a manifest cell (empty / NaN: none)."""
    return {t.strip() for t in str(value or "").split(";")} - {"", "nan", "none"}


def assign_cause(row: Mapping) -> str:
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
    if EDGE_VIEW in looks or str(row.get("blurry", "")).lower() in ("true", "1"):
        return CAUSES[1]
    return CAUSES[3]


def _by_cause(df: pd.DataFrame) -> pd.DataFrame:
    order = {c: i for i, c in enumerate(CAUSES)}
    return df.sort_values("cause", key=lambda c: c.map(order).fillna(len(order)), kind="stable")


def misclassified(predictions: pd.DataFrame) -> pd.DataFrame:
    """The wrongly classified rows, with a ``cause`` column (:func:`assign_cause`), by cause."""
    wrong = predictions.loc[as_label(predictions["label"]) != as_label(predictions["prediction"])]
    return _by_cause(wrong.assign(cause=[assign_cause(r) for r in wrong.to_dict("records")]))


def cause_counts(wrong: pd.DataFrame) -> pd.DataFrame:
    """Misclassified samples per run (rows) and cause (columns); no rows when none is wrong."""
    if wrong.empty:
        return pd.DataFrame(columns=list(CAUSES))
    return pd.crosstab(wrong["run"], wrong["cause"])


def figure4_rows(wrong: pd.DataFrame, predictions: pd.DataFrame, *, per_cause: int = 4,
                 seed: int = 0) -> pd.DataFrame:
    """The samples Figure 4 shows: up to ``per_cause`` distinct misclassified samples per cause.

    When nothing is misclassified, the ``per_cause`` correctly classified samples with
    the smallest margin ``|p_galaxy - p_nsc|`` are shown instead, under the
    cause "lowest-confidence correct", so the figure is never empty.

    Returns:
        Rows of ``wrong`` (or ``predictions``) with a ``cause`` column, by cause.
    """
    if len(wrong):
        rows = wrong.drop_duplicates(subset=["path", "hdu"])
    else:
        margin = (predictions["p_galaxy"] - predictions["p_nsc"]).abs()
        rows = (predictions.assign(cause="lowest-confidence correct", margin=margin)
                .sort_values("margin").drop_duplicates(subset=["path", "hdu"]).head(per_cause))
    return _by_cause(pick_rows(rows, "cause", per_group=per_cause, seed=seed))


def figure4(shown: pd.DataFrame) -> Figure:
    """Figure 4: the samples of :func:`figure4_rows`, one row of the grid per cause."""
    return figures.misclassified_grid(
        load_images(shown), [f"{r.body}: {r.label} -> {r.prediction}" for r in shown.itertuples()],
        list(shown["cause"]))


def explained_spec(specs: Sequence[RunSpec]) -> RunSpec:
    """The pair whose Grad-CAM the chapter shows: HR-CelestialNet when trained, else the first.

    Raises:
        ValueError: no pair at all.
    """
    if not specs:
        raise ValueError("explained_spec: no trained pair to explain")
    return next((s for s in specs if s.model == "hr-celestialnet"), specs[0])


def saliency_examples(model_dir: Path, rows: pd.DataFrame, dataset_name: str, *,
                      device: str | None = None, cache_dir: Path | None = None
                      ) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Grad-CAM heat maps of a trained model on some samples.

    Args:
        model_dir: a trained run folder (``model.pt``).
        rows: the samples (manifest rows with ``path, hdu, label, body``).
        dataset_name: ``"lcid"`` or ``"lcid-resize"`` (the model's input form).
        device: torch device (``None``: the library's default).
        cache_dir: preprocessed-sample cache.

    Returns:
        ``(images, heat maps, captions)``: model inputs (H, W) float32, heat
        maps (H, W) in [0, 1], and "body: true -> explained class" captions.
    """
    model = load_trained_model(model_dir, device=device)
    dev = next(model.parameters()).device
    data = make_dataset(rows.reset_index(drop=True), dataset_name, cache_dir=cache_dir)
    images, heats, captions = [], [], []
    for i in range(len(data)):
        x, y = data[i]
        heat, cls = grad_cam(model, x.to(dev))
        images.append(x[0].numpy())
        heats.append(heat)
        captions.append(f"{rows.iloc[i]['body']}: {CLASS_NAMES[int(y)]} -> {CLASS_NAMES[cls]}")
    return images, heats, captions


def numbers(predictions: pd.DataFrame, wrong: pd.DataFrame) -> dict[str, object]:
    """The numbers and words the chapter's prose glues.

    Returns:
        ``n_preds`` and ``n_wrong`` (the chapter's predictions and how many are wrong), and the
        paper's examples of each cause (Sec. 5.2, :data:`PAPER_MISCLASSIFICATION_CAUSES`) as
        ``paper_examples_inter_class_similarity``, ``paper_examples_insufficient_features``,
        ``paper_examples_image_noise``.
    """
    values: dict[str, object] = {"n_preds": len(predictions), "n_wrong": len(wrong)}
    for cause, examples in PAPER_MISCLASSIFICATION_CAUSES.items():
        key = "paper_examples_" + cause.replace("-", "_").replace(" ", "_")
        values[key] = " and ".join(examples)
    return values
