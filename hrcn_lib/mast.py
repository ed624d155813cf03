"""Turn a manifest into downloaded HST raw files (``<obsid>_raw.fits``) from MAST.

:func:`download` fetches, for every distinct OBSID of a manifest, the raw
exposure with :mod:`astroquery.mast`:

1. ``Observations.query_criteria(obs_collection="HST", obs_id=<obsid>)``; an
   exposure taken inside an association is listed by MAST under the
   association's id (e.g. ``ib6o23010`` for ``ib6o23rsq``), so when the exact
   query finds nothing we query ``obs_id="<first 6 characters>*"`` (same
   program and visit) instead;
2. ``Observations.get_product_list(...)`` then
   ``Observations.filter_products(..., productSubGroupDescription="RAW", extension="fits")``,
   keeping the product named ``<obsid>_raw.fits``;
3. ``Observations.download_products(..., download_dir=<staging>, flat=True)``
   into a staging folder ``<dest>/.partial/<obsid>/``; the file is verified and
   only then renamed to ``<dest>/<obsid>_raw.fits``.

A file already at its place and verified is skipped, so an interrupted run is
resumed by running it again. Verification opens every HDU the manifest needs
with :func:`hrcn_lib.preprocess.read_header_info` and checks instrument,
rootname, full frame and raw kind. Transient errors are retried a bounded
number of times with exponential back-off. Local paths are built only from
OBSIDs validated as HST rootnames (9 letters/digits), never from text of the
manifest or of MAST's answer, so a hostile manifest cannot write outside
``dest``.

The client is a parameter (default :class:`astroquery.mast.Observations`), so
tests run the whole logic with a fake client and no network.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hrcn_lib.manifest import ManifestError, check_obsid, read_manifest, validate_manifest
from hrcn_lib.preprocess import read_header_info

__all__ = [
    "DownloadTask",
    "DownloadReport",
    "MastError",
    "raw_filename",
    "raw_path",
    "plan_downloads",
    "verify_raw",
    "download",
    "attach_paths",
]

#: Sub-folder of ``dest`` where downloads land before verification.
STAGING = ".partial"


class MastError(RuntimeError):
    """A product cannot be had from MAST (not found, no RAW product); not retried."""


@dataclass(frozen=True)
class DownloadTask:
    """One raw file to have: the OBSID, what the manifest needs of it, where it goes.

    Attributes:
        obsid: validated lower-case rootname.
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"`` (from the manifest).
        hdus: HDU indices the manifest uses (subset of (1, 4)), sorted.
        path: final local path ``<dest>/<obsid>_raw.fits`` (absolute).
        rows: manifest index labels of the rows that use this file.
    """

    obsid: str
    instrument: str
    hdus: tuple[int, ...]
    path: Path
    rows: tuple[Any, ...]


@dataclass
class DownloadReport:
    """Outcome of :func:`download`: OBSIDs downloaded, skipped (already verified), failed."""

    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no OBSID failed."""
        return not self.failed

    def summary(self) -> str:
        """One line: counts of downloaded, skipped and failed files."""
        return (
            f"{len(self.downloaded)} downloaded, {len(self.skipped)} already present, "
            f"{len(self.failed)} failed"
        )


def raw_filename(obsid: str) -> str:
    """``"<obsid>_raw.fits"`` for a validated rootname (raises :class:`ManifestError` otherwise)."""
    return f"{check_obsid(obsid)}_raw.fits"


def raw_path(dest: str | os.PathLike[str], obsid: str) -> Path:
    """Absolute local path of an OBSID's raw file: ``<dest>/<obsid>_raw.fits``.

    Raises:
        ManifestError: ``obsid`` is not a 9-character HST rootname (which also
            rules out separators, ``..`` and absolute paths).
    """
    root = Path(dest).resolve()
    path = (root / raw_filename(obsid)).resolve()
    if path.parent != root:  # cannot happen for a validated rootname; kept as a guard
        raise ManifestError(f"OBSID {obsid!r} would leave the download folder {root}")
    return path


def _as_manifest(manifest: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    if isinstance(manifest, pd.DataFrame):
        return validate_manifest(manifest)
    return read_manifest(manifest)


def plan_downloads(
    manifest: pd.DataFrame | str | os.PathLike[str], dest: str | os.PathLike[str]
) -> list[DownloadTask]:
    """One :class:`DownloadTask` per distinct OBSID, in order of first appearance.

    Args:
        manifest: manifest DataFrame (normalised columns) or CSV path.
        dest: download folder.

    Raises:
        ManifestError: the manifest is invalid, or one OBSID is listed with two
            instruments.
    """
    df = _as_manifest(manifest)
    tasks = []
    for obsid, group in df.groupby("obsid", sort=False):
        instruments = sorted(set(group["instrument"]))
        if len(instruments) != 1:
            raise ManifestError(
                f"OBSID {obsid!r} is listed with instruments {instruments} (rows "
                f"{list(group.index)}); expected one"
            )
        tasks.append(
            DownloadTask(
                obsid=str(obsid),
                instrument=instruments[0],
                hdus=tuple(sorted({int(h) for h in group["hdu"]})),
                path=raw_path(dest, str(obsid)),
                rows=tuple(group.index),
            )
        )
    return tasks


def _default_reader() -> Callable[[str | Path, int], Any]:
    return read_header_info


def verify_raw(
    path: str | os.PathLike[str],
    task: DownloadTask,
    reader: Callable[[str | Path, int], Any] | None = None,
) -> str | None:
    """Check that ``path`` is the raw file ``task`` needs; ``None`` when it is, else why not.

    Opens each HDU of ``task.hdus`` with ``reader`` (default
    :func:`hrcn_lib.preprocess.read_header_info`) and checks its instrument,
    rootname, ``kind == "raw"`` and that it is not a subarray.
    """
    read = reader or _default_reader()
    if not Path(path).is_file():
        return f"{path}: no such file"
    for hdu in task.hdus:
        try:
            info = read(path, hdu)
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            return f"{path} HDU {hdu}: unreadable ({exc})"
        if info.instrument != task.instrument:
            return f"{path} HDU {hdu}: instrument {info.instrument!r}, manifest says {task.instrument!r}"
        if str(info.rootname).strip().lower() != task.obsid:
            return f"{path} HDU {hdu}: ROOTNAME {info.rootname!r}, expected {task.obsid!r}"
        if getattr(info, "kind", "raw") != "raw":
            return f"{path} HDU {hdu}: a {info.kind!r} file, expected a raw file"
        if getattr(info, "subarray", False):
            return f"{path} HDU {hdu}: a subarray exposure, expected full frame"
    return None


def _default_client() -> Any:
    from astroquery.mast import Observations  # lazily: ~1 s to import, only to download

    return Observations


def _raw_product(client: Any, obsid: str) -> Any:
    """The product-table row(s) of ``<obsid>_raw.fits``; raises :class:`MastError` if none."""
    name = f"{obsid}_raw.fits"
    for pattern in (obsid, f"{obsid[:6]}*"):
        obs = client.query_criteria(obs_collection="HST", obs_id=pattern)
        if obs is None or len(obs) == 0:
            continue
        products = client.get_product_list(obs)
        raw = client.filter_products(products, productSubGroupDescription="RAW", extension="fits")
        if raw is None or len(raw) == 0:
            continue
        keep = np.array([str(f).strip().lower() == name for f in raw["productFilename"]])
        if keep.any():
            return raw[keep][:1]
    raise MastError(f"MAST has no HST RAW product {name}")


def _fetch_one(client: Any, task: DownloadTask, staging: Path, reader: Any) -> None:
    """Download ``task`` into ``staging``, verify it, move it to ``task.path``."""
    product = _raw_product(client, task.obsid)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    result = client.download_products(product, download_dir=str(staging), flat=True)
    if result is not None and "Status" in getattr(result, "colnames", ()):
        status = str(result["Status"][0])
        if status not in ("COMPLETE", "SKIPPED"):
            message = result["Message"][0] if "Message" in result.colnames else ""
            raise OSError(f"download of {task.obsid} ended with status {status}: {message}")
    got = staging / raw_filename(task.obsid)
    if result is not None and "Local Path" in getattr(result, "colnames", ()):
        local = Path(str(result["Local Path"][0])).resolve()
        if local.parent != staging.resolve():
            raise MastError(f"client wrote {local}, outside the staging folder {staging}")
        got = local
    reason = verify_raw(got, task, reader)
    if reason is not None:
        raise OSError(f"downloaded file failed verification: {reason}")
    os.replace(got, task.path)


def download(
    manifest: pd.DataFrame | str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    client: Any = None,
    retries: int = 3,
    backoff_s: float = 5.0,
    progress: bool = True,
    reader: Callable[[str | Path, int], Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    give_up_after: int = 5,
) -> DownloadReport:
    """Download the raw file of every OBSID of ``manifest`` into ``dest`` (resumable).

    Args:
        manifest: manifest DataFrame or CSV (authors' or project format).
        dest: download folder (created); files are ``<dest>/<obsid>_raw.fits``.
        client: object with astroquery's ``Observations`` methods
            (``query_criteria``, ``get_product_list``, ``filter_products``,
            ``download_products``); default :class:`astroquery.mast.Observations`.
        retries: extra attempts per file after a transient error (>= 0).
        backoff_s: wait before the first retry, doubled at each further retry (s).
        progress: show a tqdm progress bar.
        reader: header reader for verification (default ``read_header_info``).
        sleep: waiting function (tests pass a recorder).
        give_up_after: stop after this many OBSIDs in a row failed with
            transient errors (MAST or the network is down): the rest are
            reported as not attempted instead of each waiting out its retries.

    Returns:
        :class:`DownloadReport`; failures are collected, not raised, so one bad
        OBSID does not stop the others.

    Raises:
        ManifestError: invalid manifest (before anything is downloaded).
        ValueError: ``retries < 0`` or ``backoff_s < 0``.
    """
    if retries < 0 or backoff_s < 0:
        raise ValueError(f"download: retries {retries} / backoff_s {backoff_s}: expected >= 0")
    tasks = plan_downloads(manifest, dest)
    root = Path(dest).resolve()
    root.mkdir(parents=True, exist_ok=True)
    client = client if client is not None else _default_client()
    report = DownloadReport()
    in_a_row = 0  # OBSIDs in a row that failed with transient errors
    for task in tqdm(tasks, desc="MAST raw files", unit="file", disable=not progress):
        if task.path.exists() and verify_raw(task.path, task, reader) is None:
            report.skipped.append(task.obsid)
            continue
        if give_up_after and in_a_row >= give_up_after:
            report.failed[task.obsid] = (
                f"not attempted: the previous {in_a_row} OBSIDs failed in a row (MAST unreachable?)"
            )
            continue
        staging = root / STAGING / task.obsid
        try:
            failure = _fetch_with_retries(client, task, staging, reader, retries=retries,
                                          backoff_s=backoff_s, sleep=sleep)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if failure is None:
            report.downloaded.append(task.obsid)
            in_a_row = 0
        else:
            reason, transient = failure
            report.failed[task.obsid] = reason
            in_a_row = in_a_row + 1 if transient else 0
    _remove_empty(root / STAGING)
    return report


def _fetch_with_retries(client: Any, task: DownloadTask, staging: Path,
                        reader: Callable[[str | Path, int], Any] | None, *, retries: int,
                        backoff_s: float, sleep: Callable[[float], None]
                        ) -> tuple[str, bool] | None:
    """Fetch one OBSID's raw file, retrying transient errors (see :func:`download`).

    Returns:
        None once the file is in place; else ``(reason, transient)``: a :class:`MastError`
        (the archive's answer: no such product, a file that fails verification...) at once with
        ``transient`` False, any other error (network, server, corrupt download) after
        ``retries`` further attempts, waiting ``backoff_s * 2**attempt`` s before each, with
        ``transient`` True.
    """
    for attempt in range(retries + 1):
        try:
            _fetch_one(client, task, staging, reader)
        except MastError as exc:
            return str(exc), False
        except Exception as exc:  # network, server, corrupt download: retry
            if attempt == retries:
                return f"{type(exc).__name__}: {exc} (after {attempt + 1} attempts)", True
            sleep(backoff_s * 2**attempt)
        else:
            return None
    raise AssertionError("unreachable: the last attempt returns")


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def attach_paths(
    manifest: pd.DataFrame | str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    missing: str = "error",
) -> pd.DataFrame:
    """Add a ``path`` column pointing at ``<dest>/<obsid>_raw.fits`` (absolute).

    Args:
        manifest: manifest DataFrame or CSV.
        dest: download folder.
        missing: what to do with rows whose file is absent: ``"error"`` raise,
            ``"drop"`` drop the rows, ``"keep"`` keep them with ``path = ""``.

    Returns:
        A copy of the manifest with ``path`` (str) set.

    Raises:
        ManifestError: a file is absent and ``missing == "error"`` (names the
            first absent rows); invalid manifest.
        ValueError: unknown ``missing``.
    """
    if missing not in ("error", "drop", "keep"):
        raise ValueError(f"attach_paths: missing={missing!r}: expected 'error', 'drop' or 'keep'")
    df = _as_manifest(manifest).copy()
    paths = [raw_path(dest, o) for o in df["obsid"]]
    present = np.array([p.is_file() for p in paths], dtype=bool)
    df["path"] = [str(p) if ok else "" for p, ok in zip(paths, present, strict=True)]
    if not present.all():
        absent = df.index[~present]
        if missing == "error":
            first = ", ".join(
                f"row {i} ({df.at[i, 'obsid']})" for i in _first(absent, 5)
            )
            raise ManifestError(
                f"{(~present).sum()} of {len(df)} rows have no file in {Path(dest).resolve()}: "
                f"{first}{' ...' if len(absent) > 5 else ''}; run `hrcn fetch` first or pass "
                "missing='drop'"
            )
        if missing == "drop":
            df = df.loc[present]
    return df


def _first(items: Iterable[Any], n: int) -> list[Any]:
    return list(items)[:n]
