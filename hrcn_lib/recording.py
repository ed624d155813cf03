"""Make a record (``hrcn record``): one command from simulated data to ``records/<name>/``.

:func:`make_record` sizes everything from a profile (:mod:`hrcn_lib.profiles`): it simulates
LCID-sim (or reads ``data_dir``), splits it by body, trains every enabled pair -- each pair
with ``spec.seeds`` seeds, and the profile's ``paper_recipe_pairs`` once more with the
paper's recipe -- evaluates every run on the test split and on LCID-Blurry, diagnoses the
misclassified samples of the main runs from the model and the image
(:mod:`hrcn_lib.causes`), and writes the record (:func:`hrcn_lib.records.write_record`).

Resumable: the runs live in a work directory (default ``runs/<profile>``) with one folder
per run (:class:`hrcn_lib.paths.RunPaths`); a finished run and its evaluations are reused, an
unfinished one resumes from its checkpoint, so the same command continues a killed record.
The call that simulates the data leaves :data:`SIMULATION_NOTE` in the work directory, so a
resuming call's ``record.json`` names that call as the data's source (``data.simulated_by``).

Reusing: with ``reuse`` (``--reuse RECORD``) every run an earlier record of the profile holds
with the same recipe on the same samples is taken from it (:mod:`hrcn_lib.record_reuse`), its
provenance kept in ``record.json``'s ``reused_runs``; only the others are trained.

Bad input is refused before anything is written (:func:`check_request`): an unknown profile,
an existing record without ``force``, a data folder without manifests, not enough disk space;
and (:func:`make_record`, reading it once) a record to reuse that is unreadable or of another
profile.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hrcn_lib import __version__
from hrcn_lib.causes import DIAGNOSIS_FIELDS, diagnose
from hrcn_lib.chapters.context import (
    Chapter,
    chapter_context,
    ensure_dataset,
    ensure_split,
    limit_samples,
)
from hrcn_lib.evaluate import EvalResult, evaluate
from hrcn_lib.manifest import read_manifest
from hrcn_lib.names import RESIZE_SIZE, pair_key
from hrcn_lib.paths import (
    BLURRY_MANIFEST,
    LCID_MANIFEST,
    ModelRun,
    RunPaths,
    atomic_write,
    check_output_dir,
)
from hrcn_lib.profiles import Profile, RunSpec, get_profile
from hrcn_lib.record_reuse import ReusedRun, check_same_data, open_reuse, reusable, take_run
from hrcn_lib.records import (
    MAIN_RECIPE,
    MATCHED_RECIPE,
    PAPER_RECIPE_NAME,
    Record,
    RecordError,
    check_split,
    run_name,
    write_record,
)
from hrcn_lib.resources import checkout_root
from hrcn_lib.runtime import isa_caps, load_trained_model, resolve_device
from hrcn_lib.simulate.dataset import DatasetSizes, estimate_disk, plan
from hrcn_lib.train import TrainConfig, train

__all__ = ["RecordRun", "planned_runs", "run_config", "full_resolution_spec", "check_request",
           "make_record",
           "cpu_flags", "device_info", "git_commit", "GIT_COMMIT_ENV", "DIAGNOSIS_COLUMNS"]

log = logging.getLogger(__name__)

#: Columns of a record's ``causes.csv``.
DIAGNOSIS_COLUMNS: tuple[str, ...] = ("pair", "set", *DIAGNOSIS_FIELDS)
#: Manifest columns a record's predictions keep beside the required ones.
_PREDICTION_EXTRAS = ("instrument", "filter", "blurry", "snr", "psf_fwhm", "object_fraction",
                      "edge_view", "morphology", "lookalike", "defects")
#: Bytes per preprocessed-sample cache entry (:mod:`hrcn_lib.samplecache` stores float16:
#: 2048 x 4096; LCID-Resize 224 x 448) and per parameter of a checkpoint (weights + two
#: optimizer moments, float32).
_CACHE_BYTES = {"lcid": 2048 * 4096 * 2, "lcid-resize": RESIZE_SIZE[0] * RESIZE_SIZE[1] * 2}
_CHECKPOINT_BYTES_PER_PARAM = 4 * 4
#: Parameters per model (rounded up; hardware.layer_table gives the exact numbers).
_PARAMS = {"hr-celestialnet": 93_000_000, "alexnet": 101_000_000, "vgg": 237_000_000,
           "resnet": 11_200_000}
#: Room a record itself needs (its files are a few MB).
_RECORD_BYTES = 50_000_000


@dataclass(frozen=True)
class RecordRun:
    """One training run of a record: a pair, a seed and a recipe.

    Attributes:
        spec: the profile's pair.
        seed: the training seed.
        recipe: :data:`~hrcn_lib.records.MAIN_RECIPE` (the profile's),
            :data:`~hrcn_lib.records.PAPER_RECIPE_NAME` (the paper's, Sec. 3.1) or
            :data:`~hrcn_lib.records.MATCHED_RECIPE` (its model's full-resolution recipe,
            for an LCID-Resize pair).
        variant: the run folder's suffix (``""``, ``"seed1"``, ``"paper"``, ``"matched"``).
        main: whether it is the pair's headline run (first seed, profile's recipe): the
            one timed and diagnosed.
    """

    spec: RunSpec
    seed: int
    recipe: str
    variant: str
    main: bool

    @property
    def name(self) -> str:
        """The run's name in the record (:func:`hrcn_lib.records.run_name`)."""
        return run_name(self.spec.key, self.variant)


def planned_runs(profile: Profile) -> list[RecordRun]:
    """Every run a record of ``profile`` trains, in order: for each enabled pair its seeds
    (``profile.seed``, ``+1``, ...), then its paper-recipe run and its matched-resolution run
    when the profile asks for them.

    HR-CelestialNet comes first, the other pairs in Table 4's order: the record's headline
    run is trained by the call that starts the record, on the machine that starts it, and a
    record resumed later (perhaps on another CPU) has only the baselines left."""
    runs = []
    specs = sorted(profile.enabled_runs(), key=lambda s: s.model != "hr-celestialnet")
    for spec in specs:
        for k in range(max(1, spec.seeds)):
            runs.append(RecordRun(spec, profile.seed + k, MAIN_RECIPE,
                                  "" if k == 0 else f"seed{k}", k == 0))
        if spec.key in profile.paper_recipe_pairs:
            runs.append(RecordRun(spec, profile.seed, PAPER_RECIPE_NAME, PAPER_RECIPE_NAME,
                                  False))
        if spec.key in profile.matched_resolution_pairs:
            runs.append(RecordRun(spec, profile.seed, MATCHED_RECIPE, MATCHED_RECIPE, False))
    return runs


def full_resolution_spec(profile: Profile, spec: RunSpec) -> RunSpec:
    """The enabled ``<model>_lcid`` pair of ``spec``'s model, whose recipe a matched
    LCID-Resize run takes.

    Raises:
        ValueError: ``spec`` is not an LCID-Resize pair, or the profile does not enable its
            model at full resolution (nothing to match).
    """
    if spec.dataset != "lcid-resize":
        raise ValueError(f"profile {profile.name!r}: matched_resolution_pairs names "
                         f"{spec.key!r}; only LCID-Resize pairs can be matched")
    full = next((s for s in profile.enabled_runs()
                 if s.model == spec.model and s.dataset == "lcid"), None)
    if full is None:
        raise ValueError(f"profile {profile.name!r}: matched_resolution_pairs names "
                         f"{spec.key!r} but the profile does not train {spec.model}_lcid, "
                         "whose recipe it would take; enable that pair or drop the name")
    return full


def _trains_like(profile: Profile, run: RecordRun) -> RunSpec:
    """The pair whose training samples ``run`` takes: its own, or for a matched run its
    full-resolution pair's (the same capped subset, so only the resolution differs)."""
    return full_resolution_spec(profile, run.spec) if run.recipe == MATCHED_RECIPE else run.spec


def run_config(profile: Profile, run: RecordRun) -> TrainConfig:
    """The recipe of one run: the profile's (:meth:`TrainConfig.from_profile`) with the
    run's seed; the paper's (the defaults) for the same epochs, seed and hardware; or, for a
    matched run, its model's full-resolution recipe on the run's LCID-Resize data (same
    epochs, rate, schedule, batch and micro-batch, the run's seed).

    Raises:
        ValueError: a matched run without its full-resolution pair
            (:func:`full_resolution_spec`).
    """
    if run.recipe == MAIN_RECIPE:
        return TrainConfig.from_profile(profile, run.spec, seed=run.seed)
    if run.recipe == MATCHED_RECIPE:
        full = TrainConfig.from_profile(profile, full_resolution_spec(profile, run.spec),
                                        seed=run.seed)
        return replace(full, dataset_name=run.spec.dataset)
    base = TrainConfig.from_profile(profile, run.spec, seed=run.seed)
    return TrainConfig(model_name=base.model_name, dataset_name=base.dataset_name,
                       epochs=base.epochs, micro_batch=min(base.micro_batch, 4),
                       precision=base.precision, device=base.device,
                       checkpoint_activations=base.checkpoint_activations, seed=run.seed,
                       workers=base.workers)


# ----------------------------------------------------------------------------- checks


def _free_bytes(path: Path) -> int:
    p = path.resolve()
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def _held_bytes(work: Path) -> int:
    """Bytes the files under ``work`` already hold (0 when it does not exist).

    A resumed record has already written part of its data, cache and checkpoints there; that
    part needs no free space again.
    """
    if not work.is_dir():
        return 0
    total = 0
    for root, _dirs, files in os.walk(work):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:  # removed while we walk (a concurrent cleanup)
                continue
    return total


def _needed_bytes(profile: Profile, simulate: bool, n_samples: int) -> int:
    """Upper bound of the disk a record of ``profile`` fills in its work directory (what it
    holds already included)."""
    need = _RECORD_BYTES
    if simulate:
        tasks, _ = plan(DatasetSizes.of(profile), seed=profile.seed)
        need += estimate_disk(len(tasks))
    datasets = {r.spec.dataset for r in planned_runs(profile)}
    need += sum(_CACHE_BYTES[d] for d in datasets) * n_samples
    need += sum(_PARAMS[r.spec.model] * _CHECKPOINT_BYTES_PER_PARAM for r in planned_runs(profile))
    return need


def _as_profile(profile: str | Profile) -> Profile:
    """``profile`` itself, or the named one (raises ValueError for an unknown name)."""
    return profile if isinstance(profile, Profile) else get_profile(profile)


def _check_extra_runs(profile: Profile) -> None:
    """Every pair named for a paper-recipe or matched-resolution run is one the profile
    trains (a typo or a disabled pair would otherwise be skipped without a word), and every
    matched run has its full-resolution pair (:func:`full_resolution_spec`).

    Raises:
        ValueError: naming the field, the pair and the fix.
    """
    enabled = {s.key: s for s in profile.enabled_runs()}
    for field_name in ("paper_recipe_pairs", "matched_resolution_pairs"):
        for key in getattr(profile, field_name):
            if key not in enabled:
                raise ValueError(f"profile {profile.name!r}: {field_name} names {key!r}, "
                                 f"which the profile does not train; enable it or drop it "
                                 f"(trained: {', '.join(enabled)})")
    for key in profile.matched_resolution_pairs:
        full_resolution_spec(profile, enabled[key])


def check_request(profile_name: str | Profile, out: Path | str, *,
                  data_dir: Path | str | None = None, work_dir: Path | str | None = None,
                  force: bool = False) -> Profile:
    """Everything that can be refused before a record starts, checked in this order.

    ``profile_name``: a profile's name, or a :class:`~hrcn_lib.profiles.Profile` (e.g. one
    with overrides).

    Raises:
        ValueError: an unknown profile (the command line: a usage error), or one whose
            matched-resolution run lacks its full-resolution pair (:func:`full_resolution_spec`).
        RecordError: ``out`` holds a record (or anything) and ``force`` is not set; a
            ``data_dir`` without both manifests; not enough free disk for the work directory
            (simulated data, sample cache, checkpoints) or the record.
        OutputPathError: the record's folder or the work directory cannot be made or written
            (e.g. it lies under a file).
    """
    profile = _as_profile(profile_name)
    _check_extra_runs(profile)
    out = Path(out)
    if out.exists() and not force:
        raise RecordError(f"{out}: already exists; pass --force to replace the record, or "
                          "choose another --out")
    check_output_dir(out, "--out")
    if not profile.enabled_runs():
        raise RecordError(f"profile {profile.name!r} trains no pair: nothing to record")
    work = check_output_dir(Path(work_dir) if work_dir else
                            RunPaths.for_profile(profile.name).root, "--work-dir")
    data = Path(data_dir) if data_dir else RunPaths(work).data
    have = (data / LCID_MANIFEST).is_file() and (data / BLURRY_MANIFEST).is_file()
    if data_dir and not have:
        raise RecordError(f"{data}: no {LCID_MANIFEST} and {BLURRY_MANIFEST}; simulate it "
                          f"(hrcn simulate --profile {profile.name} --out {data}) or leave "
                          "--data-dir out to simulate into the work directory")
    n_samples = (len(read_manifest(data / LCID_MANIFEST)) + len(read_manifest(
        data / BLURRY_MANIFEST))) if have else _planned_samples(profile)
    held = _held_bytes(work) + (_held_bytes(data) if not data.is_relative_to(work) else 0)
    need = max(_needed_bytes(profile, not have, n_samples) - held, _RECORD_BYTES)
    free = _free_bytes(work)
    if need > free:
        raise RecordError(f"{work}: not enough disk space for a record of profile "
                          f"{profile.name!r}: it needs up to {need / 1e9:.1f} GB more (data, "
                          f"sample cache, checkpoints; {held / 1e9:.1f} GB already written), "
                          f"{free / 1e9:.1f} GB are free; free some space or pass --work-dir "
                          "on a larger disk")
    if _free_bytes(out.parent) < _RECORD_BYTES:
        raise RecordError(f"{out.parent}: less than {_RECORD_BYTES / 1e6:.0f} MB free for the "
                          "record")
    return profile


#: In a record's work directory: which call of ``hrcn record`` simulated its data.
SIMULATION_NOTE = "record_simulation.json"


def _write_simulation_note(work: Path, profile: str, git: dict[str, Any], started: str,
                           seconds: float) -> None:
    """Note in ``work`` that this call simulated the data there (profile, commit, start time,
    seconds), so that a call resuming the record can say where its data came from."""
    note = {"profile": profile, "commit": git.get("commit"), "dirty": git.get("dirty"),
            "started": started, "seconds": round(seconds, 1)}
    with atomic_write(work / SIMULATION_NOTE) as f:
        json.dump(note, f, indent=1)


def _data_source(work: Path, data: Path, profile: str, simulated: bool) -> dict[str, Any]:
    """``record.json``'s data source: simulated by this call, by an earlier call of this
    record in the same work directory (its :data:`SIMULATION_NOTE`, for the same profile),
    or given (``--data-dir``, or data found in the work directory without a note)."""
    if simulated:
        return {"source": "simulated by this record"}
    note_path = work / SIMULATION_NOTE
    if data.resolve() == RunPaths(work).data.resolve() and note_path.is_file():
        try:
            note = json.loads(note_path.read_text())
        except (OSError, ValueError):
            note = {}
        if note.get("profile") == profile:
            return {"source": "simulated by an earlier call of this record (same work "
                              "directory)", "simulated_by": note}
    return {"source": "reused"}


def _planned_samples(profile: Profile) -> int:
    """Samples a simulation of ``profile`` gives at most (two chips per file)."""
    tasks, _ = plan(DatasetSizes.of(profile), seed=profile.seed)
    return 2 * len(tasks)


# ----------------------------------------------------------------------------- provenance


def cpu_flags() -> dict[str, Any]:
    """The CPU's model name and the vector flags that decide training speed (``lscpu``), and
    ``isa_caps`` when the environment caps the instruction set torch uses
    (:func:`hrcn_lib.runtime.isa_caps`)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {"model": platform.processor() or platform.machine(), "flags": []}
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    keep = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "fma")
    info = {"model": fields.get("Model name", "").strip(),
            "flags": [f for f in keep if f in flags], "cores": os.cpu_count()}
    caps = isa_caps()
    return info | {"isa_caps": caps} if caps else info


def device_info(device: str) -> dict[str, Any]:
    """Name and count of the training device (``torch.cuda`` for a GPU, the CPU otherwise)."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(dev),
                "count": torch.cuda.device_count()}
    return {"type": "cpu", "name": cpu_flags()["model"], "count": 1,
            "threads": torch.get_num_threads()}


#: Environment variable naming the commit of a copy of the checkout that has no git
#: repository (the device tool copies the working tree only): see :func:`git_commit`.
GIT_COMMIT_ENV = "HRCN_GIT_COMMIT"


def git_commit(root: Path | None = None) -> dict[str, Any]:
    """The checkout's commit and whether it had uncommitted changes.

    Outside a git repository (or without git) the commit is ``$HRCN_GIT_COMMIT`` when set --
    the commit of the clean checkout a copy was made from, as device/record_gpu.sh passes
    it -- with ``dirty`` unknown and ``"source"`` saying so; else ``None``.
    """
    root = root or checkout_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True,
                               timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        given = os.environ.get(GIT_COMMIT_ENV, "").strip()
        if given:
            return {"commit": given, "dirty": None,
                    "source": f"${GIT_COMMIT_ENV}: the copy that ran had no git repository"}
        return {"commit": None, "dirty": None}
    return {"commit": sha, "dirty": bool(dirty)}


# ----------------------------------------------------------------------------- the steps


def _train(ch, run: RecordRun, folder: ModelRun, rows: pd.DataFrame, profile: Profile) -> None:
    """Train one run unless finished (enough epochs in its history); resume when possible."""
    cfg = run_config(profile, run)
    if folder.is_trained and folder.history.exists() and \
            len(pd.read_csv(folder.history)) >= cfg.epochs:
        log.info("record: %s already trained, reused", run.name)
        return
    resume = folder.checkpoint.exists()
    log.info("record: training %s (%s, %d samples, %d epochs)%s", run.name, run.recipe,
             len(rows), cfg.epochs, " - resumed" if resume else "")
    train(cfg, rows, folder.root, resume=resume, force=not resume, cache_dir=ch.paths.cache,
          progress=False)


def _evaluate(ch, run: RecordRun, folder: ModelRun, df: pd.DataFrame, set_name: str,
              profile: Profile) -> EvalResult:
    """Evaluate one run on one set unless done; the main run is timed (no cache)."""
    if not folder.is_evaluated(set_name):
        device = None if ch.device == "auto" else ch.device
        model = load_trained_model(folder.root, device=device)
        evaluate(model, df, run.spec.dataset, out_dir=folder.root, set_name=set_name,
                 device=device, cache_dir=None if run.main else ch.paths.cache,
                 timing_samples=profile.timing_samples if run.main else 0,
                 allow_overlap=set_name != "test", progress=False)
    return EvalResult.load(folder, set_name)


def _prediction_rows(run: RecordRun, set_name: str, result: EvalResult,
                     manifest: pd.DataFrame) -> pd.DataFrame:
    """A run's predictions in the record's columns (+ the manifest's extras)."""
    pred = result.predictions
    extras = manifest.assign(hdu=manifest["hdu"].astype(int))[
        ["obsid", "hdu", *[c for c in _PREDICTION_EXTRAS if c in manifest.columns]]]
    out = pd.DataFrame({"pair": run.spec.key, "seed": run.seed, "recipe": run.recipe,
                        "set": set_name, "obsid": pred["obsid"].astype(str),
                        "hdu": pred["hdu"].astype(int), "body": pred["body"].astype(str),
                        "label": pred["label"].astype(str), "p_nsc": pred["p_nsc"],
                        "pred": pred["prediction"].astype(str)})
    return out.merge(extras.drop_duplicates(["obsid", "hdu"]), on=["obsid", "hdu"], how="left")


def _split_table(train_df: pd.DataFrame, test_df: pd.DataFrame,
                 blurry: pd.DataFrame) -> pd.DataFrame:
    parts = [df.assign(subset=name) for name, df in (("train", train_df), ("test", test_df),
                                                      ("blurry", blurry))]
    split = pd.concat(parts, ignore_index=True)
    return pd.DataFrame({"obsid": split["obsid"].astype(str), "hdu": split["hdu"].astype(int),
                         "body": split["body"].astype(str), "label": split["label"].astype(str),
                         "subset": split["subset"]})


def _outcome(predictions: pd.DataFrame) -> dict[str, Any]:
    """The issue's targets on the main runs' test results, as measured (a summary; the
    metrics file is the source)."""
    from hrcn_lib.records import derive_metrics

    m = derive_metrics(predictions)
    main = m.loc[(m["recipe"] == MAIN_RECIPE) & (m["set"] == "test")]
    first = main.loc[main.groupby("pair")["seed"].idxmin()]
    rows = {r.pair: {"accuracy": r.accuracy, "acc_lo": r.acc_lo, "majority": r.majority,
                     "above_majority_by_lower_bound": bool(r.acc_lo > r.majority)}
            for r in first.itertuples()}
    hr = rows.get(pair_key("hr-celestialnet", "lcid"))
    return {"pairs": rows, "hr_celestialnet_at_least_0.85": None if hr is None
            else bool(hr["accuracy"] >= 0.85),
            "every_pair_above_majority": all(r["above_majority_by_lower_bound"]
                                             for r in rows.values())}



@dataclass
class _Collected:
    """What a record gathers from its runs, in run order (trained here or taken over).

    Attributes:
        predictions: per run, its rows of ``predictions.csv`` (both sets).
        timings: rows of ``timings.csv`` (pair, seed, recipe, set, preprocess_ms,
            classify_ms).
        curves, configs: per run name, its ``history.csv`` and its ``config.json`` + recipe.
        diagnosed: per main run with misclassified samples, its rows of ``causes.csv``.
        images: Grad-CAM PNG bytes by file stem.
        reused: per run taken over, the provenance of the call that trained it.
    """

    predictions: list[pd.DataFrame] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    diagnosed: list[pd.DataFrame] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    reused: dict[str, dict[str, Any]] = field(default_factory=dict)

    def take(self, name: str, got: ReusedRun) -> None:
        """Add run ``name`` as taken over from an earlier record."""
        self.predictions.append(got.predictions)
        self.timings.extend(got.timings.to_dict("records"))
        self.curves[name], self.configs[name] = got.curve, got.config
        if len(got.causes):
            self.diagnosed.append(got.causes)
        self.images.update(got.images)
        self.reused[name] = got.provenance


def _record_run(ch: Chapter, run: RecordRun, rows: pd.DataFrame, sets: dict[str, pd.DataFrame],
                profile: Profile, got: _Collected) -> None:
    """Train ``run`` on ``rows`` (or reuse / resume its folder), evaluate it on each of
    ``sets`` and, for a main run, diagnose its misclassified samples; add it all to ``got``."""
    folder = ch.paths.model_run(run.spec.model, run.spec.dataset, run.variant)
    _train(ch, run, folder, rows, profile)
    got.configs[run.name] = {**json.loads(folder.config.read_text()), "recipe": run.recipe}
    got.curves[run.name] = pd.read_csv(folder.history)
    for set_name, df in sets.items():
        res = _evaluate(ch, run, folder, df, set_name, profile)
        got.predictions.append(_prediction_rows(run, set_name, res, df))
        got.timings.append({"pair": run.spec.key, "seed": run.seed, "recipe": run.recipe,
                            "set": set_name, "preprocess_ms": res.median_ms("preprocess"),
                            "classify_ms": res.median_ms("classify")})
        if run.main:
            _diagnose_wrong(ch, run, folder, res, df, set_name, profile, got)


def _diagnose_wrong(ch, run: RecordRun, folder: ModelRun, res: EvalResult, df: pd.DataFrame,
                    set_name: str, profile: Profile, got: _Collected) -> None:
    """Causes of the samples of ``set_name`` that ``run`` misclassified, from the model and
    the image (:func:`hrcn_lib.causes.diagnose`), with Grad-CAM images; added to ``got``
    (nothing when every sample is right)."""
    wrong = res.predictions.loc[res.predictions["label"] != res.predictions["prediction"]]
    if not len(wrong):
        return
    model = load_trained_model(folder.root, device=None if ch.device == "auto" else ch.device)
    truth = df.assign(hdu=df["hdu"].astype(int))
    rows_w = wrong[["path", "hdu", "obsid", "body", "label", "p_nsc"]].assign(
        pred=wrong["prediction"]).merge(
        truth.drop(columns=[c for c in ("path", "body", "label") if c in truth.columns]),
        on=["obsid", "hdu"], how="left")
    table, pngs = diagnose(model, rows_w, run.spec.dataset, cache_dir=ch.paths.cache,
                           images_for=profile.gradcam_per_set)
    table.insert(0, "set", set_name)
    table.insert(0, "pair", run.spec.key)
    table["gradcam"] = [f"{run.spec.key}_{set_name}_{p}" if p else "" for p in table["gradcam"]]
    got.images.update({f"{run.spec.key}_{set_name}_{n}": b for n, b in pngs.items()})
    got.diagnosed.append(table)


def _provenance(profile: Profile, git: dict[str, Any], started: str, command: str | None,
                device: str, t0: float) -> dict[str, Any]:
    """The head of ``record.json``: what ran where, when, by which command (``t0``: the
    call's start, :func:`time.perf_counter`)."""
    return {
        "profile": profile.name, "description": profile.description, "where": profile.where,
        "git": git, "hrcn_lib": __version__, "torch": torch.__version__,
        "python": platform.python_version(), "device": device_info(device),
        "cpu": cpu_flags(), "started": started,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
        "wall_seconds_this_call": round(time.perf_counter() - t0, 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def make_record(profile_name: str | Profile, out: Path | str, *,
                data_dir: Path | str | None = None,
                work_dir: Path | str | None = None, force: bool = False,
                command: str | None = None, reuse: Path | str | None = None) -> Path:
    """Run everything a profile enables and write its record to ``out``.

    Args:
        profile_name: a profile of :data:`hrcn_lib.profiles.PROFILES` (e.g. ``record-cpu``),
            or a :class:`~hrcn_lib.profiles.Profile`.
        out: the record directory (``records/<name>``), written at the end in one rename.
        data_dir: an LCID-sim (or LCID) folder with both manifests; default: simulate into
            ``<work_dir>/data`` (reused when already there).
        work_dir: the run directory that holds data, split, cache and one folder per run
            (default ``runs/<profile>``); keep it to resume.
        force: replace an existing record at ``out``.
        command: the command line written to ``record.json`` (default: ``sys.argv``).
        reuse: an earlier record of the same profile (it may be ``out`` itself, with
            ``force``): its runs whose recipe and training samples are unchanged are taken
            over instead of trained (:func:`hrcn_lib.record_reuse.reusable`), after its split
            and per-sample data are checked to be this call's.

    Returns:
        ``out``.

    Raises:
        ValueError, RecordError: a ``reuse`` record that is unreadable or of another profile
            (:func:`~hrcn_lib.record_reuse.open_reuse`, checked first), then see
            :func:`check_request`: nothing is written then;
        the training and evaluation errors of :mod:`hrcn_lib.train` / :mod:`hrcn_lib.evaluate`.
    """
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    git = git_commit()  # the code that runs (later commits must not be credited with it)
    profile = _as_profile(profile_name)
    # read once, before anything is written: a bad --reuse leaves nothing behind, and it is
    # named whatever the disk holds (the disk check below depends on the machine)
    earlier = open_reuse(reuse, profile.name) if reuse is not None else None
    profile = check_request(profile, out, data_dir=data_dir, work_dir=work_dir, force=force)
    work = Path(work_dir) if work_dir else RunPaths.for_profile(profile.name).root
    data = _prepare_data(chapter_context(profile, work, data_dir), git, started, t0)
    if earlier is not None:
        check_same_data(earlier, data.split, data.sets)
    got = _run_all(data, profile, earlier, t0)
    preds = pd.concat(got.predictions, ignore_index=True)
    causes = (pd.concat(got.diagnosed, ignore_index=True) if got.diagnosed
              else pd.DataFrame(columns=list(DIAGNOSIS_COLUMNS)))
    info = {**_provenance(profile, git, started, command, data.ch.device, t0),
            **_results_info(profile, data, got, preds)}
    if earlier is not None:
        info["reused_from"] = str(earlier.root)
        info["reused_runs"] = got.reused
    path = write_record(out, info=info, split=data.split, predictions=preds,
                        timings=pd.DataFrame(got.timings), curves=got.curves, causes=causes,
                        images=got.images, force=force)
    log.info("record: written %s in %.0f s", path, time.perf_counter() - t0)
    return path


@dataclass
class _Data:
    """What every run of a record shares: the chapter context, the data sets and the split."""

    ch: Chapter
    lcid: pd.DataFrame
    blurry: pd.DataFrame
    train: pd.DataFrame
    split: pd.DataFrame
    sets: dict[str, pd.DataFrame]
    source: dict[str, Any]


def _prepare_data(ch: Chapter, git: dict[str, Any], started: str, t0: float) -> _Data:
    """The profile's data (simulated into the work directory unless already there) and its
    body-level split, checked (:func:`hrcn_lib.records.check_split`)."""
    simulated = not (ch.lcid_manifest.exists() and ch.blurry_manifest.exists())
    log.info("record: profile %s, work directory %s%s", ch.profile.name, ch.paths.root,
             ", simulating LCID-sim first" if simulated else "")
    lcid, blurry = ensure_dataset(ch, progress=False)
    if simulated:
        _write_simulation_note(ch.paths.root, ch.profile.name, git, started,
                               time.perf_counter() - t0)
    source = _data_source(ch.paths.root, ch.data_dir, ch.profile.name, simulated)
    train_df, test_df = ensure_split(ch, lcid)
    split = _split_table(train_df, test_df, blurry)
    check_split(split, f"{ch.paths.splits} (the record's split)")
    log.info("record: data and split ready, %.0f s after the start", time.perf_counter() - t0)
    return _Data(ch=ch, lcid=lcid, blurry=blurry, train=train_df, split=split,
                 sets={"test": test_df, "blurry": blurry}, source=source)


def _run_all(data: _Data, profile: Profile, earlier: Record | None, t0: float) -> _Collected:
    """Every planned run, in order: taken over from ``earlier`` when
    :func:`hrcn_lib.record_reuse.reusable` allows it, else trained and evaluated here."""
    got = _Collected()
    runs = planned_runs(profile)
    for k, run in enumerate(runs, 1):
        rows = limit_samples(data.train, profile.train_cap(_trains_like(profile, run)),
                             data.ch.seed)
        if earlier is not None:
            why = reusable(earlier, run.name, run_config(profile, run), rows)
            if why is None:
                got.take(run.name, take_run(earlier, run.name, run.spec.key, run.seed,
                                            run.recipe))
                log.info("record: run %d/%d %s taken from %s", k, len(runs), run.name,
                         earlier.root)
                continue
            log.info("record: %s is trained here, not reused: %s", run.name, why)
        log.info("record: run %d/%d %s, %.0f s after the start", k, len(runs), run.name,
                 time.perf_counter() - t0)
        _record_run(data.ch, run, rows, data.sets, profile, got)
    return got


def _results_info(profile: Profile, data: _Data, got: _Collected, preds: pd.DataFrame
                  ) -> dict[str, Any]:
    """``record.json``'s fields after the provenance: training seconds, recipes, the
    profile, the data and split, the outcome."""
    split = data.split
    return {
        "train_seconds": {name: round(float(c["seconds"].sum()), 1) for name, c in
                          got.curves.items()},
        "recipe_departure": profile.recipe_departure,
        "recipes": got.configs,
        "profile_fields": {k: v for k, v in asdict(profile).items() if k != "runs"},
        "data": {**data.source,
                 "folder": str(data.ch.data_dir), "lcid_samples": len(data.lcid),
                 "blurry_samples": len(data.blurry),
                 "bodies": {s: int(split.loc[split["subset"] == s, "body"].nunique())
                            for s in ("train", "test", "blurry")}},
        "split": {"method": "manifest.split_by_body: stratified by class at the body level, "
                            "sample fraction closest to test_fraction",
                  "test_fraction": profile.test_fraction, "seed": profile.seed},
        "outcome": _outcome(preds),
    }
