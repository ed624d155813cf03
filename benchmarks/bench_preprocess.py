"""Benchmark: ``load_sample`` on a page-cached full-frame raw HDU vs the naive astropy read.

The naive baseline is what a first script does: ``astropy.io.fits.getdata(path, hdu)``
(which scales int16 + BZERO to uint16), crop the science area, convert to float32.
``load_sample`` does more (per-amplifier bias, background/noise, asinh stretch) and
must still be faster. Both run interleaved on the same files in the same process, so
machine load affects them alike; the load average is recorded before and after.

Usage::

    .venv/bin/python benchmarks/bench_preprocess.py [--repeats 40] [--threads N]

Writes ``benchmarks/results/bench_preprocess.json`` (git-ignored) and prints a
Markdown table row per instrument for ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from hrcn_lib import preprocess
from hrcn_lib.instruments import SCIENCE_HDUS, detector
from hrcn_lib.preprocess import kernels
from hrcn_lib.simulate.rawfile import write_raw

RESULTS = Path(__file__).resolve().parent / "results"


def make_raw(path: Path, instrument: str, seed: int = 0) -> Path:
    """A realistic full-frame raw file: per-amp bias, sky, read noise, sources, ~300-card headers."""
    det = detector(instrument)
    rng = np.random.default_rng(seed)
    chips = {}
    for hdu in SCIENCE_HDUS:
        lay = det.chips[hdu]
        chip = rng.normal(0.0, 2.5, lay.raw_shape).astype(np.float32)
        for amp in lay.amps:
            chip[:, slice(*amp.raw_cols)] += det.electronics[amp.name].bias
            chip[slice(*lay.science_rows), slice(*amp.science_cols)] += 60.0
        rows = rng.integers(lay.science_rows[0], lay.science_rows[1] - 8, 3000)
        cols = rng.integers(30, lay.raw_shape[1] - 40, 3000)
        for r, c, peak in zip(rows, cols, rng.pareto(1.5, 3000) * 200.0, strict=True):
            chip[r : r + 5, c : c + 5] += peak
        chips[hdu] = np.clip(np.rint(chip), 0, 65535).astype(np.uint16)
    # real raw primary headers hold ~250-300 cards, SCI headers ~100
    primary = {f"PKEY{i:04d}": float(i) for i in range(250)}
    sci = {h: {f"SKEY{i:04d}": "engineering value" for i in range(90)} for h in SCIENCE_HDUS}
    return write_raw(path, instrument, chips, primary=primary, sci_headers=sci)


def naive(path: Path, hdu: int, instrument: str) -> np.ndarray:
    """getdata + crop (+ merge for UVIS) + float32: the baseline."""
    data = fits.getdata(path, hdu)
    lay = detector(instrument).chips[hdu]
    rows = slice(*lay.keep_rows)
    blocks = [data[rows, slice(*b)] for b in lay.science_col_blocks]
    return np.hstack(blocks).astype(np.float32) if len(blocks) > 1 else blocks[0].astype(
        np.float32)


def timed(func, *args) -> float:
    t0 = time.perf_counter()
    func(*args)
    return (time.perf_counter() - t0) * 1e3


def summary(ms: list[float]) -> dict[str, float]:
    q = np.percentile(ms, [25, 50, 75])
    return {"median_ms": float(q[1]), "p25_ms": float(q[0]), "p75_ms": float(q[2]),
            "min_ms": float(min(ms)), "n": len(ms)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for the LUT pass (sets HRCN_PREPROCESS_THREADS; default 1)")
    parser.add_argument("--no-numba", action="store_true",
                        help="use the numpy fallback of the LUT pass (sets HRCN_NO_NUMBA)")
    args = parser.parse_args(argv)
    if args.no_numba:
        os.environ["HRCN_NO_NUMBA"] = "1"
    if args.threads:
        os.environ["HRCN_PREPROCESS_THREADS"] = str(args.threads)
    load_before = os.getloadavg()
    results: dict = {"machine": f"{platform.processor() or platform.machine()}, "
                                f"{os.cpu_count()} cores", "python": platform.python_version(),
                     "numba": kernels._numba_kernel() is not None,
                     "threads": kernels._threads(), "repeats": args.repeats, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for inst in ("ACS/WFC", "WFC3/UVIS"):
            path = make_raw(Path(tmp) / f"bench_{inst.split('/')[0].lower()}_raw.fits", inst)
            path.read_bytes()  # page-cache the file
            for hdu in SCIENCE_HDUS:  # warm up (numba compile/cache load, astropy imports)
                preprocess.load_sample(path, hdu)
                naive(path, hdu, inst)
            t_naive, t_load, t_extract = [], [], []
            for i in range(args.repeats):
                hdu = SCIENCE_HDUS[i % 2]
                t_naive.append(timed(naive, path, hdu, inst))
                t_load.append(timed(preprocess.load_sample, path, hdu))
                t_extract.append(timed(preprocess.extract_science, path, hdu))
            run = {"naive": summary(t_naive), "load_sample": summary(t_load),
                   "extract_science": summary(t_extract)}
            run["ratio_median"] = run["load_sample"]["median_ms"] / run["naive"]["median_ms"]
            # paired ratio: each load_sample against the naive call just before it
            run["ratio_paired_median"] = statistics.median(
                a / b for a, b in zip(t_load, t_naive, strict=True))
            results["runs"][inst] = run
    results["loadavg_before"] = load_before
    results["loadavg_after"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_preprocess.json").write_text(json.dumps(results, indent=2))
    load = f"{load_before[0]:.1f} / {results['loadavg_after'][0]:.1f}"
    print("| instrument | machine | load (1-min, before/after) | naive median ms | "
          "load_sample median ms (p25-p75) | ratio | extract_science ms |")
    print("|---|---|---|---|---|---|---|")
    for inst, run in results["runs"].items():
        ls = run["load_sample"]
        print(f"| {inst} | {results['machine']} | {load} | {run['naive']['median_ms']:.1f} | "
              f"{ls['median_ms']:.1f} ({ls['p25_ms']:.1f}-{ls['p75_ms']:.1f}) | "
              f"{run['ratio_paired_median']:.2f} | {run['extract_science']['median_ms']:.1f} |")
    return results


if __name__ == "__main__":
    main()
