"""LCID-sim datasets: render exposures into raw files and write the two manifests.

* :func:`render_exposure` -- one exposure in memory: both chips' raw arrays,
  headers and manifest rows (pure function of ``(seed, body, index)``);
* :func:`simulate_file` -- write one raw file alone (regeneration);
* :func:`simulate_dataset` -- a whole dataset of given :class:`DatasetSizes`, in parallel, with
  ``lcid_manifest.csv`` and ``blurry_manifest.csv``.

Files go to ``<out_dir>/raw/<obsid>_raw.fits``. :func:`simulate_dataset` writes
only files with at least one chip selected by the screening rule
(:mod:`.exposures`); a file none of whose chips would be selected is counted as
``screened_out`` and not written (:func:`simulate_file` always writes).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hrcn_lib.instruments import SCIENCE_HDUS, detector
from hrcn_lib.paths import (
    BLURRY_MANIFEST,
    LCID_MANIFEST,
    OutputPathError,
    check_output_dir,
    nearest_existing,
)
from hrcn_lib.simulate.bodies import Body, catalogue
from hrcn_lib.simulate.headers import ACS_WHEEL1
from hrcn_lib.simulate.rawfile import write_raw
from hrcn_lib.simulate.render import (
    RenderedExposure,
    SimulationError,
    body_scene,
    chip_grid,
    render_exposure,
)

__all__ = [
    "DatasetSizes",
    "SimulationError",
    "SimResult",
    "RenderedExposure",
    "body_scene",
    "chip_grid",
    "render_exposure",
    "simulate_file",
    "simulate_dataset",
    "file_bytes",
    "estimate_disk",
    "raw_path",
    "ACS_WHEEL1",
    "plan",
    "SCREENING_LOG",
]

log = logging.getLogger(__name__)

#: Per-chip screening record of a dataset (every chip that was rendered or skipped).
SCREENING_LOG = "screening.csv"
#: Columns of the simulator's manifests (the authors' eight, then the simulator's extras).
MANIFEST_COLUMNS = ["body", "instrument", "obsid", "filter", "ra", "dec", "hdu", "label",
                    "path", "subset", "blurry", "psf_fwhm", "snr", "morphology", "defects",
                    "exptime", "object_fraction", "lookalike", "condition", "exposure",
                    "edge_view", "detected_fraction", "expected_detected", "gal_b",
                    "distance_mpc", "host"]
_BLOCK = 2880


@dataclass(frozen=True)
class SimResult:
    """What :func:`simulate_dataset` did.

    Attributes:
        out_dir: dataset folder.
        lcid_manifest, blurry_manifest: the two manifest paths.
        screening_log: ``screening.csv``: every chip with its screening numbers.
        n_files: raw files written.
        n_screened_out: exposures none of whose chips passed screening (not written).
        n_lcid_rows, n_blurry_rows: manifest rows.
        n_chips_on_object: chips whose footprint covered at least MIN_OBJECT_FRACTION.
        n_chips_undetected: of those, chips rejected because their object was not
            detectable in the exposure (or outshone by its surroundings).
        bytes_written: total size of the raw files.
        seconds: wall-clock time.
    """

    out_dir: Path
    lcid_manifest: Path
    blurry_manifest: Path
    screening_log: Path
    n_files: int
    n_screened_out: int
    n_lcid_rows: int
    n_blurry_rows: int
    n_chips_on_object: int
    n_chips_undetected: int
    bytes_written: int
    seconds: float

    @property
    def rejected_fraction(self) -> float:
        """Fraction of on-object chips rejected as undetectable."""
        return self.n_chips_undetected / max(self.n_chips_on_object, 1)


def raw_path(out_dir: str | os.PathLike[str], obsid: str) -> Path:
    """``<out_dir>/raw/<obsid>_raw.fits``."""
    return Path(out_dir) / "raw" / f"{obsid}_raw.fits"


def simulate_file(out_dir: str | os.PathLike[str], seed: int, body_name: str,
                  exposure: int) -> Path:
    """Regenerate one raw file alone (byte-identical to the one a dataset run writes).

    Returns:
        ``<out_dir>/raw/<obsid>_raw.fits``.
    """
    rendered = render_exposure(seed, body_name, exposure)
    path = raw_path(out_dir, rendered.exposure.obsid)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_raw(path, rendered.exposure.instrument, rendered.chips,
                     primary=rendered.primary, sci_headers=rendered.sci_headers)


def _work(task: tuple[Path, int, str, int]) -> tuple[str, int, list[dict], int]:
    """Worker: render one exposure, write it if selected; returns (body, index, rows, bytes)."""
    out_dir, seed, name, index = task
    rendered = render_exposure(seed, name, index, screen_first=True)
    size = 0
    if rendered.selected:
        path = raw_path(out_dir, rendered.exposure.obsid)
        write_raw(path, rendered.exposure.instrument, rendered.chips,
                  primary=rendered.primary, sci_headers=rendered.sci_headers)
        size = path.stat().st_size
        for row in rendered.rows:
            row["path"] = str(path)
    return name, index, rendered.rows, size


def file_bytes(instrument: str) -> int:
    """Size (bytes) of one full-frame raw file of ``instrument`` (7 header blocks + 2 chips)."""
    data = 0
    for hdu in SCIENCE_HDUS:
        shape = detector(instrument).chips[hdu].raw_shape
        data += -(-shape[0] * shape[1] * 2 // _BLOCK) * _BLOCK
    return data + 7 * _BLOCK


def estimate_disk(n_files: int) -> int:
    """Upper bound (bytes) of ``n_files`` raw files plus manifests."""
    return n_files * max(file_bytes(i) for i in ("ACS/WFC", "WFC3/UVIS")) + 1_000_000


def _check_counts(**counts: object) -> None:
    for key, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise SimulationError(f"{key} must be an integer, got {n!r}")
        low = 1 if key.startswith("exposures") else 0
        if not low <= n <= 9999:
            raise SimulationError(f"{key} must be between {low} and 9999, got {n}")
    if counts["bodies_galaxy"] + counts["bodies_nsc"] == 0:
        raise SimulationError("the LCID part needs at least one body (bodies_galaxy + bodies_nsc "
                              "is 0)")


def _check_out_dir(out_dir: Path, need: int) -> None:
    try:
        check_output_dir(out_dir, "output directory")
    except OutputPathError as exc:
        raise SimulationError(str(exc)) from None
    free = shutil.disk_usage(nearest_existing(out_dir)).free
    if need > free:
        raise SimulationError(f"not enough disk space for {out_dir}: the dataset needs "
                              f"{need / 1e9:.2f} GB, {free / 1e9:.2f} GB are free")


@dataclass(frozen=True)
class DatasetSizes:
    """Body and exposure counts of an LCID-sim dataset.

    The simulator takes sizes, not profile names: :meth:`of` reads them from any
    object with these attributes (an :class:`hrcn_lib.profiles.Profile`).

    Attributes:
        bodies_galaxy, bodies_nsc: LCID bodies per class (0-9999, at least one in all).
        exposures_per_body: raw files per LCID galaxy body (1-9999).
        nsc_exposure_factor: LCID NSC bodies get this many times ``exposures_per_body``.
        blurry_bodies_galaxy, blurry_bodies_nsc: LCID-Blurry bodies (disjoint from LCID's).
        blurry_exposures_per_body: raw files per LCID-Blurry body (1-9999).
    """

    bodies_galaxy: int
    bodies_nsc: int
    exposures_per_body: int
    nsc_exposure_factor: int = 1
    blurry_bodies_galaxy: int = 0
    blurry_bodies_nsc: int = 0
    blurry_exposures_per_body: int = 1

    @classmethod
    def of(cls, source: object, **overrides: int) -> DatasetSizes:
        """The sizes held by ``source``'s attributes of the same names, some overridden.

        Raises:
            SimulationError: ``source`` lacks one of the attributes.
        """
        try:
            values = {f.name: getattr(source, f.name) for f in dataclasses.fields(cls)}
        except AttributeError as exc:
            raise SimulationError(f"{type(source).__name__} holds no dataset sizes: {exc}") \
                from None
        return cls(**{**values, **{k: v for k, v in overrides.items() if v is not None}})

    @property
    def files(self) -> int:
        """Raw files the dataset renders (before screening)."""
        return ((self.bodies_galaxy + self.bodies_nsc * self.nsc_exposure_factor)
                * self.exposures_per_body
                + (self.blurry_bodies_galaxy + self.blurry_bodies_nsc)
                * self.blurry_exposures_per_body)


def _sizes(sizes: DatasetSizes, seed: int) -> dict[str, int]:
    """Validated body/exposure counts of a dataset.

    Raises:
        SimulationError: a count that is not an integer in range, no LCID body, or a bad seed.
    """
    if not isinstance(sizes, DatasetSizes):
        raise SimulationError(f"sizes must be a DatasetSizes (DatasetSizes.of(profile)), got "
                              f"{type(sizes).__name__}")
    counts = {"bodies_galaxy": sizes.bodies_galaxy,
              "bodies_nsc": sizes.bodies_nsc,
              "exposures": sizes.exposures_per_body,
              "blurry_bodies_galaxy": sizes.blurry_bodies_galaxy,
              "blurry_bodies_nsc": sizes.blurry_bodies_nsc,
              "exposures_blurry": sizes.blurry_exposures_per_body,
              "exposures_nsc_factor": sizes.nsc_exposure_factor}
    _check_counts(**counts)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SimulationError(f"seed must be an integer >= 0, got {seed!r}")
    counts["files"] = sizes.files
    return counts


def _n_exposures(body: Body, sizes: dict[str, int]) -> int:
    """Exposures of one body: LCID NSC bodies get ``exposures_nsc_factor`` times a galaxy's."""
    if body.subset != "lcid":
        return sizes["exposures_blurry"]
    factor = sizes["exposures_nsc_factor"] if body.label == "NSC" else 1
    return sizes["exposures"] * factor


def plan(sizes: DatasetSizes, *, seed: int = 0) -> tuple[list[tuple[str, int]], dict]:
    """The (body, exposure) list of a dataset and its validated counts.

    Raises:
        SimulationError: impossible counts or seed.
    """
    sizes = _sizes(sizes, seed)
    bodies = catalogue(seed, sizes["bodies_galaxy"], sizes["bodies_nsc"],
                       sizes["blurry_bodies_galaxy"], sizes["blurry_bodies_nsc"])
    tasks = [(b.name, i) for b in bodies for i in range(_n_exposures(b, sizes))]
    return tasks, sizes


def simulate_dataset(out_dir: str | os.PathLike[str], sizes: DatasetSizes, *,
                     seed: int = 0, jobs: int = 1,
                     progress: bool = True, announce: bool | None = None) -> SimResult:
    """Simulate a dataset: raw files in ``out_dir/raw`` plus the two manifests.

    Args:
        out_dir: dataset folder (created; must be writable).
        sizes: body and exposure counts, including the LCID-Blurry bodies
            (``DatasetSizes.of(profile)`` for a profile's).
        seed: master seed; the same call with the same seed writes byte-identical files.
        jobs: worker processes (1 = in this process).
        progress: show a tqdm progress bar.
        announce: log (INFO, logger ``hrcn_lib.simulate.dataset``) the disk space the call
            will use before writing (default: ``progress``).

    Returns:
        :class:`SimResult`.

    Raises:
        SimulationError: impossible counts, unwritable ``out_dir``
            or not enough disk space -- before anything is written.
    """
    t0 = time.perf_counter()
    counts = _sizes(sizes, seed)
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise SimulationError(f"jobs must be an integer >= 1, got {jobs!r}")
    out_dir = Path(out_dir)
    need = estimate_disk(counts["files"])
    _check_out_dir(out_dir, need)
    tasks, _ = plan(sizes, seed=seed)
    if progress if announce is None else announce:
        log.info("hrcn simulate: %d exposures -> %s: at most %.2f GB of disk", len(tasks),
                 out_dir, need / 1e9)
    (out_dir / "raw").mkdir(parents=True, exist_ok=True)
    results = _run(tasks, out_dir, int(seed), int(jobs), progress)
    order = {t: k for k, t in enumerate(tasks)}
    results.sort(key=lambda r: order[(r[0], r[1])])
    every = [row for _, _, rr, _ in results for row in rr]
    rows = [row for row in every if row["selected"] and row["path"]]
    lcid, blurry = _manifests(rows, out_dir)
    screening = _screening_log(every, out_dir)
    on_object = screening[screening["screening"] != "off_object"]
    n_files = sum(1 for r in results if r[3])
    return SimResult(out_dir, out_dir / LCID_MANIFEST, out_dir / BLURRY_MANIFEST,
                     out_dir / SCREENING_LOG, n_files, len(results) - n_files, len(lcid),
                     len(blurry), len(on_object),
                     int((on_object["screening"] != "selected").sum()),
                     sum(r[3] for r in results), time.perf_counter() - t0)


def _run(tasks: Sequence[tuple[str, int]], out_dir: Path, seed: int, jobs: int,
         progress: bool) -> list:
    from tqdm.auto import tqdm

    work = [(out_dir, seed, name, i) for name, i in tasks]
    bar = tqdm(total=len(work), desc="simulate", unit="file", disable=not progress)
    results = []
    try:
        if jobs == 1:
            for w in work:
                results.append(_work(w))
                bar.update()
        else:
            ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = [pool.submit(_work, w) for w in work]
                for fut in as_completed(futures):
                    results.append(fut.result())
                    bar.update()
    finally:
        bar.close()
    return results


def _manifests(rows: list[dict], out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from hrcn_lib.manifest import write_manifest

    df = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    lcid = df[df["subset"] == "lcid"].reset_index(drop=True)
    blurry = df[(df["subset"] == "blurry") & df["blurry"]].reset_index(drop=True)
    write_manifest(lcid, out_dir / LCID_MANIFEST)
    write_manifest(blurry, out_dir / BLURRY_MANIFEST)
    return lcid, blurry


def _screening_log(rows: list[dict], out_dir: Path) -> pd.DataFrame:
    """Write ``screening.csv``: every chip considered, selected or not, and why."""
    cols = ["body", "subset", "label", "morphology", "obsid", "exposure", "hdu", "instrument",
            "filter", "exptime", "condition", "object_fraction", "detected_fraction",
            "expected_detected", "snr", "blurry", "screening"]
    df = pd.DataFrame(rows, columns=cols)
    tmp = out_dir / f".{SCREENING_LOG}.tmp"
    df.to_csv(tmp, index=False)
    os.replace(tmp, out_dir / SCREENING_LOG)
    return df
