"""Chapter 5, hardware requirements (the paper's Sec. 3.3 and Table 3), estimated and measured."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hrcn_lib import hardware, throughput
from hrcn_lib.chapters.context import Chapter
from hrcn_lib.names import pair_label
from hrcn_lib.paper_numbers import PAPER_TABLE3
from hrcn_lib.profiles import RunSpec
from hrcn_lib.train import ACTIVATION_CHECKPOINT_SEGMENTS, TrainConfig

__all__ = ["table3_comparison", "measured_memory", "memory_table", "numbers",
           "profile_memory_setup", "measured_against_estimate", "training_throughput"]


def table3_comparison(ours: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Table 3 computed beside Table 3 printed, per (model, dataset).

    Args:
        ours: :func:`hrcn_lib.hardware.table3` (``model, dataset, image_size, input_mb,
            model_mb, total_gb``).
        paper: :func:`hrcn_lib.paper_numbers.paper_table3` (same columns).

    Returns:
        DataFrame indexed by run label: ``image size``, then ``input MB``,
        ``model MB``, ``total GB`` each as ``(ours)`` / ``(paper)``, and
        ``match`` (all three equal after rounding ours to two decimals).
    """
    both = ours.merge(paper, on=["model", "dataset"], suffixes=(" (ours)", " (paper)"))
    out = pd.DataFrame({"run": [pair_label(m, d) for m, d in zip(both["model"], both["dataset"],
                                                                 strict=True)],
                        "image size": both["image_size (ours)"]})
    match = np.ones(len(both), dtype=bool)
    for col, name in (("input_mb", "input MB"), ("model_mb", "model MB"), ("total_gb", "total GB")):
        out[f"{name} (ours)"] = both[f"{col} (ours)"].round(2).to_numpy()
        out[f"{name} (paper)"] = both[f"{col} (paper)"].to_numpy()
        match &= np.isclose(out[f"{name} (ours)"], out[f"{name} (paper)"], atol=0.005)
    out["match"] = match
    return out.set_index("run")


def _micro_batches(ch: Chapter) -> dict[tuple[str, str], int]:
    """(model, data set) -> samples per forward pass, for each pair the profile trains, in
    the profile's order (:meth:`TrainConfig.from_profile`)."""
    return {(s.model, s.dataset): TrainConfig.from_profile(ch.profile, s).micro_batch
            for s in ch.profile.enabled_runs()}


def measured_memory(ch: Chapter, *, measure: bool = True) -> pd.DataFrame:
    """Peak memory of one training step of each enabled pair, as this profile trains it.

    :func:`hrcn_lib.hardware.measured_memory` with the profile's micro-batch, precision,
    device and activation checkpointing (:meth:`TrainConfig.from_profile`), on a CPU as
    :func:`hrcn_lib.train.fit` steps (``fit_step``: channels_last, the fused first block),
    measuring only the pairs within the profile's ``measure_max_pixels``; cached in
    ``tables/peak_memory.csv`` of the run directory.
    """
    recipe = TrainConfig.from_profile(ch.profile, RunSpec("hr-celestialnet", "lcid"))
    # each pair's own micro-batch: the profile-wide one (16 in the learning recipe) at
    # 2048 x 4096 would ask one HR-CelestialNet step for ~80 GB
    micro = _micro_batches(ch)
    return hardware.measured_memory(
        list(micro), ch.paths.peak_memory,
        micro_batch=micro, precision=recipe.precision, device=recipe.device,
        checkpoint_segments=ACTIVATION_CHECKPOINT_SEGMENTS if recipe.checkpoint_activations else 0,
        max_pixels=ch.profile.measure_max_pixels, measure=measure, fit_step=recipe.fast_step)


def memory_table(comparison: pd.DataFrame, gpu: pd.DataFrame, measured: pd.DataFrame
                 ) -> pd.DataFrame:
    """Estimated and measured training memory per pair, in GB (for
    :func:`hrcn_lib.figures.memory_bars`).

    Args:
        comparison: :func:`table3_comparison`.
        gpu: :func:`hrcn_lib.chapters.context.recorded_gpu` (may be empty).
        measured: :func:`measured_memory` (may be empty).

    Returns:
        DataFrame indexed by run label: ``estimate, batch 4 (ours)``, ``estimate, batch 4
        (paper)``, and when recorded/measured ``measured peak, GPU fp32 batch 4
        (recorded)`` and ``measured peak, this profile``.
    """
    table = pd.DataFrame({"estimate, batch 4 (ours)": comparison["total GB (ours)"],
                          "estimate, batch 4 (paper)": comparison["total GB (paper)"]})
    if len(gpu):
        table["measured peak, GPU fp32 batch 4 (recorded)"] = gpu["peak GB (fp32)"].reindex(
            table.index)
    if len(measured):
        table["measured peak, this profile"] = measured["peak_mb"].reindex(table.index) / 1024
    return table


def numbers(ours: pd.DataFrame, comparison: pd.DataFrame, gpu: pd.DataFrame) -> dict[str, object]:
    """The numbers the chapter's prose glues.

    Args:
        ours: :func:`hrcn_lib.hardware.table3`; comparison: :func:`table3_comparison`;
        gpu: :func:`hrcn_lib.chapters.context.recorded_gpu`.

    Returns:
        ``hr_total_gb`` and ``n_match3`` (ours), ``paper_hr_total_gb`` and
        ``paper_vgg_lcid_gb`` (Table 3), and from the GPU record (when there is one)
        ``gpu_name``, ``hr_gpu_fp32_gb``, ``hr_gpu_bf16_gb``, ``resnet_lcid_gpu_fp32_gb``,
        ``paper_resnet_lcid_gb`` and ``hr_gpu_over_estimate`` (measured / Table 3).
    """
    hr = ours.set_index(["model", "dataset"]).loc[("hr-celestialnet", "lcid")]
    paper = PAPER_TABLE3.set_index(["model", "dataset"])["total_gb"]
    values: dict[str, object] = {
        "hr_total_gb": float(hr["total_gb"]), "n_match3": int(comparison["match"].sum()),
        "n_pairs3": len(comparison),
        "paper_hr_total_gb": float(paper[("hr-celestialnet", "lcid")]),
        "paper_vgg_lcid_gb": float(paper[("vgg", "lcid")]),
    }
    if len(gpu):
        row = gpu.loc[pair_label("hr-celestialnet", "lcid")]
        resnet = gpu.loc[pair_label("resnet", "lcid")]
        values.update(gpu_name=str(row["device"]), hr_gpu_fp32_gb=float(row["peak GB (fp32)"]),
                      hr_gpu_bf16_gb=float(row["peak GB (bf16)"]),
                      resnet_lcid_gpu_fp32_gb=float(resnet["peak GB (fp32)"]),
                      paper_resnet_lcid_gb=float(paper[("resnet", "lcid")]),
                      hr_gpu_over_estimate=float(row["peak GB (fp32)"])
                      / float(paper[("hr-celestialnet", "lcid")]))
    return values


def measured_against_estimate(table: pd.DataFrame) -> dict[str, str]:
    """Which pairs this machine measured below and above our batch-4 fp32 estimate.

    Args:
        table: :func:`memory_table` (GB columns ``estimate, batch 4 (ours)`` and, when
            something was measured, ``measured peak, this profile``).

    Returns:
        ``measured_below`` and ``measured_above``: comma-separated run labels with the
        measured and estimated GB (``"none"`` when empty).
    """
    col = "measured peak, this profile"
    if col not in table.columns:
        return {"measured_below": "none", "measured_above": "none"}
    rows = table.loc[table[col].notna()]

    def names(mask: pd.Series) -> str:
        picked = rows.loc[mask]
        return ", ".join(f"{run} ({m:.2f} GB measured, {e:.2f} GB estimated)" for run, m, e in
                         zip(picked.index, picked[col], picked["estimate, batch 4 (ours)"],
                             strict=True)) or "none"

    below = rows[col] < rows["estimate, batch 4 (ours)"]
    return {"measured_below": names(below), "measured_above": names(~below)}


def profile_memory_setup(ch: Chapter) -> dict[str, object]:
    """How this profile trains, as the measured peaks above were taken:
    ``profile_micro_batch`` (samples per forward pass, per enabled pair, as text such as
    ``"HR-CelestialNet (LCID) 1, ResNet (LCID-Resize) 16"``), ``checkpointing``
    (``"on"``/``"off"``) and ``precision`` (requested)."""
    recipe = TrainConfig.from_profile(ch.profile, RunSpec("hr-celestialnet", "lcid"))
    micro = ", ".join(f"{pair_label(*pair)} {n}" for pair, n in _micro_batches(ch).items())
    return {"profile_micro_batch": micro or "none (no pair trained)",
            "profile_checkpointing": "on" if recipe.checkpoint_activations else "off",
            "profile_precision": recipe.precision}


def training_throughput(ch: Chapter) -> pd.DataFrame:
    """How fast this machine trained each pair of the profile (chapter 4's runs).

    :func:`hrcn_lib.throughput.run_throughput` of the enabled pairs' run folders: precision,
    device, samples trained, seconds per sample and samples/s over every epoch (data loading
    and checkpoints included), the training TFLOP per sample and the GFLOP/s reached. The
    DataFrame's ``attrs["machine"]`` is :func:`hrcn_lib.throughput.machine`. Pairs not
    trained (yet) are left out.
    """
    table = throughput.run_throughput({spec.label: ch.run(spec).root
                                       for spec in ch.profile.enabled_runs()})
    table.attrs["machine"] = throughput.machine()
    return table
