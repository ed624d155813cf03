"""Tests of hrcn_lib.datasets: shapes, dtypes, labels, LCID-Resize, the cache, errors, loaders.

Most tests replace the preprocessing by a deterministic fake (a function of the
file's bytes and the HDU) so that they run before and independently of
``hrcn_lib.preprocess``; the tests at the end use the real preprocessing on raw
files (the simulator's ``smoke_data`` fixture, or files written with
``write_raw``) and skip while those modules are missing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

import hrcn_lib.datasets as datasets
from hrcn_lib.datasets import (
    LCIDDataset,
    SampleError,
    file_digest,
    make_dataset,
    make_loader,
    resize_sample,
)
from hrcn_lib.instruments import chip_layout
from hrcn_lib.manifest import LABELS, read_manifest
from hrcn_lib.preprocess import load_sample
from hrcn_lib.simulate.rawfile import write_raw

FULL = (2048, 4096)


def _fake_sample(path: str, hdu: int) -> np.ndarray:
    seed = hashlib.blake2b(Path(path).read_bytes() + bytes([hdu]), digest_size=8).digest()
    rng = np.random.default_rng(int.from_bytes(seed, "little"))
    return rng.standard_normal(FULL, dtype=np.float32)


class _Counter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, path: str, hdu: int) -> np.ndarray:
        self.calls.append((path, hdu))
        return _fake_sample(path, hdu)


@pytest.fixture
def fake(monkeypatch):
    counter = _Counter()
    monkeypatch.setattr(datasets, "_load_sample", counter)
    monkeypatch.setattr(datasets, "_code_fingerprint", lambda: "testcode")
    return counter


def _manifest(folder: Path, n: int = 4) -> pd.DataFrame:
    rows = []
    for i in range(n):
        path = folder / f"f{i // 2}_raw.fits"
        if not path.exists():
            path.write_bytes(f"raw file {i // 2}".encode())
        rows.append(
            {
                "body": f"B{i // 2}",
                "instrument": "ACS/WFC",
                "obsid": f"j000000{i // 2}q",
                "filter": "F814W",
                "ra": 1.0,
                "dec": 2.0,
                "hdu": 1 if i % 2 == 0 else 4,
                "label": "galaxy" if i < 2 else "NSC",
                "path": str(path),
            }
        )
    return pd.DataFrame(rows, index=[10 + i for i in range(n)])


def test_lcid_items_shape_dtype_label(tmp_path, fake):
    ds = make_dataset(_manifest(tmp_path), "lcid")
    assert len(ds) == 4 and ds.shape == FULL
    x, y = ds[0]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and tuple(x.shape) == (1, *FULL)
    assert [ds[i][1] for i in range(4)] == [0, 0, 1, 1]  # 0 = galaxy, 1 = NSC
    assert isinstance(y, int)
    np.testing.assert_array_equal(x[0].numpy(), _fake_sample(str(tmp_path / "f0_raw.fits"), 1))
    assert fake.calls[0] == (str(tmp_path / "f0_raw.fits"), 1)


def test_lcid_resize_equals_cv2_resize_of_lcid_sample(tmp_path, fake):
    df = _manifest(tmp_path)
    full, small = make_dataset(df, "lcid"), make_dataset(df, "lcid-resize")
    for i in (0, 3):
        x_full, y_full = full[i]
        x_small, y_small = small[i]
        assert tuple(x_small.shape) == (1, 224, 448) and x_small.dtype == torch.float32
        expected = cv2.resize(x_full[0].numpy(), (448, 224))  # default INTER_LINEAR
        assert expected.shape == (224, 448)
        assert torch.equal(x_small[0], torch.from_numpy(expected)) and y_small == y_full
    linear = cv2.resize(x_full[0].numpy(), (448, 224), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(resize_sample(x_full[0].numpy()), linear)


def test_cache_hit_is_identical_and_does_not_reread(tmp_path, fake):
    df = _manifest(tmp_path)
    cache = tmp_path / "cache"
    ds = make_dataset(df, "lcid-resize", cache_dir=cache)
    first = [ds[i][0] for i in range(len(ds))]
    assert len(fake.calls) == 4
    entries = sorted(cache.rglob("*.npy"))
    assert len(entries) == 4 and all(e.parent.parent.name == "224x448" for e in entries)
    assert all(e.stat().st_size < 224 * 448 * 4 + 1024 for e in entries)  # small entries
    assert not list(cache.rglob("*.tmp"))  # atomic writes leave no temporaries
    again = make_dataset(df, "lcid-resize", cache_dir=cache)  # a new dataset: second epoch/run
    second = [again[i][0] for i in range(len(again))]
    assert len(fake.calls) == 4  # no raw file re-read
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
    # with a cache, samples are the float16-rounded ones from the first read on
    uncached = make_dataset(df, "lcid-resize")
    assert torch.equal(uncached[2][0].half().float(), first[2])
    assert not torch.equal(uncached[2][0], first[2])


def test_cache_is_keyed_by_content_not_by_stat(tmp_path, fake):
    df = _manifest(tmp_path, n=2)
    cache = tmp_path / "cache"
    ds = make_dataset(df, "lcid-resize", cache_dir=cache)
    before = ds[0][0]
    raw = Path(df.iloc[0]["path"])
    st = raw.stat()
    raw.write_bytes(b"raw file X")  # same size, new content
    os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime
    assert raw.stat().st_size == st.st_size and raw.stat().st_mtime_ns == st.st_mtime_ns
    after = ds[0][0]
    assert len(fake.calls) == 2  # re-read: the content changed
    assert not torch.equal(before, after)
    assert len(list(cache.rglob("*.npy"))) == 2
    # a copy of the file elsewhere hits the same entry (content key)
    copy = tmp_path / "copy_raw.fits"
    copy.write_bytes(raw.read_bytes())
    moved = df.iloc[:1].assign(path=str(copy))
    assert torch.equal(make_dataset(moved, "lcid-resize", cache_dir=cache)[0][0], after)
    assert len(fake.calls) == 2


def test_damaged_cache_entry_is_recomputed(tmp_path, fake):
    df = _manifest(tmp_path, n=1)
    cache = tmp_path / "cache"
    ds = make_dataset(df, "lcid-resize", cache_dir=cache)
    good = ds[0][0]
    (entry,) = cache.rglob("*.npy")
    entry.write_bytes(b"not an npy file")
    assert torch.equal(ds[0][0], good)
    assert len(fake.calls) == 2


def test_file_digest_is_content_hash(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    assert file_digest(a) == file_digest(b) == hashlib.blake2b(b"same", digest_size=16).hexdigest()


def test_missing_file_names_the_row(tmp_path, fake):
    df = _manifest(tmp_path, n=2)
    df.iloc[1, df.columns.get_loc("path")] = str(tmp_path / "gone_raw.fits")
    ds = make_dataset(df, "lcid")
    with pytest.raises(SampleError) as err:
        ds[1]
    msg = str(err.value)
    for part in ("manifest row 11", "body=B0", "obsid=j0000000q", "hdu=4", "gone_raw.fits", "not found"):
        assert part in msg


def test_unreadable_file_names_the_row(tmp_path, monkeypatch):
    def broken(path: str, hdu: int) -> np.ndarray:
        raise ValueError(f"{path} HDU {hdu}: not a FITS file")

    monkeypatch.setattr(datasets, "_load_sample", broken)
    df = _manifest(tmp_path, n=2)
    with pytest.raises(SampleError, match=r"manifest row 10 \(body=B0.*cannot be read: .*not a FITS file"):
        LCIDDataset(df)[0]


def test_constructor_and_factory_errors(tmp_path):
    df = _manifest(tmp_path, n=2)
    with pytest.raises(SampleError, match="lacks column"):
        LCIDDataset(df.drop(columns=["path"]))
    with pytest.raises(SampleError, match="unknown labels"):
        LCIDDataset(df.assign(label="star"))
    with pytest.raises(ValueError, match="unknown dataset 'lcid-blurry'"):
        make_dataset(df, "lcid-blurry")
    with pytest.raises(ValueError, match="not both"):
        make_loader(LCIDDataset(df), 2, shuffle=True, seed=0, sampler=[0, 1])


def test_loader_batches_and_seeded_order(tmp_path, fake):
    df = _manifest(tmp_path, n=4)
    ds = make_dataset(df, "lcid-resize")
    x, y = next(iter(make_loader(ds, 3, shuffle=False, seed=0)))
    assert tuple(x.shape) == (3, 1, 224, 448) and x.dtype == torch.float32
    assert y.tolist() == [0, 0, 1]

    class Labels(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 32

        def __getitem__(self, i: int) -> int:
            return i

    def order(seed: int) -> list[int]:
        return [int(v) for b in make_loader(Labels(), 4, shuffle=True, seed=seed) for v in b]

    assert order(5) == order(5) and order(5) != order(6)
    assert sorted(order(5)) == list(range(32))


def test_loader_with_worker_processes(tmp_path, fake):
    df = _manifest(tmp_path, n=4)
    ds = make_dataset(df, "lcid-resize", cache_dir=tmp_path / "cache")
    loader = make_loader(ds, 2, shuffle=False, seed=0, workers=2, persistent_workers=True,
                         multiprocessing_context="fork")  # fork: workers inherit the fake
    batches = [b for b in loader]
    assert [tuple(x.shape) for x, _ in batches] == [(2, 1, 224, 448)] * 2
    assert torch.cat([y for _, y in batches]).tolist() == [0, 0, 1, 1]
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 4  # workers filled the cache
    expected = torch.from_numpy(cv2.resize(_fake_sample(df.iloc[3]["path"], 4), (448, 224)))
    assert torch.equal(batches[1][0][1, 0], expected.half().float())  # float16 cache


# ----------------------------------------------------------------------------- real preprocessing


@pytest.fixture
def smoke_manifests(smoke_data):
    """(lcid, blurry) manifests of the simulator's smoke data set."""
    return read_manifest(Path(smoke_data) / "lcid_manifest.csv"), read_manifest(
        Path(smoke_data) / "blurry_manifest.csv"
    )


def test_simulated_lcid_and_resize_and_blurry(smoke_manifests, tmp_path):
    lcid, blurry = smoke_manifests
    picks = [lcid.index[lcid["label"] == lab][0] for lab in LABELS]
    sub = lcid.loc[picks]
    full = make_dataset(sub, "lcid")
    small = make_dataset(sub, "lcid-resize", cache_dir=tmp_path / "cache")
    for i, label in enumerate(LABELS.values()):
        x, y = full[i]
        assert tuple(x.shape) == (1, 2048, 4096) and x.dtype == torch.float32 and y == label
        ref = load_sample(sub.iloc[i]["path"], int(sub.iloc[i]["hdu"]))
        assert torch.equal(x[0], torch.from_numpy(ref))
        xs, ys = small[i]
        assert ys == label
        assert torch.equal(xs[0], torch.from_numpy(cv2.resize(ref, (448, 224))).half().float())
    xb, yb = make_dataset(blurry.iloc[:1], "lcid-resize")[0]
    assert tuple(xb.shape) == (1, 224, 448) and yb == LABELS[blurry.iloc[0]["label"]]


def test_real_preprocessing_on_written_raw_file(tmp_path):
    rng = np.random.default_rng(0)
    chips = {
        hdu: rng.integers(2000, 2400, size=chip_layout("ACS/WFC", hdu).raw_shape, dtype=np.uint16)
        for hdu in (1, 4)
    }
    path = write_raw(tmp_path / "jabc01xyq_raw.fits", "ACS/WFC", chips)
    df = pd.DataFrame(
        [{"body": "X", "obsid": "jabc01xyq", "hdu": 4, "label": "NSC", "path": str(path)}]
    )
    x, y = make_dataset(df, "lcid")[0]
    assert y == 1 and tuple(x.shape) == (1, 2048, 4096)
    assert torch.equal(x[0], torch.from_numpy(load_sample(path, 4)))
    (tmp_path / "bad_raw.fits").write_bytes(b"SIMPLE  = nonsense")
    with pytest.raises(SampleError, match=r"manifest row 0 \(body=X.*bad_raw.fits"):
        make_dataset(df.assign(path=str(tmp_path / "bad_raw.fits")), "lcid")[0]
