"""Tests of hrcn_lib.mast and `hrcn fetch` with a fake astroquery client (no network).

The fake mimics astroquery.mast.Observations on astropy Tables: query by obs_id
(exposures inside an association are only found by the association's
``<first 6 characters>*`` query), product lists with RAW/FLT products, and
downloads that write a file. Verification uses a fake header reader on the
fake files, and the real ``read_header_info`` on real raw files when
``hrcn_lib.preprocess`` exists.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

import hrcn_lib.mast as mast
from hrcn_lib.cli import main
from hrcn_lib.instruments import chip_layout
from hrcn_lib.manifest import ManifestError, read_manifest, write_manifest
from hrcn_lib.mast import attach_paths, download, plan_downloads, raw_path, verify_raw
from hrcn_lib.simulate.rawfile import default_primary, write_raw

EXAMPLE = Path(__file__).parent / "data" / "table_a1_example.csv"
ASSOCIATED = {"idxr57q6q", "jcnw11o5q"}  # listed at MAST under an association id only


def fake_reader(path, hdu):
    """Header reader for fake files whose text is ``"<instrument>|<rootname>"``."""
    text = Path(path).read_text()
    if "|" not in text or hdu not in (1, 4):
        raise ValueError(f"{path} HDU {hdu}: not a raw file")
    instrument, rootname = text.split("|")
    return SimpleNamespace(instrument=instrument, rootname=rootname, kind="raw", subarray=False)


class FakeObservations:
    """Enough of astroquery.mast.Observations for hrcn_lib.mast."""

    def __init__(self, catalog, *, failures=None, wrong_rootname=(), escape=False):
        self.catalog = dict(catalog)  # obsid -> instrument: what MAST holds
        self.failures = dict(failures or {})  # obsid -> transient failures still to raise
        self.wrong_rootname = set(wrong_rootname)
        self.escape = escape
        self.calls: list[tuple[str, dict]] = []

    def query_criteria(self, **kw):
        self.calls.append(("query_criteria", kw))
        assert kw["obs_collection"] == "HST"
        pattern = kw["obs_id"]
        if pattern.endswith("*"):
            members = [o for o in self.catalog if o.startswith(pattern[:-1]) and o in ASSOCIATED]
            ids = [pattern[:-1] + "010"] if members else []
        else:
            ids = [pattern] if pattern in self.catalog and pattern not in ASSOCIATED else []
        return Table({"obs_id": ids, "obsid": [str(9000 + i) for i in range(len(ids))]},
                     dtype=(str, str))

    def get_product_list(self, obs):
        self.calls.append(("get_product_list", {"obs_id": list(obs["obs_id"])}))
        names, groups = [], []
        for oid in obs["obs_id"]:
            members = [o for o in self.catalog if o.startswith(oid[:6])] if oid.endswith("010") else [oid]
            for m in members:
                for suffix, group in (("raw", "RAW"), ("flt", "FLT"), ("spt", "SPT")):
                    names.append(f"{m}_{suffix}.fits")
                    groups.append(group)
        return Table({"productFilename": names, "productSubGroupDescription": groups})

    def filter_products(self, products, **kw):
        self.calls.append(("filter_products", kw))
        keep = np.array(
            [g == kw["productSubGroupDescription"] and n.endswith("." + kw["extension"])
             for n, g in zip(products["productFilename"], products["productSubGroupDescription"], strict=True)],
            dtype=bool,
        )
        return products[keep]

    def download_products(self, products, download_dir, flat):
        self.calls.append(("download_products", {"download_dir": download_dir, "flat": flat}))
        assert flat is True and len(products) == 1
        name = str(products["productFilename"][0])
        obsid = name.split("_")[0]
        if self.failures.get(obsid, 0) > 0:
            self.failures[obsid] -= 1
            raise ConnectionError(f"connection reset while fetching {name}")
        target = Path(download_dir) / name
        if self.escape:
            target = Path(download_dir).parents[2] / name  # beside dest, outside it
        rootname = "jxxxxxxxq" if obsid in self.wrong_rootname else obsid
        target.write_text(f"{self.catalog[obsid]}|{rootname}")
        return Table({"Local Path": [str(target)], "Status": ["COMPLETE"], "Message": [""],
                      "URL": [f"mast:HST/product/{name}"]})

    def count(self, method):
        return sum(1 for name, _ in self.calls if name == method)


@pytest.fixture
def manifest():
    return read_manifest(EXAMPLE)


@pytest.fixture
def catalog(manifest):
    return dict(zip(manifest["obsid"], manifest["instrument"], strict=True))


def _sleeps():
    waits: list[float] = []
    return waits, waits.append


# ----------------------------------------------------------------------------- planning and paths


def test_plan_one_task_per_obsid_with_needed_hdus(manifest, tmp_path):
    tasks = plan_downloads(manifest, tmp_path)
    assert [t.obsid for t in tasks] == list(dict.fromkeys(manifest["obsid"]))
    by = {t.obsid: t for t in tasks}
    assert by["j96r23b7q"].hdus == (1, 4) and by["j96r23b7q"].rows == (0, 1)
    assert by["jcnw11o5q"].hdus == (4,) and by["j9oe02wvq"].hdus == (1,)
    assert by["idxr57q6q"].instrument == "WFC3/UVIS"
    for t in tasks:
        assert t.path == tmp_path.resolve() / f"{t.obsid}_raw.fits"


def test_plan_reads_a_csv_path(tmp_path):
    assert len(plan_downloads(EXAMPLE, tmp_path)) == 9


@pytest.mark.parametrize("hostile", ["../../etc/pa", "/etc/passwd", "..", "a/b/c/d/e", "j96r23b7q/.."])
def test_hostile_obsids_never_become_paths(manifest, tmp_path, hostile):
    bad = manifest.copy()
    bad.loc[bad.index[0], "obsid"] = hostile
    client = FakeObservations({})
    with pytest.raises(ManifestError, match="malformed OBSID"):
        download(bad, tmp_path / "dl", client=client, progress=False, reader=fake_reader)
    assert client.calls == [] and not (tmp_path / "dl").exists()
    with pytest.raises(ManifestError):
        raw_path(tmp_path, hostile)


def test_plan_rejects_obsid_with_two_instruments(manifest, tmp_path):
    bad = manifest.copy()
    bad.loc[1, "instrument"] = "WFC3/UVIS"
    with pytest.raises(ManifestError, match=r"OBSID 'j96r23b7q' is listed with instruments"):
        plan_downloads(bad, tmp_path)


# ----------------------------------------------------------------------------- download and resume


def test_download_all_then_resume_skips_verified(manifest, catalog, tmp_path):
    dest = tmp_path / "dl"
    client = FakeObservations(catalog)
    report = download(manifest, dest, client=client, progress=False, reader=fake_reader)
    assert report.ok and sorted(report.downloaded) == sorted(catalog) and report.skipped == []
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{o}_raw.fits" for o in catalog)
    assert not (dest / ".partial").exists()
    queries = [kw for name, kw in client.calls if name == "query_criteria"]
    assert {"obs_collection": "HST", "obs_id": "j96r23b7q"} in queries
    assert {"obs_collection": "HST", "obs_id": "idxr57*"} in queries  # association fallback
    assert all(kw == {"productSubGroupDescription": "RAW", "extension": "fits"}
               for name, kw in client.calls if name == "filter_products")
    assert all(Path(kw["download_dir"]).parent == dest.resolve() / ".partial"
               for name, kw in client.calls if name == "download_products")

    # second run: everything present and verified, no request at all
    again = FakeObservations(catalog)
    report2 = download(manifest, dest, client=again, progress=False, reader=fake_reader)
    assert report2.downloaded == [] and sorted(report2.skipped) == sorted(catalog)
    assert again.calls == []

    # a damaged file is fetched again, the others are not
    (dest / "jc1373esq_raw.fits").write_text("garbage")
    third = FakeObservations(catalog)
    report3 = download(manifest, dest, client=third, progress=False, reader=fake_reader)
    assert report3.downloaded == ["jc1373esq"] and len(report3.skipped) == len(catalog) - 1
    assert (dest / "jc1373esq_raw.fits").read_text() == "ACS/WFC|jc1373esq"


def test_transient_errors_are_retried_with_backoff(manifest, catalog, tmp_path):
    waits, sleep = _sleeps()
    client = FakeObservations(catalog, failures={"jb6wd6evq": 2})
    report = download(manifest, tmp_path, client=client, retries=3, backoff_s=1.5,
                      progress=False, reader=fake_reader, sleep=sleep)
    assert report.ok and "jb6wd6evq" in report.downloaded
    assert waits == [1.5, 3.0]


def test_retries_are_bounded_and_others_continue(manifest, catalog, tmp_path):
    waits, sleep = _sleeps()
    client = FakeObservations(catalog, failures={"jb6wd6evq": 99})
    report = download(manifest, tmp_path, client=client, retries=2, backoff_s=1.0,
                      progress=False, reader=fake_reader, sleep=sleep)
    assert list(report.failed) == ["jb6wd6evq"]
    assert "ConnectionError" in report.failed["jb6wd6evq"] and "after 3 attempts" in report.failed["jb6wd6evq"]
    assert waits == [1.0, 2.0]
    assert len(report.downloaded) == len(catalog) - 1
    assert not (tmp_path / "jb6wd6evq_raw.fits").exists() and not (tmp_path / ".partial").exists()
    assert report.summary() == f"{len(catalog) - 1} downloaded, 0 already present, 1 failed"


def test_gives_up_when_mast_is_unreachable(manifest, catalog, tmp_path):
    waits, sleep = _sleeps()
    client = FakeObservations(catalog, failures={o: 99 for o in catalog})
    report = download(manifest, tmp_path, client=client, retries=1, backoff_s=1.0,
                      progress=False, reader=fake_reader, sleep=sleep, give_up_after=3)
    assert len(report.failed) == len(catalog) and report.downloaded == []
    assert client.count("download_products") == 3 * 2  # 3 OBSIDs x (1 + 1 retry)
    assert waits == [1.0] * 3
    not_tried = [r for r in report.failed.values() if r.startswith("not attempted")]
    assert len(not_tried) == len(catalog) - 3


def test_missing_at_mast_fails_without_retry(manifest, catalog, tmp_path):
    waits, sleep = _sleeps()
    del catalog["jdkx38fhq"]
    report = download(manifest, tmp_path, client=FakeObservations(catalog), progress=False,
                      reader=fake_reader, sleep=sleep)
    assert report.failed == {"jdkx38fhq": "MAST has no HST RAW product jdkx38fhq_raw.fits"}
    assert waits == []


def test_download_failing_verification_is_never_kept(manifest, catalog, tmp_path):
    waits, sleep = _sleeps()
    client = FakeObservations(catalog, wrong_rootname={"j9oe02wvq"})
    report = download(manifest, tmp_path, client=client, retries=1, progress=False,
                      reader=fake_reader, sleep=sleep)
    assert "ROOTNAME 'jxxxxxxxq', expected 'j9oe02wvq'" in report.failed["j9oe02wvq"]
    assert not (tmp_path / "j9oe02wvq_raw.fits").exists()
    assert len(waits) == 1


def test_client_writing_outside_staging_is_refused(manifest, catalog, tmp_path):
    dest = tmp_path / "a" / "dl"
    one = manifest.loc[[0, 1]]
    report = download(one, dest, client=FakeObservations(catalog, escape=True), progress=False,
                      reader=fake_reader)
    assert "outside the staging folder" in report.failed["j96r23b7q"]
    assert not (dest / "j96r23b7q_raw.fits").exists()  # never moved into place
    assert (tmp_path / "a" / "j96r23b7q_raw.fits").exists()


def test_download_argument_errors(manifest, tmp_path):
    with pytest.raises(ValueError, match="retries -1"):
        download(manifest, tmp_path, client=FakeObservations({}), retries=-1)


# ----------------------------------------------------------------------------- verification


def test_verify_raw_reasons(manifest, tmp_path):
    task = plan_downloads(manifest, tmp_path)[0]
    assert verify_raw(task.path, task, fake_reader) == f"{task.path}: no such file"
    task.path.write_text("WFC3/UVIS|j96r23b7q")
    assert "instrument 'WFC3/UVIS', manifest says 'ACS/WFC'" in verify_raw(task.path, task, fake_reader)
    task.path.write_text("ACS/WFC|j96r23b7q")
    assert verify_raw(task.path, task, fake_reader) is None
    task.path.write_text("junk")
    assert "HDU 1: unreadable" in verify_raw(task.path, task, fake_reader)


def test_verify_with_real_header_reader(tmp_path):
    primary = default_primary("ACS/WFC") | {"ROOTNAME": "j96r23b7q"}
    chips = {h: np.full(chip_layout("ACS/WFC", h).raw_shape, 2100, dtype=np.uint16) for h in (1, 4)}
    manifest = read_manifest(EXAMPLE).loc[[0, 1]]
    task = plan_downloads(manifest, tmp_path)[0]
    write_raw(task.path, "ACS/WFC", chips, primary=primary)
    assert verify_raw(task.path, task) is None
    other = plan_downloads(read_manifest(EXAMPLE).loc[[4]], tmp_path)[0]  # jc1373esq
    write_raw(other.path, "ACS/WFC", chips, primary=primary)  # ROOTNAME says j96r23b7q
    assert "ROOTNAME" in verify_raw(other.path, other)


def test_simulated_files_are_verified_and_skipped(smoke_data):
    root = Path(smoke_data)
    lcid = read_manifest(root / "lcid_manifest.csv")
    raw = root / "raw"
    assert {str(t.path) for t in plan_downloads(lcid, raw)} == set(lcid["path"])
    client = FakeObservations({})  # must not be asked for anything
    report = download(lcid, raw, client=client, progress=False)
    assert report.ok and report.downloaded == [] and len(report.skipped) == lcid["obsid"].nunique()
    assert client.calls == []
    attached = attach_paths(lcid.drop(columns="path"), raw)
    assert attached["path"].tolist() == lcid["path"].tolist()


# ----------------------------------------------------------------------------- paths and CLI


def test_attach_paths_modes(manifest, tmp_path):
    (tmp_path / "j96r23b7q_raw.fits").write_text("x")
    with pytest.raises(ManifestError, match=r"14 of 16 rows have no file in .*row 4 \(jc1373esq\)"):
        attach_paths(manifest, tmp_path)
    dropped = attach_paths(manifest, tmp_path, missing="drop")
    assert list(dropped.index) == [0, 1]
    assert dropped["path"].tolist() == [str(tmp_path.resolve() / "j96r23b7q_raw.fits")] * 2
    kept = attach_paths(manifest, tmp_path, missing="keep")
    assert len(kept) == 16 and (kept["path"] == "").sum() == 14
    with pytest.raises(ValueError, match="missing='skip'"):
        attach_paths(manifest, tmp_path, missing="skip")


def test_cli_fetch_writes_manifest_with_paths(manifest, catalog, tmp_path, monkeypatch, capsys):
    client = FakeObservations(catalog, failures={"jb6wd6evq": 5})
    monkeypatch.setattr(mast, "_default_client", lambda: client)
    monkeypatch.setattr(mast, "_default_reader", lambda: fake_reader)
    dest = tmp_path / "real" / "data"
    argv = ["fetch", str(EXAMPLE), "--dest", str(dest), "--retries", "0", "--no-progress"]
    assert main(argv) == 1  # one OBSID failed: no manifest written
    assert "jb6wd6evq: ConnectionError" in capsys.readouterr().err
    assert not (dest / "lcid_manifest.csv").exists()
    assert main(argv + ["--allow-missing"]) == 0  # still failing, but allowed
    out = read_manifest(dest / "lcid_manifest.csv")
    assert "jb6wd6evq" not in set(out["obsid"]) and len(out) == 14
    client.failures.clear()
    assert main(argv) == 0  # resume: only the missing file is fetched
    out = read_manifest(dest / "lcid_manifest.csv")
    assert len(out) == 16 and all(Path(p).is_file() for p in out["path"])
    assert "lcid_manifest.csv" in capsys.readouterr().err
    text = (dest / "lcid_manifest.csv").read_text()
    assert ",j96r23b7q_raw.fits" in text  # paths relative to the manifest's folder
    pd.testing.assert_frame_equal(out.drop(columns="path"), manifest)


def test_cli_fetch_bad_manifest_is_a_clean_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    write_manifest(read_manifest(EXAMPLE), bad)
    bad.write_text(bad.read_text().replace("j96r23b7q", "../../../x"))
    assert main(["fetch", str(bad), "--dest", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert "malformed OBSID '../../../x'" in err and str(bad) in err


def test_cli_fetch_never_writes_an_empty_manifest(catalog, tmp_path, monkeypatch, capsys):
    client = FakeObservations(catalog, failures={o: 99 for o in catalog})  # nothing downloads
    monkeypatch.setattr(mast, "_default_client", lambda: client)
    monkeypatch.setattr(mast, "_default_reader", lambda: fake_reader)
    dest = tmp_path / "data"
    argv = ["fetch", str(EXAMPLE), "--dest", str(dest), "--retries", "0", "--no-progress",
            "--allow-missing"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "not writing an empty manifest" in err and "none of the 16 samples" in err
    assert not (dest / "lcid_manifest.csv").exists()
    with pytest.raises(SystemExit) as exc:  # a negative count is a usage error
        main(["fetch", str(EXAMPLE), "--dest", str(dest), "--retries", "-1"])
    assert exc.value.code == 2
