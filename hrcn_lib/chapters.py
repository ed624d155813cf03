"""The steps the book's chapters call: idempotent, reusing what a run directory already holds.

A notebook of the book is narrative plus a few calls into this module, which
in turn calls the library (:mod:`hrcn_lib.simulate`, :mod:`hrcn_lib.manifest`,
:mod:`hrcn_lib.train`, :mod:`hrcn_lib.evaluate`, ...). Every ``ensure_*``
function first looks for its finished artefact in the run directory
(:class:`hrcn_lib.paths.RunPaths`) and only computes what is missing, so
re-running the book with the same parameters redoes nothing.

It also turns run artefacts into the book's tables (Table 4 with the paper's
numbers beside ours, binned accuracies, misclassified samples with their
cause). Those small summaries live here, not in :mod:`hrcn_lib.figures`
(which only draws).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hrcn_lib.paper_numbers import DATASET_LABELS, MODEL_LABELS, PAPER_RECIPE, PAPER_TABLE4
from hrcn_lib.paths import BLURRY_MANIFEST, LCID_MANIFEST, RunPaths
from hrcn_lib.profiles import Profile, RunSpec, get_profile
from hrcn_lib.simulate.exposures import EDGE_VIEW_FRACTION

__all__ = [
    "Chapter",
    "EvalSummary",
    "CAUSES",
    "chapter_context",
    "shown_path",
    "ensure_dataset",
    "ensure_split",
    "limit_samples",
    "is_trained",
    "ensure_trained",
    "ensure_evaluated",
    "load_histories",
    "run_configs",
    "table4",
    "blurry_table",
    "binned_accuracy",
    "assign_cause",
    "misclassified",
    "time_preprocessing",
    "as_label",
    "run_label",
    "pick_rows",
    "layout_table",
    "figure1_panels",
    "quantile_bins",
    "saliency_examples",
    "load_images",
    "compare_table2",
    "measured_memory",
    "describe_mismatches",
    "figure2",
    "not_run",
    "collect_predictions",
    "figure4_rows",
    "table3_comparison",
    "train_profile_runs",
]

#: The paper's three causes of misclassification (Sec. 5.2), plus the rest.
CAUSES: tuple[str, ...] = ("inter-class similarity", "insufficient features", "image noise",
                           "not attributed")
#: Simulator defects that make an "image noise" sample (the paper's satellite trail and
#: "8"-shaped optical ghost); cosmic rays / hot pixels are everywhere and not a cause.
NOISE_DEFECTS: tuple[str, ...] = ("trail", "satellite", "ghost", "diffraction", "spike", "glint")


@dataclass(frozen=True)
class Chapter:
    """The parameters of one book run, resolved.

    Attributes:
        profile: the :class:`~hrcn_lib.profiles.Profile` (overrides applied).
        paths: the run directory's paths.
        data_dir: folder holding ``lcid_manifest.csv`` / ``blurry_manifest.csv``
            (default ``<run_dir>/data``; a real LCID download may live elsewhere).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        seed: master seed.
    """

    profile: Profile
    paths: RunPaths
    data_dir: Path
    device: str
    seed: int

    @property
    def lcid_manifest(self) -> Path:
        return self.data_dir / LCID_MANIFEST

    @property
    def blurry_manifest(self) -> Path:
        return self.data_dir / BLURRY_MANIFEST

    def spec(self, model: str, dataset: str) -> RunSpec:
        """The profile's :class:`RunSpec` of one pair.

        Raises:
            ValueError: if the profile has no such pair.
        """
        for spec in self.profile.runs:
            if (spec.model, spec.dataset) == (model, dataset):
                return spec
        raise ValueError(f"profile {self.profile.name!r} has no run {model}/{dataset}")


@dataclass
class EvalSummary:
    """What an evaluation left in a model directory, loaded.

    Attributes:
        predictions: one row per sample (``path, hdu, body, label, p_galaxy,
            p_nsc, prediction`` + manifest extras).
        metrics: ``accuracy, f1_galaxy, f1_nsc`` in 0-1.
        confusion: int array (2, 2), rows = true, columns = predicted (galaxy, NSC).
        timing: ``preprocess_ms``, ``classify_ms`` (medians, ms/sample) and spreads.
    """

    predictions: pd.DataFrame
    metrics: dict
    confusion: np.ndarray
    timing: dict = field(default_factory=dict)


def chapter_context(profile: str = "smoke", run_dir: str | Path | None = None,
                    data_dir: str | Path | None = None, device: str | None = None,
                    seed: int | None = None, **overrides) -> Chapter:
    """Resolve a notebook's papermill parameters into a :class:`Chapter`.

    Args:
        profile: profile name (``smoke``, ``cpu``, ``paper``).
        run_dir: run directory (default ``runs/<profile>`` under the current folder).
        data_dir: data folder (default ``<run_dir>/data``).
        device: overrides the profile's device when given.
        seed: overrides the profile's seed when given.
        **overrides: other profile fields to override (e.g. ``epochs=1``).

    Raises:
        ValueError: unknown profile or field.
    """
    if device:
        overrides["device"] = device
    if seed is not None:
        overrides["seed"] = int(seed)
    prof = get_profile(profile, **overrides)
    paths = RunPaths(Path(run_dir)) if run_dir else RunPaths.for_profile(profile)
    return Chapter(profile=prof, paths=paths,
                   data_dir=Path(data_dir) if data_dir else paths.data,
                   device=prof.device, seed=prof.seed)


def shown_path(ch: Chapter, path: Path | str) -> str:
    """A path as the book prints it: never the build machine's absolute path.

    Inside the run directory: relative to it (``"data/lcid_manifest.csv"``). The run
    directory itself, or a path outside it: relative to the current folder (the book's
    build folder) when below it (``"runs/cpu"``), else its name in angle brackets
    (``"<lcid>"``, e.g. an external folder of real data).
    """
    path, run = Path(os.path.abspath(path)), Path(os.path.abspath(ch.paths.root))  # no symlinks
    bases = ([run] if path != run else []) + [Path(os.path.abspath(Path.cwd()))]
    for base in bases:
        if path.is_relative_to(base) and path != base:
            return path.relative_to(base).as_posix()
    return f"<{path.name}>"


# ----------------------------------------------------------------------------- data


def ensure_dataset(ch: Chapter, *, jobs: int | None = None, progress: bool = False
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The LCID and LCID-Blurry manifests, simulating the data first if they are missing.

    ``jobs``: simulation worker processes; ``None`` = the profile's ``simulation_jobs``,
    else one per CPU core (the files are byte-identical whatever the number of workers).

    Simulation happens only when ``data_dir`` is the run directory's own
    ``data/`` folder; a separately given ``data_dir`` (real LCID) must already
    hold both manifests.

    Returns:
        ``(lcid, blurry)`` manifests (normalised columns, absolute ``path``).

    Raises:
        FileNotFoundError: an external ``data_dir`` without its manifests.
    """
    from hrcn_lib.manifest import read_manifest

    if not (ch.lcid_manifest.exists() and ch.blurry_manifest.exists()):
        if ch.data_dir.resolve() != ch.paths.data.resolve():
            raise FileNotFoundError(
                f"{ch.data_dir}: no lcid_manifest.csv / blurry_manifest.csv; download the real "
                "LCID with `hrcn fetch` or leave data_dir unset to simulate LCID-sim")
        from hrcn_lib.simulate import simulate_dataset

        p = ch.profile
        jobs = jobs if jobs is not None else (p.simulation_jobs or max(1, os.cpu_count() or 1))
        simulate_dataset(ch.data_dir, profile=p.name, bodies_galaxy=p.bodies_galaxy,
                         bodies_nsc=p.bodies_nsc, exposures=p.exposures_per_body, seed=ch.seed,
                         jobs=jobs, progress=progress)
    return read_manifest(ch.lcid_manifest), read_manifest(ch.blurry_manifest)


def ensure_split(ch: Chapter, lcid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The body-level train/test split, written to ``splits/`` on first use.

    Returns:
        ``(train, test)`` manifests.
    """
    from hrcn_lib.manifest import read_manifest, split_by_body, write_manifest

    paths = ch.paths
    if paths.train_split.exists() and paths.test_split.exists():
        return read_manifest(paths.train_split), read_manifest(paths.test_split)
    train, test = split_by_body(lcid, test_fraction=ch.profile.test_fraction, seed=ch.seed)
    write_manifest(train, paths.train_split)
    write_manifest(test, paths.test_split)
    return train, test


def limit_samples(df: pd.DataFrame, n: int | None, seed: int = 0) -> pd.DataFrame:
    """At most ``n`` rows, both classes as equally as possible, reproducibly.

    Args:
        df: manifest with a ``label`` column.
        n: maximum rows (``None``: all rows).
        seed: random seed of the draw.

    Returns:
        A row subset of ``df`` in its original order.

    Raises:
        ValueError: if ``n < 1``.
    """
    if n is None or len(df) <= n:
        return df
    if n < 1:
        raise ValueError(f"limit_samples: n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    groups = [g.index.to_numpy().copy() for _, g in df.groupby("label", sort=True)]
    for g in groups:
        rng.shuffle(g)
    chosen: list = []
    k = 0
    while len(chosen) < n:
        for g in groups:
            if k < len(g) and len(chosen) < n:
                chosen.append(g[k])
        k += 1
    return df.loc[df.index.isin(chosen)]


# ----------------------------------------------------------------------------- training


def _history_epochs(model_dir: Path) -> int:
    hist = model_dir / "history.csv"
    if not hist.exists():
        return 0
    return len(pd.read_csv(hist))


def _epochs(ch: Chapter, spec: RunSpec) -> int:
    return int(spec.epochs or ch.profile.epochs)


def is_trained(ch: Chapter, spec: RunSpec) -> bool:
    """Whether the pair's ``model.pt`` exists with at least the profile's epochs in its history."""
    out = ch.paths.model_dir(spec.model, spec.dataset)
    return (out / "model.pt").exists() and _history_epochs(out) >= _epochs(ch, spec)


def ensure_trained(ch: Chapter, spec: RunSpec, train_df: pd.DataFrame) -> Path:
    """Train one enabled pair unless a finished run is already in its model directory.

    An unfinished run (checkpoint without enough epochs) is resumed; a model directory
    without a checkpoint to resume is cleared and trained afresh (``force``: it belongs to
    this profile's run). A profile
    may cap the training samples per pair (:meth:`Profile.train_cap`: a
    class-balanced, seeded subset, :func:`limit_samples`), e.g. to keep the
    ``smoke`` profile's full-resolution training within the CI budget.

    Returns:
        The model directory (``config.json``, ``history.csv``, ``model.pt``).

    Raises:
        ValueError: if the pair is disabled in the profile (with its reason).
    """
    if not spec.enabled:
        raise ValueError(f"{spec.key} is disabled in profile {ch.profile.name!r}: {spec.reason}")
    out = ch.paths.model_dir(spec.model, spec.dataset)
    if is_trained(ch, spec):
        return out
    from hrcn_lib.train import train

    p = ch.profile
    train_df = limit_samples(train_df, p.train_cap(spec), ch.seed)
    resume = (out / "checkpoint.pt").exists()
    train(spec.model, spec.dataset, train_df, out, epochs=_epochs(ch, spec),
          batch_size=p.batch_size, lr=p.lr, momentum=p.momentum, micro_batch=p.micro_batch,
          precision=p.precision, device=ch.device, checkpoint_activations=p.checkpoint_activations,
          resume=resume, force=not resume, seed=ch.seed, cache_dir=ch.paths.cache,
          progress=False)
    return out


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
        rows.append({"run": run_label(spec), "epochs": _epochs(ch, spec), "status": status})
    return pd.DataFrame(rows).set_index("run")


def load_histories(ch: Chapter, specs: Sequence[RunSpec] | None = None) -> dict[str, pd.DataFrame]:
    """``history.csv`` of each trained pair, keyed by :func:`run_label`."""
    specs = ch.profile.enabled_runs() if specs is None else specs
    out = {}
    for spec in specs:
        hist = ch.paths.model_dir(spec.model, spec.dataset) / "history.csv"
        if hist.exists():
            out[run_label(spec)] = pd.read_csv(hist)
    return out


def recipe_table(ch: Chapter) -> pd.DataFrame:
    """The paper's training recipe (Sec. 3.1) beside this profile's, one row per setting.

    Columns ``paper`` and ``this run (<profile>)``, as text; the paper names no momentum
    (plain SGD), shown as such.
    """
    p = ch.profile
    rows = {
        "optimizer": (PAPER_RECIPE["optimizer"], "SGD"),
        "learning rate": (f"{PAPER_RECIPE['lr']:g}", f"{p.lr:g}"),
        "momentum": ("none stated (plain SGD)", f"{p.momentum:g}" if p.momentum else "0 (plain SGD)"),
        "batch size": (str(PAPER_RECIPE["batch_size"]), str(p.batch_size)),
        "epochs": (str(PAPER_RECIPE["epochs"]), f"{p.epochs} (per-pair overrides below)"),
        "loss": (PAPER_RECIPE["loss"], "cross-entropy"),
    }
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["paper", f"this run ({p.name})"])


def run_configs(ch: Chapter, specs: Sequence[RunSpec] | None = None) -> pd.DataFrame:
    """One row per trained pair from its ``config.json`` (scalar entries, as text for display)."""
    specs = ch.profile.enabled_runs() if specs is None else specs
    rows = []
    for spec in specs:
        cfg_path = ch.paths.model_dir(spec.model, spec.dataset) / "config.json"
        if cfg_path.exists():
            cfg = json.loads(cfg_path.read_text())
            rows.append({"run": run_label(spec),
                         **{k: str(v) for k, v in cfg.items()
                            if isinstance(v, (str, int, float, bool)) or v is None}})
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


# ----------------------------------------------------------------------------- evaluation


def as_label(values: pd.Series) -> pd.Series:
    """Class labels as the strings ``"galaxy"`` / ``"NSC"`` (accepts 0/1 too).

    Raises:
        ValueError: for any other value.
    """
    names = {0: "galaxy", 1: "NSC", "0": "galaxy", "1": "NSC", "galaxy": "galaxy", "NSC": "NSC"}
    bad = set(values) - set(names)
    if bad:
        raise ValueError(f"unknown class label(s) {sorted(map(str, bad))}: expected galaxy/NSC or 0/1")
    return values.map(names)


def _confusion(pred: pd.DataFrame) -> np.ndarray:
    truth, guess = as_label(pred["label"]), as_label(pred["prediction"])
    cm = np.zeros((2, 2), dtype=np.int64)
    for i, t in enumerate(("galaxy", "NSC")):
        for j, g in enumerate(("galaxy", "NSC")):
            cm[i, j] = int(((truth == t) & (guess == g)).sum())
    return cm


def _flat_timing(timing: Mapping) -> dict:
    """``{"preprocess_ms": median, "classify_ms": median, "<kind>_iqr": iqr, ...}`` (ms/sample).

    Accepts :func:`hrcn_lib.evaluate.evaluate`'s timing (per-kind summaries with
    ``median`` and ``iqr``) or plain numbers.
    """
    flat = {}
    for key, value in timing.items():
        if isinstance(value, Mapping) and key.endswith("_ms"):
            flat[key] = float(value.get("median", float("nan")))
            flat[key.replace("_ms", "_iqr")] = float(value.get("iqr", float("nan")))
            flat[key.replace("_ms", "_n")] = int(value.get("n", 0))
        else:
            flat[key] = value
    return flat


def _load_summary(out: Path, set_name: str) -> EvalSummary:
    pred = pd.read_csv(out / f"predictions_{set_name}.csv", keep_default_na=False,
                       na_values={"psf_fwhm": [""], "snr": [""], "object_fraction": [""]})
    metrics = json.loads((out / f"metrics_{set_name}.json").read_text())
    timing_path = next((p for p in (out / f"timing_{set_name}.json", out / "timing.json")
                        if p.exists()), None)
    timing = _flat_timing(json.loads(timing_path.read_text())) if timing_path else {}
    cm = np.asarray(metrics["confusion"], dtype=np.int64) if "confusion" in metrics else _confusion(pred)
    return EvalSummary(predictions=pred, metrics=metrics, confusion=cm, timing=timing)


def ensure_evaluated(ch: Chapter, spec: RunSpec, df: pd.DataFrame, set_name: str) -> EvalSummary:
    """Evaluate a trained pair on one set unless its results are already in the model directory.

    Args:
        ch: the chapter context.
        spec: an enabled, trained pair.
        df: manifest of the set (capped to ``profile.max_eval_samples`` here).
        set_name: ``"test"`` (LCID testing set) or ``"blurry"`` (LCID-Blurry).

    Returns:
        The loaded :class:`EvalSummary`.

    Raises:
        FileNotFoundError: if the pair has not been trained.
    """
    out = ch.paths.model_dir(spec.model, spec.dataset)
    if not ((out / f"predictions_{set_name}.csv").exists()
            and (out / f"metrics_{set_name}.json").exists()):
        if not (out / "model.pt").exists():
            raise FileNotFoundError(f"{out}: no model.pt; run the training chapter first")
        from hrcn_lib.evaluate import evaluate
        from hrcn_lib.train import load_trained_model

        device = None if ch.device == "auto" else ch.device
        model = load_trained_model(out, device=device)
        # no sample cache: Table 4's preprocessing time is the time from the raw file.
        # The test split shares no body with training (split_by_body); LCID-Blurry is the
        # authors' own set, which may share bodies with LCID: evaluated anyway, with a
        # warning, and the metrics count the shared bodies.
        evaluate(model, limit_samples(df, ch.profile.max_eval_samples, ch.seed), spec.dataset,
                 out_dir=out, set_name=set_name, device=device,
                 timing_samples=ch.profile.timing_samples, allow_overlap=set_name != "test",
                 progress=False)
    return _load_summary(out, set_name)


def run_label(spec: RunSpec) -> str:
    """Display name of a pair, e.g. ``"HR-CelestialNet (LCID)"``."""
    return f"{MODEL_LABELS[spec.model]} ({DATASET_LABELS[spec.dataset]})"


def _pct(value: float | None) -> float:
    return float("nan") if value is None else round(100.0 * float(value), 2)


def table4(ch: Chapter, results: Mapping[str, EvalSummary]) -> pd.DataFrame:
    """Table 4 with two rows per pair: ours (this run) and the paper's.

    Args:
        ch: the chapter context (its profile lists every pair, enabled or not).
        results: :attr:`RunSpec.key` -> test-set :class:`EvalSummary` of the pairs run.

    Returns:
        DataFrame indexed by (Model, Data set, Source) with columns
        ``Accuracy (%)``, ``F1 Galaxy (%)``, ``F1 NSC (%)``,
        ``Preprocessing (ms)``, ``Classification (ms)``, ``Total (ms)``, ``Note``.
        A pair the profile does not run has NaN numbers; :func:`not_run` gives the reason.
    """
    rows = []
    for spec in ch.profile.runs:
        key = (MODEL_LABELS[spec.model], DATASET_LABELS[spec.dataset])
        res = results.get(spec.key)
        if res is not None:
            pre = float(res.timing.get("preprocess_ms", float("nan")))
            cls = float(res.timing.get("classify_ms", float("nan")))
            rows.append((*key, "ours", _pct(res.metrics.get("accuracy")),
                         _pct(res.metrics.get("f1_galaxy")), _pct(res.metrics.get("f1_nsc")),
                         round(pre, 1), round(cls, 1), round(pre + cls, 1),
                         f"{len(res.predictions)} samples"))
        else:
            rows.append((*key, "ours", *([float("nan")] * 6), "not run (see below)"))
        paper = PAPER_TABLE4[(spec.model, spec.dataset)]
        rows.append((*key, "paper", paper["accuracy"], paper["f1_galaxy"], paper["f1_nsc"],
                     paper["preprocess_ms"], paper["classify_ms"], paper["total_ms"], "Table 4"))
    cols = ["Model", "Data set", "Source", "Accuracy (%)", "F1 Galaxy (%)", "F1 NSC (%)",
            "Preprocessing (ms)", "Classification (ms)", "Total (ms)", "Note"]
    return pd.DataFrame(rows, columns=cols).set_index(["Model", "Data set", "Source"])


def not_run(ch: Chapter, results: Mapping[str, object] | None = None) -> pd.DataFrame:
    """The pairs of the paper this run has no result for, with the reason.

    Args:
        ch: the chapter context.
        results: :attr:`RunSpec.key` -> result of the pairs that were run
            (``None``: only the profile's disabled pairs are listed).

    Returns:
        DataFrame indexed by run label with a ``reason`` column (empty if none).
    """
    rows = []
    for spec in ch.profile.runs:
        if not spec.enabled:
            rows.append({"run": run_label(spec), "reason": spec.reason})
        elif results is not None and spec.key not in results:
            rows.append({"run": run_label(spec), "reason": "enabled but not trained in this run "
                         "directory (run the training chapter)"})
    return pd.DataFrame(rows, columns=["run", "reason"]).set_index("run")


def collect_predictions(ch: Chapter, specs: Sequence[RunSpec],
                        sets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every trained pair's predictions on every set, in one table.

    Args:
        ch: the chapter context.
        specs: trained pairs.
        sets: set name (``"test"``, ``"blurry"``) -> its manifest.

    Returns:
        The predictions (:func:`ensure_evaluated`) stacked, with ``run`` (label)
        and ``set`` columns added.
    """
    parts = [ensure_evaluated(ch, spec, df, name).predictions.assign(run=run_label(spec), set=name)
             for spec in specs for name, df in sets.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def figure4_rows(wrong: pd.DataFrame, predictions: pd.DataFrame, *, per_cause: int = 4,
                 seed: int = 0) -> pd.DataFrame:
    """The samples Figure 4 shows: up to ``per_cause`` distinct misclassified samples per cause.

    When nothing is misclassified, the four correctly classified samples with
    the smallest margin ``|p_galaxy - p_nsc|`` are shown instead, under the
    cause "lowest-confidence correct", so the figure is never empty.

    Returns:
        Rows of ``wrong`` (or ``predictions``) with a ``cause`` column, by cause.
    """
    if len(wrong):
        rows = wrong.drop_duplicates(subset=["path", "hdu"])
    else:
        margin = (predictions["p_galaxy"] - predictions["p_nsc"]).abs()
        rows = (predictions.assign(cause="lowest-confidence correct", margin=margin)
                .sort_values("margin").drop_duplicates(subset=["path", "hdu"]).head(per_cause))
    order = {c: i for i, c in enumerate(CAUSES)}
    picked = pick_rows(rows, "cause", per_group=per_cause, seed=seed)
    return picked.sort_values("cause", key=lambda c: c.map(order).fillna(len(order)), kind="stable")


def blurry_table(results: Mapping[str, EvalSummary], specs: Sequence[RunSpec],
                 paper_accuracy: Mapping[str, float],
                 paper_errors: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """Accuracy and misclassifications per class on LCID-Blurry: ours beside the paper's.

    Args:
        results: :attr:`RunSpec.key` -> blurry-set :class:`EvalSummary`.
        specs: the pairs evaluated (row order).
        paper_accuracy: model -> the paper's accuracy (%), Sec. 4.2.
        paper_errors: model -> {"galaxy": n, "NSC": n} the paper's misclassifications.

    Returns:
        DataFrame indexed by run label with ours/paper accuracy (%) and
        galaxy/NSC misclassification counts.
    """
    rows = []
    for spec in specs:
        res = results.get(spec.key)
        if res is None:
            continue
        cm = res.confusion
        rows.append({"run": run_label(spec), "samples (ours)": int(cm.sum()),
                     "accuracy % (ours)": _pct(res.metrics.get("accuracy")),
                     "accuracy % (paper)": paper_accuracy.get(spec.model, float("nan")),
                     "galaxy errors (ours)": int(cm[0, 1]),
                     "galaxy errors (paper)": paper_errors.get(spec.model, {}).get("galaxy"),
                     "NSC errors (ours)": int(cm[1, 0]),
                     "NSC errors (paper)": paper_errors.get(spec.model, {}).get("NSC")})
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def binned_accuracy(predictions: Mapping[str, pd.DataFrame], column: str,
                    bins: Sequence[float]) -> pd.DataFrame:
    """Accuracy of each model's predictions in bins of a sample property.

    Args:
        predictions: run label -> predictions (``label``, ``prediction`` and ``column``).
        column: the property, e.g. ``"psf_fwhm"`` (arcsec) or ``"snr"``.
        bins: increasing bin edges; values outside are dropped.

    Returns:
        DataFrame ``model, bin (str "[lo, hi)"), accuracy (0-1), n`` for every
        non-empty bin, in bin order.

    Raises:
        ValueError: if ``column`` is missing or fewer than two edges are given.
    """
    if len(bins) < 2:
        raise ValueError(f"binned_accuracy: need at least two bin edges, got {list(bins)}")
    rows = []
    for model, pred in predictions.items():
        if column not in pred.columns:
            raise ValueError(f"binned_accuracy: predictions of {model!r} lack column {column!r}")
        correct = (as_label(pred["label"]) == as_label(pred["prediction"])).to_numpy()
        values = pd.to_numeric(pred[column], errors="coerce").to_numpy()
        for lo, hi in zip(bins[:-1], bins[1:], strict=True):
            sel = (values >= lo) & (values < hi)
            if sel.any():
                rows.append({"model": model, "bin": f"[{lo:g}, {hi:g})",
                             "accuracy": float(correct[sel].mean()), "n": int(sel.sum())})
    return pd.DataFrame(rows, columns=["model", "bin", "accuracy", "n"])


def assign_cause(row: Mapping) -> str:
    """The paper's cause (Sec. 5.2) of one misclassified sample, from what the simulator recorded.

    Order: a built-in look-alike of the body (``lookalike`` holds e.g.
    ``"arm_segment~nebula_filament"``) -> inter-class similarity; a
    trail/ghost-type defect (``defects``) -> image noise; a chip that sees only
    the edge of its body (``edge_view`` in ``lookalike``, or ``object_fraction``
    < the simulator's :data:`~hrcn_lib.simulate.EDGE_VIEW_FRACTION`) or a blurry
    sample -> insufficient features;
    otherwise "not attributed".
    """
    looks = {t.strip() for t in str(row.get("lookalike", "") or "").split(";")}
    looks -= {"", "nan", "none"}
    if looks - {"edge_view"}:
        return CAUSES[0]
    defects = str(row.get("defects", "") or "").lower()
    if any(word in defects for word in NOISE_DEFECTS):
        return CAUSES[2]
    frac = pd.to_numeric(row.get("object_fraction", np.nan), errors="coerce")
    blurry = str(row.get("blurry", "")).lower() in ("true", "1")
    small = pd.notna(frac) and float(frac) < EDGE_VIEW_FRACTION
    if "edge_view" in looks or small or blurry:
        return CAUSES[1]
    return CAUSES[3]


def misclassified(predictions: pd.DataFrame) -> pd.DataFrame:
    """The wrongly classified rows, with a ``cause`` column (:func:`assign_cause`), by cause."""
    wrong = predictions.loc[as_label(predictions["label"]) != as_label(predictions["prediction"])]
    wrong = wrong.assign(cause=[assign_cause(r) for r in wrong.to_dict("records")])
    order = {c: i for i, c in enumerate(CAUSES)}
    return wrong.sort_values("cause", key=lambda s: s.map(order), kind="stable")


def time_preprocessing(df: pd.DataFrame, n: int, *, resize: tuple[int, int] = (224, 448),
                       loader: Callable | None = None, repeats: int = 1) -> pd.DataFrame:
    """Wall time of the preprocessing per sample: LCID (raw -> 2048x4096) and LCID-Resize.

    Args:
        df: manifest with ``path`` and ``hdu``.
        n: samples timed (the first ``n`` rows).
        resize: (H, W) of LCID-Resize; ``cv2.resize`` to ``(W, H)`` after loading.
        loader: ``(path, hdu) -> array``; default :func:`hrcn_lib.preprocess.load_sample`.
        repeats: timings per sample (the median is kept).

    Returns:
        DataFrame with one row per timed sample: ``path, hdu, lcid_ms, lcid_resize_ms``.
    """
    import cv2

    if loader is None:
        from hrcn_lib.preprocess import load_sample as loader
    rows = []
    for rec in df.head(n).to_dict("records"):
        full, small = [], []
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            sample = loader(rec["path"], int(rec["hdu"]))
            t1 = time.perf_counter()
            cv2.resize(sample, (resize[1], resize[0]))
            t2 = time.perf_counter()
            full.append((t1 - t0) * 1e3)
            small.append((t2 - t0) * 1e3)
        rows.append({"path": Path(rec["path"]).name, "hdu": int(rec["hdu"]),
                     "lcid_ms": float(np.median(full)), "lcid_resize_ms": float(np.median(small))})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- selections


def pick_rows(df: pd.DataFrame, column: str, per_group: int, seed: int = 0,
              max_groups: int | None = None) -> pd.DataFrame:
    """Up to ``per_group`` rows of each value of ``column`` (reproducible draw), grouped.

    Raises:
        ValueError: if ``column`` is missing or ``per_group < 1``.
    """
    if column not in df.columns:
        raise ValueError(f"pick_rows: no column {column!r} in {list(df.columns)}")
    if per_group < 1:
        raise ValueError(f"pick_rows: per_group must be >= 1, got {per_group}")
    parts = []
    for k, (_, grp) in enumerate(df.groupby(column, sort=True)):
        if max_groups is not None and k >= max_groups:
            break
        parts.append(grp.sample(n=min(per_group, len(grp)), random_state=seed))
    return pd.concat(parts) if parts else df.iloc[:0]


def layout_table() -> pd.DataFrame:
    """Every region of both chips of both cameras (:mod:`hrcn_lib.instruments`) as rows.

    Returns:
        DataFrame ``instrument, chip, hdu, raw_shape, region, kind, rows, cols,
        size`` with half-open 0-based ranges and ``size`` as ``"rows x cols"``.
    """
    from hrcn_lib.instruments import DETECTORS

    rows = []
    for inst, det in DETECTORS.items():
        for hdu, lay in det.chips.items():
            for reg in lay.regions:
                rows.append({"instrument": inst, "chip": lay.chip, "hdu": hdu,
                             "raw_shape": f"{lay.raw_shape[0]} x {lay.raw_shape[1]}",
                             "region": reg.name, "kind": reg.kind, "rows": str(reg.rows),
                             "cols": str(reg.cols),
                             "size": f"{reg.rows[1] - reg.rows[0]} x {reg.cols[1] - reg.cols[0]}"})
    return pd.DataFrame(rows)


def figure1_panels(df: pd.DataFrame, loader: Callable | None = None
                   ) -> list[tuple[str, int, np.ndarray, np.ndarray, str]]:
    """Inputs of :func:`hrcn_lib.figures.figure1`: one raw SCI array + sample per camera.

    Picks, like the paper, a galaxy exposure of ACS/WFC and an NSC exposure of
    WFC3/UVIS when the manifest has them (else any exposure of that camera).

    Returns:
        ``(instrument, hdu, raw DN array (raw_shape), sample (2048, 4096), caption)`` per camera.
    """
    from astropy.io import fits

    if loader is None:
        from hrcn_lib.preprocess import load_sample as loader
    panels = []
    for inst, label in (("ACS/WFC", "galaxy"), ("WFC3/UVIS", "NSC")):
        cand = df.loc[df["instrument"] == inst]
        if cand.empty:
            continue
        pref = cand.loc[cand["label"] == label]
        rec = (pref if not pref.empty else cand).iloc[0]
        path, hdu = str(rec["path"]), int(rec["hdu"])
        with fits.open(path) as hdul:
            raw = np.asarray(hdul[hdu].data, dtype=np.float32)
        caption = f"{rec['body']} ({rec['label']}) {rec['obsid']} HDU {hdu}"
        panels.append((inst, hdu, raw, loader(path, hdu), caption))
    return panels


def quantile_bins(values: Sequence[float] | pd.Series, n: int = 4) -> list[float]:
    """Bin edges at the quantiles of ``values`` (finite ones), unique, last edge nudged up.

    Raises:
        ValueError: if fewer than one finite value is given or ``n < 1``.
    """
    arr = pd.to_numeric(pd.Series(list(values)), errors="coerce").to_numpy(dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0 or n < 1:
        raise ValueError(f"quantile_bins: need finite values and n >= 1 (got {arr.size} values, n={n})")
    edges = np.unique(np.round(np.quantile(arr, np.linspace(0, 1, n + 1)), 3))
    if edges.size == 1:
        edges = np.array([edges[0], edges[0] + 1e-3])
    edges[-1] = np.nextafter(edges[-1], np.inf) + 1e-3
    return [float(e) for e in edges]


def saliency_examples(model_dir: Path, rows: pd.DataFrame, dataset_name: str, *,
                      device: str | None = None, cache_dir: Path | None = None
                      ) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Grad-CAM heat maps of a trained model on some samples.

    Args:
        model_dir: a trained model directory (``model.pt``).
        rows: the samples (manifest rows with ``path, hdu, label, body``).
        dataset_name: ``"lcid"`` or ``"lcid-resize"`` (the model's input form).
        device: torch device (``None``: the library's default).
        cache_dir: preprocessed-sample cache.

    Returns:
        ``(images, heat maps, captions)``: model inputs (H, W) float32, heat
        maps (H, W) in [0, 1], and "body: true -> explained class" captions.
    """
    from hrcn_lib.datasets import make_dataset
    from hrcn_lib.saliency import grad_cam
    from hrcn_lib.train import load_trained_model

    model = load_trained_model(model_dir, device=device)
    dev = next(model.parameters()).device
    data = make_dataset(rows.reset_index(drop=True), dataset_name, cache_dir=cache_dir)
    images, heats, captions = [], [], []
    names = ("galaxy", "NSC")
    for i in range(len(data)):
        x, y = data[i]
        heat, cls = grad_cam(model, x.to(dev))
        images.append(x[0].numpy())
        heats.append(heat)
        captions.append(f"{rows.iloc[i]['body']}: {names[int(y)]} -> {names[cls]}")
    return images, heats, captions


def load_images(rows: pd.DataFrame, loader: Callable | None = None) -> list[np.ndarray]:
    """The (2048, 4096) samples of some manifest rows (``path``, ``hdu``)."""
    if loader is None:
        from hrcn_lib.preprocess import load_sample as loader
    return [loader(str(r["path"]), int(r["hdu"])) for r in rows.to_dict("records")]


# ----------------------------------------------------------------------------- architecture, memory

_TYPE_WORDS = ("input", "conv", "pool", "full", "linear", "output")


def _pick(columns: Sequence[str], options: Sequence[str]) -> str | None:
    return next((c for c in options if c in columns), None)


def _dims(value) -> tuple[int, ...]:
    """``(32, 2042, 4090)``, ``[4096]``, ``"32 x 2042 x 4090"`` or ``4096`` -> a tuple of ints."""
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    text = str(value).replace("×", "x").replace("(", "").replace(")", "").replace("[", "")
    text = text.replace("]", "").replace(",", "x")
    return tuple(int(v) for v in text.split("x") if v.strip().lstrip("-").isdigit())


def compare_table2(layers: pd.DataFrame) -> pd.DataFrame:
    """The computed layer table beside the paper's Table 2, row by row.

    Rows of ``layers`` whose type is a BatchNorm/ReLU/Flatten/Dropout/Softmax
    (which Table 2 folds into the layer before) are dropped; the rest are
    matched in order with Table 2's 23 rows (input + 22 layers).

    Args:
        layers: :func:`hrcn_lib.hardware.layer_table` output: a type column
            (``type``), an output-size column (``output_size``/``output_shape``)
            and a trainable-parameter column (``trainable_paras``/``params``/
            ``trainable_params``); names matched case-insensitively.

    Returns:
        DataFrame indexed by Table 2's layer number with ``type``, ``output
        (ours)``, ``output (paper)``, ``params (ours)``, ``params (paper)`` and
        ``match`` (bool: both agree).

    Raises:
        ValueError: if a needed column is missing.
    """
    from hrcn_lib.paper_numbers import PAPER_TABLE2

    tab = layers.rename(columns={c: str(c).strip().lower().replace(" ", "_") for c in layers.columns})
    type_col = _pick(tab.columns, ("type", "layer_type", "kind"))
    out_col = _pick(tab.columns, ("output_size", "output_shape", "output"))
    par_col = _pick(tab.columns, ("trainable_paras", "trainable_params", "params", "parameters",
                                  "n_params", "param_count"))
    if not (type_col and out_col and par_col):
        raise ValueError(f"compare_table2: need type, output size and parameter columns, got "
                         f"{list(layers.columns)}")
    kept = tab[[any(w in str(t).lower() for w in _TYPE_WORDS) for t in tab[type_col]]]
    if len(kept) and "input" not in str(kept.iloc[0][type_col]).lower():
        kept = pd.concat([pd.DataFrame({type_col: ["Input"], out_col: [(1, 2048, 4096)],
                                        par_col: [0]}), kept], ignore_index=True)
    rows = []
    for k, paper_row in enumerate(PAPER_TABLE2):
        layer, kind, _, _, out, _, params = paper_row
        ours = kept.iloc[k] if k < len(kept) else None
        o_out = _dims(ours[out_col]) if ours is not None else ()
        o_out = o_out[1:] if len(o_out) == len(out) + 1 and o_out[0] == 1 else o_out  # batch dim
        o_par = int(ours[par_col]) if ours is not None else -1
        rows.append({"layer": layer, "type": kind,
                     "output (ours)": " x ".join(map(str, o_out)) or "missing",
                     "output (paper)": " x ".join(map(str, out)),
                     "params (ours)": o_par, "params (paper)": params,
                     "match": tuple(o_out) == tuple(out) and o_par == params})
    return pd.DataFrame(rows).set_index("layer")


#: Pairs above this many input pixels are not measured in the smoke profile (CI budget).
SMOKE_MEASURE_MAX_PIXELS: int = 224 * 448


def measured_memory(ch: Chapter, *, measure: bool = True, full_resolution: bool | None = None,
                    segments: int = 4) -> pd.DataFrame:
    """Peak memory of one training step of each enabled pair, measured once and cached.

    Each step runs with the profile's micro-batch (the samples of one forward
    pass), effective precision (:func:`hrcn_lib.train.resolve_precision`: bf16
    only where the hardware has it) and activation checkpointing (``segments``
    when on), via :func:`hrcn_lib.hardware.measure_peak_memory` (a fresh
    process on CPU). The table is stored in ``<run_dir>/tables/peak_memory.csv``
    and reused.

    Args:
        ch: the chapter context.
        measure: measure what is not cached (``False``: only read the cache).
        full_resolution: also measure 2048 x 4096 pairs; ``None`` means yes
            except in the ``smoke`` profile, whose CI budget has no room for a
            full-resolution training step (those rows say so).
        segments: checkpointing segments when the profile checkpoints activations.

    Returns:
        DataFrame indexed by run label: ``peak_mb``, ``training_mb`` (peak minus
        an idle process), ``step_s`` (s), ``micro_batch``, ``precision``,
        ``checkpoint_segments``, ``device``, ``note``; empty when ``measure`` is
        false and nothing is cached.
    """
    cache = ch.paths.tables / "peak_memory.csv"
    if cache.exists():
        return _read_peak_memory(cache)
    if not measure:
        return pd.DataFrame()
    import torch

    from hrcn_lib.hardware import measure_peak_memory
    from hrcn_lib.models import input_size
    from hrcn_lib.train import resolve_precision

    p = ch.profile
    full = (p.name != "smoke") if full_resolution is None else full_resolution
    device = ch.device if ch.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    precision = resolve_precision(p.precision, torch.device(device), warn=False)
    segs = segments if p.checkpoint_activations else 0
    rows = []
    for spec in p.enabled_runs():
        size = input_size(spec.dataset)
        row = {"run": run_label(spec), "peak_mb": float("nan"), "training_mb": float("nan"),
               "step_s": float("nan"), "micro_batch": p.micro_batch, "precision": precision,
               "checkpoint_segments": segs, "device": device, "note": ""}
        if not full and size[0] * size[1] > SMOKE_MEASURE_MAX_PIXELS:
            row["note"] = f"not measured: {size[0]} x {size[1]} step skipped in profile {p.name}"
        else:
            res = measure_peak_memory(spec.model, size, batch_size=p.micro_batch, device=device,
                                      precision=precision, checkpoint_segments=segs)
            row.update(peak_mb=round(res.peak_mb, 1), training_mb=round(res.training_mb, 1),
                       step_s=round(res.seconds, 2), note=res.method)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("run")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    table.to_csv(tmp)
    os.replace(tmp, cache)  # atomic: a killed build leaves no half-written table
    return table


#: Columns of ``peak_memory.csv`` (:func:`measured_memory`) and which are numbers.
PEAK_MEMORY_COLUMNS: tuple[str, ...] = ("peak_mb", "training_mb", "step_s", "micro_batch",
                                        "precision", "checkpoint_segments", "device", "note")
_PEAK_MEMORY_NUMBERS = ("peak_mb", "training_mb", "step_s", "micro_batch", "checkpoint_segments")


def _read_peak_memory(path: Path) -> pd.DataFrame:
    """The cached table of :func:`measured_memory`, checked.

    Raises:
        ValueError: not such a table (unreadable, columns missing, a value that is not a
            number), naming the file and the fix (delete it to measure again).
    """
    fix = "delete it to measure again"
    try:
        table = pd.read_csv(path, index_col="run", keep_default_na=False,
                            na_values={"peak_mb": [""], "training_mb": [""], "step_s": [""]})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable peak-memory table ({exc}); {fix}") from None
    missing = [c for c in PEAK_MEMORY_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: peak-memory table lacks columns {missing}; {fix}")
    for col in _PEAK_MEMORY_NUMBERS:
        if not pd.api.types.is_numeric_dtype(table[col]):
            raise ValueError(f"{path}: column {col!r} of the peak-memory table holds values "
                             f"that are not numbers; {fix}")
    if table.index.has_duplicates or table.empty:
        raise ValueError(f"{path}: peak-memory table has no rows or repeats a run; {fix}")
    return table


def describe_mismatches(comparison: pd.DataFrame) -> str:
    """One sentence listing the rows of :func:`compare_table2` that differ ("none" if none)."""
    diff = comparison.loc[~comparison["match"]]
    if diff.empty:
        return "none"
    parts = []
    for layer, row in diff.iterrows():
        what = []
        if row["output (ours)"] != row["output (paper)"]:
            what.append(f"output {row['output (ours)']} computed, {row['output (paper)']} printed")
        if row["params (ours)"] != row["params (paper)"]:
            what.append(f"{row['params (ours)']:,} parameters computed, "
                        f"{row['params (paper)']:,} printed")
        parts.append(f"layer {layer} ({row['type']}): " + ", ".join(what))
    return "; ".join(parts)


def figure2(lcid: pd.DataFrame, blurry: pd.DataFrame, seed: int = 0):
    """The paper's Figure 2 (clear and blurry samples) for this run's data.

    Simulated data (``morphology`` and ``blurry`` columns): one clear and one
    blurry sample per morphology (:func:`hrcn_lib.simulate.gallery.sample_gallery`).
    Real LCID (no such columns): two LCID samples beside two LCID-Blurry samples.

    Returns:
        A matplotlib Figure, detached from pyplot (so a notebook shows it once).
    """
    both = pd.concat([lcid, blurry], ignore_index=True)
    if {"morphology", "blurry"} <= set(both.columns):
        import matplotlib.pyplot as plt

        from hrcn_lib.simulate.gallery import sample_gallery

        fig = sample_gallery(both, seed=seed)
        plt.close(fig)
        return fig
    from hrcn_lib.figures import thumbnail_gallery

    rows = pd.concat([lcid.sample(n=min(2, len(lcid)), random_state=seed),
                      blurry.sample(n=min(2, len(blurry)), random_state=seed)])
    kinds = ["clear"] * min(2, len(lcid)) + ["blurry"] * min(2, len(blurry))
    return thumbnail_gallery(load_images(rows), [f"{k}: {r.body} ({r.label})" for k, r in
                                                 zip(kinds, rows.itertuples(), strict=True)], ncols=2)


#: GPU numbers recorded by ``benchmarks/bench_gpu.py`` on a lent H100 (2026-11-26): a record
#: of a measurement, shown in the book as such (not re-measured by a book build).
RECORDED_GPU: str = "gpu_h100_2026-11-26.json"


def recorded_gpu(path: Path | str | None = None) -> pd.DataFrame:
    """The recorded GPU measurements of :data:`RECORDED_GPU`, one row per pair.

    ``path`` defaults to ``benchmarks/recorded/<RECORDED_GPU>`` of the package's data or
    the checkout (:func:`hrcn_lib.resources.recorded_file`).

    Returns:
        DataFrame indexed by run label (e.g. ``"HR-CelestialNet (LCID)"``) with
        ``device``, ``classify ms (naive fp32)``, ``classify ms (Predictor)`` (batch 1, input
        on the device, median), ``train step ms (fp32)``, ``peak GB (fp32)``,
        ``peak GB (bf16)`` (one SGD step at the record's batch size;
        ``torch.cuda.max_memory_allocated``, 1e9 bytes; NaN where the step ran out of
        memory) and ``note``. Empty when the file does not exist.

    Raises:
        ValueError: a file that is not such a record (names the file and the key).
    """
    from hrcn_lib.resources import recorded_file

    path = Path(path) if path is not None else recorded_file(RECORDED_GPU)
    if not path.exists():
        return pd.DataFrame()
    record = json.loads(path.read_text())
    rows = []
    try:
        for pair, res in record["pairs"].items():
            model, dataset = pair.split(":")
            c, f32, b16 = res["classify"], res["train_fp32"], res["train_bf16"]
            notes = [f"{prec} step out of memory" for prec, r in (("fp32", f32), ("bf16", b16))
                     if r["oom"]]
            rows.append({
                "run": f"{MODEL_LABELS[model]} ({DATASET_LABELS[dataset]})",
                "device": record["device"],
                "classify ms (naive fp32)": round(float(c["naive_ms"]), 2),
                "classify ms (Predictor)": round(float(c["predictor_ms"]), 2),
                "train step ms (fp32)": float("nan") if f32["oom"] else round(f32["step_ms"]),
                "peak GB (fp32)": float("nan") if f32["oom"] else round(f32["peak_gb"], 2),
                "peak GB (bf16)": float("nan") if b16["oom"] else round(b16["peak_gb"], 2),
                "note": "; ".join(notes),
            })
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a bench_gpu.py record ({type(err).__name__}: {err})") from None
    return pd.DataFrame(rows).set_index("run")


def table3_comparison(ours: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Table 3 computed beside Table 3 printed, per (model, dataset).

    Args:
        ours: :func:`hrcn_lib.hardware.table3` (``model, dataset, image_size,
            input_mb, model_mb, total_gb``).
        paper: :func:`hrcn_lib.paper_numbers.paper_table3` (same columns).

    Returns:
        DataFrame indexed by run label: ``image size``, then ``input MB``,
        ``model MB``, ``total GB`` each as ``(ours)`` / ``(paper)``, and
        ``match`` (all three equal after rounding ours to two decimals).
    """
    from hrcn_lib.paper_numbers import DATASET_LABELS as DL
    from hrcn_lib.paper_numbers import MODEL_LABELS as ML

    both = ours.merge(paper, on=["model", "dataset"], suffixes=(" (ours)", " (paper)"))
    out = pd.DataFrame({"run": [f"{ML[m]} ({DL[d]})" for m, d in zip(both["model"], both["dataset"],
                                                                     strict=True)],
                        "image size": both["image_size (ours)"]})
    match = np.ones(len(both), dtype=bool)
    for col, name in (("input_mb", "input MB"), ("model_mb", "model MB"), ("total_gb", "total GB")):
        out[f"{name} (ours)"] = both[f"{col} (ours)"].round(2).to_numpy()
        out[f"{name} (paper)"] = both[f"{col} (paper)"].to_numpy()
        match &= np.isclose(out[f"{name} (ours)"], out[f"{name} (paper)"], atol=0.005)
    out["match"] = match
    return out.set_index("run")
