"""Chapter 4, training (the paper's Sec. 3.1 recipe) of the profile's model/data-set pairs.

The recipe is shown three ways: the paper's, the committed record's and this build's; the
record's comparison of the paper's recipe with its departure on a cheap pair
(:func:`recipe_comparison`) shows why the departure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hrcn_lib.chapters.context import (
    Chapter,
    is_trained,
    limit_samples,
    pair_epochs,
    record_label,
)
from hrcn_lib.chapters.wording import accuracy_text, difference_text
from hrcn_lib.metrics import correctness, paired_difference
from hrcn_lib.names import pair_label
from hrcn_lib.paper_numbers import PAPER_RECIPE
from hrcn_lib.profiles import RunSpec
from hrcn_lib.records import MAIN_RECIPE, PAPER_RECIPE_NAME, Record, run_name
from hrcn_lib.train import TrainConfig, train

__all__ = ["profile_recipe", "departures", "recipe_table", "numbers", "ensure_trained",
           "train_profile_runs", "load_histories", "record_curves", "recipe_comparison",
           "recipe_finding", "full_resolution_batching", "record_recipe", "run_configs",
           "record_provenance", "PAPER_CONFIG"]

#: The paper's recipe as a configuration (the defaults of :class:`TrainConfig`).
PAPER_CONFIG = TrainConfig()
#: The recipe fields a departure is read from, with how the book names them.
_RECIPE_FIELDS = {"optimizer": "optimizer", "lr": "learning rate", "schedule": "schedule",
                  "momentum": "momentum", "weight_decay": "weight decay",
                  "batch_size": "batch size", "flips": "random flips"}


def profile_recipe(ch: Chapter) -> TrainConfig:
    """The profile's recipe (before per-pair epochs; :meth:`TrainConfig.from_profile`)."""
    return TrainConfig.from_profile(ch.profile, RunSpec("hr-celestialnet", "lcid"))


def departures(config: TrainConfig | dict) -> list[str]:
    """The recipe settings in which ``config`` differs from the paper's (Sec. 3.1), named as
    the book names them (epochs and hardware settings are sizing, not recipe)."""
    get = config.get if isinstance(config, dict) else (lambda k, d=None: getattr(config, k, d))
    out = []
    for key, name in _RECIPE_FIELDS.items():
        paper = getattr(PAPER_CONFIG, key)
        value = get(key, paper)
        if (value != paper) if not isinstance(paper, float) else abs(float(value) - paper) > 1e-12:
            out.append(name)
    return out


def _describe(cfg: dict) -> dict[str, str]:
    """One recipe's settings as text, in the rows of :func:`recipe_table`."""
    optimizer = {"sgd": "SGD", "adamw": "AdamW"}.get(str(cfg.get("optimizer", "sgd")),
                                                     str(cfg.get("optimizer")))
    schedule = {"constant": "constant", "onecycle": "one-cycle (peak = the learning rate)"}
    precision = cfg.get("precision_effective") or cfg.get("precision", "")
    return {
        "optimizer": optimizer,
        "learning rate": f"{float(cfg.get('lr', PAPER_CONFIG.lr)):g}",
        "schedule": schedule.get(str(cfg.get("schedule", "constant")), str(cfg.get("schedule"))),
        "momentum": f"{float(cfg.get('momentum', 0.0)):g}" + (
            " (AdamW beta1 0.9)" if optimizer == "AdamW" and not cfg.get("momentum") else ""),
        "weight decay": f"{float(cfg.get('weight_decay', 0.0)):g}",
        "batch size": str(cfg.get("batch_size")),
        "micro-batch (gradient accumulation)": str(cfg.get("micro_batch")),
        "random flips": "yes" if cfg.get("flips") else "no",
        "precision": str(precision),
        "activation checkpointing": "yes" if cfg.get("checkpoint_activations") else "no",
        "loss": "cross-entropy",
    }


def _main_recipes(record: Record) -> dict[str, dict]:
    """The recipes of the record's main runs (profile recipe, first seed), by run name."""
    return {name: c for name, c in record.info.get("recipes", {}).items()
            if c.get("recipe") == MAIN_RECIPE and "." not in name}


def record_recipe(record: Record) -> dict | None:
    """The record's profile recipe: its first main run at the profile's own learning rate
    (a pair may train at its own rate), else its first main run."""
    main = list(_main_recipes(record).values())
    rate = record.info.get("profile_fields", {}).get("lr")
    at_rate = [c for c in main if rate is not None and c.get("lr") is not None
               and math.isclose(float(c["lr"]), float(rate))]
    return (at_rate or main or [None])[0]


def _own_values(values: dict[str, float], base: float) -> str:
    """The pairs whose value of one setting (a learning rate, a batch) differs from ``base``,
    as " (<pairs>: <value>; ...)" ("" when none): ``values`` maps a pair's label to its
    value."""
    by_value: dict[float, list[str]] = {}
    for label, value in values.items():
        if not math.isclose(float(value), float(base)):
            by_value.setdefault(float(value), []).append(label)
    if not by_value:
        return ""
    return " (" + "; ".join(f"{', '.join(labels)}: {value:g}"
                            for value, labels in by_value.items()) + ")"


def _pair_configs(ch: Chapter) -> dict[str, TrainConfig]:
    """Each enabled pair's recipe in this profile (its own rate, batch, epochs), by label."""
    return {s.label: TrainConfig.from_profile(ch.profile, s) for s in ch.profile.enabled_runs()}


#: The rows of :func:`recipe_table` a pair may set for itself, with their config keys.
_PER_PAIR = {"learning rate": "lr", "batch size": "batch_size",
             "micro-batch (gradient accumulation)": "micro_batch"}


def recipe_table(ch: Chapter, record: Record | None = None) -> pd.DataFrame:
    """The paper's training recipe (Sec. 3.1) beside the record's and this build's.

    Columns ``paper (Sec. 3.1)``, the record's (:func:`record_label`; "-" without a record)
    and ``this build (<profile>)``, one row per setting, as text. Epochs are per pair
    (the last row lists them).
    """
    paper = {"optimizer": "SGD", "learning rate": f"{PAPER_RECIPE['lr']:g}",
             "schedule": "constant (none stated)", "momentum": "none stated (plain SGD)",
             "weight decay": "none stated", "batch size": str(PAPER_RECIPE["batch_size"]),
             "micro-batch (gradient accumulation)": "not stated",
             "random flips": "none stated", "precision": "not stated (float32 presumably)",
             "activation checkpointing": "not stated", "loss": str(PAPER_RECIPE["loss"])}
    base = profile_recipe(ch)
    live = _describe({**vars(base)})
    live["precision"] = f"{live['precision']} requested (config.json records what ran)"
    own = _pair_configs(ch)
    for row, key in _PER_PAIR.items():
        live[row] += _own_values({label: getattr(c, key) for label, c in own.items()},
                                 getattr(base, key))
    rec_cfg = record_recipe(record) if record is not None else None
    rec = _describe(rec_cfg) if rec_cfg else dict.fromkeys(paper, "-")
    if rec_cfg:
        for row, key in _PER_PAIR.items():
            default = getattr(PAPER_CONFIG, key)
            rec[row] += _own_values(
                {pair_label(*_split_key(c)): float(c.get(key, default))
                 for c in _main_recipes(record).values()}, float(rec_cfg.get(key, default)))
    rows = {k: (paper[k], rec[k], live[k]) for k in paper}
    rows["epochs"] = (str(PAPER_RECIPE["epochs"]), _record_epochs(record),
                      ", ".join(f"{s.label}: {pair_epochs(ch, s)}"
                                for s in ch.profile.enabled_runs()))
    return pd.DataFrame.from_dict(rows, orient="index", columns=[
        "paper (Sec. 3.1)", record_label(record), f"this build ({ch.profile.name})"])


def _who(info: dict) -> dict[str, str]:
    """Commit, date, device and CPU flags of one call, as the provenance table shows them."""
    git = info.get("git") or {}
    commit = str(git.get("commit") or "unknown")[:10] + (" (uncommitted changes)"
                                                          if git.get("dirty") else "")
    device = info.get("device") or {}
    flags = (info.get("cpu") or {}).get("flags") or []
    return {"commit": commit, "date": str(info.get("date", ""))[:10],
            "device": f"{device.get('type', '?')}: {device.get('name', '?')}",
            "CPU flags": " ".join(f for f in flags if f != "fma") if device.get("type") == "cpu"
            else "-"}


def record_provenance(record: Record | None) -> pd.DataFrame:
    """Which call trained each run of the record: one row per run (its name in the record)
    with ``commit``, ``date``, ``device``, ``CPU flags``, ``training hours`` and ``made by``
    (this record, or the earlier record a ``hrcn record --reuse`` took it from).
    Empty without a record."""
    if record is None:
        return pd.DataFrame()
    reused = record.info.get("reused_runs", {})
    seconds = record.info.get("train_seconds", {})
    rows = []
    for name in record.info.get("recipes", {}):
        source = reused.get(name)
        who = _who(source if source is not None else record.info)
        hours = seconds.get(name)
        rows.append({"run": name, **who,
                     "training hours": round(float(hours) / 3600, 2) if hours is not None
                     else float("nan"),
                     "made by": (f"taken from an earlier {source.get('record', 'record')}"
                                 if source is not None else "this record")})
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def _record_epochs(record: Record | None) -> str:
    if record is None:
        return "-"
    return ", ".join(f"{pair_label(*_split_key(c))}: {c.get('epochs')}"
                     for c in _main_recipes(record).values())


def _split_key(cfg: dict) -> tuple[str, str]:
    return str(cfg.get("model_name")), str(cfg.get("dataset_name"))


def numbers(ch: Chapter, record: Record | None = None) -> dict[str, object]:
    """The numbers the chapter's prose glues: this build's recipe, the record's and the paper's.

    ``recipe_departure`` names every setting in which this build's recipe differs from the
    paper's (:func:`departures`) and the profile's reason; "none" only when nothing differs.
    ``record_departure`` names the record's settings only: whether its departure helps is
    what the record measured (``recipe_finding``), not the reason it gives.
    """
    c = profile_recipe(ch)
    names = departures(c)
    why = ch.profile.recipe_departure or "the profile gives no reason"
    rec_cfg = record_recipe(record) if record is not None else None
    rec_names = departures(rec_cfg) if rec_cfg else []
    return {
        "n_enabled": len(ch.profile.enabled_runs()), "n_pairs": len(ch.profile.runs),
        "epochs": c.epochs, "batch_size": c.batch_size, "lr": c.lr,
        "optimizer": _describe(vars(c))["optimizer"],
        "recipe_departure": (f"{', '.join(names)} ({why})" if names
                             else "none: this build uses the paper's recipe"),
        "record_label": record_label(record),
        "record_departure": ", ".join(rec_names) if rec_names else (
            "none" if rec_cfg else "no record committed yet"),
        "recipe_finding": recipe_finding(record),
        "checkpointing": ("on" if c.checkpoint_activations else "off"),
        "full_resolution_batching": full_resolution_batching(ch),
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
        DataFrame indexed by run label with ``epochs``, ``status`` (``"trained now"``,
        ``"reused finished run"`` or ``"disabled: <reason>"``) and ``note`` (e.g. a pipeline
        check, :attr:`RunSpec.note`), every pair of the paper included.
    """
    rows = []
    for spec in ch.profile.runs:
        status = f"disabled: {spec.reason}"
        if spec.enabled:
            reused = is_trained(ch, spec)
            ensure_trained(ch, spec, train_df)
            status = "reused finished run" if reused else "trained now"
        rows.append({"run": spec.label, "epochs": pair_epochs(ch, spec), "status": status,
                     "note": spec.note})
    return pd.DataFrame(rows).set_index("run")


def load_histories(ch: Chapter, specs: Sequence[RunSpec] | None = None) -> dict[str, pd.DataFrame]:
    """``history.csv`` of each pair that has one (default: the enabled pairs), by run label."""
    specs = ch.profile.enabled_runs() if specs is None else specs
    return {spec.label: pd.read_csv(ch.run(spec).history) for spec in specs
            if ch.run(spec).history.exists()}


def record_curves(record: Record | None) -> dict[str, pd.DataFrame]:
    """The record's training curves of its main runs, by run label (empty without a record)."""
    if record is None:
        return {}
    out = {}
    for pair in record.pairs():
        model, dataset = pair.split("_", 1)
        curve = record.curves.get(run_name(pair))
        if curve is not None:
            out[pair_label(model, dataset)] = curve
    return out


def recipe_comparison(record: Record | None) -> pd.DataFrame:
    """The paper's recipe beside the record's on the pairs the record trained both ways.

    Returns:
        DataFrame indexed by (run label, recipe) with ``epochs``, ``last training loss``,
        ``last training accuracy``, ``test accuracy``, ``95 % interval`` (bootstrap over
        bodies, as text) and ``majority class``; empty without such runs.
    """
    if record is None:
        return pd.DataFrame()
    rows = []
    for pair in record.pairs(PAPER_RECIPE_NAME):
        model, dataset = pair.split("_", 1)
        for recipe, variant in ((PAPER_RECIPE_NAME, PAPER_RECIPE_NAME), (MAIN_RECIPE, "")):
            m = record.metric(pair, "test", recipe=recipe)
            curve = record.curves.get(run_name(pair, variant))
            if m is None or curve is None or curve.empty:
                continue
            rows.append({"run": pair_label(model, dataset),
                         "recipe": "the paper's" if recipe == PAPER_RECIPE_NAME
                         else "the record's departure",
                         "epochs": len(curve),
                         "last training loss": round(float(curve["loss"].iloc[-1]), 3),
                         "last training accuracy": round(float(curve["accuracy"].iloc[-1]), 3),
                         "test accuracy": round(float(m["accuracy"]), 3),
                         "95 % interval": f"[{m['acc_lo']:.3f}, {m['acc_hi']:.3f}]",
                         "majority class": round(float(m["majority"]), 3)})
    return pd.DataFrame(rows).set_index(["run", "recipe"]) if rows else pd.DataFrame()


def _paper_recipe_gain(record: Record, pair: str) -> tuple[float, float, float] | None:
    """The record's departure minus the paper's recipe on ``pair``'s testing samples that
    both runs classified: ``(difference, low, high)`` as fractions (paired bootstrap over
    bodies, :func:`hrcn_lib.metrics.paired_difference`), None without both runs."""
    main, paper = (record.run_predictions(pair, "test", recipe=r)
                   for r in (MAIN_RECIPE, PAPER_RECIPE_NAME))
    if main.empty or paper.empty:
        return None
    return paired_difference(correctness(main), correctness(paper))


def _acc_interval(m: pd.Series) -> str:
    return accuracy_text(m["accuracy"], m["acc_lo"], m["acc_hi"])


def recipe_finding(record: Record | None) -> str:
    """What the record measured of its departure: for each pair it trained both ways, the
    paper's recipe against the majority class by its 95 % lower bound, and the departure
    minus the paper's recipe on the same testing samples with its interval, read as
    "more accurate" only when the interval excludes zero."""
    if record is None:
        return "No record is committed yet, so the two recipes have not been compared."
    parts = []
    for pair in record.pairs(PAPER_RECIPE_NAME):
        paper, main = (record.metric(pair, "test", recipe=r)
                       for r in (PAPER_RECIPE_NAME, MAIN_RECIPE))
        gain = _paper_recipe_gain(record, pair)
        if paper is None or main is None or gain is None:
            continue
        above = ("above" if paper["acc_lo"] > paper["majority"] else "not above")
        _, lo, hi = gain
        reading = ("the departure is more accurate" if lo > 0 else
                   "the paper's recipe is more accurate" if hi < 0 else
                   "not resolved: on these testing bodies the record cannot tell the two "
                   "recipes apart")
        parts.append(f"{pair_label(*pair.split('_', 1))}: the paper's recipe reached "
                     f"{_acc_interval(paper)}, {above} the majority class "
                     f"({100 * paper['majority']:.1f} %) by its lower bound; the departure "
                     f"{_acc_interval(main)}; the departure minus the paper's recipe on the "
                     f"same testing samples {difference_text(*gain)}: {reading}")
    if not parts:
        return "The record trains no pair with the paper's recipe, so the two are not compared."
    return "In the record, " + "; ".join(parts) + "."


def full_resolution_batching(ch: Chapter) -> str:
    """How this build passes each full-resolution pair's batch through the network: in one
    pass, or in micro-batches with gradient accumulation (then BatchNorm normalises each
    micro-batch with its own statistics), from each pair's recipe in the profile; pairs
    passed alike are named together, in the profile's order."""
    ways: dict[tuple[int, int], list[str]] = {}
    for spec in ch.profile.enabled_runs():
        if spec.dataset == "lcid":
            c = TrainConfig.from_profile(ch.profile, spec)
            ways.setdefault((min(c.micro_batch, c.batch_size), c.batch_size), []).append(
                spec.label)
    if not ways:
        return "This build trains no model at full resolution."
    said = []
    for (micro, batch), labels in ways.items():
        who = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
        if micro == batch:
            said.append(f"the whole batch of {batch} in one pass for {who} (no gradient "
                        "accumulation)")
        else:
            said.append(f"{micro} sample(s) per pass for {who}, gradients accumulated up to "
                        f"the batch of {batch} (BatchNorm then normalises each micro-batch "
                        "with its own statistics)")
    return "At full resolution this build passes " + "; ".join(said) + "."


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
