"""Chapter 7, robustness on blurry samples (the paper's Sec. 4.2 and Figure 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hrcn_lib.evaluate import EvalResult, as_label
from hrcn_lib.paper_numbers import PAPER_BLURRY, PAPER_BLURRY_ACCURACY, PAPER_BLURRY_MISCLASSIFIED
from hrcn_lib.profiles import RunSpec

__all__ = ["blurry_table", "binned_accuracy", "quantile_bins", "accuracy_by", "numbers"]


def _pct(value: float | None) -> float:
    return float("nan") if value is None else round(100.0 * float(value), 2)


def blurry_table(results: Mapping[RunSpec, EvalResult]) -> pd.DataFrame:
    """Accuracy and misclassifications per class on LCID-Blurry: ours beside the paper's.

    Args:
        results: pair -> blurry-set :class:`~hrcn_lib.evaluate.EvalResult`, in row order.

    Returns:
        DataFrame indexed by run label with ours/paper accuracy (%) and galaxy/NSC
        misclassification counts (the paper's from :data:`PAPER_BLURRY_ACCURACY` and
        :data:`PAPER_BLURRY_MISCLASSIFIED`, Sec. 4.2); empty without results.
    """
    rows = []
    for spec, res in results.items():
        cm = res.confusion
        paper_errors = PAPER_BLURRY_MISCLASSIFIED.get(spec.model, {})
        rows.append({"run": spec.label, "samples (ours)": int(cm.sum()),
                     "accuracy % (ours)": _pct(res.metrics.get("accuracy")),
                     "accuracy % (paper)": PAPER_BLURRY_ACCURACY.get(spec.model, float("nan")),
                     "galaxy errors (ours)": int(cm[0, 1]),
                     "galaxy errors (paper)": paper_errors.get("galaxy"),
                     "NSC errors (ours)": int(cm[1, 0]),
                     "NSC errors (paper)": paper_errors.get("NSC")})
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def binned_accuracy(predictions: Mapping[str, pd.DataFrame], column: str,
                    bins: Sequence[float]) -> pd.DataFrame:
    """Accuracy of each model's predictions in bins of a sample property.

    Args:
        predictions: run label -> predictions (``label``, ``prediction`` and ``column``).
        column: the property, e.g. ``"psf_fwhm"`` (arcsec) or ``"snr"``.
        bins: increasing bin edges; values outside are dropped.

    Returns:
        DataFrame ``model, bin (str "[lo, hi)"), accuracy (0-1), n`` for every
        non-empty bin, in bin order.

    Raises:
        ValueError: if ``column`` is missing or fewer than two edges are given.
    """
    if len(bins) < 2:
        raise ValueError(f"binned_accuracy: need at least two bin edges, got {list(bins)}")
    rows = []
    for model, pred in predictions.items():
        if column not in pred.columns:
            raise ValueError(f"binned_accuracy: predictions of {model!r} lack column {column!r}")
        correct = (as_label(pred["label"]) == as_label(pred["prediction"])).to_numpy()
        values = pd.to_numeric(pred[column], errors="coerce").to_numpy()
        for lo, hi in zip(bins[:-1], bins[1:], strict=True):
            sel = (values >= lo) & (values < hi)
            if sel.any():
                rows.append({"model": model, "bin": f"[{lo:g}, {hi:g})",
                             "accuracy": float(correct[sel].mean()), "n": int(sel.sum())})
    return pd.DataFrame(rows, columns=["model", "bin", "accuracy", "n"])


def quantile_bins(values: Sequence[float] | pd.Series, n: int = 4) -> list[float]:
    """Bin edges at the quantiles of ``values`` (finite ones), unique, last edge nudged up.

    Raises:
        ValueError: if fewer than one finite value is given or ``n < 1``.
    """
    arr = pd.to_numeric(pd.Series(list(values)), errors="coerce").to_numpy(dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0 or n < 1:
        raise ValueError(f"quantile_bins: need finite values and n >= 1 (got {arr.size} values, n={n})")
    edges = np.unique(np.round(np.quantile(arr, np.linspace(0, 1, n + 1)), 3))
    if edges.size == 1:
        edges = np.array([edges[0], edges[0] + 1e-3])
    edges[-1] = np.nextafter(edges[-1], np.inf) + 1e-3
    return [float(e) for e in edges]


def accuracy_by(predictions: pd.DataFrame, column: str, n_bins: int = 3) -> pd.DataFrame:
    """:func:`binned_accuracy` of each run in ``n_bins`` quantile bins of ``column``.

    Args:
        predictions: :func:`hrcn_lib.chapters.ch06_results.collect_predictions` (a ``run``
            column, every set together: the bins are common to all).
        column: e.g. ``"psf_fwhm"`` or ``"snr"``.
        n_bins: quantile bins (fewer when values repeat).
    """
    runs = {run: rows for run, rows in predictions.groupby("run", sort=False)}
    return binned_accuracy(runs, column, quantile_bins(predictions[column], n_bins))


def numbers(results: Mapping[RunSpec, EvalResult]) -> dict[str, object]:
    """The numbers the chapter's prose glues.

    Returns:
        ``hr_blurry_acc`` (this run's, or why there is none), ``n_blurry_eval``, and the
        paper's ``paper_blurry_samples`` and ``paper_<model>_blurry_acc`` for each model
        (``paper_hr_celestialnet_blurry_acc``, ``paper_vgg_blurry_acc``, ...; Sec. 4.2).
    """
    hr = next((r for s, r in results.items() if s.model == "hr-celestialnet"), None)
    values: dict[str, object] = {
        "hr_blurry_acc": f"{100 * hr.metrics['accuracy']:.2f} %" if hr
        else "not run in this profile",
        "n_blurry_eval": max((len(r.predictions) for r in results.values()), default=0),
        "paper_blurry_samples": PAPER_BLURRY["samples"],
    }
    for model, accuracy in PAPER_BLURRY_ACCURACY.items():
        values[f"paper_{model.replace('-', '_')}_blurry_acc"] = accuracy
    return values
