"""What every chapter of the book shares: its parameters resolved, the data, the split.

Each notebook starts with :func:`chapter_context` (its papermill parameters -> a
:class:`Chapter`), then :func:`ensure_dataset` and :func:`ensure_split`, which reuse what the
run directory already holds (:class:`hrcn_lib.paths.RunPaths`) and only compute what is
missing, so re-running the book with the same parameters redoes nothing. The rest are small
helpers more than one chapter calls: paths as the book prints them, reproducible row
picks, loading samples for figures, which pairs are trained, the recorded GPU numbers,
and glueing numbers into the prose.

This module imports neither torch nor GalSim (the data chapter's kernel stays small); the
chapters that train or evaluate import them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hrcn_lib.manifest import read_manifest, split_by_body, write_manifest
from hrcn_lib.names import pair_label
from hrcn_lib.paths import BLURRY_MANIFEST, LCID_MANIFEST, ModelRun, RunPaths
from hrcn_lib.preprocess import load_sample
from hrcn_lib.profiles import Profile, RunSpec, get_profile
from hrcn_lib.records import Record, book_record, read_record
from hrcn_lib.resources import recorded_file

__all__ = [
    "Chapter",
    "chapter_context",
    "describe",
    "shown_path",
    "ensure_dataset",
    "ensure_split",
    "limit_samples",
    "pick_rows",
    "load_images",
    "pair_epochs",
    "is_trained",
    "trained_specs",
    "glue_numbers",
    "RECORDED_GPU",
    "recorded_gpu",
    "load_record",
    "record_label",
    "SOURCES",
]

#: The three sources the results chapters set side by side, in this order: the paper's
#: published number, the committed record's (the headline) and this build's live run.
SOURCES: tuple[str, ...] = ("paper", "record", "this build")


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
        record_dir: the record the chapter shows (``None``: the committed one,
            :func:`hrcn_lib.records.book_record`).
    """

    profile: Profile
    paths: RunPaths
    data_dir: Path
    device: str
    seed: int
    record_dir: Path | None = None

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

    def run(self, spec: RunSpec) -> ModelRun:
        """The run folder of a pair (``models/<model>_<dataset>``)."""
        return self.paths.model_run(spec.model, spec.dataset)


def chapter_context(profile: str | Profile = "smoke", run_dir: str | Path | None = None,
                    data_dir: str | Path | None = None, device: str | None = None,
                    seed: int | None = None, *, record_dir: str | Path | None = None,
                    **overrides) -> Chapter:
    """Resolve a notebook's papermill parameters into a :class:`Chapter`.

    Args:
        profile: profile name (``smoke``, ``cpu``, ``binder``, ``paper``, ...), or a
            :class:`~hrcn_lib.profiles.Profile` (e.g. one a script derived; it need not be
            registered in :data:`~hrcn_lib.profiles.PROFILES`).
        run_dir: run directory (default ``runs/<profile name>`` under the current folder).
        data_dir: data folder (default ``<run_dir>/data``).
        device: overrides the profile's device when given.
        seed: overrides the profile's seed when given.
        record_dir: a record directory to show instead of the committed one.
        **overrides: other profile fields to override (e.g. ``epochs=1``).

    Raises:
        ValueError: unknown profile or field.
    """
    if device:
        overrides["device"] = device
    if seed is not None:
        overrides["seed"] = int(seed)
    if isinstance(profile, Profile):
        prof = profile.with_overrides(**overrides) if overrides else profile
    else:
        prof = get_profile(profile, **overrides)
    paths = RunPaths(Path(run_dir)) if run_dir else RunPaths.for_profile(prof.name)
    return Chapter(profile=prof, paths=paths,
                   data_dir=Path(data_dir) if data_dir else paths.data,
                   device=prof.device or "auto", seed=prof.seed,
                   record_dir=Path(record_dir) if record_dir else None)


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


def describe(ch: Chapter) -> str:
    """The line each chapter prints first: profile, run directory and data folder."""
    return (f"profile {ch.profile.name}: run directory {shown_path(ch, ch.paths.root)}/ "
            f"(paths below are relative to it), data folder {shown_path(ch, ch.data_dir)}/")


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
    if not (ch.lcid_manifest.exists() and ch.blurry_manifest.exists()):
        if ch.data_dir.resolve() != ch.paths.data.resolve():
            raise FileNotFoundError(
                f"{ch.data_dir}: no {LCID_MANIFEST} / {BLURRY_MANIFEST}; download the real "
                "LCID with `hrcn fetch` or leave data_dir unset to simulate LCID-sim")
        from hrcn_lib.simulate import DatasetSizes, simulate_dataset  # lazily: GalSim

        p = ch.profile
        jobs = jobs if jobs is not None else (p.simulation_jobs or max(1, os.cpu_count() or 1))
        simulate_dataset(ch.data_dir, DatasetSizes.of(p), seed=ch.seed, jobs=jobs,
                         progress=progress)
    return read_manifest(ch.lcid_manifest), read_manifest(ch.blurry_manifest)


def ensure_split(ch: Chapter, lcid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The body-level train/test split, written to ``splits/`` on first use.

    Returns:
        ``(train, test)`` manifests.
    """
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


def load_images(rows: pd.DataFrame, loader: Callable | None = None) -> list[np.ndarray]:
    """The (2048, 4096) samples of some manifest rows (``path``, ``hdu``); ``loader`` defaults
    to :func:`hrcn_lib.preprocess.load_sample`."""
    loader = loader or load_sample
    return [loader(str(r["path"]), int(r["hdu"])) for r in rows.to_dict("records")]


# ----------------------------------------------------------------------------- runs


def pair_epochs(ch: Chapter, spec: RunSpec) -> int:
    """Epochs a pair trains for in this profile: its own, else the profile's."""
    return int(spec.epochs or ch.profile.epochs)


def is_trained(ch: Chapter, spec: RunSpec) -> bool:
    """Whether the pair's run finished: ``model.pt`` exists and its history holds at least
    the profile's epochs."""
    run = ch.run(spec)
    if not (run.is_trained and run.history.exists()):
        return False
    return len(pd.read_csv(run.history)) >= pair_epochs(ch, spec)


def trained_specs(ch: Chapter) -> list[RunSpec]:
    """The profile's enabled pairs whose run finished, in the profile's order."""
    return [s for s in ch.profile.enabled_runs() if is_trained(ch, s)]


# ----------------------------------------------------------------------------- the book


def glue_numbers(values: Mapping[str, object]) -> None:
    """``myst_nb.glue(key, value, display=False)`` for each entry, NumPy scalars made plain
    Python (their NumPy 2 repr, ``np.float64(0.9)``, would reach the prose otherwise).

    myst_nb is imported here, not with the module: ``hrcn record`` uses this module's data
    steps on machines without the book's packages (device/check_imports.py)."""
    from myst_nb import glue

    for key, value in values.items():
        glue(key, value.item() if isinstance(value, np.generic) else value, display=False)


#: GPU numbers recorded by ``benchmarks/bench_gpu.py`` on a lent H100 (2026-11-26): a record
#: of a measurement, shown in the book as such (not re-measured by a book build).
RECORDED_GPU: str = "gpu_h100_2026-11-26.json"


def _table3_gb(gb_1e9: float) -> float:
    """A size in 1e9-byte GB (``bench_gpu.py``'s) in the paper's Table 3 GB (2**30 bytes,
    torchsummary's MB / 1024; :mod:`hrcn_lib.hardware`), to 0.01."""
    return round(float(gb_1e9) * 1e9 / 2**30, 2)


def recorded_gpu(path: Path | str | None = None) -> pd.DataFrame:
    """The recorded GPU measurements of :data:`RECORDED_GPU`, one row per pair.

    ``path`` defaults to ``benchmarks/recorded/<RECORDED_GPU>`` of the package's data or
    the checkout (:func:`hrcn_lib.resources.recorded_file`).

    Returns:
        DataFrame indexed by run label (e.g. ``"HR-CelestialNet (LCID)"``) with
        ``device``, ``classify ms (naive fp32)``, ``classify ms (Predictor)`` (batch 1, input
        on the device, median), ``train step ms (fp32)``, ``peak GB (fp32)``,
        ``peak GB (bf16)`` (one SGD step at the record's batch size;
        ``torch.cuda.max_memory_allocated`` in the paper's Table 3 unit, GB = 2**30 bytes,
        converted from the file's 1e9-byte GB so that it compares with the estimate; NaN
        where the step ran out of memory) and ``note``. Empty when the file does not exist.

    Raises:
        ValueError: a file that is not such a record (names the file and the key).
    """
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
                "run": pair_label(model, dataset),
                "device": record["device"],
                "classify ms (naive fp32)": round(float(c["naive_ms"]), 2),
                "classify ms (Predictor)": round(float(c["predictor_ms"]), 2),
                "train step ms (fp32)": float("nan") if f32["oom"] else round(f32["step_ms"]),
                "peak GB (fp32)": float("nan") if f32["oom"] else _table3_gb(f32["peak_gb"]),
                "peak GB (bf16)": float("nan") if b16["oom"] else _table3_gb(b16["peak_gb"]),
                "note": "; ".join(notes),
            })
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a bench_gpu.py record ({type(err).__name__}: {err})") from None
    return pd.DataFrame(rows).set_index("run")


def load_record(ch: Chapter) -> Record | None:
    """The record the chapter shows beside the paper and the live run: ``ch.record_dir``
    when given, else the committed one (:func:`hrcn_lib.records.book_record`); ``None``
    when no record is committed.

    Raises:
        hrcn_lib.records.RecordError: a record whose metrics do not follow from its
            predictions, or with a body in both training and testing.
    """
    return read_record(ch.record_dir) if ch.record_dir else book_record()


def record_label(record: Record | None) -> str:
    """How the book names a record's column: ``"record (record-cpu)"``, or that there is none."""
    return f"record ({record.name})" if record is not None else "record (none committed yet)"
