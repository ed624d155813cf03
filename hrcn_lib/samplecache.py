"""The preprocessed-sample cache: every sample decoded from its FITS file once per run.

A training run reads each sample once per epoch; decoding it again (FITS header scan,
statistics, the table pass, for LCID-Resize the resize) and hashing the raw file cost as
much as a whole ResNet-18 step on LCID-Resize. :class:`SampleCache` stores each decoded
sample once, as a **float16** ``.npy`` file, and reads it back **memory-mapped**.

* **Key: the content.** ``<file digest>-hdu<N>-<recipe fingerprint>``: the BLAKE2b-128
  digest of the raw file's bytes (:func:`file_digest`, remembered in the cache per file
  path, inode, size, mtime and ctime; a copied file hits, an edited one misses, whatever
  its mtime), the HDU, and the fingerprint of the recipe
  (:data:`hrcn_lib.preprocess.RECIPE_VERSION`, the preprocessing package's code, the
  geometry, OpenCV's version and the entry format: :func:`recipe_fingerprint`). The
  sample's shape names the entry's folder. :func:`hrcn_lib.paths.sample_cache_entry` owns
  the file names; a run's cache is :attr:`hrcn_lib.paths.RunPaths.cache`.
* **Values.** float16 keeps 11 significant bits: the stretched samples (sky noise ~0.3,
  stars up to ~10) lose at most 2.4e-4 in absolute value near the sky (0.1 % of its noise)
  and 0.05 % relative elsewhere, less than the bf16 the network computes in. A dataset
  with a cache returns the float16-rounded sample from its first read on, so every epoch
  and every later run sees the same values (:class:`hrcn_lib.datasets.LCIDDataset`).
  A sample float16 cannot hold (a value beyond +-65504) is not cached.
* **Safe writes.** Entries are written with :func:`hrcn_lib.paths.atomic_write` (temporary
  file, then rename): a reader sees a whole entry or none; concurrent writers of one entry
  write the same bytes and the last rename wins; a killed writer leaves only its
  temporary, never read as an entry, which the next process to write into the cache
  removes (:meth:`SampleCache.remove_stale_temporaries`). An entry that does not load as
  a float16 array of the expected shape (truncated, damaged) counts as a miss and is
  written again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

import hrcn_lib.instruments as instruments
import hrcn_lib.preprocess as preprocess
from hrcn_lib.paths import TEMP_PATTERN, atomic_write, sample_cache_digest, sample_cache_entry

__all__ = ["SampleCache", "file_digest", "recipe_fingerprint", "ENTRY_FORMAT", "FLOAT16_MAX"]

#: Version of the entry layout (float16 ``.npy``); part of every key.
ENTRY_FORMAT: int = 2
#: Largest magnitude a float16 entry holds.
FLOAT16_MAX: float = float(np.finfo(np.float16).max)
_CHUNK = 1 << 20

_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}
_FINGERPRINT: list[str] = []
_CLEANED: set[str] = set()


def _stat_key(path: str | os.PathLike[str]) -> tuple[tuple[str, int, int, int, int], str]:
    st = os.stat(path)
    memo = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return memo, hashlib.blake2b(repr(memo).encode(), digest_size=16).hexdigest()


def file_digest(path: str | os.PathLike[str], memo_dir: Path | str | None = None) -> str:
    """BLAKE2b-128 hex digest of a file's bytes.

    Hashing a 34 MB raw file takes ~35 ms, more than decoding one of its samples, so the
    digest is remembered, keyed by the file's path, inode, size, mtime and ctime: in this
    process, and with ``memo_dir`` also on disk (:func:`hrcn_lib.paths.sample_cache_digest`),
    for later processes. Any rewrite of the file changes its ctime (which no user process
    can set back), so a remembered digest is never that of other content; the returned key
    is always a content hash.

    Raises:
        OSError: the file cannot be read.
    """
    memo, stat_key = _stat_key(path)
    if memo in _DIGESTS:
        return _DIGESTS[memo]
    stored = sample_cache_digest(memo_dir, stat_key) if memo_dir is not None else None
    if stored is not None:
        try:
            text = stored.read_text().strip()
            if len(text) == 32 and all(ch in "0123456789abcdef" for ch in text):
                _DIGESTS[memo] = text
                return text
        except OSError:
            pass
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    _DIGESTS[memo] = digest.hexdigest()
    if stored is not None and _stat_key(path)[1] == stat_key:  # unchanged while hashed
        try:
            with atomic_write(stored) as handle:
                handle.write(_DIGESTS[memo] + "\n")
        except OSError:
            pass  # a read-only cache still serves entries
    return _DIGESTS[memo]


def recipe_fingerprint() -> str:
    """16 hex digits naming what makes a sample: the recipe version, the code of the
    preprocessing package and of the detector geometry, OpenCV's version (LCID-Resize) and
    :data:`ENTRY_FORMAT` (computed once per process)."""
    if not _FINGERPRINT:
        digest = hashlib.blake2b(digest_size=8)
        sources = sorted(Path(preprocess.__file__).parent.glob("*.py")) + [
            Path(instruments.__file__)]
        for source in sources:
            digest.update(source.read_bytes())
        digest.update(f"recipe={preprocess.RECIPE_VERSION};cv2={cv2.__version__};"
                      f"format={ENTRY_FORMAT}".encode())
        _FINGERPRINT.append(digest.hexdigest())
    return _FINGERPRINT[0]


class SampleCache:
    """Float16 samples under ``root``, keyed by content (see the module docstring).

    Args:
        root: the cache folder (created on the first write).
        fingerprint: the recipe fingerprint to key with (default :func:`recipe_fingerprint`).
    """

    def __init__(self, root: Path | str, fingerprint: str | None = None) -> None:
        self.root = Path(root)
        self._fingerprint = fingerprint

    def key(self, path: str | os.PathLike[str], hdu: int) -> str:
        """The content key of (file, HDU): digest, HDU and recipe fingerprint."""
        fingerprint = self._fingerprint or recipe_fingerprint()
        return f"{file_digest(path, self.root)}-hdu{int(hdu)}-{fingerprint}"

    def entry(self, key: str, shape: tuple[int, int]) -> Path:
        """The entry file of ``key`` (:func:`hrcn_lib.paths.sample_cache_entry`)."""
        return sample_cache_entry(self.root, shape, key)

    def read(self, key: str, shape: tuple[int, int]) -> np.ndarray | None:
        """The cached sample as a new float32 array of ``shape``, or ``None`` (absent, or
        not a float16 array of that shape: then it is written again)."""
        try:
            stored = np.load(self.entry(key, shape), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if stored.dtype != np.float16 or stored.shape != tuple(shape):
            return None
        try:
            return np.asarray(stored, dtype=np.float32)
        except (OSError, ValueError):  # a file shortened while mapped
            return None

    def write(self, key: str, sample: np.ndarray) -> np.ndarray:
        """Store ``sample`` (float, 2-D) as float16; returns what a later :meth:`read`
        gives (the float16-rounded sample as float32), or ``sample`` itself as float32 when
        float16 cannot hold it (then nothing is stored).

        Raises:
            OSError: the cache folder cannot be written.
        """
        sample = np.asarray(sample, dtype=np.float32)
        if not np.isfinite(sample).all() or float(np.abs(sample).max(initial=0.0)) > FLOAT16_MAX:
            return sample
        stored = sample.astype(np.float16)
        self.remove_stale_temporaries()
        with atomic_write(self.entry(key, sample.shape), "wb") as handle:
            np.save(handle, stored, allow_pickle=False)
        return stored.astype(np.float32)

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporaries of writers that died (once per cache folder and process).

        Returns:
            the files removed.
        """
        tag = str(self.root.resolve())
        if tag in _CLEANED or not self.root.is_dir():
            return []
        _CLEANED.add(tag)
        removed = []
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                match = TEMP_PATTERN.match(name)
                if match and not _pid_alive(int(match["pid"])):
                    path = Path(folder) / name
                    path.unlink(missing_ok=True)
                    removed.append(path)
        return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True
