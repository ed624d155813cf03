"""Every path of a run directory, in one place (the showyourwork habit).

A run directory (default ``runs/<profile>/``) holds everything one profile's
run produces; notebooks 04+ read what earlier ones wrote there.

Layout::

    <run_dir>/
      data/                     simulated raw FITS (or a symlink to real LCID)
        lcid_manifest.csv       LCID manifest (authors' columns + extras)
        blurry_manifest.csv     LCID-Blurry manifest
      splits/train.csv, splits/test.csv
      cache/                    preprocessed-sample cache (content-keyed)
      models/<model>_<dataset>/ config.json, history.csv, checkpoint.pt,
                                predictions_test.csv, predictions_blurry.csv,
                                metrics.json, timing.json
      tables/, figures/         artefacts the book shows
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunPaths", "REPO_ROOT", "LCID_MANIFEST", "BLURRY_MANIFEST", "TRAIN_FILES",
           "EVAL_FILE_PATTERNS", "SET_NAME_PATTERN", "check_set_name"]

#: File names of the two manifests inside a data folder (simulated or downloaded).
LCID_MANIFEST: str = "lcid_manifest.csv"
BLURRY_MANIFEST: str = "blurry_manifest.csv"

#: Files ``hrcn train`` writes into a model's run folder (``hrcn_lib.train.fit``).
TRAIN_FILES: tuple[str, ...] = ("config.json", "history.csv", "checkpoint.pt", "model.pt")
#: Files ``hrcn evaluate`` writes there (``<set>`` is a set name, see :data:`SET_NAME_PATTERN`).
EVAL_FILE_PATTERNS: tuple[str, ...] = ("predictions_*.csv", "metrics_*.json", "timing_*.json",
                                       "timing.json")
#: An evaluation set name (it becomes part of file names): a letter or digit, then up to 63
#: letters, digits, ``_`` or ``-``.
SET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

#: Repository root (parent of the ``hrcn_lib`` package) when run from a checkout.
REPO_ROOT: Path = Path(__file__).resolve().parent.parent


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
    def figures(self) -> Path:
        return self.root / "figures"

    def model_dir(self, model: str, dataset: str) -> Path:
        """Directory of one trained model/dataset pair, e.g. ``models/vgg_lcid-resize``."""
        return self.root / "models" / f"{model}_{dataset}"


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
