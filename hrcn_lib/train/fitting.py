"""Training a model: :func:`train` (a manifest's rows) and :func:`fit` (a dataset).

:func:`fit` sets a run up -- the run folder claimed (:mod:`hrcn_lib.runfolder`), device and
precision resolved, the weights, optimizer, schedule and position restored from
``checkpoint.pt`` on resume -- hands the steps to :class:`hrcn_lib.train.loop.TrainLoop`
and writes ``model.pt`` when every epoch ran. :func:`train` checks a manifest's rows and
files before anything is written and builds the model and its dataset.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset

from hrcn_lib import runfolder, throughput
from hrcn_lib.datasets import check_manifest_files, make_dataset
from hrcn_lib.models import build_model
from hrcn_lib.optimization import make_optimizer, make_scheduler
from hrcn_lib.paths import ModelRun
from hrcn_lib.runtime import (
    CHECKPOINT_VERSION,
    MODEL_FORMAT,
    CheckpointError,
    distributed_env,
    load_checkpoint,
    nonfinite_tensor,
    resolve_device,
    resolve_precision,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from hrcn_lib.train.loop import HISTORY_COLUMNS, Position, TrainLoop, write_config, write_history
from hrcn_lib.train.recipe import TrainConfig
from hrcn_lib.train.step import (
    epoch_batches,
    prepare_model,
    step_scope,
    warn_single_sample_batchnorm,
)

__all__ = ["TrainResult", "fit", "train"]

#: Configuration fields that must match when a run is resumed.
_RESUME_KEYS = ("model_name", "dataset_name", "batch_size", "lr", "momentum", "weight_decay",
                "optimizer", "schedule", "flips", "seed", "n_samples", "train_bodies",
                "train_obsids")
#: Recipe fields added after the first checkpoints were written: their value in a checkpoint
#: that lacks them (what those runs used).
_RESUME_DEFAULTS = {"optimizer": "sgd", "schedule": "constant", "flips": False}


@dataclass
class TrainResult:
    """What :func:`fit` / :func:`train` return.

    Attributes:
        out_dir: the run directory.
        model: the trained network (unwrapped from DDP), on the training device.
        history: one row per finished epoch, columns :data:`HISTORY_COLUMNS`.
        config: the run's :class:`TrainConfig`.
        global_step: optimizer steps taken in total.
        completed: True when every epoch ran (False when stopped by ``max_steps``).
        precision: the effective precision (``"bf16"`` or ``"fp32"``).
    """

    out_dir: Path
    model: nn.Module
    history: pd.DataFrame
    config: TrainConfig
    global_step: int
    completed: bool
    precision: str
    extra: dict = field(default_factory=dict)


def fit(model: nn.Module, dataset: Dataset, out_dir: Path | str, config: TrainConfig, *,
        resume: bool = False, force: bool = False, progress: bool = True) -> TrainResult:
    """Train ``model`` on ``dataset`` with the recipe's optimizer + cross-entropy; see the module
    docstring.

    Args:
        model: network mapping (N, 1, H, W) float32 to (N, 2) logits (freshly initialised;
            on resume its weights are replaced by the checkpoint's).
        dataset: map-style dataset of ``(tensor (1, H, W) float32, int label)``.
        out_dir: run directory (created); receives config.json, history.csv,
            checkpoint.pt and, when every epoch ran, model.pt. It belongs to this run
            (:mod:`hrcn_lib.runfolder`): held (locked) while training, and stale temporary
            files of killed runs are removed when the run starts.
        config: the run's :class:`TrainConfig` (``n_samples`` is filled in here).
        resume: continue from ``out_dir/checkpoint.pt`` (error if it is missing or its
            configuration differs in model, dataset, batch, lr, seed, data size or training
            bodies). When training continues, an earlier ``model.pt`` and evaluation files
            of the folder are deleted (they describe other weights).
        force: start afresh in a folder that holds another run, deleting that run's files
            (config, history, checkpoint, model, evaluation files) first.
        progress: tqdm bars for epochs and steps (rank 0 only).

    Raises:
        ValueError: invalid configuration; RunFolderError: ``out_dir`` holds another run
        (without ``resume``/``force``) or another process trains into it; CheckpointError:
        unusable or mismatching checkpoint; TrainingDiverged: a non-finite loss or weights
        (the step is named; no model.pt is written, checkpoint.pt is removed and
        config.json records the divergence).

    A model with BatchNorm trained one sample at a time is logged as a warning
    (:func:`warn_single_sample_batchnorm`).
    """
    config.validate()
    out_dir = Path(out_dir)
    cfg = TrainConfig(**{**asdict(config), "n_samples": len(dataset)})  # type: ignore[arg-type]
    runfolder.refuse_other_run(out_dir, resume, force)
    rank, world = distributed_env()
    device = _training_device(cfg.device, world)
    precision = resolve_precision(cfg.precision, device, warn=rank == 0)
    cfg = cfg.with_layout(device, precision)
    if rank == 0:
        warn_single_sample_batchnorm(model, cfg.micro_batch)
    run = ModelRun(out_dir)
    payload = _load_resume(run.checkpoint, model, cfg) if resume else None
    if payload is None:
        seed_everything(cfg.seed)

    prepare_model(model, cfg, device)
    optimizer = make_optimizer(model.parameters(), cfg.optimizer, lr=cfg.lr,
                               momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    scheduler = make_scheduler(optimizer, cfg.schedule, lr=cfg.lr, epochs=cfg.epochs,
                               steps_per_epoch=len(epoch_batches(cfg.n_samples, cfg.batch_size,
                                                                 cfg.seed, 0, rank=rank,
                                                                 world_size=world)))
    pos = Position()
    if payload is not None:
        pos = _restore_state(run.checkpoint, payload, optimizer, scheduler)
        del payload
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    info = {**asdict(cfg), "precision_effective": precision, "world_size": world,
            "device_effective": str(device), "torch": torch.__version__,
            "machine": throughput.machine()}  # of this call: a resumed run names the last
    loop = TrainLoop(model=model, net=net, optimizer=optimizer, scheduler=scheduler,
                     dataset=dataset, cfg=cfg, run=run, info=info, device=device,
                     precision=precision, rank=rank, world=world, pos=pos)
    will_train = pos.epoch < cfg.epochs and not loop.max_reached()
    with runfolder.hold(out_dir) if rank == 0 else nullcontext(), \
            step_scope(model, cfg, device):
        if rank == 0:
            if force:
                runfolder.remove(runfolder.run_files(out_dir))
            elif will_train:  # an earlier model.pt and its evaluations describe other weights
                runfolder.remove([run.weights, *run.evaluation_files()])
            write_config(run.config, info)
        loop.run_epochs(progress)
        completed = pos.epoch >= cfg.epochs
        if completed and rank == 0:
            save_checkpoint(run.weights, {
                "format": MODEL_FORMAT, "version": CHECKPOINT_VERSION, "config": asdict(cfg),
                "precision": precision, "model": model.state_dict()})
            if not run.history.exists():
                write_history(run.history, pos.history)
    if world > 1:
        dist.barrier()
    return TrainResult(out_dir=out_dir, model=model, history=pd.DataFrame(
        pos.history, columns=list(HISTORY_COLUMNS)), config=cfg, global_step=pos.global_step,
        completed=completed, precision=precision)


def _training_device(requested: str, world: int) -> torch.device:
    """The device a rank trains on: ``requested`` resolved; under torchrun on CUDA, the GPU
    of this rank (``LOCAL_RANK``), made current."""
    device = resolve_device(requested)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def _load_resume(path: Path, model: nn.Module, cfg: TrainConfig) -> dict[str, Any]:
    """Read ``path`` (a checkpoint) for resuming ``cfg`` and load its weights into ``model``.

    Returns:
        the checkpoint payload (for :func:`_restore_state`).

    Raises:
        CheckpointError: missing or unreadable file, another configuration, NaN/inf weights,
        or weights that do not fit the model.
    """
    payload = load_checkpoint(path)
    diff = _resume_diff(payload["config"], cfg)
    if diff:
        raise CheckpointError(f"{path}: cannot resume, the configuration differs "
                              f"(checkpoint, now): {diff}")
    bad = nonfinite_tensor(payload["model"])
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad!r} holds NaN/inf: cannot resume "
                              "from a diverged state; train again with --force")
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit {cfg.model_name}/"
                              f"{cfg.dataset_name}: {str(exc)[:300]}") from None
    return payload


def _restore_state(path: Path, payload: dict[str, Any], optimizer: torch.optim.Optimizer,
                   scheduler: torch.optim.lr_scheduler.LRScheduler | None) -> Position:
    """Optimizer, schedule and RNG states from a checkpoint payload read from ``path``.

    Returns:
        the position the checkpoint stores.

    Raises:
        CheckpointError: a payload without those states (named with ``path``).
    """
    try:
        optimizer.load_state_dict(payload["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(payload["scheduler"])
        pos = Position.from_checkpoint(payload)
        set_rng_state(payload["rng"])
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: malformed checkpoint, cannot resume from it: "
                              f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return pos



def _resume_diff(old: dict[str, Any], cfg: TrainConfig) -> dict[str, Any]:
    """Fields of :data:`_RESUME_KEYS` that differ between a checkpoint's config and ``cfg``."""
    diff: dict[str, Any] = {}
    for key in _RESUME_KEYS:
        if key not in old and key in ("train_bodies", "train_obsids"):
            continue  # written before these were recorded
        was, now = old.get(key, _RESUME_DEFAULTS.get(key)), getattr(cfg, key)
        if isinstance(was, (list, tuple)) or isinstance(now, (list, tuple)):
            if tuple(was or ()) != tuple(now):
                diff[key] = (f"{len(was or ())} entries", f"{len(now)} entries")
        elif was != now:
            diff[key] = (was, now)
    return diff


def train(config: TrainConfig, train_df: pd.DataFrame, out_dir: Path | str, *,
          resume: bool = False, force: bool = False, cache_dir: Path | str | None = None,
          progress: bool = True) -> TrainResult:
    """Train ``build_model(config.model_name, config.dataset_name)`` on the rows ``train_df``.

    ``config`` is the recipe (:class:`TrainConfig`: the paper's by default;
    :meth:`TrainConfig.from_profile` for a profile's pair). Data come from
    :func:`hrcn_lib.datasets.make_dataset` (``"lcid"``: (1, 2048, 4096) samples;
    ``"lcid-resize"``: (1, 224, 448)). See :func:`fit` for the run directory, resume, force
    and memory options. Before anything is written, both classes must be present and every
    row's file must be a readable FITS file with the row's HDU whose header agrees with the
    row (:func:`hrcn_lib.datasets.check_manifest_files`); the run's ``config.json`` records
    the training bodies and OBSIDs.

    Args:
        config: the recipe; its ``train_bodies``/``train_obsids`` are filled in from
            ``train_df``.
        train_df: manifest rows (``path, hdu, label``; ``body``, ``obsid`` recorded).
        out_dir: the run folder.
        resume, force, progress: see :func:`fit`.
        cache_dir: preprocessed-sample cache (:class:`hrcn_lib.datasets.LCIDDataset`).

    Raises:
        ValueError: bad names or hyperparameters, empty or single-class ``train_df``.
        SampleError: a row's file is missing, unreadable or disagrees with the row (named).
        RunFolderError, CheckpointError, TrainingDiverged: see :func:`fit`.
    """
    if len(train_df) == 0:
        raise ValueError("train_df has no rows: nothing to train on")
    labels = sorted(set(train_df["label"])) if "label" in train_df.columns else []
    if len(labels) < 2:
        raise ValueError(f"the training data hold only the class(es) {labels} ({len(train_df)} "
                         "rows): a galaxy/NSC classifier needs samples of both classes; check "
                         "the manifest (or its split)")
    cfg = TrainConfig(**{**asdict(config), "train_bodies": _distinct(train_df, "body"),
                         "train_obsids": _distinct(train_df, "obsid")})
    cfg.validate()
    runfolder.refuse_other_run(Path(out_dir), resume, force)  # before the slower checks below
    check_manifest_files(train_df)  # first: its messages name the row, the file and the fix
    dataset = make_dataset(train_df, cfg.dataset_name, cache_dir=cache_dir)
    seed_everything(cfg.seed)
    model = build_model(cfg.model_name, cfg.dataset_name)
    return fit(model, dataset, out_dir, cfg, resume=resume, force=force, progress=progress)


def _distinct(df: pd.DataFrame, column: str) -> tuple[str, ...]:
    """Sorted distinct values of a manifest column as strings (``()`` when absent)."""
    return tuple(sorted({str(v) for v in df[column]})) if column in df.columns else ()
