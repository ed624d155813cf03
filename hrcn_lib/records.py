"""Records: what a full run leaves for readers who cannot re-run it (``records/<name>/``).

A record is a small directory, committed to git, written only by the code that ran
(:func:`hrcn_lib.recording.make_record`, ``hrcn record``)::

    records/<name>/
      record.json        provenance: profile, git commit, device, CPU flags, date, command,
                         wall seconds, the recipe of every run, the data, the split method
      split.csv          obsid, hdu, body, label, subset (train / test / blurry)
      predictions.csv    one row per evaluated sample: pair, seed, recipe, set, obsid, hdu,
                         body, label, p_nsc, pred (+ what the simulator recorded about it)
      metrics.csv        pair, seed, recipe, set, n, accuracy, acc_lo, acc_hi (95 %,
                         bootstrap over bodies), f1_galaxy, f1_nsc, majority, ms per sample
      causes.csv         each misclassified sample of the main runs: what the model and the
                         image say (Grad-CAM overlap, S/N, object fraction) and the simulator
      curves/<run>.csv   training history of each run (history.csv)
      gradcam/*.png      Grad-CAM maps of some misclassified samples (small images)

The metrics follow from the predictions: :func:`derive_metrics` computes them (the interval
with a fixed bootstrap seed, so it is reproducible) and :func:`read_record` recomputes and
compares them, refusing a record whose metrics do not follow (:class:`RecordError`). No
body may lie in both the training and the testing subset (:func:`check_split`), and every
test prediction must be of a test sample.

:func:`write_record` writes into a temporary folder beside the target and renames it into
place when complete: an interrupted write leaves no half-written record. This module
imports pandas and numpy only (the book reads records without torch).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hrcn_lib.metrics import bootstrap_accuracy, majority_fraction, score
from hrcn_lib.names import CLASS_NAMES
from hrcn_lib.resources import record_path

__all__ = [
    "RecordError",
    "Record",
    "RECORD_FORMAT",
    "RECORD_VERSION",
    "SPLIT_COLUMNS",
    "PREDICTION_COLUMNS",
    "METRIC_COLUMNS",
    "RUN_COLUMNS",
    "MAIN_RECIPE",
    "PAPER_RECIPE_NAME",
    "MATCHED_RECIPE",
    "BOOK_RECORDS",
    "BOOTSTRAP_DRAWS",
    "BOOTSTRAP_SEED",
    "check_split",
    "check_predictions",
    "derive_metrics",
    "run_name",
    "write_record",
    "read_record",
    "book_record",
]

RECORD_FORMAT = "hrcn-record"
RECORD_VERSION = 1
#: Columns of ``split.csv``.
SPLIT_COLUMNS: tuple[str, ...] = ("obsid", "hdu", "body", "label", "subset")
#: The columns of ``predictions.csv`` every record has (manifest extras follow them).
PREDICTION_COLUMNS: tuple[str, ...] = ("pair", "seed", "recipe", "set", "obsid", "hdu", "body",
                                       "label", "p_nsc", "pred")
#: What identifies one trained run inside a record.
RUN_COLUMNS: tuple[str, ...] = ("pair", "seed", "recipe")
#: Columns of ``metrics.csv``.
METRIC_COLUMNS: tuple[str, ...] = (*RUN_COLUMNS, "set", "n", "accuracy", "acc_lo", "acc_hi",
                                   "f1_galaxy", "f1_nsc", "majority", "preprocess_ms",
                                   "classify_ms", "ms_per_sample")
#: ``recipe`` of the runs trained with the profile's recipe, of the comparison runs trained
#: with the paper's (Sec. 3.1), and of the LCID-Resize runs trained with their model's
#: full-resolution recipe (a resolution comparison in which only the resolution differs).
MAIN_RECIPE = "profile"
PAPER_RECIPE_NAME = "paper"
MATCHED_RECIPE = "matched"
#: Records the book shows, best first (the first one present is the headline).
BOOK_RECORDS: tuple[str, ...] = ("record-gpu", "record-cpu")
#: The bootstrap of the accuracy intervals: draws and seed (fixed: metrics are re-derivable).
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 0
#: Subset names of ``split.csv``.
SUBSETS: tuple[str, ...] = ("train", "test", "blurry")
#: Absolute tolerance when comparing re-derived metrics with the file's (they are written
#: with 6 decimals).
_TOLERANCE = 1e-5
_TIMING_COLUMNS = ("preprocess_ms", "classify_ms", "ms_per_sample")


class RecordError(ValueError):
    """A record that is missing, malformed, inconsistent or about to be overwritten; the
    message names the file and the fix."""


def run_name(pair: str, variant: str = "") -> str:
    """A run's name in a record (the stem of its curve file, the suffix of its run folder):
    ``resnet_lcid-resize`` (the pair's main run), ``resnet_lcid-resize.seed1`` (another
    seed), ``resnet_lcid-resize.paper`` (the paper's recipe), ``alexnet_lcid-resize.matched``
    (the full-resolution pair's recipe)."""
    return f"{pair}.{variant}" if variant else pair


# ----------------------------------------------------------------------------- checks


def _refuse_unknown(values: pd.Series, allowed: Sequence[str], what: str) -> None:
    """Raise ``RecordError("<what> [bad]; expected [allowed]")`` for values outside ``allowed``."""
    bad = sorted(set(values) - set(allowed))
    if bad:
        raise RecordError(f"{what} {bad}; expected {list(allowed)}")


def check_split(split: pd.DataFrame, where: str = "split.csv") -> None:
    """Refuse a split with a body in both training and testing, or unknown subsets/labels.

    Raises:
        RecordError: naming the bodies (at most five) and ``where``.
    """
    missing = [c for c in SPLIT_COLUMNS if c not in split.columns]
    if missing:
        raise RecordError(f"{where}: missing column(s) {missing}; expected {list(SPLIT_COLUMNS)}")
    _refuse_unknown(split["subset"], SUBSETS, f"{where}: unknown subset(s)")
    _refuse_unknown(split["label"], CLASS_NAMES, f"{where}: unknown label(s)")
    bodies = {s: set(map(str, split.loc[split["subset"] == s, "body"])) for s in SUBSETS}
    shared = sorted(bodies["train"] & bodies["test"])
    if shared:
        raise RecordError(f"{where}: {len(shared)} celestial bodies are in both the training and "
                          f"the testing subset ({', '.join(shared[:5])}"
                          f"{', ...' if len(shared) > 5 else ''}): the test accuracy would not "
                          "measure unseen objects; split by body (manifest.split_by_body)")


def check_predictions(predictions: pd.DataFrame, split: pd.DataFrame,
                      where: str = "predictions.csv") -> None:
    """Every prediction is of a sample of its set in the split, with the split's label.

    Raises:
        RecordError: missing columns, an unknown prediction, a test prediction of a sample
            that is not in the test subset, or a label that differs from the split's.
    """
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise RecordError(f"{where}: missing column(s) {missing}")
    _refuse_unknown(predictions["pred"], CLASS_NAMES, f"{where}: unknown prediction(s)")
    key = ["obsid", "hdu"]
    known = split.assign(hdu=split["hdu"].astype(int)).set_index(key)
    for set_name, rows in predictions.groupby("set"):
        subset = known.loc[known["subset"] == set_name]
        idx = pd.MultiIndex.from_arrays([rows["obsid"].astype(str), rows["hdu"].astype(int)])
        absent = ~idx.isin(subset.index)
        if absent.any():
            first = rows.loc[absent].iloc[0]
            raise RecordError(f"{where}: a {set_name!r} prediction of {first['obsid']} HDU "
                              f"{int(first['hdu'])} ({first['pair']}), which is not in the "
                              f"{set_name!r} subset of split.csv")
        labels = subset.loc[idx, "label"].to_numpy()
        wrong = labels != rows["label"].to_numpy()
        if wrong.any():
            first = rows.loc[wrong].iloc[0]
            raise RecordError(f"{where}: {first['obsid']} HDU {int(first['hdu'])} is labelled "
                              f"{first['label']!r} but split.csv says otherwise")


def derive_metrics(predictions: pd.DataFrame,
                   timings: pd.DataFrame | None = None) -> pd.DataFrame:
    """The metrics of every run and set, from its predictions alone (plus timings).

    Args:
        predictions: :data:`PREDICTION_COLUMNS` rows.
        timings: optional ``pair, seed, recipe, set, preprocess_ms, classify_ms`` (medians
            measured when the record was made; NaN where not timed).

    Returns:
        DataFrame with :data:`METRIC_COLUMNS`, one row per (run, set), sorted. Accuracy,
        F1 (scikit-learn) and ``majority`` (always answering the set's most frequent class)
        are fractions; ``acc_lo``/``acc_hi`` the 95 % percentile interval of
        :func:`hrcn_lib.metrics.bootstrap_accuracy` over bodies
        (:data:`BOOTSTRAP_DRAWS`, :data:`BOOTSTRAP_SEED`); times in ms per sample.
    """
    rows = []
    group_cols = [*RUN_COLUMNS, "set"]
    for keys, grp in predictions.groupby(group_cols, sort=True):
        correct = (grp["label"] == grp["pred"]).to_numpy()
        metrics = score(grp["label"], grp["pred"])
        lo, hi = bootstrap_accuracy(correct, grp["body"], n_boot=BOOTSTRAP_DRAWS,
                                    seed=BOOTSTRAP_SEED)
        rows.append({**dict(zip(group_cols, keys, strict=True)), "n": len(grp),
                     "accuracy": metrics["accuracy"], "acc_lo": lo, "acc_hi": hi,
                     "f1_galaxy": metrics["f1_galaxy"], "f1_nsc": metrics["f1_nsc"],
                     "majority": majority_fraction(grp["label"])})
    out = pd.DataFrame(rows, columns=[*group_cols, "n", "accuracy", "acc_lo", "acc_hi",
                                      "f1_galaxy", "f1_nsc", "majority"])
    if timings is not None and len(timings):
        t = timings[[*group_cols, "preprocess_ms", "classify_ms"]]
        out = out.merge(t, on=group_cols, how="left")
    else:
        out["preprocess_ms"] = np.nan
        out["classify_ms"] = np.nan
    out["ms_per_sample"] = out["preprocess_ms"] + out["classify_ms"]
    out["seed"] = out["seed"].astype(int)
    out["n"] = out["n"].astype(int)
    return out[list(METRIC_COLUMNS)].reset_index(drop=True)


def _compare_metrics(derived: pd.DataFrame, stored: pd.DataFrame, where: str) -> None:
    """Raise RecordError where ``stored`` (metrics.csv) does not follow from ``derived``."""
    key = [*RUN_COLUMNS, "set"]
    if sorted(map(tuple, stored[key].astype(str).to_numpy())) != sorted(
            map(tuple, derived[key].astype(str).to_numpy())):
        raise RecordError(f"{where}: its (pair, seed, recipe, set) rows are not those of "
                          "predictions.csv; the record was edited or is incomplete")
    merged = derived.astype({"seed": str}).merge(stored.astype({"seed": str}), on=key,
                                                 suffixes=("", "_file"))
    for col in ("n", "accuracy", "acc_lo", "acc_hi", "f1_galaxy", "f1_nsc", "majority"):
        a, b = merged[col].to_numpy(float), merged[f"{col}_file"].to_numpy(float)
        off = ~np.isclose(a, b, rtol=0.0, atol=_TOLERANCE, equal_nan=True)
        if off.any():
            r = merged.loc[off].iloc[0]
            raise RecordError(f"{where}: {col} of {r['pair']} (seed {r['seed']}, {r['recipe']}) on "
                              f"{r['set']} is {r[f'{col}_file']} but its predictions give "
                              f"{r[col]:.6f}: the metrics do not follow from predictions.csv")


# ----------------------------------------------------------------------------- write


def _csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def _metrics_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", float_format="%.6f")


def _json_clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_clean(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_record(out: Path | str, *, info: Mapping[str, Any], split: pd.DataFrame,
                 predictions: pd.DataFrame, timings: pd.DataFrame | None = None,
                 curves: Mapping[str, pd.DataFrame] | None = None,
                 causes: pd.DataFrame | None = None,
                 images: Mapping[str, bytes] | None = None, force: bool = False) -> Path:
    """Write a record directory all at once (temporary folder, then rename).

    Args:
        out: the record directory (``records/<name>``).
        info: provenance for ``record.json`` (format and version are added).
        split: :data:`SPLIT_COLUMNS` rows of every sample (checked by :func:`check_split`).
        predictions: :data:`PREDICTION_COLUMNS` rows (+ extras), checked against the split.
        timings: per (run, set) medians, see :func:`derive_metrics`.
        curves: run name (:func:`run_name`) -> its training history.
        causes: misclassified samples with their measured and true causes.
        images: file name -> PNG bytes for ``gradcam/``.
        force: replace an existing record at ``out``.

    Returns:
        ``out``.

    Raises:
        RecordError: ``out`` exists (without ``force``), or the split / predictions are
            inconsistent; nothing is written then.
    """
    out = Path(out)
    if out.exists() and not force:
        raise RecordError(f"{out}: a record already exists there; pass --force (force=True) to "
                          "replace it, or choose another --out")
    check_split(split)
    check_predictions(predictions, split)
    metrics = derive_metrics(predictions, timings)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        tmp.mkdir()
        (tmp / "curves").mkdir()
        (tmp / "gradcam").mkdir()
        doc = {"format": RECORD_FORMAT, "version": RECORD_VERSION, **info}
        (tmp / "record.json").write_text(json.dumps(_json_clean(doc), indent=2,
                                                    allow_nan=False) + "\n")
        _csv(split[list(SPLIT_COLUMNS)], tmp / "split.csv")
        _csv(predictions, tmp / "predictions.csv")
        _metrics_csv(metrics, tmp / "metrics.csv")
        if causes is not None:
            _csv(causes, tmp / "causes.csv")
        for name, hist in (curves or {}).items():
            _csv(hist, tmp / "curves" / f"{name}.csv")
        for name, data in (images or {}).items():
            if Path(name).name != name or not name.endswith(".png"):
                raise RecordError(f"gradcam image name {name!r}: expected a plain *.png name")
            (tmp / "gradcam" / name).write_bytes(data)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.{os.getpid()}-old.tmp"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


# ----------------------------------------------------------------------------- read


@dataclass
class Record:
    """A record read back (:func:`read_record`).

    Attributes:
        root: its directory.
        info: ``record.json``.
        split, predictions, metrics: the CSV files (metrics checked against predictions).
        causes: ``causes.csv`` (empty when absent).
        curves: run name -> training history.
        gradcam: the PNG files, sorted.
    """

    root: Path
    info: dict[str, Any]
    split: pd.DataFrame
    predictions: pd.DataFrame
    metrics: pd.DataFrame
    causes: pd.DataFrame = field(default_factory=pd.DataFrame)
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    gradcam: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The record's folder name (e.g. ``"record-cpu"``)."""
        return self.root.name

    def metric(self, pair: str, set_name: str = "test", *, seed: int | None = None,
               recipe: str = MAIN_RECIPE) -> pd.Series | None:
        """The metrics row of one run and set (``None`` when the record lacks it); ``seed``
        ``None``: the pair's first seed (its main run)."""
        m = self.metrics
        rows = m.loc[(m["pair"] == pair) & (m["set"] == set_name) & (m["recipe"] == recipe)]
        if seed is not None:
            rows = rows.loc[rows["seed"] == seed]
        return None if rows.empty else rows.sort_values("seed").iloc[0]

    def main_seed(self, pair: str, recipe: str = MAIN_RECIPE) -> int | None:
        """The first (main) seed of a pair's runs of ``recipe``."""
        m = self.metrics
        seeds = m.loc[(m["pair"] == pair) & (m["recipe"] == recipe), "seed"]
        return None if seeds.empty else int(seeds.min())

    def pairs(self, recipe: str = MAIN_RECIPE) -> list[str]:
        """The pairs with a run of ``recipe``, in the record's order."""
        m = self.metrics.loc[self.metrics["recipe"] == recipe]
        return list(dict.fromkeys(m["pair"]))

    def run_predictions(self, pair: str, set_name: str, *, seed: int | None = None,
                        recipe: str = MAIN_RECIPE) -> pd.DataFrame:
        """The predictions of one run on one set (``seed`` ``None``: the main run's)."""
        seed = self.main_seed(pair, recipe) if seed is None else seed
        p = self.predictions
        return p.loc[(p["pair"] == pair) & (p["set"] == set_name) & (p["seed"] == seed)
                     & (p["recipe"] == recipe)]


def _read_csv(path: Path, required: bool = True) -> pd.DataFrame:
    if not path.is_file():
        if required:
            raise RecordError(f"{path}: missing; a record holds record.json, split.csv, "
                              "predictions.csv and metrics.csv (remake it with hrcn record)")
        return pd.DataFrame()
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: not a readable CSV file ({exc})") from None


def read_record(path: Path | str, *, verify: bool = True) -> Record:
    """Read a record directory; with ``verify`` (default) check that its metrics follow from
    its predictions and that no body is in both training and testing.

    Raises:
        RecordError: a missing or malformed file, another format or version, a body in both
            training and testing, predictions that disagree with the split, or metrics that
            do not follow from the predictions (naming the file, row and value).
    """
    root = Path(path)
    if not root.is_dir():
        raise RecordError(f"{root}: no such record directory")
    meta = root / "record.json"
    try:
        info = json.loads(meta.read_text())
    except FileNotFoundError:
        raise RecordError(f"{meta}: missing; not a record directory") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"{meta}: not valid JSON ({exc})") from None
    if info.get("format") != RECORD_FORMAT or info.get("version") != RECORD_VERSION:
        raise RecordError(f"{meta}: format {info.get('format')!r} version "
                          f"{info.get('version')!r}; expected {RECORD_FORMAT!r} version "
                          f"{RECORD_VERSION}")
    split = _read_csv(root / "split.csv")
    predictions = _read_csv(root / "predictions.csv")
    metrics = _read_csv(root / "metrics.csv")
    for df in (split, predictions):
        for col in ("obsid", "body", "label"):
            if col in df.columns:
                df[col] = df[col].astype(str)
    if verify:
        check_split(split, str(root / "split.csv"))
        check_predictions(predictions, split, str(root / "predictions.csv"))
        missing = [c for c in METRIC_COLUMNS if c not in metrics.columns]
        if missing:
            raise RecordError(f"{root / 'metrics.csv'}: missing column(s) {missing}")
        stored_t = metrics[[*RUN_COLUMNS, "set", "preprocess_ms", "classify_ms"]]
        _compare_metrics(derive_metrics(predictions, stored_t), metrics,
                         str(root / "metrics.csv"))
    curves = {p.stem: pd.read_csv(p) for p in sorted((root / "curves").glob("*.csv"))}
    return Record(root=root, info=info, split=split, predictions=predictions, metrics=metrics,
                  causes=_read_csv(root / "causes.csv", required=False), curves=curves,
                  gradcam=sorted((root / "gradcam").glob("*.png")))


def book_record(names: Sequence[str] = BOOK_RECORDS, *, root: Path | str | None = None
                ) -> Record | None:
    """The record the book shows: the first of ``names`` present under ``records/`` of the
    package's data or the checkout (:func:`hrcn_lib.resources.record_path`), or of
    ``root`` when given; ``None`` when there is none.

    Raises:
        RecordError: a record that is present but inconsistent (never shown silently).
    """
    for name in names:
        folder = Path(root) / name if root is not None else record_path(name)
        if (folder / "record.json").is_file():
            return read_record(folder)
    return None
