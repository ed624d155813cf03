"""The one pass over the pixels: a lookup-table gather, compiled with numba when installed.

Raw values are 16-bit integers, so the whole normalisation of a chip (bias, background,
asinh stretch: :mod:`.recipe`) is one 65536-entry float32 table per amplifier, and the
sample is ``out[r, c] = table[word[r, c]]``: :func:`gather` applies the tables of the left
and right amplifier to their halves in a single pass over the memory-mapped words. The
pass runs in a numba kernel when numba is installed (one thread unless
``HRCN_PREPROCESS_THREADS`` asks for more; ``HRCN_NO_NUMBA=1`` forces the fallback), else
with ``numpy.take`` in row blocks (about 2x slower, identical output). See
``benchmarks/README.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

__all__ = ["gather", "asinh_table", "warm_up"]

_KERNELS: dict[bool, Callable[..., None] | None] = {}


def _threads() -> int:
    """Threads for the LUT pass: ``HRCN_PREPROCESS_THREADS`` (default 1).

    One thread by default: data loaders parallelise across files (DataLoader
    workers), and on a loaded machine a 2-thread pass waits for its slowest
    thread (see ``benchmarks/README.md``).
    """
    try:
        return max(1, int(os.environ.get("HRCN_PREPROCESS_THREADS", "1")))
    except ValueError:
        return 1


def _numba_kernel(parallel: bool | None = None) -> Callable[..., None] | None:
    """The compiled two-LUT gather (numba; rows in parallel if asked), or None without numba.

    ``HRCN_NO_NUMBA=1`` forces the numpy fallback.
    """
    if parallel is None:
        parallel = _threads() > 1
    if parallel in _KERNELS:
        return _KERNELS[parallel]
    kernel = None
    if not os.environ.get("HRCN_NO_NUMBA"):
        try:
            import numba
        except ImportError:
            numba = None
        if numba is not None and parallel:
            # Two separately named functions: numba's on-disk cache is keyed by the
            # function's name and line, not by its jit options.
            @numba.njit(parallel=True, cache=True, nogil=True)
            def gather_parallel(left, right, lut_left, lut_right, out):  # pragma: no cover
                nrow, half = left.shape
                for r in numba.prange(nrow):
                    for c in range(half):
                        out[r, c] = lut_left[left[r, c]]
                    for c in range(half):
                        out[r, half + c] = lut_right[right[r, c]]

            kernel = gather_parallel
        elif numba is not None:

            @numba.njit(cache=True, nogil=True)
            def gather_serial(left, right, lut_left, lut_right, out):  # pragma: no cover
                nrow, half = left.shape
                for r in range(nrow):
                    for c in range(half):
                        out[r, c] = lut_left[left[r, c]]
                    for c in range(half):
                        out[r, half + c] = lut_right[right[r, c]]

            kernel = gather_serial

    _KERNELS[parallel] = kernel
    return kernel


def _gather_numpy(left: np.ndarray, right: np.ndarray, lut_left: np.ndarray,
                  lut_right: np.ndarray, out: np.ndarray, block: int = 64) -> None:
    """numpy fallback of the LUT gather, in row blocks that stay in cache."""
    half = left.shape[1]
    for r0 in range(0, left.shape[0], block):
        r = slice(r0, r0 + block)
        out[r, :half] = np.take(lut_left, left[r])
        out[r, half:] = np.take(lut_right, right[r])


#: stored big-endian word read as native uint16 -> physical DN (BZERO = 32768 applied).



def asinh_table(dn_of_word: np.ndarray, offset: float, scale: float) -> np.ndarray:
    """float32 table over 16-bit words: ``asinh((DN(word) - offset) / scale)``.

    Args:
        dn_of_word: float32 (65536,): the DN each stored word means.
        offset: DN subtracted (an amplifier's bias plus the background).
        scale: DN per unit of the stretch (``STRETCH * sigma``).
    """
    table = dn_of_word - np.float32(offset)
    table *= np.float32(1.0 / scale)
    return np.arcsinh(table, out=table)


def gather(left: np.ndarray, right: np.ndarray, table_left: np.ndarray,
           table_right: np.ndarray, out: np.ndarray, *, parallel: bool | None = None
           ) -> np.ndarray:
    """``out[:, :half] = table_left[left]``, ``out[:, half:] = table_right[right]``.

    Args:
        left, right: uint16 word arrays (rows, half) of the two amplifiers' science areas
            (strided views of a memory map are fine).
        table_left, table_right: float32 (65536,) tables (:func:`asinh_table`).
        out: float32 (rows, 2 * half), written.
        parallel: rows in parallel threads; ``None``: as ``HRCN_PREPROCESS_THREADS`` asks
            (``False`` for callers that already run one process per core).

    Returns:
        ``out``.
    """
    kernel = _numba_kernel(parallel)
    if kernel is None:
        _gather_numpy(left, right, table_left, table_right, out)
        return out
    if parallel is not False and _threads() > 1:
        import numba  # present: the kernel above was compiled with it

        numba.set_num_threads(min(_threads(), numba.config.NUMBA_NUM_THREADS))
    kernel(left, right, table_left, table_right, out)
    return out


def warm_up() -> None:
    """Compile (or load from numba's disk cache) the LUT kernel now.

    The first :func:`load_sample` of a process otherwise pays the numba JIT
    (~1-2 s on a fresh checkout, ~0.1 s from the cache); call this before timing.
    """
    kernel = _numba_kernel()
    if kernel is not None:
        # same argument types as load_sample: read-only strided uint16 views of a map
        words = np.zeros((1, 4), dtype=np.uint16)
        words.setflags(write=False)
        lut = np.zeros(65536, dtype=np.float32)
        kernel(words[:, 0:4:2], words[:, 1:4:2], lut, lut, np.empty((1, 4), dtype=np.float32))
