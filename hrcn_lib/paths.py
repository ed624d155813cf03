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

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunPaths", "REPO_ROOT", "LCID_MANIFEST", "BLURRY_MANIFEST"]

#: File names of the two manifests inside a data folder (simulated or downloaded).
LCID_MANIFEST: str = "lcid_manifest.csv"
BLURRY_MANIFEST: str = "blurry_manifest.csv"

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
