"""Chapter 7, robustness on blurry samples (the paper's Sec. 4.2 and Figure 3): the paper's
numbers, the committed record's and this build's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hrcn_lib.chapters.ch06_results import live_accuracy_text, live_interval
from hrcn_lib.chapters.context import record_label
from hrcn_lib.chapters.wording import accuracy_prose, percent
from hrcn_lib.evaluate import EvalResult, as_label
from hrcn_lib.metrics import bootstrap_accuracy
from hrcn_lib.names import pair_label
from hrcn_lib.paper_numbers import PAPER_BLURRY, PAPER_BLURRY_ACCURACY, PAPER_BLURRY_MISCLASSIFIED
from hrcn_lib.profiles import RunSpec
from hrcn_lib.records import Record

__all__ = ["blurry_table", "binned_accuracy", "quantile_bins", "accuracy_by", "numbers"]


def _errors(labels: pd.Series, preds: pd.Series) -> tuple[int, int]:
    """Misclassified galaxies and NSCs."""
    labels, preds = as_label(labels), as_label(preds)
    return (int(((labels == "galaxy") & (preds != "galaxy")).sum()),
            int(((labels == "NSC") & (preds != "NSC")).sum()))


def blurry_table(results: Mapping[RunSpec, EvalResult], record: Record | None = None, *,
                 live_name: str = "this build") -> pd.DataFrame:
    """Accuracy and misclassifications per class on LCID-Blurry: the paper's, the record's
    and this build's, one row per pair and source.

    Args:
        results: pair -> blurry-set :class:`~hrcn_lib.evaluate.EvalResult` of this build.
        record: the committed record (``None``: no record rows).
        live_name: the label of this build's rows.

    Returns:
        DataFrame indexed by (run label, source) with ``samples``, ``accuracy (%)``,
        ``95 % interval (%)`` (bootstrap over bodies), ``galaxy errors`` and ``NSC errors``.
        The paper reports one number per *model* (Sec. 4.2; HR-CelestialNet on LCID, the
        baselines' data set unstated), repeated for each of a model's pairs. Empty when
        neither this build nor the record has a blurry result.
    """
    pairs: dict[str, tuple[str, str]] = {}
    for spec in results:
        pairs[spec.key] = (spec.model, spec.dataset)
    if record is not None:
        for pair in record.pairs():
            pairs.setdefault(pair, tuple(pair.split("_", 1)))  # type: ignore[arg-type]
    rows = []
    live = {spec.key: res for spec, res in results.items()}
    for key, (model, dataset) in pairs.items():
        label = pair_label(model, dataset)
        errors = PAPER_BLURRY_MISCLASSIFIED.get(model, {})
        rows.append({"run": label, "source": "paper", "samples": PAPER_BLURRY["samples"],
                     "accuracy (%)": PAPER_BLURRY_ACCURACY.get(model, float("nan")),
                     "95 % interval (%)": "", "galaxy errors": errors.get("galaxy"),
                     "NSC errors": errors.get("NSC")})
        m = record.metric(key, "blurry") if record is not None else None
        if m is not None:
            p = record.run_predictions(key, "blurry")
            g, n = _errors(p["label"], p["pred"])
            rows.append({"run": label, "source": record_label(record), "samples": int(m["n"]),
                         "accuracy (%)": percent(m["accuracy"]),
                         "95 % interval (%)": f"[{100 * m['acc_lo']:.1f}, {100 * m['acc_hi']:.1f}]",
                         "galaxy errors": g, "NSC errors": n})
        res = live.get(key)
        if res is not None:
            g, n = _errors(res.predictions["label"], res.predictions["prediction"])
            lo, hi = live_interval(res)
            rows.append({"run": label, "source": live_name, "samples": len(res.predictions),
                         "accuracy (%)": percent(res.metrics.get("accuracy")),
                         "95 % interval (%)": f"[{100 * lo:.1f}, {100 * hi:.1f}]",
                         "galaxy errors": g, "NSC errors": n})
    return pd.DataFrame(rows).set_index(["run", "source"]) if rows else pd.DataFrame()


def binned_accuracy(predictions: Mapping[str, pd.DataFrame], column: str,
                    bins: Sequence[float]) -> pd.DataFrame:
    """Accuracy of each model's predictions in bins of a sample property.

    Args:
        predictions: run label -> predictions (``label``, ``prediction`` and ``column``;
            with ``body``, each bin's accuracy gets its interval).
        column: the property, e.g. ``"psf_fwhm"`` (arcsec) or ``"snr"``.
        bins: increasing bin edges; values outside are dropped.

    Returns:
        DataFrame ``model, bin (str "[lo, hi)"), accuracy (0-1), lo, hi, n`` for every
        non-empty bin, in bin order; ``lo``, ``hi``: the accuracy's 95 % interval from a
        bootstrap over bodies (NaN without a ``body`` column).

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
        bodies = pred["body"].astype(str).to_numpy() if "body" in pred.columns else None
        for lo, hi in zip(bins[:-1], bins[1:], strict=True):
            sel = (values >= lo) & (values < hi)
            if sel.any():
                a_lo, a_hi = (bootstrap_accuracy(correct[sel], bodies[sel])
                              if bodies is not None else (np.nan, np.nan))
                rows.append({"model": model, "bin": f"[{lo:g}, {hi:g})",
                             "accuracy": float(correct[sel].mean()), "lo": a_lo, "hi": a_hi,
                             "n": int(sel.sum())})
    return pd.DataFrame(rows, columns=["model", "bin", "accuracy", "lo", "hi", "n"])


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


def numbers(results: Mapping[RunSpec, EvalResult],
            record: Record | None = None) -> dict[str, object]:
    """The numbers the chapter's prose glues.

    Returns:
        ``hr_blurry_acc`` (this build's with its interval and what it is, or why there is
        none: :func:`~hrcn_lib.chapters.ch06_results.live_accuracy_text`),
        ``record_hr_blurry_acc``,
        ``record_blurry_n``, ``n_blurry_eval``, and the paper's ``paper_blurry_samples`` and
        ``paper_<model>_blurry_acc`` for each model (``paper_hr_celestialnet_blurry_acc``,
        ``paper_vgg_blurry_acc``, ...; Sec. 4.2).
    """
    spec, hr = next(((s, r) for s, r in results.items() if s.model == "hr-celestialnet"),
                    (None, None))
    rec = record.metric("hr-celestialnet_lcid", "blurry") if record is not None else None
    values: dict[str, object] = {
        "hr_blurry_acc": live_accuracy_text(spec, hr) if hr is not None
        else "not run in this build",
        "record_hr_blurry_acc": accuracy_prose(rec["accuracy"], rec["acc_lo"], rec["acc_hi"])
        if rec is not None else ("not in the record" if record is not None
                                 else "no record committed yet"),
        "record_blurry_n": int(rec["n"]) if rec is not None else 0,
        "n_blurry_eval": max((len(r.predictions) for r in results.values()), default=0),
        "paper_blurry_samples": PAPER_BLURRY["samples"],
    }
    for model, accuracy in PAPER_BLURRY_ACCURACY.items():
        values[f"paper_{model.replace('-', '_')}_blurry_acc"] = accuracy
    return values
