"""Peak memory of the whole ``binder`` book: does every chapter fit in Binder's 2 GB?

Runs ``python -m hrcn_lib book --profile binder --root DIR`` from scratch (simulation,
training, evaluation, Jupyter Book) and samples, every ``--interval`` seconds, the memory
of its whole process tree (``hrcn book``, each chapter's kernel, the training-step
measurement processes, ``jupyter-book``): the sum of PSS (proportional set size: a page
shared by k processes counts 1/k in each, so the sum is the memory the tree really holds;
``/proc/<pid>/smaps_rollup``), its anonymous part (heap, tensors: what cannot be dropped
under memory pressure; the rest is file-backed pages of shared libraries, e.g. the CUDA
libraries a CUDA build of torch maps even on a CPU, which the kernel can reclaim) and, for
comparison, the sum of RSS (shared pages counted once per process: an upper bound). The
peak is reported per chapter (from the build's ``[i/8] <chapter>: executing`` lines) and
for the HTML build.

A Binder session's limit also counts the page cache of files it writes (the simulated raw
frames, ~34 MB each); that cache is reclaimable and not counted here.

Usage (Linux only: reads /proc)::

    .venv/bin/python benchmarks/bench_binder_memory.py [--root DIR] [--interval 0.5]

Writes ``benchmarks/results/bench_binder_memory.json`` (git-ignored) and prints a table.
Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LIMIT_MB = 2048.0
_STAGE = re.compile(r"\[\d+/\d+\] (\S+): executing")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _tree(root: int) -> list[int]:
    tree, out, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(tree.get(pid, []))
    return out


def _kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    flags = set(re.search(r"^flags\s*:(.*)$", text, re.M).group(1).split())
    return " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags)


def _torch_build() -> str:
    """torch's version and CUDA build, read by a child (this script imports no torch)."""
    code = "import torch; print(torch.__version__, 'cuda', torch.version.cuda)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return proc.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=None, help="build folder (default: a temporary one)")
    ap.add_argument("--interval", type=float, default=0.5, help="sampling interval, s")
    ap.add_argument("--out", type=Path, default=RESULTS / "bench_binder_memory.json")
    args = ap.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="binder_book_"))
    cmd = [sys.executable, "-m", "hrcn_lib", "book", "--profile", "binder", "--root", str(root)]
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stage = {"name": "start"}
    peaks: dict[str, dict[str, float]] = {}
    lines: list[str] = []

    def read_log() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            m = _STAGE.search(line)
            if m:
                stage["name"] = m.group(1)
            elif line.startswith("jupyter-book:") and "HTML in" not in line:
                stage["name"] = "jupyter-book build"

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    while proc.poll() is None:
        pids = _tree(proc.pid)
        pss = sum(_kb(p, "Pss") for p in pids) / 1024
        anon = sum(_kb(p, "Pss_Anon") for p in pids) / 1024
        rss = sum(_kb(p, "Rss") for p in pids) / 1024
        peak = peaks.setdefault(stage["name"], {"pss_mb": 0.0, "anon_mb": 0.0, "rss_mb": 0.0,
                                                "processes": 0})
        if pss > peak["pss_mb"]:
            peak.update(pss_mb=round(pss, 1), processes=len(pids))
        peak["anon_mb"] = max(peak["anon_mb"], round(anon, 1))
        peak["rss_mb"] = max(peak["rss_mb"], round(rss, 1))
        time.sleep(args.interval)
    reader.join(timeout=10)
    overall = max(p["pss_mb"] for p in peaks.values())
    result = {"command": " ".join(cmd), "returncode": proc.returncode,
              "seconds": round(time.time() - t0, 1), "peak_pss_mb": overall,
              "peak_anon_mb": max(p["anon_mb"] for p in peaks.values()),
              "torch": _torch_build(),
              "limit_mb": LIMIT_MB, "fits": bool(proc.returncode == 0 and overall < LIMIT_MB),
              "per_stage": peaks, "machine": {"cpu_count": os.cpu_count(),
                                              "cpu_flags": _cpu_flags(),
                                              "python": platform.python_version()},
              "log_tail": lines[-15:]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| stage | peak PSS (MB) | of it anonymous (MB) | peak RSS sum (MB) | processes |\n"
          "|---|---|---|---|---|")
    for name, p in peaks.items():
        print(f"| {name} | {p['pss_mb']:.0f} | {p['anon_mb']:.0f} | {p['rss_mb']:.0f} "
              f"| {p['processes']} |")
    print(f"\nexit {proc.returncode}, {result['seconds']:.0f} s; peak PSS {overall:.0f} MB "
          f"of {LIMIT_MB:.0f} MB; written {args.out}")
    return 0 if result["fits"] else 1


if __name__ == "__main__":
    sys.exit(main())
