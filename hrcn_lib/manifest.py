"""LCID manifests: read, validate and write them; split them by celestial body; count them.

A *manifest* lists samples, one row per (raw file, science HDU). It is the
format the authors published with the paper (``LCID_test.csv`` and
``blurry_validation.csv`` in their repository): a leading unnamed index
column, then::

    ID, Instrument, OBSID, Filter, RA, DEC, HDU Index, Label

``ID`` names the celestial body, ``Instrument`` is ``ACS/WFC`` or
``WFC3/UVIS``, ``OBSID`` the HST rootname of the exposure (its raw file is
``<OBSID>_raw.fits`` at MAST), ``RA``/``DEC`` in degrees, ``HDU Index`` 1 or 4
(the SCI extension of the chip), ``Label`` ``galaxy`` or ``NSC``.

In memory the columns are renamed to ``body, instrument, obsid, filter, ra,
dec, hdu, label`` (:data:`COLUMNS`); every other column is kept. The project's
own manifests add the columns of :data:`EXTRA_COLUMNS` (written by the
simulator); ``path`` is stored relative to the manifest's folder and is
absolute in memory. :func:`write_manifest` writes the authors' column names
back, so ``read_manifest(write_manifest(df, p))`` equals ``df`` exactly.

This module never opens FITS pixels (see ``docs/interfaces.md``).

OBSIDs are HST rootnames: 9 characters, letters and digits (e.g.
``j96r23b7q``); they are stored lower-case, as MAST names its files. The
paper's Appendix Table A1 prints two 10-character OBSIDs, ``ie3o05ywwq`` and
``j8dw03yewq``: no HST exposure has such a name and a MAST query by it finds
nothing, so they are rejected with a :class:`ManifestError` that says so
(we do not guess the intended rootname).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from hrcn_lib.instruments import DETECTORS, SCIENCE_HDUS
from hrcn_lib.names import LABELS
from hrcn_lib.paths import atomic_write

__all__ = [
    "LABELS",
    "COLUMNS",
    "AUTHOR_COLUMNS",
    "EXTRA_COLUMNS",
    "INSTRUMENTS",
    "OBSID_PATTERN",
    "ManifestError",
    "read_manifest",
    "write_manifest",
    "validate_manifest",
    "check_obsid",
    "split_by_body",
    "dataset_table",
]

#: Authors' column name -> normalised column name (in the authors' order).
AUTHOR_COLUMNS: dict[str, str] = {
    "ID": "body",
    "Instrument": "instrument",
    "OBSID": "obsid",
    "Filter": "filter",
    "RA": "ra",
    "DEC": "dec",
    "HDU Index": "hdu",
    "Label": "label",
}

#: Spellings of the authors' columns also accepted on read (their README writes ``HDU_Index``).
_ALIASES: dict[str, str] = {"HDU_Index": "HDU Index"}

#: Normalised column names, in order.
COLUMNS: tuple[str, ...] = tuple(AUTHOR_COLUMNS.values())

#: Extra columns of the project's manifests -> their dtype kind
#: ("str", "float", "bool"). Unknown extra columns are kept as pandas reads them.
EXTRA_COLUMNS: dict[str, str] = {
    "path": "str",  # raw file; relative to the manifest's folder on disk, absolute in memory
    "subset": "str",  # "lcid" / "blurry"
    "blurry": "bool",
    "psf_fwhm": "float",  # arcsec
    "snr": "float",
    "morphology": "str",
    "defects": "str",  # ";"-joined, "" none
    "exptime": "float",  # s
    "object_fraction": "float",  # 0-1
    "lookalike": "str",  # built-in confusion, "" none
}

#: Instrument strings a manifest may hold.
INSTRUMENTS: tuple[str, ...] = tuple(sorted(DETECTORS))

#: An HST rootname as stored (lower-case): 9 letters or digits.
OBSID_PATTERN = re.compile(r"^[a-z0-9]{9}$")

_STR_COLUMNS = {"body", "instrument", "obsid", "filter", "label"} | {
    c for c, kind in EXTRA_COLUMNS.items() if kind == "str"
}
_FLOAT_COLUMNS = {"ra", "dec"} | {c for c, kind in EXTRA_COLUMNS.items() if kind == "float"}
_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}
_DATAFRAME = "<DataFrame>"
# pandas < 3 parses floats exactly only with float_precision="round_trip" (the default from 3 on,
# where the argument is deprecated).
_FLOAT_OPTION: dict[str, str] = (
    {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
)


class ManifestError(ValueError):
    """A manifest is malformed; the message names the file, the row and what was expected."""


# ----------------------------------------------------------------------------- validation


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (so messages print ``0``, not ``np.int64(0)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _where(source: str, index: object, line: int | None) -> str:
    """``"file: row 12 (line 14)"``: index label of the row and, for files, its line number."""
    loc = f"{source}: row {_plain(index)}"
    return f"{loc} (line {line})" if line is not None else loc


def check_obsid(obsid: object, where: str = "OBSID") -> str:
    """Return ``obsid`` lower-cased if it is a valid HST rootname, else raise.

    Args:
        obsid: candidate rootname, e.g. ``"j96r23b7q"`` (upper case accepted).
        where: prefix of the error message (file and row).

    Returns:
        The lower-case rootname (9 letters/digits), safe to use in a file name.

    Raises:
        ManifestError: not a string of exactly 9 ASCII letters and digits.
    """
    text = obsid if isinstance(obsid, str) else ""
    low = text.strip().lower()
    if OBSID_PATTERN.match(low):
        return low
    hint = ""
    if len(low) == 10 and low.isalnum():
        hint = (
            " (10 characters: the paper's Table A1 prints 'ie3o05ywwq' and 'j8dw03yewq', "
            "which are not HST rootnames and cannot be downloaded; correct the OBSID or drop the row)"
        )
    raise ManifestError(
        f"{where}: malformed OBSID {obsid!r}: expected an HST rootname of 9 letters and "
        f"digits, e.g. 'j96r23b7q'{hint}"
    )


def _convert(df: pd.DataFrame, source: str, lines: Mapping[object, int] | None) -> pd.DataFrame:
    """Type and check every cell of the normalised columns (and typed extras), row by row."""
    out = df.copy()
    for col in COLUMNS:
        if col not in out.columns:
            author = next(a for a, n in AUTHOR_COLUMNS.items() if n == col)
            raise ManifestError(
                f"{source}: missing column {author!r} ({col}); expected columns "
                f"{', '.join(AUTHOR_COLUMNS)}"
            )
    obsids, hdus, ras, decs, bools = [], [], [], [], []
    for idx, row in zip(out.index, out.itertuples(index=False), strict=True):
        where = _where(source, idx, None if lines is None else lines.get(idx))
        rec = dict(zip(out.columns, row, strict=True))
        body = rec["body"]
        if not isinstance(body, str) or not body.strip():
            raise ManifestError(f"{where}: empty ID (celestial body name)")
        if rec["instrument"] not in DETECTORS:
            raise ManifestError(
                f"{where}: unknown Instrument {rec['instrument']!r}: expected one of "
                f"{', '.join(INSTRUMENTS)}"
            )
        if rec["label"] not in LABELS:
            raise ManifestError(
                f"{where}: unknown Label {rec['label']!r}: expected one of {', '.join(LABELS)}"
            )
        obsids.append(check_obsid(rec["obsid"], where))
        hdus.append(_hdu(rec["hdu"], where))
        ras.append(_number(rec["ra"], "RA", where, 0.0, 360.0))
        decs.append(_number(rec["dec"], "DEC", where, -90.0, 90.0))
        if "blurry" in out.columns:
            bools.append(_bool(rec["blurry"], where))
    out["obsid"] = pd.Series(obsids, index=out.index, dtype=object).astype(str)
    out["hdu"] = np.asarray(hdus, dtype=np.int64)
    out["ra"] = np.asarray(ras, dtype=np.float64)
    out["dec"] = np.asarray(decs, dtype=np.float64)
    if "blurry" in out.columns:
        out["blurry"] = np.asarray(bools, dtype=bool)
    for col in _FLOAT_COLUMNS - {"ra", "dec"}:
        if col in out.columns:
            out[col] = _float_column(out[col], col, source, lines)
    for col in _STR_COLUMNS:
        if col in out.columns:
            out[col] = out[col].fillna("").astype(str)
    return out


def _hdu(value: object, where: str) -> int:
    try:
        number = float(value)  # "4", 4, 4.0
    except (TypeError, ValueError):
        number = float("nan")
    if number not in SCIENCE_HDUS:
        raise ManifestError(
            f"{where}: HDU Index {_plain(value)!r}: expected 1 or 4 (the SCI extensions of a "
            "full-frame raw file)"
        )
    return int(number)


def _number(value: object, name: str, where: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (low <= number <= high):
        raise ManifestError(f"{where}: {name} {_plain(value)!r}: expected degrees in "
                            f"[{low:g}, {high:g}]")
    return number


def _bool(value: object, where: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    key = str(value).strip().lower()
    if key not in _BOOL_TEXT:
        raise ManifestError(f"{where}: blurry {value!r}: expected True or False")
    return _BOOL_TEXT[key]


def _float_column(
    col: pd.Series, name: str, source: str, lines: Mapping[object, int] | None
) -> pd.Series:
    converted = pd.to_numeric(col.replace("", np.nan), errors="coerce").astype(np.float64)
    bad = converted.isna() & ~(col.isna() | (col.astype(str).isin(["", "nan", "NaN"])))
    if bad.any():
        idx = bad[bad].index[0]
        where = _where(source, idx, None if lines is None else lines.get(idx))
        raise ManifestError(f"{where}: {name} {_plain(col[idx])!r}: expected a number")
    return converted


def _check_table(df: pd.DataFrame, source: str, lines: Mapping[object, int] | None) -> None:
    """Whole-table rules: unique (obsid, hdu); one label per body; unique index."""
    if not df.index.is_unique:
        dup = _plain(df.index[df.index.duplicated()][0])
        raise ManifestError(f"{source}: row index {dup!r} appears twice; expected unique indices")
    later = df.duplicated(subset=["obsid", "hdu"], keep="first").to_numpy()
    if later.any():
        pos = int(np.flatnonzero(later)[0])
        obsid, hdu = df["obsid"].iloc[pos], _plain(df["hdu"].iloc[pos])
        first = _plain(df.index[((df["obsid"] == obsid) & (df["hdu"] == hdu)).to_numpy()][0])
        idx = df.index[pos]
        where = _where(source, idx, None if lines is None else lines.get(idx))
        raise ManifestError(
            f"{where}: duplicate sample OBSID {obsid!r} HDU {hdu} (first at row {first}); "
            "expected each (OBSID, HDU Index) once"
        )
    labels = df.groupby("body", sort=True)["label"].unique()
    for body, labs in labels.items():
        if len(labs) > 1:
            rows = [_plain(df.index[(df["body"] == body) & (df["label"] == lab)][0]) for lab in labs]
            raise ManifestError(
                f"{source}: body {body!r} has two labels: {labs[0]!r} (row {rows[0]}) and "
                f"{labs[1]!r} (row {rows[1]}); expected one label per celestial body"
            )


def validate_manifest(df: pd.DataFrame, source: str = _DATAFRAME) -> pd.DataFrame:
    """Check and type a manifest that uses the normalised column names.

    Args:
        df: DataFrame with at least :data:`COLUMNS` (+ extras).
        source: name used in error messages (a file name, or ``"<DataFrame>"``).

    Returns:
        A typed copy: ``obsid`` lower-case str, ``hdu`` int64, ``ra``/``dec``
        float64 (degrees), string columns str, typed extras (see :data:`EXTRA_COLUMNS`).

    Raises:
        ManifestError: missing column, unknown label or instrument, HDU not 1/4,
            malformed OBSID, RA/DEC not a number in range, duplicate
            (obsid, hdu), a body with two labels; the message names ``source``
            and the row.
    """
    typed = _convert(df, source, None)
    _check_table(typed, source, None)
    return typed


# ----------------------------------------------------------------------------- file I/O


def _header(path: Path) -> list[str]:
    try:
        head = pd.read_csv(path, nrows=0)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not a readable CSV manifest ({exc})") from exc
    return [str(c) for c in head.columns]


def read_manifest(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a manifest CSV (the authors' published format or the project's).

    Args:
        path: CSV file. The first column is the row index when its header is
            empty (the authors' ``DataFrame.to_csv`` output); otherwise rows are
            numbered from 0.

    Returns:
        DataFrame indexed by the file's row index, columns :data:`COLUMNS` then
        every extra column in file order. ``path`` (when present) is made
        absolute against the manifest's folder; ``""`` stays ``""`` (no file).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ManifestError: ``path`` is a directory, unreadable CSV or any rule of :func:`validate_manifest`,
            naming the file, the row index and its line number.
    """
    path = Path(path)
    if path.is_dir():
        raise ManifestError(f"{path}: is a directory: expected a manifest CSV file")
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    names = _header(path)
    has_index = bool(names) and (names[0] == "" or names[0].startswith("Unnamed: 0"))
    dtype = {}
    for name in names:
        norm = AUTHOR_COLUMNS.get(_ALIASES.get(name, name), name)
        if norm in _STR_COLUMNS or norm in ("hdu", "blurry"):
            dtype[name] = str
    na_values = {n: ["", "nan", "NaN"] for n in names if n not in dtype}
    try:
        raw = pd.read_csv(
            path,
            index_col=0 if has_index else None,
            dtype=dtype,
            keep_default_na=False,
            na_values=na_values,
            **_FLOAT_OPTION,
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not a readable CSV manifest ({exc})") from exc
    raw.index.name = None
    raw = raw.rename(columns=lambda c: AUTHOR_COLUMNS.get(_ALIASES.get(c, c), c))
    # Line numbers (header = line 1) for error messages.
    lines = {idx: i + 2 for i, idx in enumerate(raw.index)}
    df = _convert(raw, str(path), lines)
    _check_table(df, str(path), lines)
    order = list(COLUMNS) + [c for c in df.columns if c not in COLUMNS]
    df = df[order]
    if "path" in df.columns:
        folder = path.resolve().parent
        df["path"] = [os.path.normpath(folder / p) if p else "" for p in df["path"]]
    return df


def write_manifest(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Validate ``df`` and write it atomically with the authors' column names.

    Args:
        df: manifest with normalised columns (+ extras); its index is written as
            the leading unnamed column. ``path`` entries (absolute, or relative to
            the current directory) are written relative to the manifest's folder.
        path: destination CSV; its folder is created if needed.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ManifestError: ``df`` breaks a rule of :func:`validate_manifest`
            (nothing is written then).
    """
    path = Path(path)
    typed = validate_manifest(df)
    order = list(COLUMNS) + [c for c in typed.columns if c not in COLUMNS]
    out = typed[order].copy()
    path.parent.mkdir(parents=True, exist_ok=True)
    if "path" in out.columns:
        folder = path.resolve().parent
        out["path"] = [
            Path(os.path.relpath(os.path.abspath(p), folder)).as_posix() if p else ""
            for p in out["path"]
        ]
    out = out.rename(columns={v: k for k, v in AUTHOR_COLUMNS.items()})
    with atomic_write(path) as handle:
        out.to_csv(handle, index=True, lineterminator="\n")
    return path


# ----------------------------------------------------------------------------- split


def _pick_test_bodies(
    counts: pd.Series, target: float, rng: np.random.Generator, candidates: int
) -> set[str]:
    """Bodies of one class for the test set: best prefix over random body orders.

    ``counts`` maps body -> samples (sorted by body). For each of ``candidates``
    random permutations, take the prefix of 1..n-1 bodies whose sample sum is
    closest to ``target``; keep the first permutation with the smallest error.
    """
    names = counts.index.to_numpy()
    sizes = counts.to_numpy()
    best_err, best = np.inf, None
    for _ in range(candidates):
        order = rng.permutation(len(names))
        cum = np.cumsum(sizes[order])[:-1]  # prefixes of 1..n-1 bodies: train keeps >= 1
        k = int(np.argmin(np.abs(cum - target)))
        err = abs(float(cum[k]) - target)
        if err < best_err:
            best_err, best = err, order[: k + 1]
    assert best is not None
    return {str(b) for b in names[best]}


def split_by_body(
    df: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0, *, candidates: int = 256
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a manifest into training and testing sets by celestial body (paper Sec. 2.3).

    Method: the split is stratified by class at the body level. For each class
    separately, its bodies (sorted by name, so row order does not matter) are
    put in ``candidates`` random orders drawn from ``numpy.random.default_rng(seed)``;
    in each order the prefix of bodies whose sample count is closest to
    ``test_fraction`` x the class's samples is a candidate test set (at least one
    body, and at least one body left for training); the candidate with the
    smallest count error wins (first one on ties). So every body lies wholly in
    one set, both classes are in both sets, the sample fraction of each class
    (hence of the whole) is as close to the target as the bodies' sizes allow,
    and the result depends only on ``(df, test_fraction, seed)``.
    scikit-learn's ``GroupShuffleSplit`` draws a fraction of *groups*, and
    ``StratifiedGroupKFold`` only fractions ``1/k``; with bodies of very
    different sizes (the real LCID has bodies of 2 to ~140 samples) neither
    controls the *sample* fraction, which is what the paper's 8:2 refers to.

    Args:
        df: manifest (normalised columns; at least ``body`` and ``label``).
        test_fraction: target fraction of samples in the test set, in (0, 1).
        seed: random seed; the same seed gives the same split.
        candidates: random body orders tried per class.

    Returns:
        ``(train, test)``: row subsets of ``df`` in its original order and index.

    Raises:
        ManifestError: ``test_fraction`` outside (0, 1), missing ``body``/``label``,
            an unknown label, or a class with fewer than two bodies (cannot be in both sets).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ManifestError(f"split_by_body: test_fraction {test_fraction!r}: expected 0 < f < 1")
    for col in ("body", "label"):
        if col not in df.columns:
            raise ManifestError(f"split_by_body: missing column {col!r}")
    unknown = sorted(set(df["label"]) - set(LABELS))
    if unknown:
        raise ManifestError(f"split_by_body: unknown labels {unknown}; expected {list(LABELS)}")
    rng = np.random.default_rng(seed)
    test_bodies: set[str] = set()
    for label in LABELS:  # fixed class order keeps the stream of random numbers reproducible
        counts = df.loc[df["label"] == label, "body"].value_counts().sort_index()
        if len(counts) < 2:
            raise ManifestError(
                f"split_by_body: class {label!r} has {len(counts)} bodies; expected at least 2 "
                "so that it appears in both the training and the testing set"
            )
        test_bodies |= _pick_test_bodies(counts, test_fraction * counts.sum(), rng, candidates)
    in_test = df["body"].isin(test_bodies).to_numpy()
    return df.loc[~in_test], df.loc[in_test]


# ----------------------------------------------------------------------------- Table 1


_CLASS_COLUMNS = {"galaxy": "Galaxies", "NSC": "NSC"}


def dataset_table(
    parts: pd.DataFrame | Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """Bodies and samples per class, in the layout of the paper's Table 1.

    Args:
        parts: one manifest, or named manifests, e.g.
            ``{"Training": train, "Testing": test}`` (Table 1) or
            ``{"LCID-Blurry": blurry}``.

    Returns:
        int64 DataFrame, columns ``Galaxies, NSC, Total``; rows
        ``Celestial bodies`` (distinct bodies over all parts), one
        ``Samples (<name>)`` row per part when there are several, and
        ``Samples (Total)`` (the paper's own numbers are
        :func:`hrcn_lib.paper_numbers.paper_table1`, same layout).

    Raises:
        ManifestError: a part lacks ``body``/``label`` or holds an unknown label.
    """
    named = {"Total": parts} if isinstance(parts, pd.DataFrame) else dict(parts)
    for name, part in named.items():
        for col in ("body", "label"):
            if col not in part.columns:
                raise ManifestError(f"dataset_table: part {name!r} lacks column {col!r}")
        unknown = set(part["label"]) - set(LABELS)
        if unknown:
            raise ManifestError(f"dataset_table: part {name!r} has unknown labels {sorted(unknown)}")
    both = pd.concat([p[["body", "label"]] for p in named.values()], ignore_index=True)
    rows: dict[str, list[int]] = {}

    def counts(frame: pd.DataFrame, bodies: bool) -> list[int]:
        values = [
            int(frame.loc[frame["label"] == lab, "body"].nunique())
            if bodies
            else int((frame["label"] == lab).sum())
            for lab in _CLASS_COLUMNS
        ]
        total = int(frame["body"].nunique()) if bodies else len(frame)
        return values + [total]

    rows["Celestial bodies"] = counts(both, bodies=True)
    if len(named) > 1:
        for name, part in named.items():
            rows[f"Samples ({name})"] = counts(part, bodies=False)
    rows["Samples (Total)"] = counts(both, bodies=False)
    table = pd.DataFrame.from_dict(
        rows, orient="index", columns=[*_CLASS_COLUMNS.values(), "Total"]
    ).astype(np.int64)
    return table

