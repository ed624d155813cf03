"""The preprocessed-sample cache: hits, invalidation, float16 values, interrupted and
concurrent writes (hrcn_lib.samplecache, through hrcn_lib.datasets as training uses it)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import hrcn_lib.datasets as datasets
import hrcn_lib.samplecache as samplecache
from hrcn_lib.datasets import make_dataset
from hrcn_lib.paths import SAMPLE_CACHE_SUFFIX, RunPaths, sample_cache_entry
from hrcn_lib.samplecache import SampleCache, recipe_fingerprint

REPO = Path(__file__).resolve().parents[1]
FULL = (2048, 4096)


def _fake(path: str, hdu: int) -> np.ndarray:
    seed = int.from_bytes(Path(path).read_bytes()[:8].ljust(8, b"\0"), "little") + hdu
    return np.random.default_rng(seed).standard_normal(FULL, dtype=np.float32)


@pytest.fixture
def decodes(monkeypatch):
    """Replace the FITS decoding by a fake that counts its calls."""
    calls: list[tuple[str, int]] = []

    def fake(path: str, hdu: int) -> np.ndarray:
        calls.append((path, hdu))
        return _fake(path, hdu)

    monkeypatch.setattr(datasets, "_load_sample", fake)
    return calls


def _rows(folder: Path, n: int = 2) -> pd.DataFrame:
    rows = []
    for i in range(n):
        path = folder / f"f{i}_raw.fits"
        path.write_bytes(f"raw{i}".encode() * 4)
        rows.append({"path": str(path), "hdu": 1, "label": "galaxy" if i % 2 == 0 else "NSC"})
    return pd.DataFrame(rows)


def test_hit_reads_float16_entry_and_never_decodes_again(tmp_path, decodes):
    df, cache = _rows(tmp_path), RunPaths(tmp_path / "run").cache
    first = make_dataset(df, "lcid", cache_dir=cache)
    a = [first[i][0] for i in range(2)]
    assert len(decodes) == 2
    entries = sorted(cache.rglob(f"*{SAMPLE_CACHE_SUFFIX}"))
    assert len(entries) == 2 and all(e.parent.parent.name == "2048x4096" for e in entries)
    stored = np.load(entries[0], mmap_mode="r")
    assert stored.dtype == np.float16 and stored.shape == FULL
    assert entries[0].stat().st_size < FULL[0] * FULL[1] * 2 + 4096  # 16 MiB, not 32
    for _epoch in range(2):  # later epochs and later runs: no decoding, same values
        again = make_dataset(df, "lcid", cache_dir=cache)
        b = [again[i][0] for i in range(2)]
        assert len(decodes) == 2
        assert all(torch.equal(x, y) and x.dtype == torch.float32 for x, y in zip(a, b, strict=True))
    exact = torch.from_numpy(_fake(df.iloc[0]["path"], 1))
    assert torch.equal(a[0][0], exact.half().float())
    assert float((a[0][0] - exact).abs().max()) <= 2.0 ** -11 * float(exact.abs().max())


def test_recipe_or_file_change_invalidates(tmp_path, decodes, monkeypatch):
    df, cache = _rows(tmp_path, 1), tmp_path / "cache"
    make_dataset(df, "lcid-resize", cache_dir=cache)[0]
    make_dataset(df, "lcid-resize", cache_dir=cache)[0]
    assert len(decodes) == 1
    # a new recipe version is a new fingerprint: the sample is decoded again
    monkeypatch.setattr(samplecache, "_FINGERPRINT", [])
    old = recipe_fingerprint()
    monkeypatch.setattr(samplecache, "_FINGERPRINT", [])
    monkeypatch.setattr(samplecache.preprocess, "RECIPE_VERSION",
                        samplecache.preprocess.RECIPE_VERSION + 1)
    assert recipe_fingerprint() != old
    make_dataset(df, "lcid-resize", cache_dir=cache)[0]
    assert len(decodes) == 2
    # an edited raw file (same name) is a new key too
    Path(df.iloc[0]["path"]).write_bytes(b"edited file content")
    make_dataset(df, "lcid-resize", cache_dir=cache)[0]
    assert len(decodes) == 3
    assert len(list(cache.rglob(f"*{SAMPLE_CACHE_SUFFIX}"))) == 3


def test_failed_write_leaves_no_entry_and_no_temporary(tmp_path, monkeypatch):
    store = SampleCache(tmp_path / "cache", fingerprint="f")
    key = "abc-hdu1-f"

    def broken(handle, arr, allow_pickle):
        handle.write(b"\x93NUMPY partial")
        raise OSError("disk full")

    monkeypatch.setattr(samplecache.np, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        store.write(key, np.ones((4, 8), np.float32))
    assert store.read(key, (4, 8)) is None
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


_KILLED_WRITER = """
import sys, time
import numpy as np
import hrcn_lib.samplecache as sc
def slow_save(handle, arr, allow_pickle):
    handle.write(b"\\x93NUMPY" + b"\\0" * 1000)
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
sc.np.save = slow_save
sc.SampleCache(sys.argv[1], fingerprint="f").write("abc-hdu1-f", np.ones((4, 8), np.float32))
"""


def test_killed_writer_leaves_a_temporary_that_the_next_writer_removes(tmp_path):
    root = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_KILLED_WRITER), str(root)],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store = SampleCache(root, fingerprint="f")
    entry = store.entry("abc-hdu1-f", (4, 8))
    temps = [p for p in root.rglob("*.tmp")]
    assert not entry.exists() and len(temps) == 1  # only the dead writer's temporary
    assert store.read("abc-hdu1-f", (4, 8)) is None  # a miss, not a half-read entry
    live = temps[0].with_name(f".{entry.name}.{os.getpid()}-00000000.tmp")
    live.write_bytes(b"a live writer's")
    value = np.linspace(-3, 9, 32, dtype=np.float32).reshape(4, 8)
    store.write("abc-hdu1-f", value)
    assert not temps[0].exists() and live.exists()  # dead writer's removed, live one kept
    assert np.array_equal(store.read("abc-hdu1-f", (4, 8)), value.astype(np.float16).astype(np.float32))


_WRITER = """
import sys
import numpy as np
import hrcn_lib.samplecache as sc
value = np.linspace(-3, 9, 2048 * 512, dtype=np.float32).reshape(2048, 512)
for _ in range(20):
    sc.SampleCache(sys.argv[1], fingerprint="f").write("abc-hdu1-f", value)
"""


def test_concurrent_writers_of_one_entry(tmp_path):
    root = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], env=env)
             for _ in range(2)]
    store = SampleCache(root, fingerprint="f")
    expected = np.linspace(-3, 9, 2048 * 512, dtype=np.float32).reshape(2048, 512)
    expected = expected.astype(np.float16).astype(np.float32)

    while any(p.poll() is None for p in procs):
        got = store.read("abc-hdu1-f", (2048, 512))
        if got is not None:  # a reader sees a whole entry or none
            assert np.array_equal(got, expected)

    assert all(p.returncode == 0 for p in procs)
    assert np.array_equal(store.read("abc-hdu1-f", (2048, 512)), expected)
    assert not list(root.rglob("*.tmp"))


def test_values_float16_cannot_hold_are_not_cached(tmp_path):
    store = SampleCache(tmp_path, fingerprint="f")
    big = np.full((2, 3), 1e5, np.float32)
    assert np.array_equal(store.write("k-hdu1-f", big), big)
    assert store.read("k-hdu1-f", (2, 3)) is None


def test_entry_names_come_from_paths(tmp_path):
    entry = sample_cache_entry(tmp_path, (224, 448), "ab12-hdu4-ff")
    assert entry == tmp_path / "224x448" / "ab" / f"ab12-hdu4-ff{SAMPLE_CACHE_SUFFIX}"
    with pytest.raises(ValueError, match="sample-cache key"):
        sample_cache_entry(tmp_path, (224, 448), "../escape")


def test_file_digests_are_remembered_on_disk_until_the_file_changes(tmp_path, monkeypatch):
    raw = tmp_path / "a_raw.fits"
    raw.write_bytes(b"first content")
    root = tmp_path / "cache"
    true = hashlib.blake2b(b"first content", digest_size=16).hexdigest()
    assert samplecache.file_digest(raw, root) == true
    (memo,) = [p for p in (root / "digests").rglob("*") if p.is_file()]
    memo.write_text("f" * 32 + "\n")  # a later process reads the remembered digest
    monkeypatch.setattr(samplecache, "_DIGESTS", {})
    assert samplecache.file_digest(raw, root) == "f" * 32
    raw.write_bytes(b"other content")  # any rewrite: new ctime, hashed again
    monkeypatch.setattr(samplecache, "_DIGESTS", {})
    assert samplecache.file_digest(raw, root) == hashlib.blake2b(
        b"other content", digest_size=16).hexdigest()
