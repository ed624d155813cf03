"""Benchmark: seconds of one core per simulated 2-chip raw file (goal: <= 2 s).

Renders and writes exposures of bodies of every morphology in this process,
pinned to one core (``os.sched_setaffinity``, like ``taskset -c 0``), and
reports the process CPU time (``time.process_time``: what the files cost one
core, insensitive to other processes on a shared machine) and the wall time,
plus the load average. Each body's scene is built once and used for
``--exposures`` files, as in a dataset run (the paper profile uses each scene for
44-88 files); PSFs are built on first use of a (filter, focus step), as in a run.

Usage::

    .venv/bin/python benchmarks/bench_simulate.py [--bodies 11] [--exposures 3] [--cpu 0]

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

NAMES = [f"SIM-G{i:03d}" for i in range(1, 7)] + [f"SIM-N{i:03d}" for i in range(1, 6)]


def run(bodies: int, exposures: int, out: Path) -> dict:
    from hrcn_lib.simulate.dataset import raw_path
    from hrcn_lib.simulate.rawfile import write_raw
    from hrcn_lib.simulate.render import body_scene, render_exposure

    render_exposure(0, "SIM-G001", 9)  # warm-up: imports, numba kernels, detector maps
    per_file, scenes = [], []
    c_all, w_all = time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        for name in NAMES[:bodies]:
            c0 = time.process_time()
            body_scene(0, name)
            scenes.append(time.process_time() - c0)
            for k in range(exposures):
                c0, w0 = time.process_time(), time.perf_counter()
                rendered = render_exposure(0, name, 1 + k)
                path = raw_path(tmp, rendered.exposure.obsid)
                path.parent.mkdir(exist_ok=True)
                write_raw(path, rendered.exposure.instrument, rendered.chips,
                          primary=rendered.primary, sci_headers=rendered.sci_headers)
                per_file.append({"body": name, "exposure": 1 + k,
                                 "instrument": rendered.exposure.instrument,
                                 "filter": rendered.exposure.filter,
                                 "cpu_s": time.process_time() - c0,
                                 "wall_s": time.perf_counter() - w0})
    n = len(per_file)
    cpu = np.array([f["cpu_s"] for f in per_file])
    return {"files": n, "cpu_s_per_file_including_scenes": (time.process_time() - c_all) / n,
            "wall_s_per_file_including_scenes": (time.perf_counter() - w_all) / n,
            "cpu_s_per_file_median": float(np.median(cpu)), "cpu_s_per_file_max": float(cpu.max()),
            "scene_cpu_s_median": float(np.median(scenes)),
            "max_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
            "loadavg_1min_after": os.getloadavg()[0], "cpus": os.cpu_count(),
            "per_file": per_file}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=11)
    parser.add_argument("--exposures", type=int, default=3, help="files per body")
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to (-1: no pinning)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--result", type=Path,
                        default=Path(__file__).parent / "results" / "bench_simulate.json")
    args = parser.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    load0 = os.getloadavg()[0]
    result = run(args.bodies, args.exposures, args.out)
    result["loadavg_1min_before"] = load0
    result["pinned_cpu"] = args.cpu
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "per_file"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
