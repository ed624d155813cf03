"""Evaluation: predictions, the metrics of Table 4, confusion matrices and per-sample timings.

:func:`evaluate` runs a model (through a :class:`hrcn_lib.inference.Predictor`) over a
manifest and returns an :class:`EvalResult`: the predictions table, the metrics of Table 4
(accuracy, F1 per class) and the confusion matrix (scikit-learn, label order galaxy, NSC),
and per-sample timings split like Table 4 into preprocessing and classification
milliseconds. With an output folder (a :class:`hrcn_lib.paths.ModelRun`) it writes them,
and :meth:`EvalResult.load` reads them back.

:func:`time_preprocessing` times the preprocessing alone (LCID and LCID-Resize), with the
same clock and the same warm-up as :func:`evaluate`: the numba kernel is compiled first
(:func:`hrcn_lib.preprocess.warm_up`), so no sample pays for it.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix
from torch import nn
from tqdm.auto import tqdm

from hrcn_lib.datasets import check_manifest_files, make_dataset, resize_sample
from hrcn_lib.inference import Predictor, read_sample
from hrcn_lib.metrics import bootstrap_accuracy, compute_metrics, majority_fraction
from hrcn_lib.names import CLASS_NAMES, LABELS, RESIZE_SIZE
from hrcn_lib.paths import ModelRun, atomic_write, check_set_name
from hrcn_lib.preprocess import load_sample, warm_up

__all__ = [
    "EvalResult",
    "TrainingOverlapError",
    "evaluate",
    "compute_metrics",  # from hrcn_lib.metrics, importable from here as before
    "bootstrap_accuracy",
    "majority_fraction",
    "timing_summary",
    "time_preprocessing",
    "as_label",
    "CLASS_NAMES",
    "EXTRA_COLUMNS",
    # hrcn_lib.inference's, importable from here as before
    "Predictor",
    "read_sample",
]

#: Manifest columns copied into the predictions table when present.
EXTRA_COLUMNS: tuple[str, ...] = ("instrument", "obsid", "filter", "subset", "blurry", "psf_fwhm",
                                  "snr", "morphology", "defects", "lookalike", "exptime",
                                  "object_fraction")
#: Float columns of a predictions table whose empty cells are missing values (NaN); the other
#: columns keep empty strings (e.g. ``defects`` without a defect).
_NUMERIC_EXTRAS = ("psf_fwhm", "snr", "object_fraction", "exptime")


# --------------------------------------------------------------------------- metrics


def as_label(values: pd.Series) -> pd.Series:
    """Class labels as the strings of :data:`hrcn_lib.names.CLASS_NAMES` (accepts 0/1 too).

    Raises:
        ValueError: for any other value.
    """
    names = {**{k: k for k in CLASS_NAMES}, **{i: k for k, i in LABELS.items()},
             **{str(i): k for k, i in LABELS.items()}}
    bad = set(values) - set(names)
    if bad:
        raise ValueError(f"unknown class label(s) {sorted(map(str, bad))}: expected "
                         f"{'/'.join(CLASS_NAMES)} or 0/1")
    return values.map(names)


def timing_summary(ms: list[float] | np.ndarray) -> dict[str, float]:
    """Median, quartiles, IQR, mean, std, min, max and count of timings in ms."""
    a = np.asarray(ms, dtype=float)
    if a.size == 0:
        return {"n": 0}
    q25, med, q75 = np.percentile(a, [25, 50, 75])
    return {"n": int(a.size), "median": float(med), "q25": float(q25), "q75": float(q75),
            "iqr": float(q75 - q25), "mean": float(a.mean()), "std": float(a.std()),
            "min": float(a.min()), "max": float(a.max())}


# --------------------------------------------------------------------------- timing


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` and its wall time in ms (the one clock of evaluation timings)."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t0) * 1e3


def time_preprocessing(df: pd.DataFrame, n: int, *, repeats: int = 1) -> pd.DataFrame:
    """Wall time of the preprocessing per sample: LCID (raw -> 2048 x 4096) and LCID-Resize.

    The numba kernel is compiled before the first sample (:func:`hrcn_lib.preprocess.warm_up`),
    as :func:`evaluate` does, so the times are those of the recipe, not of the compiler.

    Args:
        df: manifest with ``path`` and ``hdu``.
        n: samples timed (the first ``n`` rows).
        repeats: timings per sample (the median is kept).

    Returns:
        DataFrame with one row per timed sample: ``path`` (file name), ``hdu``, ``lcid_ms``
        (:func:`hrcn_lib.preprocess.load_sample`) and ``lcid_resize_ms`` (the same plus
        :func:`hrcn_lib.datasets.resize_sample` to :data:`hrcn_lib.names.RESIZE_SIZE`).
    """
    warm_up()
    rows = []
    for rec in df.head(n).to_dict("records"):
        full, small = [], []
        for _ in range(max(1, repeats)):
            sample, load_ms = _timed(load_sample, rec["path"], int(rec["hdu"]))
            _, resize_ms = _timed(resize_sample, sample, RESIZE_SIZE)
            full.append(load_ms)
            small.append(load_ms + resize_ms)
        rows.append({"path": Path(rec["path"]).name, "hdu": int(rec["hdu"]),
                     "lcid_ms": float(np.median(full)), "lcid_resize_ms": float(np.median(small))})
    return pd.DataFrame(rows, columns=["path", "hdu", "lcid_ms", "lcid_resize_ms"])


# --------------------------------------------------------------------------- evaluate


class TrainingOverlapError(ValueError):
    """An evaluation set shares celestial bodies or OBSIDs with the model's training set."""


def _check_dataset(config: dict[str, Any], dataset_name: str) -> None:
    trained = config.get("dataset_name")
    if trained is not None and trained != dataset_name:
        raise ValueError(f"the model was trained on {trained!r} but dataset_name is "
                         f"{dataset_name!r}: it would see inputs of another size than it learnt "
                         f"from; evaluate with {trained!r} (hrcn evaluate: omit --dataset)")


def _check_overlap(config: dict[str, Any], df: pd.DataFrame, set_name: str,
                   allow_overlap: bool) -> dict[str, int]:
    """Bodies and OBSIDs shared with the training set recorded in ``config`` (see evaluate)."""
    if "model_name" not in config:  # not a model of a training run: nothing recorded
        return {}
    bodies, obsids = config.get("train_bodies"), config.get("train_obsids")
    if not bodies and not obsids:
        warnings.warn(f"evaluate {set_name}: the model's checkpoint does not record its "
                      "training bodies (trained by an older hrcn_lib, or by fit() on a plain "
                      "dataset): overlap with the training set is not checked", UserWarning,
                      stacklevel=3)
        return {}
    shared_b = sorted(set(map(str, df["body"])) & set(bodies or ())) if "body" in df else []
    shared_o = sorted(set(map(str, df["obsid"])) & set(obsids or ())) if "obsid" in df else []
    counts = {"bodies_shared_with_training": len(shared_b),
              "obsids_shared_with_training": len(shared_o)}
    if shared_b or shared_o:
        def few(names: list[str]) -> str:
            return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")

        msg = (f"set {set_name!r} shares {len(shared_b)} celestial bodies ({few(shared_b)}) and "
               f"{len(shared_o)} OBSIDs ({few(shared_o)}) with the model's training set: its "
               "accuracy would not measure classification of unseen objects")
        if not allow_overlap:
            raise TrainingOverlapError(
                f"{msg}; evaluate on bodies the model never saw (the test split of "
                "split_by_body), or pass allow_overlap=True (hrcn evaluate --allow-overlap) to "
                "evaluate anyway with a warning")
        warnings.warn(f"{msg} (evaluated anyway: allow_overlap)", UserWarning, stacklevel=3)
    return counts


def _check_count(name: str, value: int | None, low: int) -> None:
    """An optional count argument of :func:`evaluate`: an integer >= ``low``, or None.

    Raises:
        ValueError: naming the argument, for a bool, a non-integer or a value below ``low``.
    """
    if value is not None and (isinstance(value, bool)
                              or not isinstance(value, (int, np.integer)) or value < low):
        raise ValueError(f"evaluate: {name} must be an integer >= {low} or None, got {value!r}")


def _predict_all(dataset: torch.utils.data.Dataset, predictor: Predictor, n_timed: int, *,
                 desc: str, progress: bool) -> tuple[np.ndarray, list[float], list[float]]:
    """Class probabilities of every sample of ``dataset``, one at a time, with its timings.

    Returns:
        ``probs``: float64 (n, 2) in the order of :data:`hrcn_lib.names.CLASS_NAMES`;
        preprocessing and classification ms of samples 1 to ``n_timed`` (sample 0 is the
        warm-up of the model and of the caches, never timed).
    """
    probs = np.zeros((len(dataset), len(CLASS_NAMES)), dtype=np.float64)
    pre_ms: list[float] = []
    cls_ms: list[float] = []
    warm_up()
    for i in tqdm(range(len(dataset)), desc=desc, unit="sample", disable=not progress):
        (x, _), pre = _timed(dataset.__getitem__, i)
        p, cls = _timed(predictor, x.unsqueeze(0))
        probs[i] = p[0].numpy()
        if 1 <= i <= n_timed:
            pre_ms.append(pre)
            cls_ms.append(cls)
    return probs, pre_ms, cls_ms


def _predictions_table(df: pd.DataFrame, probs: np.ndarray, y_pred: np.ndarray) -> pd.DataFrame:
    """One row per sample of ``df``: ``path, hdu, body, label, p_galaxy, p_nsc, prediction``
    and the manifest's :data:`EXTRA_COLUMNS` present in ``df`` (``probs`` as from
    :func:`_predict_all` and ``y_pred`` its argmax, int (n,), rows in ``df``'s order)."""
    pred = pd.DataFrame({"path": df["path"].astype(str), "hdu": df["hdu"].astype(int),
                         "body": df["body"] if "body" in df else "", "label": df["label"],
                         "p_galaxy": probs[:, LABELS["galaxy"]], "p_nsc": probs[:, LABELS["NSC"]],
                         "prediction": [CLASS_NAMES[k] for k in y_pred]})
    for col in EXTRA_COLUMNS:
        if col in df.columns:
            pred[col] = df[col].to_numpy()
    return pred


def _timing_summaries(pre_ms: list[float], cls_ms: list[float], predictor: Predictor, *,
                      cached: bool) -> dict[str, Any]:
    """The timing record's summaries (ms per sample), whether preprocessing read a cache
    (``cached``) and how the predictor ran."""
    pre, cls = timing_summary(pre_ms), timing_summary(cls_ms)
    return {"preprocess_ms": pre, "classify_ms": cls,
            "total_ms_median": (pre["median"] + cls["median"]
                                if "median" in pre and "median" in cls else None),
            "device": str(predictor.device), "cached_preprocessing": cached,
            "predictor": {"folded_bn": predictor.folded, "strips": predictor.strip,
                          "bf16": predictor.bf16, "fc_bf16": predictor.fc_bf16},
            "torch_threads": torch.get_num_threads()}


@dataclass
class EvalResult:
    """What :func:`evaluate` returns, or :meth:`load` reads back from a run folder.

    Attributes:
        predictions: one row per sample: ``path, hdu, body, label, p_galaxy, p_nsc,
            prediction`` (+ manifest extras such as blurry, psf_fwhm, snr, morphology,
            defects, lookalike when present).
        metrics: ``accuracy, f1_galaxy, f1_nsc`` (fractions) and ``n``.
        confusion: int64 (2, 2), rows true, columns predicted, order (galaxy, NSC).
        timing: ``preprocess_ms`` and ``classify_ms`` summaries (see
            :func:`timing_summary`; ``median`` and ``iqr`` in ms per sample, warm-up
            excluded), ``total_ms_median``, ``device``, ``predictor``.
        set_name: the evaluated set (``"test"``, ``"blurry"``...).
        files: the files written (``predictions``, ``metrics``, ``timing``), if any.
    """

    predictions: pd.DataFrame
    metrics: dict[str, float]
    confusion: np.ndarray
    timing: dict[str, Any]
    set_name: str
    files: dict[str, Path] = field(default_factory=dict)

    def median_ms(self, kind: str) -> float:
        """Median ms per sample of ``kind`` (``"preprocess"`` or ``"classify"``); NaN when
        nothing was timed."""
        summary = self.timing.get(f"{kind}_ms")
        value = summary.get("median") if isinstance(summary, Mapping) else summary
        return float("nan") if value is None else float(value)

    @classmethod
    def load(cls, run: ModelRun | Path | str, set_name: str) -> EvalResult:
        """The evaluation of ``set_name`` that :func:`evaluate` wrote into a run folder.

        The confusion matrix is the one recorded in the metrics, else computed from the
        predictions (scikit-learn). Timings are ``timing_<set>.json`` (for the test set of an
        older run, ``timing.json``); empty when neither exists.

        Raises:
            FileNotFoundError: no predictions or metrics of ``set_name`` there.
            ValueError: a bad set name, or predictions with unknown class labels.
        """
        run = run if isinstance(run, ModelRun) else ModelRun(Path(run))
        if not run.is_evaluated(set_name):
            raise FileNotFoundError(f"{run.root}: no evaluation of set {set_name!r} "
                                    f"({run.predictions(set_name).name}, "
                                    f"{run.metrics(set_name).name}); run hrcn evaluate")
        pred = pd.read_csv(run.predictions(set_name), keep_default_na=False,
                           na_values={c: [""] for c in _NUMERIC_EXTRAS})
        metrics = json.loads(run.metrics(set_name).read_text())
        # strict JSON writes a score that cannot be measured (F1 of an absent class) as null
        metrics = {k: float("nan") if v is None else v for k, v in metrics.items()}
        recorded = metrics.pop("confusion", None)
        for key in ("confusion_labels", "set"):
            metrics.pop(key, None)
        if recorded is not None:
            confusion = np.asarray(recorded, dtype=np.int64)
        else:
            confusion = confusion_matrix(as_label(pred["label"]), as_label(pred["prediction"]),
                                         labels=list(CLASS_NAMES)).astype(np.int64)
        timing_files = [run.timing(set_name)] + ([run.table4_timing] if set_name == "test" else [])
        found = next((p for p in timing_files if p.is_file()), None)
        timing = json.loads(found.read_text()) if found is not None else {}
        return cls(pred, metrics, confusion, timing, set_name)


def evaluate(model: nn.Module | Predictor, df: pd.DataFrame, dataset_name: str,
             out_dir: Path | str | None = None, *, set_name: str = "test",
             device: str | torch.device | None = None, cache_dir: Path | str | None = None,
             max_samples: int | None = None, timing_samples: int | None = None,
             allow_overlap: bool = False, progress: bool = True) -> EvalResult:
    """Predict every row of ``df`` and score it (Table 4 / Figure 3).

    Each sample is read and preprocessed by :func:`hrcn_lib.datasets.make_dataset`
    (timed: preprocessing ms) and classified by a :class:`Predictor` (timed:
    classification ms). The first sample is a warm-up and is not timed; timings are
    kept for the next ``timing_samples`` samples (default: all). With ``cache_dir`` the
    preprocessing time measures cache reads, so Table 4-like timings need no cache.

    Args:
        model: a trained network (wrapped in a :class:`Predictor`) or a Predictor.
        df: manifest rows (``path, hdu, label`` required; ``body`` and extras kept).
        dataset_name: ``"lcid"`` or ``"lcid-resize"``: what the model reads.
        out_dir: when given, receives ``predictions_<set>.csv``, ``metrics_<set>.json``
            (metrics + confusion) and ``timing_<set>.json``; for ``set_name="test"``
            also ``timing.json`` (Table 4's times are the test set's).
        set_name: a simple name (:data:`hrcn_lib.paths.SET_NAME_PATTERN`): it becomes
            part of the output file names.
        max_samples: evaluate only the first this many rows (>= 1).
        timing_samples: >= 0.
        allow_overlap: evaluate a set that shares celestial bodies or OBSIDs with the
            training set recorded in the model's configuration (``train_bodies``,
            ``train_obsids``; see :func:`hrcn_lib.train.train`) with a warning instead of
            an error. The metrics of a model that records its training set hold
            ``bodies_shared_with_training`` and ``obsids_shared_with_training`` (0 unless
            ``allow_overlap``); a model of an older run that does not record it is evaluated
            with a warning that the overlap is not checked.

    Before anything is computed or written, every row's file is checked from its headers
    (:func:`hrcn_lib.datasets.check_manifest_files`).

    Raises:
        ValueError: empty ``df``, bad ``set_name``/``max_samples``/``timing_samples``,
            unknown ``dataset_name`` (from make_dataset), a ``dataset_name`` other than the
            one the model was trained on, NaN/inf probabilities.
        TrainingOverlapError: the set shares bodies/OBSIDs with the training set (unless
            ``allow_overlap``).
        SampleError: a row's file is missing, unreadable or disagrees with the row.
    """
    check_set_name(set_name)
    _check_count("max_samples", max_samples, 1)
    _check_count("timing_samples", timing_samples, 0)
    if max_samples is not None:
        df = df.iloc[:max_samples]
    if len(df) == 0:
        raise ValueError(f"evaluate: no samples to evaluate for set {set_name!r}")
    config = model.config if isinstance(model, Predictor) else dict(
        getattr(model, "hrcn_config", {}))
    _check_dataset(config, dataset_name)
    overlap = _check_overlap(config, df, set_name, allow_overlap)
    df = df.reset_index(drop=True)
    check_manifest_files(df)  # first: its messages name the row, the file and the fix
    dataset = make_dataset(df, dataset_name, cache_dir=cache_dir)
    predictor = (model if isinstance(model, Predictor)
                 else Predictor(model, device=device, dataset=dataset_name))
    n_timed = len(df) - 1 if timing_samples is None else int(timing_samples)
    probs, pre_ms, cls_ms = _predict_all(dataset, predictor, n_timed,
                                         desc=f"evaluate {set_name}", progress=progress)
    y_true = np.array([LABELS[v] for v in df["label"]], dtype=np.int64)
    y_pred = probs.argmax(axis=1)
    metrics, confusion = compute_metrics(y_true, y_pred)
    metrics["n"] = len(df)
    metrics.update(overlap)
    timing = {"set": set_name, "dataset": dataset_name,
              **_timing_summaries(pre_ms, cls_ms, predictor, cached=cache_dir is not None)}
    result = EvalResult(_predictions_table(df, probs, y_pred), metrics, confusion, timing, set_name)
    if out_dir is not None:
        result.files = _write_outputs(result, Path(out_dir))
    return result



def _json_text(obj: Any) -> str:
    """Strict JSON (no bare NaN/Infinity): non-finite floats are written as null."""
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(obj), indent=2, allow_nan=False)


def _write_text(path: Path, text: str) -> Path:
    with atomic_write(path) as fh:
        fh.write(text)
    return path


def _write_outputs(result: EvalResult, out_dir: Path) -> dict[str, Path]:
    run, s = ModelRun(out_dir), result.set_name
    files = {}
    with atomic_write(run.predictions(s)) as fh:
        result.predictions.to_csv(fh, index=False, lineterminator="\n")
    files["predictions"] = run.predictions(s)
    metrics = {**result.metrics, "confusion": result.confusion.tolist(),
               "confusion_labels": list(CLASS_NAMES), "set": s}
    files["metrics"] = _write_text(run.metrics(s), _json_text(metrics))
    text = _json_text(result.timing)
    files["timing"] = _write_text(run.timing(s), text)
    if s == "test":
        _write_text(run.table4_timing, text)
    return files
