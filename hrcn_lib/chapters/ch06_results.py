"""Chapter 6, results on the testing set (the paper's Sec. 4.1 and Table 4).

It evaluates the trained pairs (:func:`ensure_evaluated`, reused by chapters 7 and 8) and
sets each pair's accuracy (with its 95 % interval, bootstrap over bodies), F1 scores and
times three ways: the paper's, the committed record's and this build's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hrcn_lib.chapters.context import Chapter, limit_samples, record_label, trained_specs
from hrcn_lib.chapters.wording import accuracy_prose, interval_text, percent
from hrcn_lib.evaluate import EvalResult, as_label, evaluate
from hrcn_lib.metrics import bootstrap_accuracy, majority_fraction
from hrcn_lib.names import CLASS_NAMES, DATASET_LABELS, MODEL_LABELS, pair_label
from hrcn_lib.paper_numbers import PAPER_TABLE4
from hrcn_lib.profiles import RunSpec
from hrcn_lib.records import Record
from hrcn_lib.runtime import load_trained_model

__all__ = ["ensure_evaluated", "evaluate_trained", "collect_predictions", "live_interval",
           "live_accuracy_text",
           "table4", "not_run", "timing_table", "confusions", "record_confusions",
           "learned", "numbers"]


def ensure_evaluated(ch: Chapter, spec: RunSpec, df: pd.DataFrame, set_name: str) -> EvalResult:
    """Evaluate a trained pair on one set unless its results are already in its run folder.

    Args:
        ch: the chapter context.
        spec: an enabled, trained pair.
        df: manifest of the set (capped to ``profile.max_eval_samples`` here).
        set_name: ``"test"`` (LCID testing set) or ``"blurry"`` (LCID-Blurry).

    Returns:
        :meth:`EvalResult.load` of the run folder.

    Raises:
        FileNotFoundError: if the pair has not been trained.
    """
    run = ch.run(spec)
    if not run.is_evaluated(set_name):
        if not run.is_trained:
            raise FileNotFoundError(f"{run.root}: no {run.weights.name}; run the training "
                                    "chapter first")
        device = None if ch.device == "auto" else ch.device
        model = load_trained_model(run.root, device=device)
        # no sample cache: Table 4's preprocessing time is the time from the raw file.
        # The test split shares no body with training (split_by_body); LCID-Blurry is the
        # authors' own set, which may share bodies with LCID: evaluated anyway, with a
        # warning, and the metrics count the shared bodies.
        evaluate(model, limit_samples(df, ch.profile.max_eval_samples, ch.seed), spec.dataset,
                 out_dir=run.root, set_name=set_name, device=device,
                 timing_samples=ch.profile.timing_samples, allow_overlap=set_name != "test",
                 progress=False)
    return EvalResult.load(run, set_name)


def evaluate_trained(ch: Chapter, df: pd.DataFrame, set_name: str) -> dict[RunSpec, EvalResult]:
    """:func:`ensure_evaluated` of every trained pair of the profile on one set, by pair."""
    return {spec: ensure_evaluated(ch, spec, df, set_name) for spec in trained_specs(ch)}


def collect_predictions(ch: Chapter, specs: Sequence[RunSpec],
                        sets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every given pair's predictions on every set, in one table.

    Args:
        ch: the chapter context.
        specs: trained pairs.
        sets: set name (``"test"``, ``"blurry"``) -> its manifest.

    Returns:
        The predictions (:func:`ensure_evaluated`) stacked, with ``run`` (label) and
        ``set`` columns added.
    """
    parts = [ensure_evaluated(ch, spec, df, name).predictions.assign(run=spec.label, set=name)
             for spec in specs for name, df in sets.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def live_interval(res: EvalResult) -> tuple[float, float]:
    """The 95 % interval of a live result's accuracy (bootstrap over bodies, fractions; over
    samples when the predictions name no body)."""
    pred = res.predictions
    correct = (as_label(pred["label"]) == as_label(pred["prediction"])).to_numpy()
    groups = pred["body"].astype(str) if "body" in pred.columns else np.arange(len(pred))
    return bootstrap_accuracy(correct, groups)


def _live_majority(res: EvalResult) -> float:
    return majority_fraction(as_label(res.predictions["label"]))


def learned(acc_lo: float, majority: float) -> str:
    """Whether a run beats always answering the majority class: its 95 % lower bound above
    the majority fraction."""
    return "above majority" if acc_lo > majority else "not above majority"


def table4(ch: Chapter, results: Mapping[RunSpec, EvalResult],
           record: Record | None = None) -> pd.DataFrame:
    """Table 4 with three rows per pair: the paper's, the record's and this build's.

    Args:
        ch: the chapter context (its profile lists every pair, enabled or not).
        results: pair -> test-set :class:`EvalResult` of the pairs this build ran.
        record: the committed record (:func:`hrcn_lib.chapters.context.load_record`), or
            ``None``.

    Returns:
        DataFrame indexed by (Model, Data set, Source) with columns ``Accuracy (%)``,
        ``95 % interval (%)`` (bootstrap over bodies), ``Majority (%)`` (always answering
        the set's most frequent class), ``F1 Galaxy (%)``, ``F1 NSC (%)``,
        ``Preprocessing (ms)``, ``Classification (ms)``, ``Total (ms)``, ``Note``. A pair a
        source has no result for has NaN numbers and says why in ``Note``.
    """
    rows = []
    rec_name, live_name = record_label(record), f"this build ({ch.profile.name})"
    for spec in ch.profile.runs:
        key = (MODEL_LABELS[spec.model], DATASET_LABELS[spec.dataset])
        paper = PAPER_TABLE4[(spec.model, spec.dataset)]
        rows.append((*key, "paper", paper["accuracy"], "", float("nan"), paper["f1_galaxy"],
                     paper["f1_nsc"], paper["preprocess_ms"], paper["classify_ms"],
                     paper["total_ms"], "Table 4 (1,595 samples)"))
        m = record.metric(spec.key, "test") if record is not None else None
        if m is not None:
            rows.append((*key, rec_name, percent(m["accuracy"]),
                         interval_text(m["acc_lo"], m["acc_hi"]), percent(m["majority"]),
                         percent(m["f1_galaxy"]), percent(m["f1_nsc"]),
                         round(float(m["preprocess_ms"]), 2), round(float(m["classify_ms"]), 2),
                         round(float(m["ms_per_sample"]), 2),
                         f"{int(m['n'])} samples, {learned(m['acc_lo'], m['majority'])}"))
        else:
            rows.append((*key, rec_name, *([float("nan")] * 1), "", *([float("nan")] * 6),
                         "not in the record" if record is not None else "no record committed"))
        res = results.get(spec)
        if res is not None:
            pre, cls = res.median_ms("preprocess"), res.median_ms("classify")
            lo, hi = live_interval(res)
            majority = _live_majority(res)
            rows.append((*key, live_name, percent(res.metrics.get("accuracy")),
                         interval_text(lo, hi), percent(majority),
                         percent(res.metrics.get("f1_galaxy")), percent(res.metrics.get("f1_nsc")),
                         round(pre, 2), round(cls, 2), round(pre + cls, 2),
                         f"{len(res.predictions)} samples, {learned(lo, majority)}"
                         + (f"; {spec.note}" if spec.note else "")))
        else:
            rows.append((*key, live_name, float("nan"), "", *([float("nan")] * 6),
                         "not run in this build (see below)"))
    cols = ["Model", "Data set", "Source", "Accuracy (%)", "95 % interval (%)", "Majority (%)",
            "F1 Galaxy (%)", "F1 NSC (%)", "Preprocessing (ms)", "Classification (ms)",
            "Total (ms)", "Note"]
    return pd.DataFrame(rows, columns=cols).set_index(["Model", "Data set", "Source"])


def not_run(ch: Chapter, results: Mapping[RunSpec, object] | None = None) -> pd.DataFrame:
    """The pairs of the paper this run has no result for, with the reason.

    Args:
        ch: the chapter context.
        results: pair -> result of the pairs that were run (``None``: only the profile's
            disabled pairs are listed).

    Returns:
        DataFrame indexed by run label with a ``reason`` column (empty if none).
    """
    rows = []
    for spec in ch.profile.runs:
        if not spec.enabled:
            rows.append({"run": spec.label, "reason": spec.reason})
        elif results is not None and spec not in results:
            rows.append({"run": spec.label, "reason": "enabled but not trained in this run "
                         "directory (run the training chapter)"})
    return pd.DataFrame(rows, columns=["run", "reason"]).set_index("run")


def timing_table(ch: Chapter, results: Mapping[RunSpec, EvalResult],
                 record: Record | None = None) -> pd.DataFrame:
    """Time per sample of each pair: the paper's, the record's and this build's, for
    :func:`hrcn_lib.figures.timing_bars`.

    Returns:
        DataFrame with ``run`` (label), ``source`` (``"paper"``, ``"record"``, ``"this
        build"``), ``preprocess_ms`` and ``classify_ms`` (medians; the paper's Table 4).
    """
    rows = []
    for spec in ch.profile.runs:
        res = results.get(spec)
        m = record.metric(spec.key, "test") if record is not None else None
        have_record = m is not None and np.isfinite(float(m["ms_per_sample"]))
        if res is None and not have_record:
            continue
        paper = PAPER_TABLE4[(spec.model, spec.dataset)]
        rows.append({"run": spec.label, "source": "paper", "preprocess_ms": paper["preprocess_ms"],
                     "classify_ms": paper["classify_ms"]})
        if have_record:
            rows.append({"run": spec.label, "source": "record",
                         "preprocess_ms": float(m["preprocess_ms"]),
                         "classify_ms": float(m["classify_ms"])})
        if res is not None:
            rows.append({"run": spec.label, "source": "this build", "preprocess_ms":
                         res.median_ms("preprocess"), "classify_ms": res.median_ms("classify")})
    return pd.DataFrame(rows, columns=["run", "source", "preprocess_ms", "classify_ms"])


def confusions(results: Mapping[RunSpec, EvalResult]) -> dict[str, np.ndarray]:
    """Run label -> confusion matrix, for :func:`hrcn_lib.figures.confusion_matrices`."""
    return {spec.label: res.confusion for spec, res in results.items()}


def record_confusions(record: Record | None, set_name: str = "test",
                      suffix: str = "") -> dict[str, np.ndarray]:
    """Run label (+ ``suffix``) -> the record's confusion matrix of each pair's main run on
    one set (rows true, columns predicted, order galaxy, NSC); empty without a record."""
    if record is None:
        return {}
    out = {}
    for pair in record.pairs():
        p = record.run_predictions(pair, set_name)
        if p.empty:
            continue
        model, dataset = pair.split("_", 1)
        cm = np.zeros((2, 2), dtype=np.int64)
        for i, true in enumerate(CLASS_NAMES):
            for j, pred in enumerate(CLASS_NAMES):
                cm[i, j] = int(((p["label"] == true) & (p["pred"] == pred)).sum())
        out[pair_label(model, dataset) + suffix] = cm
    return out


def live_accuracy_text(spec: RunSpec, result: EvalResult) -> str:
    """A live run's accuracy as prose: its 95 % interval (bootstrap over bodies), what
    answering the set's majority class alone scores, and whether the run is a pipeline check
    (``RunSpec.note``), so that it is not read beside a trained run's as a result."""
    lo, hi = live_interval(result)
    text = (f"{100 * result.metrics['accuracy']:.1f} % (95 % interval {100 * lo:.1f}-"
            f"{100 * hi:.1f} %; the majority class alone scores "
            f"{100 * _live_majority(result):.1f} %)")
    if spec.note:
        text += ", a pipeline check that tests nothing on accuracy"
    return text


def numbers(results: Mapping[RunSpec, EvalResult],
            record: Record | None = None) -> dict[str, object]:
    """The numbers the chapter's prose glues.

    Returns:
        ``hr_acc`` (HR-CelestialNet's accuracy in this build, :func:`live_accuracy_text`, or
        why there is none), ``record_hr_acc`` (the record's), ``record_label``, ``n_evaluated``,
        ``n_test_eval``; the paper's ``paper_hr_acc``, ``paper_hr_f1_galaxy``,
        ``paper_hr_f1_nsc``, ``paper_hr_total_ms``, ``paper_min_total_ms`` (with its pair,
        ``paper_min_total_run``) and ``paper_max_total_ms`` (``paper_max_total_run``).
    """
    spec, hr = next(((s, r) for s, r in results.items()
                     if (s.model, s.dataset) == ("hr-celestialnet", "lcid")), (None, None))
    paper_hr = PAPER_TABLE4[("hr-celestialnet", "lcid")]
    totals = {pair: row["total_ms"] for pair, row in PAPER_TABLE4.items()}
    low, high = min(totals, key=totals.get), max(totals, key=totals.get)
    rec = record.metric("hr-celestialnet_lcid", "test") if record is not None else None
    return {
        "hr_acc": live_accuracy_text(spec, hr) if hr is not None else "not run in this build",
        "record_hr_acc": accuracy_prose(rec["accuracy"], rec["acc_lo"], rec["acc_hi"])
        if rec is not None else ("not in the record" if record is not None
                                 else "no record committed yet"),
        "record_label": record_label(record),
        "n_evaluated": len(results),
        "n_test_eval": max((len(r.predictions) for r in results.values()), default=0),
        "paper_hr_acc": paper_hr["accuracy"], "paper_hr_f1_galaxy": paper_hr["f1_galaxy"],
        "paper_hr_f1_nsc": paper_hr["f1_nsc"], "paper_hr_total_ms": paper_hr["total_ms"],
        "paper_min_total_ms": totals[low], "paper_min_total_run": pair_label(*low),
        "paper_max_total_ms": totals[high], "paper_max_total_run": pair_label(*high),
    }
