"""Training: the paper's recipe (SGD, lr 1e-4, batch 4, cross-entropy, 20 epochs) or a departure.

Sec. 3.1 of Zhang et al. (2023) trains HR-CelestialNet at 2048x4096 with SGD,
learning rate 0.0001, batch size 4 and cross-entropy for 20 epochs. :class:`TrainConfig`
holds that recipe as its defaults (every value overridable;
:meth:`TrainConfig.from_profile` applies a profile's departures for one pair: optimizer
``adamw``, momentum, weight decay, a one-cycle schedule, random flips, batch size; the
pieces are built by :mod:`hrcn_lib.optimization`), and
:func:`train` runs it on a run directory (:class:`hrcn_lib.paths.ModelRun`) that receives

* ``config.json`` -- the full configuration of the run (the effective precision, and the
  training bodies and OBSIDs, which ``hrcn evaluate`` keeps out of test sets),
* ``history.csv`` -- one row per finished epoch: ``epoch, loss, accuracy, lr, seconds,
  samples_per_s`` (training loss/accuracy measured on the fly, in train mode),
* ``checkpoint.pt`` -- the resumable state, written atomically every epoch and every
  ``checkpoint_every`` optimizer steps,
* ``model.pt`` -- the final weights (written when the last epoch ends).

Exact resume. The order of the samples is a deterministic function of ``(seed, epoch)``
(a :class:`~torch.utils.data.DistributedSampler` seeded with ``seed``; ``set_epoch``),
and a checkpoint holds model, optimizer, RNG states (torch, numpy, python, CUDA) and the
position in the data order (epoch, step). A run killed at any point and resumed with
``resume=True`` ends with the same weights and metrics as an uninterrupted run.

One run per folder, no silent wrong result. A folder that holds another run's files is
refused unless ``resume`` or ``force`` (which deletes them first); the training process
holds the folder while it runs (:mod:`hrcn_lib.runfolder`). :func:`train` checks both
classes and every row's file before writing anything. Training stops at the first
NaN/inf loss (before the optimizer step) or non-finite weights (before a checkpoint is
written) with :class:`TrainingDiverged`: no ``model.pt`` is written, ``checkpoint.pt``
is removed and ``config.json`` records where it diverged.

Memory. ``micro_batch`` samples go through the network at a time; gradients of the
micro-batches are accumulated with the loss scaled by the size of the whole batch, so the
optimizer step sees the gradient of the mean loss over ``batch_size`` samples exactly as
with one pass (up to float rounding). One difference remains and is inherent:
BatchNorm normalises each micro-batch with that micro-batch's statistics (and updates
its running statistics once per micro-batch), so ``4 x 1`` is not bitwise ``1 x 4`` for
networks with BatchNorm. ``precision="bf16"`` runs the forward pass under
:func:`torch.autocast` in bfloat16 where the hardware computes bf16 natively (CUDA with
bf16, or a CPU with AVX512-BF16/AMX); on other CPUs bf16 is emulated and ~10-400x
slower than fp32, so it falls back to fp32 with a warning (``config.json`` records the
effective precision). ``precision="auto"`` (the default) takes the environment variable
``HRCN_PRECISION`` (``fp32``, ``bf16`` or ``auto``) when it is set, else bf16 where native;
see :func:`hrcn_lib.runtime.requested_precision`. ``checkpoint_activations=True`` recomputes each network segment
(the layers between two pooling layers) in the backward pass instead of storing its
activations.

Speed (the step, benchmarks/README.md). Model and inputs run in channels_last (``"auto"``:
except where NCHW is measured faster, :func:`~hrcn_lib.runtime.resolve_channels_last`); one
autocast region spans a step's micro-batches, so the weights are cast to bf16 once per step
(:func:`accumulate_gradients`); on the cpu (``fast_step``) HR-CelestialNet's first block runs
as a fused, strip-wise autograd function (:mod:`hrcn_lib.models.stem`) that never holds its
32 x 2042 x 4090 activations, and fully connected layers compute in float32 (one-sample
matrix-vector products: no bf16 casts of their weights, :mod:`hrcn_lib.models.linear`); freed memory is reused from step to step instead of being
mapped afresh (:func:`hrcn_lib.runtime.reuse_freed_memory`).

Scale-out. ``torchrun --nproc_per_node=K -m hrcn_lib.cli.train ...`` (the argument parser
and the torchrun entry live in :mod:`hrcn_lib.cli.train`) runs DistributedDataParallel (gloo on CPU, nccl on GPU); each rank takes
``batch_size / K`` samples of every batch from a ``DistributedSampler``, so the
effective batch stays ``batch_size``. Only rank 0 writes files.
Modules: :mod:`.recipe` (:class:`TrainConfig`), :mod:`.step` (data order, model form, one
optimizer step's gradients), :mod:`.loop` (the epoch loop: checkpoints, history, divergence),
:mod:`.fitting` (:func:`fit` and :func:`train`). Everything is importable from
``hrcn_lib.train`` itself.
"""

from __future__ import annotations

from hrcn_lib.runfolder import RunFolderError
from hrcn_lib.runtime import (  # re-exported: they were first defined here
    CHECKPOINT_FORMAT,
    MODEL_FORMAT,
    PRECISION_ENV,
    PRECISIONS,
    CheckpointError,
    checkpoint_file,
    load_checkpoint,
    load_trained_model,
    model_from_payload,
    native_bf16,
    requested_precision,
    resolve_device,
    resolve_precision,
    save_checkpoint,
    seed_everything,
)
from hrcn_lib.train.fitting import TrainResult, fit, train
from hrcn_lib.train.loop import HISTORY_COLUMNS, TrainingDiverged
from hrcn_lib.train.recipe import TrainConfig
from hrcn_lib.train.step import (
    ACTIVATION_CHECKPOINT_SEGMENTS,
    accumulate_gradients,
    epoch_batches,
    prepare_model,
    step_scope,
    warn_single_sample_batchnorm,
)

__all__ = [
    "TrainConfig",
    "TrainResult",
    "CheckpointError",
    "TrainingDiverged",
    "RunFolderError",
    "train",
    "fit",
    "epoch_batches",
    "accumulate_gradients",
    "prepare_model",
    "step_scope",
    "warn_single_sample_batchnorm",
    "ACTIVATION_CHECKPOINT_SEGMENTS",
    "HISTORY_COLUMNS",
    # from hrcn_lib.runtime, importable from here as before
    "load_trained_model",
    "load_checkpoint",
    "model_from_payload",
    "checkpoint_file",
    "save_checkpoint",
    "resolve_device",
    "resolve_precision",
    "requested_precision",
    "native_bf16",
    "seed_everything",
    "PRECISION_ENV",
    "PRECISIONS",
    "CHECKPOINT_FORMAT",
    "MODEL_FORMAT",
]
