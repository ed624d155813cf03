"""Chapter 4, training (the paper's Sec. 3.1 recipe) of the profile's model/data-set pairs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hrcn_lib.chapters.context import Chapter, is_trained, limit_samples, pair_epochs
from hrcn_lib.paper_numbers import PAPER_RECIPE
from hrcn_lib.profiles import RunSpec
from hrcn_lib.train import TrainConfig, train

__all__ = ["profile_recipe", "recipe_table", "numbers", "ensure_trained", "train_profile_runs",
           "load_histories", "run_configs"]


def profile_recipe(ch: Chapter) -> TrainConfig:
    """The profile's recipe (before per-pair epochs; :meth:`TrainConfig.from_profile`)."""
    return TrainConfig.from_profile(ch.profile, RunSpec("hr-celestialnet", "lcid"))


def recipe_table(ch: Chapter) -> pd.DataFrame:
    """The paper's training recipe (Sec. 3.1) beside this profile's, one row per setting.

    Columns ``paper`` and ``this run (<profile>)``, as text; the paper names no momentum
    (plain SGD), shown as such.
    """
    c = profile_recipe(ch)
    rows = {
        "optimizer": (PAPER_RECIPE["optimizer"], "SGD"),
        "learning rate": (f"{PAPER_RECIPE['lr']:g}", f"{c.lr:g}"),
        "momentum": ("none stated (plain SGD)", f"{c.momentum:g}" if c.momentum else "0 (plain SGD)"),
        "batch size": (str(PAPER_RECIPE["batch_size"]), str(c.batch_size)),
        "epochs": (str(PAPER_RECIPE["epochs"]), f"{c.epochs} (per-pair overrides below)"),
        "loss": (PAPER_RECIPE["loss"], "cross-entropy"),
    }
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["paper", f"this run ({ch.profile.name})"])


def numbers(ch: Chapter) -> dict[str, object]:
    """The numbers the chapter's prose glues: this profile's recipe and the paper's."""
    c = profile_recipe(ch)
    return {
        "n_enabled": len(ch.profile.enabled_runs()), "n_pairs": len(ch.profile.runs),
        "epochs": c.epochs, "batch_size": c.batch_size, "lr": c.lr,
        "recipe_departure": ch.profile.recipe_departure
        or "none: this profile uses the paper's optimizer settings",
        "paper_epochs": PAPER_RECIPE["epochs"], "paper_lr": PAPER_RECIPE["lr"],
        "paper_batch_size": PAPER_RECIPE["batch_size"],
    }


def ensure_trained(ch: Chapter, spec: RunSpec, train_df: pd.DataFrame) -> Path:
    """Train one enabled pair unless a finished run is already in its run folder.

    The recipe is :meth:`TrainConfig.from_profile` of the pair. An unfinished run
    (checkpoint without enough epochs) is resumed; a run folder without a checkpoint to
    resume is cleared and trained afresh (``force``: it belongs to this profile's run). A
    profile may cap the training samples per pair (:meth:`Profile.train_cap`: a
    class-balanced, seeded subset, :func:`~hrcn_lib.chapters.context.limit_samples`), e.g.
    to keep the ``smoke`` profile's full-resolution training within the CI budget.

    Returns:
        The run folder (``config.json``, ``history.csv``, ``model.pt``).

    Raises:
        ValueError: if the pair is disabled in the profile (with its reason).
    """
    if not spec.enabled:
        raise ValueError(f"{spec.key} is disabled in profile {ch.profile.name!r}: {spec.reason}")
    run = ch.run(spec)
    if is_trained(ch, spec):
        return run.root
    rows = limit_samples(train_df, ch.profile.train_cap(spec), ch.seed)
    resume = run.checkpoint.exists()
    train(TrainConfig.from_profile(ch.profile, spec), rows, run.root, resume=resume,
          force=not resume, cache_dir=ch.paths.cache, progress=False)
    return run.root


def train_profile_runs(ch: Chapter, train_df: pd.DataFrame) -> pd.DataFrame:
    """Train every enabled pair of the profile (reusing finished runs); one row per pair.

    Returns:
        DataFrame indexed by run label with ``epochs`` and ``status``
        (``"trained now"``, ``"reused finished run"`` or ``"disabled: <reason>"``),
        every pair of the paper included.
    """
    rows = []
    for spec in ch.profile.runs:
        status = f"disabled: {spec.reason}"
        if spec.enabled:
            reused = is_trained(ch, spec)
            ensure_trained(ch, spec, train_df)
            status = "reused finished run" if reused else "trained now"
        rows.append({"run": spec.label, "epochs": pair_epochs(ch, spec), "status": status})
    return pd.DataFrame(rows).set_index("run")


def load_histories(ch: Chapter, specs: Sequence[RunSpec] | None = None) -> dict[str, pd.DataFrame]:
    """``history.csv`` of each pair that has one (default: the enabled pairs), by run label."""
    specs = ch.profile.enabled_runs() if specs is None else specs
    return {spec.label: pd.read_csv(ch.run(spec).history) for spec in specs
            if ch.run(spec).history.exists()}


def run_configs(ch: Chapter, specs: Sequence[RunSpec] | None = None) -> pd.DataFrame:
    """One row per trained pair from its ``config.json`` (scalar entries, as text for display)."""
    specs = ch.profile.enabled_runs() if specs is None else specs
    rows = []
    for spec in specs:
        path = ch.run(spec).config
        if path.exists():
            cfg = json.loads(path.read_text())
            rows.append({"run": spec.label,
                         **{k: str(v) for k, v in cfg.items()
                            if isinstance(v, (str, int, float, bool)) or v is None}})
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()
