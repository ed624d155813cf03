"""What several commands check of their arguments before any work: manifests with rows, and
output folders that can be made. Imports nothing heavy at module level."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["manifest_rows", "output_folders"]


def manifest_rows(path: Path | str, doing: str, name: str = "--manifest") -> pd.DataFrame:
    """The manifest at ``path`` (:func:`hrcn_lib.manifest.read_manifest`), refused when it has
    a header and no rows.

    Args:
        path: the manifest CSV.
        doing: what the rows are for, for the message (``"train on"``).
        name: how the user named it (``"--manifest"``; ``""`` for a positional argument).

    Raises:
        ValueError: no rows (the message names the file); ``ManifestError`` and ``OSError``
            of :func:`~hrcn_lib.manifest.read_manifest`.
    """
    from hrcn_lib.manifest import read_manifest

    df = read_manifest(path)
    if df.empty:
        named = f"{name} {path}" if name else str(path)
        raise ValueError(f"{named}: no rows: nothing to {doing}; pass a manifest with samples "
                         f"(its header alone is not enough)")
    return df


def output_folders(**folders: Path | str | None) -> None:
    """Refuse, before any work, output folders that cannot be made
    (:func:`hrcn_lib.paths.check_output_dir`); keyword = the flag without its dashes
    (``cache_dir=...`` is ``--cache-dir``), ``None`` = not given.

    Raises:
        OutputPathError: the first folder that is a file, lies under one or is not writable.
    """
    from hrcn_lib.paths import check_output_dir

    for key, folder in folders.items():
        if folder is not None:
            check_output_dir(folder, "--" + key.replace("_", "-"))
