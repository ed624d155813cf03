"""Runs taken over from an earlier record (``hrcn record --reuse RECORD``).

A record of a 2-core CPU takes about three hours; when one pair's recipe changes, the other
runs need not be trained again. :func:`reusable` decides, run by run, whether an earlier
record's run is the run the profile asks for now -- the same recipe (every
:class:`~hrcn_lib.train.TrainConfig` field) on the same training samples -- and
:func:`take_run` lifts its predictions, timings, training curve, diagnosis and Grad-CAM images
out of that record, with the provenance (commit, date, device, command) of the call that
trained it. :func:`check_same_data` first refuses an earlier record made on other data: the
split must be the same sample for sample and what the simulator recorded of every sample
(S/N, PSF FWHM, object fraction) must agree.

Nothing here trains or evaluates: :func:`hrcn_lib.recording.make_record` does, for every run
this module does not take.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hrcn_lib.records import (
    MAIN_RECIPE,
    RUN_COLUMNS,
    SPLIT_COLUMNS,
    Record,
    RecordError,
    read_record,
)
from hrcn_lib.runtime import resolve_device
from hrcn_lib.train import TrainConfig

__all__ = ["ReusedRun", "open_reuse", "check_same_data", "reusable", "take_run",
           "PROVENANCE_KEYS", "DATA_COLUMNS"]

#: What ``record.json`` says of the call that trained a run (kept for every reused run).
PROVENANCE_KEYS: tuple[str, ...] = ("git", "date", "started", "command", "device", "cpu",
                                    "torch", "hrcn_lib")
#: Per-sample values of the simulator that two records on the same data share.
DATA_COLUMNS: tuple[str, ...] = ("snr", "psf_fwhm", "object_fraction")
#: Training-set fields of a recipe, compared with the samples rather than the profile.
_SAMPLE_FIELDS = ("n_samples", "train_bodies", "train_obsids")
#: Relative tolerance of the per-sample comparison (records write 6 significant digits).
_DATA_RTOL = 1e-4
#: Recipe fields whose default changed: what the code that wrote a record lacking them used.
_WRITTEN_DEFAULTS: dict[str, Any] = {"channels_last": True}


@dataclass(frozen=True)
class ReusedRun:
    """Everything a record holds of one run, lifted out of an earlier record.

    Attributes:
        predictions: its rows of ``predictions.csv`` (both sets).
        timings: ``pair, seed, recipe, set, preprocess_ms, classify_ms`` per set (NaN where
            the run was not timed).
        curve: its training history (``curves/<run>.csv``).
        config: its recipe as ``record.json`` has it.
        train_seconds: its training time, s (sum of the curve's ``seconds``).
        causes: its rows of ``causes.csv`` (the main runs only; empty otherwise).
        images: Grad-CAM file name -> PNG bytes, the files ``causes`` names.
        provenance: :data:`PROVENANCE_KEYS` of the call that trained it.
    """

    predictions: pd.DataFrame
    timings: pd.DataFrame
    curve: pd.DataFrame
    config: dict[str, Any]
    train_seconds: float
    causes: pd.DataFrame
    images: dict[str, bytes]
    provenance: dict[str, Any]


def open_reuse(path: Path | str, profile_name: str) -> Record:
    """Read the record to reuse (its metrics re-derived, :func:`~hrcn_lib.records.read_record`)
    and check that it was made with ``profile_name``.

    Raises:
        RecordError: an unreadable or inconsistent record, or one of another profile.
    """
    old = read_record(path)
    made = old.info.get("profile")
    if made != profile_name:
        raise RecordError(f"{old.root / 'record.json'}: made with profile {made!r}, not "
                          f"{profile_name!r}; --reuse takes runs only from a record of the "
                          "same profile")
    return old


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(obsid=df["obsid"].astype(str), hdu=df["hdu"].astype(int)).sort_values(
        ["obsid", "hdu"]).reset_index(drop=True)


def check_same_data(old: Record, split: pd.DataFrame,
                    manifests: Mapping[str, pd.DataFrame]) -> None:
    """Refuse an earlier record made on other data than this call's.

    Args:
        old: the record to reuse.
        split: this call's :data:`~hrcn_lib.records.SPLIT_COLUMNS` table.
        manifests: set name (``test``, ``blurry``) -> this call's manifest rows of that set.

    Raises:
        RecordError: the splits differ in any sample, body, label or subset, or a sample's
            simulated S/N, PSF FWHM or object fraction differs from the earlier record's
            predictions (naming the sample and the fix).
    """
    cols = list(SPLIT_COLUMNS)
    a = _keyed(old.split[cols].astype({"body": str, "label": str}))
    b = _keyed(split[cols].astype({"body": str, "label": str}))
    if len(a) != len(b) or not a.equals(b):
        diff = a.merge(b, how="outer", indicator=True)
        first = diff.loc[diff["_merge"] != "both"].head(1)
        where = (f" (first difference: {first.iloc[0]['obsid']} HDU {int(first.iloc[0]['hdu'])})"
                 if len(first) else "")
        raise RecordError(f"{old.root / 'split.csv'}: not this call's split{where}; the earlier "
                          "record was made on other data or another split: leave --reuse out "
                          "to train every run")
    preds = old.predictions
    for set_name, manifest in manifests.items():
        mine = _keyed(manifest)
        theirs = _keyed(preds.loc[preds["set"] == set_name].drop_duplicates(["obsid", "hdu"]))
        for col in DATA_COLUMNS:
            if col not in mine.columns or col not in theirs.columns:
                continue
            both = theirs[["obsid", "hdu", col]].merge(mine[["obsid", "hdu", col]],
                                                       on=["obsid", "hdu"],
                                                       suffixes=("_old", ""))
            off = ~np.isclose(both[f"{col}_old"].to_numpy(float), both[col].to_numpy(float),
                              rtol=_DATA_RTOL, atol=0.0, equal_nan=True)
            if off.any():
                r = both.loc[off].iloc[0]
                raise RecordError(f"{old.root / 'predictions.csv'}: {col} of {r['obsid']} HDU "
                                  f"{int(r['hdu'])} is {r[f'{col}_old']} there and {r[col]} in "
                                  "this call's data: the earlier record was made on other data; "
                                  "leave --reuse out to train every run")


def _same(was: Any, now: Any) -> bool:
    if isinstance(was, (list, tuple)) or isinstance(now, (list, tuple)):
        return tuple(was or ()) == tuple(now or ())
    if isinstance(was, float) or isinstance(now, float):
        return was is not None and now is not None and math.isclose(float(was), float(now),
                                                                    rel_tol=1e-9)
    return was == now


def reusable(old: Record, name: str, cfg: TrainConfig, rows: pd.DataFrame) -> str | None:
    """Why ``old``'s run ``name`` is not the run ``cfg`` on ``rows`` asks for; ``None``
    when it is (reuse it).

    The same run: every :class:`~hrcn_lib.train.TrainConfig` field equal (a field the earlier
    record lacks counts as its default, which is what that code did; ``channels_last="auto"``
    as the layout a run would use on this machine, which is what a record holds), and the
    same training samples (count, bodies and OBSIDs of ``rows``, the manifest rows it trains
    on).
    """
    recipes = old.info.get("recipes", {})
    if name not in recipes:
        return "not in the earlier record"
    if name not in old.curves:
        return "no training curve in the earlier record"
    was = recipes[name]
    defaults = asdict(TrainConfig()) | _WRITTEN_DEFAULTS
    now = asdict(_layout_here(cfg))
    for f in fields(TrainConfig):
        if f.name in _SAMPLE_FIELDS:
            continue
        if not _same(was.get(f.name, defaults[f.name]), now[f.name]):
            return f"{f.name} was {was.get(f.name, defaults[f.name])!r}, is {now[f.name]!r}"
    samples = {"n_samples": len(rows),
               "train_bodies": tuple(sorted({str(v) for v in rows["body"]})),
               "train_obsids": tuple(sorted({str(v) for v in rows["obsid"]}))}
    for key, value in samples.items():
        if not _same(was.get(key), value):
            return f"other training samples ({key})"
    return None


def _layout_here(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the layout :func:`~hrcn_lib.train.fit` would give it on this machine
    (a recipe for an absent CUDA device: CUDA's)."""
    try:
        device = resolve_device(cfg.device)
    except ValueError:
        device = torch.device(cfg.device)
    return cfg.with_layout(device)


def provenance(old: Record, name: str) -> dict[str, Any]:
    """:data:`PROVENANCE_KEYS` of the call that trained ``old``'s run ``name`` (a run the
    earlier record itself reused keeps its own)."""
    earlier = old.info.get("reused_runs", {})
    if name in earlier:
        return dict(earlier[name])
    return {k: old.info[k] for k in PROVENANCE_KEYS if k in old.info} | {
        "record": old.name}


def take_run(old: Record, name: str, pair: str, seed: int, recipe: str) -> ReusedRun:
    """Lift run ``name`` (``pair``, ``seed``, ``recipe``) out of ``old``.

    Raises:
        RecordError: the record has no predictions of the run, or a Grad-CAM file its
            ``causes.csv`` names is missing.
    """
    p = old.predictions
    mask = (p["pair"] == pair) & (p["seed"].astype(int) == seed) & (p["recipe"] == recipe)
    if not mask.any():
        raise RecordError(f"{old.root / 'predictions.csv'}: no predictions of run {name}")
    m = old.metrics
    m = m.loc[(m["pair"] == pair) & (m["seed"].astype(int) == seed) & (m["recipe"] == recipe)]
    timings = m[[*RUN_COLUMNS, "set", "preprocess_ms", "classify_ms"]].reset_index(drop=True)
    causes = pd.DataFrame()
    images: dict[str, bytes] = {}
    main = seed == old.main_seed(pair, recipe) and recipe == MAIN_RECIPE
    if main and len(old.causes):
        causes = old.causes.loc[old.causes["pair"] == pair].reset_index(drop=True)
        for file in causes.get("gradcam", pd.Series(dtype=str)).dropna():
            if not str(file):
                continue
            png = old.root / "gradcam" / str(file)
            if not png.is_file():
                raise RecordError(f"{old.root / 'causes.csv'}: names {file}, which is not in "
                                  f"{old.root / 'gradcam'}")
            images[str(file)] = png.read_bytes()
    curve = old.curves[name]
    return ReusedRun(predictions=p.loc[mask].reset_index(drop=True), timings=timings,
                     curve=curve, config=dict(old.info["recipes"][name]),
                     train_seconds=float(curve["seconds"].sum()) if "seconds" in curve else
                     float("nan"),
                     causes=causes, images=images, provenance=provenance(old, name))
