"""Benchmark: seconds of one core per simulated 2-chip raw file (goal: <= 2 s).

Renders and writes exposures of bodies of every morphology in this process
(one core: numpy/scipy FFTs are single-threaded here) and reports, per file,
the process CPU time (``time.process_time``: what the file costs one core,
insensitive to other processes) and the wall time, plus the load average.

Usage::

    .venv/bin/python benchmarks/bench_simulate.py [--files 12] [--out DIR]

Writes ``benchmarks/results/bench_simulate.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def run(files: int, out: Path) -> dict:
    from hrcn_lib.simulate.dataset import body_scene, raw_path, render_exposure
    from hrcn_lib.simulate.rawfile import write_raw

    names = [f"SIM-G{i:03d}" for i in range(1, 7)] + [f"SIM-N{i:03d}" for i in range(1, 6)]
    for name in names:  # scene construction is once per body: time it separately
        body_scene(0, name)
    render_exposure(0, names[0], 0)  # warm-up: PSF cache, imports
    cpu, wall, phases = [], [], []
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        for k in range(files):
            name = names[k % len(names)]
            c0, w0 = time.process_time(), time.perf_counter()
            rendered = render_exposure(0, name, 1 + k // len(names))
            c1 = time.process_time()
            path = raw_path(tmp, rendered.exposure.obsid)
            path.parent.mkdir(exist_ok=True)
            write_raw(path, rendered.exposure.instrument, rendered.chips,
                      primary=rendered.primary, sci_headers=rendered.sci_headers)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            phases.append({"file": path.name, "body": name, "render_cpu_s": c1 - c0,
                           "write_cpu_s": cpu[-1] - (c1 - c0)})
    return {"files": files, "cpu_s_per_file_median": float(np.median(cpu)),
            "cpu_s_per_file_max": float(np.max(cpu)),
            "max_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, "wall_s_per_file_median":
            float(np.median(wall)), "loadavg_1min": os.getloadavg()[0], "cpus": os.cpu_count(),
            "per_file": phases}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=11)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--result", type=Path,
                        default=Path(__file__).parent / "results" / "bench_simulate.json")
    args = parser.parse_args(argv)
    load0 = os.getloadavg()[0]
    result = run(args.files, args.out)
    result["loadavg_1min_before"] = load0
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "per_file"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
