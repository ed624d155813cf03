"""Chapter 8, misclassified samples (the paper's Sec. 5.2 and Figure 4), and Grad-CAM.

Each wrong prediction gets one of the paper's three causes from what the simulator recorded
about its sample (:func:`assign_cause`, :func:`hrcn_lib.causes.cause_from_truth`): the
``lookalike`` tags (a body built to look like the other class; ``edge_view`` for a chip
that sees only the edge of its body), the ``defects`` it drew, and whether the sample is
blurry. Chapter 9 assigns them again from the model and the image and compares the two;
:func:`cause_sources` sets the paper's, the record's and this build's side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hrcn_lib import figures
from hrcn_lib.causes import CAUSES, EDGE_VIEW, NOISE_DEFECTS, cause_from_truth
from hrcn_lib.chapters.context import load_images, pick_rows, record_label
from hrcn_lib.datasets import make_dataset
from hrcn_lib.evaluate import as_label
from hrcn_lib.names import CLASS_NAMES
from hrcn_lib.paper_numbers import PAPER_MISCLASSIFICATION_CAUSES
from hrcn_lib.profiles import RunSpec
from hrcn_lib.records import Record
from hrcn_lib.runtime import load_trained_model
from hrcn_lib.saliency import grad_cam

__all__ = ["CAUSES", "NOISE_DEFECTS", "EDGE_VIEW", "assign_cause", "misclassified",
           "cause_counts", "cause_sources", "figure4_rows", "figure4", "explained_spec",
           "explained_why", "record_heatmaps", "check_errors",
           "saliency_examples", "numbers"]


def assign_cause(row: Mapping) -> str:
    """The paper's cause of one misclassified sample from what the simulator recorded
    (:func:`hrcn_lib.causes.cause_from_truth`)."""
    return cause_from_truth(row)


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


def cause_sources(wrong: pd.DataFrame, record: Record | None = None, *,
                  live_name: str = "this build", checks: Sequence[str] = ()) -> pd.DataFrame:
    """Misclassified samples per cause: the paper's, the record's and this build's.

    Args:
        wrong: this build's :func:`misclassified` rows (every trained pair, both sets).
        record: the committed record (its ``causes.csv``: the main runs' errors).
        live_name: the label of this build's column.
        checks: run labels of this build's pipeline checks (``RunSpec.note``): a network
            not sized to learn errs on one class wholesale, so its errors are left out of
            this build's column (whose name says so).

    Returns:
        DataFrame indexed by cause (:data:`CAUSES`) with ``paper (Sec. 5.2)`` (the paper
        names examples, it counts nothing), the record's counts by the simulator's truth
        and from the model and the image (chapter 9), and this build's counts by the
        simulator's truth.
    """
    paper = {c: "; ".join(PAPER_MISCLASSIFICATION_CAUSES.get(c, ())) or "-" for c in CAUSES}
    table = pd.DataFrame({"paper (Sec. 5.2)": pd.Series(paper)})
    if record is not None and len(record.causes):
        rec = record.causes
        name = record_label(record)
        table[f"{name}: simulator's truth"] = rec["cause_truth"].value_counts().reindex(
            list(CAUSES), fill_value=0)
        table[f"{name}: model and image"] = rec["cause_image"].value_counts().reindex(
            list(CAUSES), fill_value=0)
    elif record is not None:
        table[record_label(record)] = "no misclassified sample"
    else:
        table[record_label(None)] = "-"
    if len(checks) and len(wrong):
        wrong = wrong.loc[~wrong["run"].isin(list(checks))]
        live_name += " without its pipeline checks"
    table[f"{live_name}: simulator's truth"] = (
        wrong["cause"].value_counts().reindex(list(CAUSES), fill_value=0)
        if len(wrong) else pd.Series(0, index=list(CAUSES)))
    table.index.name = "cause"
    return table


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
    """The pair whose Grad-CAM the chapter shows: HR-CelestialNet when trained to learn, else
    the first pair trained to learn, else (every pair a pipeline check, ``RunSpec.note``)
    HR-CelestialNet or the first.

    Raises:
        ValueError: no pair at all.
    """
    if not specs:
        raise ValueError("explained_spec: no trained pair to explain")
    pool = [s for s in specs if not s.note] or list(specs)
    return next((s for s in pool if s.model == "hr-celestialnet"), pool[0])


def explained_why(spec: RunSpec, specs: Sequence[RunSpec]) -> str:
    """Why the chapter's heat maps are ``spec``'s, as a sentence for the prose."""
    hr = next((s for s in specs if s.model == "hr-celestialnet"), None)
    if spec.note:
        return (f"Every pair of this build is a pipeline check, so these are {spec.label}'s, "
                "an untrained network's: they show where such a network looks, not where a "
                "trained one does.")
    if hr is not None and hr is not spec:
        return (f"They are {spec.label}'s: this build's {hr.label} is a pipeline check "
                f"({hr.note}); the record's heat maps of HR-CelestialNet are below.")
    return f"They are {spec.label}'s."


def record_heatmaps(record: Record | None, pair: str = "hr-celestialnet_lcid"
                    ) -> tuple[list[np.ndarray], list[str]]:
    """The record's Grad-CAM pictures of ``pair``'s misclassified samples (``gradcam/``,
    drawn when the record was made) with captions from ``causes.csv``: the set, the cause read
    from the model and the image, the simulator's, and the fraction of the heat on the
    object.

    Returns:
        ``(pictures, captions)``: RGB(A) float arrays (H, W, 3 | 4) and one caption each;
        both empty without a record or pictures.
    """
    if record is None or record.causes.empty or "gradcam" not in record.causes:
        return [], []
    files = {p.name: p for p in record.gradcam}
    rows = record.causes.loc[(record.causes["pair"] == pair)
                             & record.causes["gradcam"].isin(list(files))]
    pictures = [matplotlib.image.imread(files[name]) for name in rows["gradcam"]]
    captions = [f"{r.set}: model and image: {r.cause_image}\nsimulator: {r.cause_truth}; "
                f"heat on object {float(r.heat_on_object):.2f}" for r in rows.itertuples()]
    return pictures, captions


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


def check_errors(wrong: pd.DataFrame, specs: Sequence[RunSpec]) -> str:
    """A sentence naming how many of ``wrong`` come from pipeline checks (``RunSpec.note``),
    which err on one class wholesale (never empty: the chapter glues it into its prose)."""
    checks = [s.label for s in specs if s.note]
    if not checks:
        return "Every pair of this build is trained to learn (none is a pipeline check)."
    n = int(wrong["run"].isin(checks).sum()) if len(wrong) else 0
    if n == 0:
        return f"None of them comes from this build's pipeline checks ({', '.join(checks)})."
    return (f"{n} of them come from this build's pipeline checks ({', '.join(checks)}: not "
            "sized to learn, they answer most samples alike, so their errors say little about "
            "causes); the side-by-side table below leaves them out of this build's column.")


def numbers(predictions: pd.DataFrame, wrong: pd.DataFrame,
            specs: Sequence[RunSpec] = ()) -> dict[str, object]:
    """The numbers and words the chapter's prose glues.

    Returns:
        ``n_preds`` and ``n_wrong`` (the chapter's predictions and how many are wrong),
        ``check_errors`` (:func:`check_errors` of ``specs``), and the paper's examples of
        each cause (Sec. 5.2, :data:`PAPER_MISCLASSIFICATION_CAUSES`) as
        ``paper_examples_inter_class_similarity``, ``paper_examples_insufficient_features``,
        ``paper_examples_image_noise``.
    """
    values: dict[str, object] = {"n_preds": len(predictions), "n_wrong": len(wrong),
                                 "check_errors": check_errors(wrong, specs)}
    for cause, examples in PAPER_MISCLASSIFICATION_CAUSES.items():
        key = "paper_examples_" + cause.replace("-", "_").replace(" ", "_")
        values[key] = " and ".join(examples)
    return values
