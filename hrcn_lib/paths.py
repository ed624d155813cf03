"""Every path of a run directory, in one place (the showyourwork habit), and how files are written.

A run directory (default ``runs/<profile>/``) holds everything one profile's run produces;
notebooks 04+ read what earlier ones wrote there. No other module spells these file names:
they ask :class:`RunPaths` (the run directory) or :class:`ModelRun` (one model's folder).

Layout::

    <run_dir>/
      data/                        simulated raw FITS (or a symlink to the real LCID)
        lcid_manifest.csv          LCID manifest (authors' columns + extras)
        blurry_manifest.csv        LCID-Blurry manifest
      splits/train.csv, splits/test.csv
      cache/                       preprocessed-sample cache (content-keyed, float16):
        <H>x<W>/<k2>/<key>.f16.npy   one sample (sample_cache_entry; hrcn_lib.samplecache)
        digests/<k2>/<stat key>      a raw file's content digest (sample_cache_digest)
      models/<model>_<dataset>/    one ModelRun (models/<model>_<dataset>.<variant>/: another
                                   seed or recipe of the pair, e.g. .seed1, .paper):
        config.json                the run's configuration (hrcn train)
        history.csv                one row per finished epoch
        checkpoint.pt              resumable state (every epoch and every N steps)
        model.pt                   the final weights (when every epoch ran)
        predictions_<set>.csv      one row per evaluated sample (hrcn evaluate)
        metrics_<set>.json         accuracy, F1 per class, confusion matrix
        timing_<set>.json          preprocessing / classification ms per sample
        timing.json                a copy of timing_test.json (Table 4's times)
      tables/peak_memory.csv       measured training-step memory (hardware chapter)

:func:`atomic_write` is the one way files of the project are written: to a temporary file
``.<name>.<pid>-<random>.tmp`` in the target's folder, renamed over the target when
complete, so a reader never sees half a file and a killed writer leaves only a temporary
(:data:`TEMP_PATTERN`; :mod:`hrcn_lib.runfolder` removes those of dead processes).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hrcn_lib.names import pair_key

__all__ = [
    "RunPaths",
    "ModelRun",
    "atomic_write",
    "OutputPathError",
    "check_output_dir",
    "check_output_file",
    "REPO_ROOT",
    "LCID_MANIFEST",
    "BLURRY_MANIFEST",
    "TRAIN_FILES",
    "EVAL_FILE_PATTERNS",
    "TEMP_PATTERN",
    "SET_NAME_PATTERN",
    "check_set_name",
    "sample_cache_entry",
    "sample_cache_digest",
    "SAMPLE_CACHE_SUFFIX",
]

#: File names of the two manifests inside a data folder (simulated or downloaded).
LCID_MANIFEST: str = "lcid_manifest.csv"
BLURRY_MANIFEST: str = "blurry_manifest.csv"

_CONFIG, _HISTORY, _CHECKPOINT, _WEIGHTS = "config.json", "history.csv", "checkpoint.pt", "model.pt"
_PREDICTIONS, _METRICS, _TIMING = "predictions_{}.csv", "metrics_{}.json", "timing_{}.json"
_TABLE4_TIMING = "timing.json"

#: Files ``hrcn train`` writes into a model's run folder (:func:`hrcn_lib.train.fit`).
TRAIN_FILES: tuple[str, ...] = (_CONFIG, _HISTORY, _CHECKPOINT, _WEIGHTS)
#: Files ``hrcn evaluate`` writes there, as glob patterns (``*`` is a set name).
EVAL_FILE_PATTERNS: tuple[str, ...] = (_PREDICTIONS.format("*"), _METRICS.format("*"),
                                       _TIMING.format("*"), _TABLE4_TIMING)
#: An evaluation set name (it becomes part of file names): a letter or digit, then up to 63
#: letters, digits, ``_`` or ``-``.
SET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Name of a temporary file of :func:`atomic_write`: ``.<name>.<pid>[-<hex>].tmp``.
TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)(?:-[0-9a-f]+)?\.tmp$")

#: Repository root (parent of the ``hrcn_lib`` package) when run from a checkout.
REPO_ROOT: Path = Path(__file__).resolve().parent.parent


@contextmanager
def atomic_write(path: Path | str, mode: str = "w", *, fsync: bool = False,
                 **open_kwargs: Any) -> Iterator[IO]:
    """Write ``path`` all at once: yield a file open on a temporary, then rename it over ``path``.

    The temporary (``.<name>.<pid>-<random>.tmp``, :data:`TEMP_PATTERN`) lies in the
    target's folder (created if missing), so the rename is atomic; if the block raises,
    the temporary is removed and ``path`` is left as it was.

    Args:
        path: the file to write.
        mode: ``"w"`` (text; ``newline=""`` unless given, so CSV writers control line ends)
            or ``"wb"`` (bytes).
        fsync: flush the data to disk before the rename (checkpoints: survive a power cut).
        **open_kwargs: passed to :func:`open` (e.g. ``encoding``).

    Yields:
        The open temporary file.

    Raises:
        ValueError: a mode other than ``"w"``/``"wb"``.
        OSError: the folder cannot be created or written.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    if mode == "w":
        open_kwargs.setdefault("newline", "")
    try:
        with open(tmp, mode.replace("w", "x"), **open_kwargs) as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class OutputPathError(ValueError):
    """An output folder or file that cannot be written; the message names the argument."""


def nearest_existing(path: Path | str) -> Path:
    """The path itself if it exists, else its nearest existing ancestor (absolute)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_dir(path: Path | str, what: str) -> Path:
    """Refuse, before any work is done, a folder the command could not create or write into.

    Args:
        path: the output folder (it may not exist yet).
        what: how the user named it, for the message (``"--out"``, ``"--cache-dir"``).

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        OutputPathError: ``path`` exists and is not a folder, lies under a file, or its
            nearest existing folder is not writable (the message names ``what`` and ``path``).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{what} {path}: exists and is not a folder; pass a folder")
    base = nearest_existing(path)
    if not base.is_dir():
        raise OutputPathError(f"{what} {path}: {base} is a file, so no folder can be made "
                              f"under it; pass another folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what} {path}: {base} is not writable; pass a folder you may "
                              f"write to")
    return path


def check_output_file(path: Path | str, what: str, *, protect: tuple[Path, ...] = ()
                      ) -> Path:
    """Refuse, before any work is done, a file the command could not write.

    Args:
        path: the output file (it may not exist yet; it is replaced when it does).
        what: how the user named it, for the message (``"--output"``).
        protect: input files it must not overwrite.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        OutputPathError: ``path`` is a folder or one of ``protect``, or its folder cannot be
            made or written (:func:`check_output_dir`).
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{what} {path}: is a folder; pass a file name")
    for other in protect:
        if path.exists() and Path(other).exists() and path.samefile(other):
            raise OutputPathError(f"{what} {path}: is the input {other}; pass another file "
                                  f"name so the input is kept")
    check_output_dir(path.parent, what)
    return path


#: Suffix of a sample-cache entry (:func:`sample_cache_entry`): a float16 ``.npy`` array.
SAMPLE_CACHE_SUFFIX: str = ".f16.npy"


def sample_cache_entry(cache_dir: Path | str, shape: tuple[int, int], key: str) -> Path:
    """File of one cached sample: ``<cache_dir>/<H>x<W>/<key[:2]>/<key>.f16.npy``.

    ``cache_dir`` is a run's :attr:`RunPaths.cache` (or any folder given as ``cache_dir``);
    ``key`` is the content key of :class:`hrcn_lib.samplecache.SampleCache` (hex digits and
    ``-``); the first two characters spread the entries over 256 folders.

    Raises:
        ValueError: a key that is not a plain file-name part.
    """
    if not re.fullmatch(r"[0-9a-z][0-9a-z_-]*", key):
        raise ValueError(f"sample-cache key {key!r}: expected lowercase letters, digits, '_', '-'")
    h, w = shape
    return Path(cache_dir) / f"{int(h)}x{int(w)}" / key[:2] / f"{key}{SAMPLE_CACHE_SUFFIX}"


def sample_cache_digest(cache_dir: Path | str, stat_key: str) -> Path:
    """File that remembers one raw file's content digest: ``<cache_dir>/digests/<k2>/<key>``.

    ``stat_key`` (hex digits) names the file's path, inode, size, mtime and ctime
    (:func:`hrcn_lib.samplecache.file_digest`).

    Raises:
        ValueError: a key that is not hex digits.
    """
    if not re.fullmatch(r"[0-9a-f]{8,}", stat_key):
        raise ValueError(f"digest key {stat_key!r}: expected hex digits")
    return Path(cache_dir) / "digests" / stat_key[:2] / stat_key


def check_set_name(name: object) -> str:
    """``name`` if it is a valid evaluation set name (:data:`SET_NAME_PATTERN`).

    Raises:
        ValueError: anything else (a path separator, ``..``, spaces, an empty name), since the
            name becomes part of the output file names.
    """
    if not isinstance(name, str) or not SET_NAME_PATTERN.match(name):
        raise ValueError(f"set name {name!r}: expected a simple name of letters, digits, '_' and "
                         "'-' (e.g. test, blurry), since it becomes part of file names")
    return name


@dataclass(frozen=True)
class ModelRun:
    """The files of one model's run folder (training and its evaluations); nothing is created.

    Attributes:
        root: the folder (``hrcn train --out``).
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        """``config.json``: the run's :class:`~hrcn_lib.train.TrainConfig` and what it ran on."""
        return self.root / _CONFIG

    @property
    def history(self) -> Path:
        """``history.csv``: one row per finished epoch (:data:`hrcn_lib.train.HISTORY_COLUMNS`)."""
        return self.root / _HISTORY

    @property
    def checkpoint(self) -> Path:
        """``checkpoint.pt``: the resumable state."""
        return self.root / _CHECKPOINT

    @property
    def weights(self) -> Path:
        """``model.pt``: the final weights, written when every epoch ran."""
        return self.root / _WEIGHTS

    @property
    def is_trained(self) -> bool:
        """Whether the run finished (its ``model.pt`` exists)."""
        return self.weights.is_file()

    def predictions(self, set_name: str) -> Path:
        """``predictions_<set>.csv`` of an evaluation (``set_name`` checked)."""
        return self.root / _PREDICTIONS.format(check_set_name(set_name))

    def metrics(self, set_name: str) -> Path:
        """``metrics_<set>.json``: accuracy, F1 per class, confusion matrix."""
        return self.root / _METRICS.format(check_set_name(set_name))

    def timing(self, set_name: str) -> Path:
        """``timing_<set>.json``: per-sample preprocessing / classification times."""
        return self.root / _TIMING.format(check_set_name(set_name))

    @property
    def table4_timing(self) -> Path:
        """``timing.json``: the test set's timings again (the times of Table 4)."""
        return self.root / _TABLE4_TIMING

    def is_evaluated(self, set_name: str) -> bool:
        """Whether predictions and metrics of ``set_name`` exist."""
        return self.predictions(set_name).is_file() and self.metrics(set_name).is_file()

    def train_files(self) -> list[Path]:
        """The training files present in the folder."""
        return [self.root / name for name in TRAIN_FILES if (self.root / name).is_file()]

    def evaluation_files(self) -> list[Path]:
        """The evaluation files present in the folder, sorted."""
        return sorted({p for pat in EVAL_FILE_PATTERNS for p in self.root.glob(pat)
                       if p.is_file()})

    def checkpoint_file(self) -> Path:
        """The file to load a trained network from: ``model.pt``, else ``checkpoint.pt``."""
        return self.weights if self.weights.is_file() else self.checkpoint


@dataclass(frozen=True)
class RunPaths:
    """Paths of one run directory; nothing is created until asked."""

    root: Path

    @classmethod
    def for_profile(cls, profile: str, base: Path | str | None = None) -> RunPaths:
        """``<base>/runs/<profile>`` (``base`` defaults to the current directory)."""
        return cls(Path(base or ".") / "runs" / profile)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def lcid_manifest(self) -> Path:
        return self.data / LCID_MANIFEST

    @property
    def blurry_manifest(self) -> Path:
        return self.data / BLURRY_MANIFEST

    @property
    def splits(self) -> Path:
        return self.root / "splits"

    @property
    def train_split(self) -> Path:
        return self.splits / "train.csv"

    @property
    def test_split(self) -> Path:
        return self.splits / "test.csv"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def peak_memory(self) -> Path:
        """``tables/peak_memory.csv`` (:func:`hrcn_lib.hardware.measured_memory`)."""
        return self.tables / "peak_memory.csv"

    def model_run(self, model: str, dataset: str, variant: str = "") -> ModelRun:
        """The :class:`ModelRun` of one model/dataset pair, e.g. ``models/vgg_lcid-resize``;
        a ``variant`` (another seed, another recipe: ``"seed1"``, ``"paper"``) gets its own
        folder, ``models/vgg_lcid-resize.seed1``."""
        return ModelRun(self.model_dir(model, dataset, variant))

    def model_dir(self, model: str, dataset: str, variant: str = "") -> Path:
        """Folder of one model/dataset pair (:meth:`model_run`'s root).

        Raises:
            ValueError: a variant that is not a simple name (:data:`SET_NAME_PATTERN`).
        """
        name = pair_key(model, dataset)
        if variant:
            name = f"{name}.{check_set_name(variant)}"
        return self.root / "models" / name
