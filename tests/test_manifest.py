"""Tests of hrcn_lib.manifest: reading the authors' format, round trip, validation, split, Table 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hrcn_lib import paper_numbers
from hrcn_lib.manifest import (
    COLUMNS,
    LABELS,
    ManifestError,
    dataset_table,
    read_manifest,
    split_by_body,
    validate_manifest,
    write_manifest,
)

DATA = Path(__file__).parent / "data"
EXAMPLE = DATA / "table_a1_example.csv"
TYPOS = DATA / "table_a1_typo_obsids.csv"
HEADER = ",ID,Instrument,OBSID,Filter,RA,DEC,HDU Index,Label\n"


def _csv(tmp_path: Path, body: str, header: str = HEADER, name: str = "m.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + body)
    return path


def _synthetic(n_gal: int = 12, n_nsc: int = 8, seed: int = 0) -> pd.DataFrame:
    """A valid manifest with bodies of uneven sizes (1-30 samples each)."""
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for label, n_bodies in (("galaxy", n_gal), ("NSC", n_nsc)):
        for b in range(n_bodies):
            for _ in range(int(rng.integers(1, 16))):
                for hdu in (1, 4):
                    rows.append(
                        {
                            "body": f"{label}{b:02d}",
                            "instrument": "ACS/WFC" if k % 2 else "WFC3/UVIS",
                            "obsid": f"{'j' if k % 2 else 'i'}{k:07d}q",
                            "filter": "F814W",
                            "ra": float(rng.uniform(0, 360)),
                            "dec": float(rng.uniform(-90, 90)),
                            "hdu": hdu,
                            "label": label,
                        }
                    )
                k += 1
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- reading


def test_reads_authors_format_example():
    df = read_manifest(EXAMPLE)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 16
    assert list(df.index[:4]) == [0, 1, 4, 5]  # the file's own index column
    row = df.loc[6]
    assert (row["body"], row["instrument"], row["obsid"], row["filter"]) == (
        "RMC136", "ACS/WFC", "jb6wd6evq", "F814W"
    )
    assert row["ra"] == 84.805574 and row["dec"] == -69.207164
    assert row["hdu"] == 1 and row["label"] == "NSC"
    assert df["hdu"].dtype == np.int64 and df["ra"].dtype == np.float64
    assert set(df["hdu"]) == {1, 4}
    assert LABELS == {"galaxy": 0, "NSC": 1}


def test_table_a1_typo_obsids_are_rejected_with_a_clear_error():
    with pytest.raises(ManifestError) as err:
        read_manifest(TYPOS)
    msg = str(err.value)
    assert str(TYPOS) in msg and "row 2 (line 2)" in msg and "'ie3o05ywwq'" in msg
    assert "9 letters and digits" in msg and "Table A1" in msg


def test_reads_csv_without_index_column_and_hdu_underscore_alias(tmp_path):
    path = _csv(
        tmp_path,
        "NGC628,ACS/WFC,J96R23B7Q,F435W,24.152604,15.76988,4,galaxy\n",
        header="ID,Instrument,OBSID,Filter,RA,DEC,HDU_Index,Label\n",
    )
    df = read_manifest(path)
    assert list(df.index) == [0]
    assert df.loc[0, "obsid"] == "j96r23b7q"  # stored lower-case, as MAST names files
    assert df.loc[0, "hdu"] == 4


def test_round_trip_authors_format_is_exact(tmp_path):
    df = read_manifest(EXAMPLE)
    out = write_manifest(df, tmp_path / "sub" / "copy.csv")
    assert out.read_text().splitlines()[0] == HEADER.strip()
    again = read_manifest(out)
    pd.testing.assert_frame_equal(again, df)
    # and the bytes are stable on a second round
    write_manifest(again, tmp_path / "copy2.csv")
    assert (tmp_path / "copy2.csv").read_text() == out.read_text()


def _project_manifest(folder: Path) -> pd.DataFrame:
    df = read_manifest(EXAMPLE).iloc[:4].copy()
    df["path"] = [str(folder / "raw" / f"{o}_raw.fits") for o in df["obsid"]]
    df["subset"] = ["lcid", "lcid", "blurry", "blurry"]
    df["blurry"] = [False, False, True, True]
    df["psf_fwhm"] = [0.1, 0.123456789012345, 0.3, 1e-7]
    df["snr"] = [10.0, 2.5, np.nan, 3.0]
    df["morphology"] = ["spiral", "spiral", "elliptical", ""]
    df["defects"] = ["", "cosmic;satellite", "", "hot"]
    df["exptime"] = [500.0, 500.0, 30.5, 1200.0]
    df["object_fraction"] = [0.5, 0.25, 1.0, 0.0]
    df["lookalike"] = ["", "", "nsc-like", ""]
    df["custom"] = [1, 2, 3, 4]  # an unknown extra column survives too
    return df


def test_round_trip_project_manifest_with_extras_and_relative_paths(tmp_path):
    df = _project_manifest(tmp_path)
    path = write_manifest(df, tmp_path / "lcid_manifest.csv")
    text = path.read_text()
    assert "raw/j96r23b7q_raw.fits" in text and str(tmp_path) not in text  # relative on disk
    again = read_manifest(path)
    expected = validate_manifest(df)
    pd.testing.assert_frame_equal(again, expected)
    assert again["blurry"].dtype == bool and again["snr"].isna().sum() == 1
    assert again.loc[0, "path"] == str(tmp_path / "raw" / "j96r23b7q_raw.fits")


def test_paths_follow_the_manifest_when_it_is_written_elsewhere(tmp_path):
    df = _project_manifest(tmp_path)
    path = write_manifest(df, tmp_path / "deep" / "er" / "m.csv")
    assert "../../raw/j96r23b7q_raw.fits" in path.read_text()
    assert read_manifest(path).loc[1, "path"] == str(tmp_path / "raw" / "j96r23b7q_raw.fits")


# ----------------------------------------------------------------------------- validation

GOOD = "0,NGC628,ACS/WFC,j96r23b7q,F435W,24.15,15.77,1,galaxy\n"


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("1,NGC628,ACS/HRC,j96r23b7q,F435W,24.1,15.7,4,galaxy\n", "unknown Instrument 'ACS/HRC'"),
        ("1,NGC628,ACS/WFC,j96r23b7q,F435W,24.1,15.7,4,star\n", "unknown Label 'star'"),
        ("1,NGC628,ACS/WFC,j96r23b7q,F435W,24.1,15.7,2,galaxy\n", "HDU Index '2': expected 1 or 4"),
        ("1,NGC628,ACS/WFC,j96r23b7q,F435W,24.1,15.7,x,galaxy\n", "HDU Index 'x'"),
        ("1,NGC628,ACS/WFC,j96r23b7,F435W,24.1,15.7,4,galaxy\n", "malformed OBSID 'j96r23b7'"),
        ("1,NGC628,ACS/WFC,../../etc,F435W,24.1,15.7,4,galaxy\n", "malformed OBSID '../../etc'"),
        ("1,NGC628,ACS/WFC,j96r23b7q,F435W,24.1,15.7,1,galaxy\n", "duplicate sample OBSID 'j96r23b7q' HDU 1"),
        ("1,NGC628,ACS/WFC,j96r23b8q,F435W,24.1,15.7,4,NSC\n", "body 'NGC628' has two labels"),
        ("1,NGC628,ACS/WFC,j96r23b8q,F435W,400,15.7,4,galaxy\n", "RA 400.0: expected degrees in [0, 360]"),
        ("1,NGC628,ACS/WFC,j96r23b8q,F435W,24.1,north,4,galaxy\n", "DEC 'north'"),
        ("1,,ACS/WFC,j96r23b8q,F435W,24.1,15.7,4,galaxy\n", "empty ID"),
    ],
)
def test_each_validation_error_names_file_and_row(tmp_path, row, fragment):
    path = _csv(tmp_path, GOOD + row)
    with pytest.raises(ManifestError) as err:
        read_manifest(path)
    msg = str(err.value)
    assert fragment in msg
    assert msg.startswith(str(path))
    if "two labels" in fragment:
        assert "row 0" in msg and "row 1" in msg
    else:
        assert "row 1 (line 3)" in msg


def test_missing_column_is_named(tmp_path):
    path = _csv(
        tmp_path,
        "0,NGC628,ACS/WFC,j96r23b7q,F435W,24.15,15.77,1\n",
        header=",ID,Instrument,OBSID,Filter,RA,DEC,HDU Index\n",
    )
    with pytest.raises(ManifestError, match=r"m\.csv: missing column 'Label' \(label\)"):
        read_manifest(path)


def test_empty_or_absent_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ManifestError, match="empty.csv: not a readable CSV"):
        read_manifest(tmp_path / "empty.csv")


def test_write_rejects_invalid_frame_and_leaves_nothing(tmp_path):
    df = read_manifest(EXAMPLE)
    df.loc[0, "hdu"] = 3
    with pytest.raises(ManifestError, match=r"<DataFrame>: row 0: HDU Index 3"):
        write_manifest(df, tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


def test_validation_errors_are_value_errors():
    assert issubclass(ManifestError, ValueError)


# ----------------------------------------------------------------------------- split


def test_split_properties_over_many_seeds():
    df = _synthetic()
    n_total = len(df)
    fractions = []
    for seed in range(40):
        train, test = split_by_body(df, test_fraction=0.2, seed=seed)
        assert len(train) + len(test) == n_total
        assert set(train.index).isdisjoint(test.index)
        assert set(train["body"]).isdisjoint(test["body"])
        for part in (train, test):
            assert set(part["label"]) == {"galaxy", "NSC"}
        # per class, the test share is as near 20 % as the body sizes allow: within
        # half the largest body of that class
        for label in LABELS:
            cls = df[df["label"] == label]
            biggest = cls["body"].value_counts().max()
            n_test = (test["label"] == label).sum()
            assert abs(n_test - 0.2 * len(cls)) <= biggest / 2
        fractions.append(len(test) / n_total)
        # deterministic
        train2, test2 = split_by_body(df, test_fraction=0.2, seed=seed)
        pd.testing.assert_frame_equal(test, test2)
        pd.testing.assert_frame_equal(train, train2)
    assert abs(np.mean(fractions) - 0.2) < 0.03
    # different seeds give different splits
    assert len({tuple(sorted(split_by_body(df, seed=s)[1]["body"].unique())) for s in range(40)}) > 5


def test_split_ignores_row_order_and_keeps_original_index():
    df = _synthetic(seed=3)
    shuffled = df.sample(frac=1.0, random_state=1)
    _, test_a = split_by_body(df, seed=7)
    _, test_b = split_by_body(shuffled, seed=7)
    assert set(test_a["body"]) == set(test_b["body"])
    assert set(test_b.index) == set(test_a.index)


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5])
def test_split_other_fractions(fraction):
    df = _synthetic(n_gal=20, n_nsc=20, seed=5)
    train, test = split_by_body(df, test_fraction=fraction, seed=1)
    assert abs(len(test) / len(df) - fraction) < 0.05


def test_split_rejects_impossible_requests():
    df = _synthetic(n_gal=3, n_nsc=1)
    with pytest.raises(ManifestError, match="class 'NSC' has 1 bodies"):
        split_by_body(df)
    with pytest.raises(ManifestError, match=r"unknown labels \['star'\]"):
        split_by_body(_synthetic().assign(label="star"))
    with pytest.raises(ManifestError, match="test_fraction 1.0"):
        split_by_body(_synthetic(), test_fraction=1.0)


# ----------------------------------------------------------------------------- Table 1


def test_dataset_table_layout_and_counts():
    df = _synthetic()
    train, test = split_by_body(df, seed=0)
    table = dataset_table({"Training": train, "Testing": test})
    assert list(table.columns) == ["Galaxies", "NSC", "Total"]
    assert list(table.index) == [
        "Celestial bodies", "Samples (Training)", "Samples (Testing)", "Samples (Total)"
    ]
    assert table.loc["Celestial bodies"].tolist() == [12, 8, 20]
    n_gal = int((df["label"] == "galaxy").sum())
    assert table.loc["Samples (Total)"].tolist() == [n_gal, len(df) - n_gal, len(df)]
    assert table.loc["Samples (Testing)", "Total"] == len(test)
    assert (table.loc["Samples (Training)"] + table.loc["Samples (Testing)"]).tolist() == (
        table.loc["Samples (Total)"].tolist()
    )
    assert all(dt == np.int64 for dt in table.dtypes)


def test_dataset_table_single_manifest_matches_example():
    table = dataset_table(read_manifest(EXAMPLE))
    assert table.to_dict("index") == {
        "Celestial bodies": {"Galaxies": 7, "NSC": 2, "Total": 9},
        "Samples (Total)": {"Galaxies": 12, "NSC": 4, "Total": 16},
    }


def test_dataset_table_layout_matches_paper_table1():
    df = _synthetic()
    train, test = split_by_body(df, seed=0)
    ours = dataset_table({"Training": train, "Testing": test})
    paper = paper_numbers.paper_table1()
    assert list(ours.index) == list(paper.index) and list(ours.columns) == list(paper.columns)


# ----------------------------------------------------------------------------- simulated data


def test_simulated_manifests_read_round_trip_and_split(request, tmp_path):
    try:
        root = request.getfixturevalue("smoke_data")
    except pytest.FixtureLookupError:
        pytest.skip("smoke_data fixture (tests/conftest.py) not available")
    for name in ("lcid_manifest.csv", "blurry_manifest.csv"):
        df = read_manifest(Path(root) / name)
        assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
        assert {"path", "subset", "blurry", "psf_fwhm", "snr", "exptime"} <= set(df.columns)
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in df["path"])
        again = read_manifest(write_manifest(df, tmp_path / "elsewhere" / name))
        pd.testing.assert_frame_equal(again, df)
    lcid = read_manifest(Path(root) / "lcid_manifest.csv")
    train, test = split_by_body(lcid, seed=0)
    assert set(train["label"]) == set(test["label"]) == set(LABELS)
    assert set(train["body"]).isdisjoint(test["body"])
