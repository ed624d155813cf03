"""The epoch loop of :func:`hrcn_lib.train.fit`: steps, checkpoints, history, divergence.

:class:`Position` is where a run stands (epoch, step in the epoch, optimizer steps in all,
the running epoch's tallies and the finished epochs' rows); a checkpoint stores exactly it
with model, optimizer, schedule and RNG states, so a resumed run continues where the
interrupted one stopped. :class:`TrainLoop` runs the steps from a position to the last
epoch (or to ``max_steps``): it writes ``checkpoint.pt`` every ``checkpoint_every`` steps
and at the end of each epoch, ``history.csv`` at the end of each epoch, and stops at the
first non-finite loss or weights with :class:`TrainingDiverged` (rank 0 writes; every rank
stops).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from hrcn_lib import runfolder
from hrcn_lib.paths import ModelRun, atomic_write
from hrcn_lib.runtime import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    nonfinite_tensor,
    rng_state,
    save_checkpoint,
)
from hrcn_lib.train.recipe import TrainConfig
from hrcn_lib.train.step import (
    accumulate_gradients,
    epoch_batches,
    micro_batches,
    training_micro_batches,
)

__all__ = ["HISTORY_COLUMNS", "TrainingDiverged", "Position", "TrainLoop", "write_config"]

#: Columns of ``history.csv``.
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "lr", "seconds", "samples_per_s")


class TrainingDiverged(ValueError):
    """The training loss (or the weights) became NaN/inf; the message names the step and the fix.

    A ``ValueError``: the usual cause is a learning rate too large for the data.
    """


@dataclass
class Position:
    """Where a run stands in its data order, and the tallies of the epoch under way.

    Attributes:
        epoch: finished epochs (the 0-based index of the epoch under way).
        step: optimizer steps done in the epoch under way.
        global_step: optimizer steps done in all.
        loss_sum: summed cross-entropy (nats) of the epoch's samples so far.
        correct, seen: the epoch's correctly classified and seen training samples so far.
        seconds: wall seconds of the epoch so far (over interruptions: the time trained).
        history: one row per finished epoch (:data:`HISTORY_COLUMNS`).
    """

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    def epoch_stats(self) -> dict[str, Any]:
        """The running epoch's tallies as a checkpoint stores them (``epoch_stats``)."""
        return {"loss_sum": self.loss_sum, "correct": self.correct, "seen": self.seen,
                "seconds": self.seconds}

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any]) -> Position:
        """The position a checkpoint payload stores.

        Raises:
            KeyError, TypeError, ValueError: a payload without a readable position (the
            caller names the file).
        """
        pos, stats = payload["position"], payload["epoch_stats"]
        return cls(epoch=int(pos["epoch"]), step=int(pos["step"]),
                   global_step=int(pos["global_step"]), loss_sum=float(stats["loss_sum"]),
                   correct=int(stats["correct"]), seen=int(stats["seen"]),
                   seconds=float(stats["seconds"]),
                   history=[{k: r[k] for k in HISTORY_COLUMNS} for r in payload["history"]])

    def finish_epoch(self, lr: float) -> dict[str, Any]:
        """Close the epoch under way: append and return its history row (``lr``: the rate of
        its last step), move to the next epoch's start and reset the tallies."""
        seconds = self.seconds
        row = {"epoch": self.epoch + 1, "loss": self.loss_sum / max(self.seen, 1),
               "accuracy": self.correct / max(self.seen, 1), "lr": lr, "seconds": seconds,
               "samples_per_s": self.seen / seconds if seconds > 0 else float("nan")}
        self.history.append(row)
        self.epoch, self.step = self.epoch + 1, 0
        self.loss_sum, self.correct, self.seen, self.seconds = 0.0, 0, 0, 0.0
        return row


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``history.csv`` (:data:`HISTORY_COLUMNS`, one row per finished epoch) atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(HISTORY_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row[k] for k in HISTORY_COLUMNS})
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def write_config(path: Path, info: dict[str, Any]) -> None:
    """Write ``config.json`` (the run's configuration and what it ran on) atomically."""
    with atomic_write(path) as fh:
        fh.write(json.dumps(info, indent=2) + "\n")


@dataclass
class TrainLoop:
    """The steps of one run from ``pos`` on; :meth:`run_epochs` trains, the rest are its parts.

    Attributes:
        model: the network (unwrapped), prepared (:func:`~hrcn_lib.train.step.prepare_model`).
        net: what the steps call: ``model`` or its DistributedDataParallel wrapper.
        optimizer, scheduler: built for the whole run (``scheduler`` None: constant rate).
        dataset: map-style dataset of ``(tensor (1, H, W) float32, int label)``.
        cfg: the run's recipe, layout resolved.
        run: the run folder's file names.
        info: what ``config.json`` holds (a divergence is added to it).
        device, precision: where and in what the steps compute (``"bf16"``/``"fp32"``).
        rank, world: this process's rank and the number of ranks.
        pos: where the run stands (moved on as it trains).
    """

    model: nn.Module
    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    dataset: Dataset
    cfg: TrainConfig
    run: ModelRun
    info: dict[str, Any]
    device: torch.device
    precision: str
    rank: int
    world: int
    pos: Position
    step_lr: float = field(init=False, default=math.nan)

    def max_reached(self) -> bool:
        """Whether ``max_steps`` optimizer steps have been taken."""
        return self.cfg.max_steps is not None and self.pos.global_step >= self.cfg.max_steps

    def run_epochs(self, progress: bool) -> None:
        """Train from :attr:`pos` to the last epoch, or until ``max_steps`` (the run stays
        resumable). ``progress``: tqdm bars (rank 0 only).

        Raises:
            TrainingDiverged: a non-finite loss or weights (see :meth:`diverge`).
        """
        show = progress and self.rank == 0
        self.step_lr = self.optimizer.param_groups[0]["lr"]
        stopped = self.max_reached() and self.pos.epoch < self.cfg.epochs
        ebar = tqdm(total=self.cfg.epochs, initial=self.pos.epoch,
                    desc=f"train {self.cfg.model_name}", unit="epoch", disable=not show,
                    position=0)
        try:
            while self.pos.epoch < self.cfg.epochs and not stopped:
                n_steps, stopped = self._epoch(show)
                if self.pos.step == n_steps:
                    row = self.pos.finish_epoch(self.step_lr)
                    self.snapshot()
                    if self.rank == 0:
                        write_history(self.run.history, self.pos.history)
                    ebar.update(1)
                    ebar.set_postfix(loss=f"{row['loss']:.4f}", acc=f"{row['accuracy']:.3f}")
                    stopped = self.max_reached() and self.pos.epoch < self.cfg.epochs
        finally:
            ebar.close()

    def _loader(self, todo: list[list[list[int]]]) -> DataLoader:
        """A loader yielding the micro-batches ``todo`` (steps of micro-batches of indices)."""
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.pos.epoch)
        return DataLoader(self.dataset, batch_sampler=[mb for s in todo for mb in s],
                          num_workers=self.cfg.workers, generator=gen,
                          pin_memory=self.device.type == "cuda")

    def _epoch(self, show: bool) -> tuple[int, bool]:
        """The remaining steps of the epoch under way (snapshots every ``checkpoint_every``).

        Returns:
            (the epoch's number of steps, whether ``max_steps`` stopped it before its end).
        """
        cfg, pos = self.cfg, self.pos
        steps = epoch_batches(cfg.n_samples, cfg.batch_size, cfg.seed, pos.epoch,
                              rank=self.rank, world_size=self.world)
        todo = [micro_batches(s, cfg.micro_batch) for s in steps[pos.step:]]
        it = iter(self._loader(todo))
        self.net.train()
        sbar = tqdm(total=len(steps), initial=pos.step, desc=f"epoch {pos.epoch + 1}",
                    unit="step", disable=not show, leave=False, position=1)
        t_start = time.perf_counter() - pos.seconds
        stopped = False
        for step_micro in todo:
            self._step(it, step_micro)
            pos.seconds = time.perf_counter() - t_start
            sbar.update(1)
            sbar.set_postfix(loss=f"{pos.loss_sum / max(pos.seen, 1):.4f}")
            if pos.step == len(steps):
                break
            hit_max = self.max_reached()
            if hit_max or (cfg.checkpoint_every and pos.global_step % cfg.checkpoint_every == 0):
                self.snapshot()
            if hit_max:
                stopped = True
                break
        sbar.close()
        return len(steps), stopped

    def _step(self, it: Iterator[tuple[torch.Tensor, torch.Tensor]],
              step_micro: list[list[int]]) -> None:
        """One optimizer step over ``step_micro``'s micro-batches, taken from ``it``; the loss
        is checked (over every rank) before the weights change."""
        pos = self.pos
        n_step = sum(len(mb) for mb in step_micro)
        autocast_dtype = torch.bfloat16 if self.precision == "bf16" else None
        step_loss, step_correct = accumulate_gradients(
            self.net, training_micro_batches(it, len(step_micro), self.device, self.cfg,
                                             pos.epoch, pos.step, self.rank),
            n_step, len(step_micro), autocast_dtype, world=self.world)
        counts = torch.stack([step_loss, step_correct.double(),
                              torch.tensor(float(n_step), dtype=torch.float64,
                                           device=self.device)])
        if self.world > 1:
            dist.all_reduce(counts)
        step_sum = float(counts[0])
        if not math.isfinite(step_sum):  # every rank sees it: all stop here
            self.diverge(f"epoch {pos.epoch + 1}, step {pos.step + 1} (optimizer step "
                         f"{pos.global_step + 1})", f"the loss is {step_sum}",
                         {"epoch": pos.epoch + 1, "step": pos.step + 1,
                          "global_step": pos.global_step + 1, "loss": str(step_sum)})
        self.step_lr = self.optimizer.param_groups[0]["lr"]  # the rate this step used
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scheduler is not None:
            self.scheduler.step()
        pos.loss_sum += step_sum
        pos.correct += int(round(float(counts[1])))
        pos.seen += int(round(float(counts[2])))
        pos.step += 1
        pos.global_step += 1

    def snapshot(self) -> None:
        """Write ``checkpoint.pt`` at :attr:`pos` (rank 0), after checking the weights on
        every rank (all stop together).

        Raises:
            TrainingDiverged: a weight holds NaN/inf.
        """
        bad = nonfinite_tensor(self.model.state_dict())
        if bad is not None:
            self.diverge(f"optimizer step {self.pos.global_step}", f"weight {bad!r} holds NaN/inf",
                         {"global_step": self.pos.global_step,
                          "loss": "finite; weights NaN/inf"})
        if self.rank != 0:
            return
        save_checkpoint(self.run.checkpoint, {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "config": asdict(self.cfg), "precision": self.precision,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "position": {"epoch": self.pos.epoch, "step": self.pos.step,
                         "global_step": self.pos.global_step},
            "epoch_stats": self.pos.epoch_stats(), "history": self.pos.history,
            "rng": rng_state(),
        })

    def diverge(self, where: str, what: str, record: dict[str, Any]) -> None:
        """Stop the run: on rank 0 ``config.json`` records ``record`` and no checkpoint or
        model stays (a resume would continue a diverged state).

        Raises:
            TrainingDiverged: always, naming ``where``, ``what`` and the fix.
        """
        if self.rank == 0:
            runfolder.remove([self.run.checkpoint, self.run.weights])
            write_config(self.run.config, {**self.info, "diverged": record})
        raise TrainingDiverged(
            f"{self.run.root}: training diverged at {where}: {what}; lower the learning rate "
            f"(lr {self.cfg.lr:g}) and train again with --force (force=True). No model.pt was "
            "written and checkpoint.pt was removed; config.json records the divergence")
