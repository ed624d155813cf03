"""The prepared GPU session (device/): what can be checked without a GPU.

The scripts parse; the record path imports nothing the lent machine lacks
(device/check_imports.py); the import check tells needed modules from a device package's
optional ones; the carried wheels are pinned once each and not already on the device; and
bench_gpu.py runs every code path on the CPU (its dry run, on a small pair).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEVICE = ROOT / "device"
sys.path.insert(0, str(DEVICE))

import check_imports  # noqa: E402


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize("script", ["record_gpu.sh", "wheels.sh"])
def test_scripts_are_valid_bash(script):
    proc = subprocess.run(["bash", "-n", str(DEVICE / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_record_gpu_refuses_to_run_without_out_or_with_a_bad_argument(tmp_path):
    env = {k: v for k, v in _env().items() if k not in ("OUT", "DRY_RUN")}
    proc = subprocess.run(["bash", str(DEVICE / "record_gpu.sh")], capture_output=True,
                          text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "OUT is not set" in proc.stderr
    proc = subprocess.run(["bash", str(DEVICE / "record_gpu.sh"), "--nope"], capture_output=True,
                          text=True, env={**env, "OUT": str(tmp_path / "out")})
    assert proc.returncode == 2 and "unknown argument '--nope'" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_record_path_imports_only_what_the_device_has_or_carries():
    proc = subprocess.run([sys.executable, str(DEVICE / "check_imports.py")], capture_output=True,
                          text=True, env=_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    needed = proc.stdout.split("the record path imports", 1)[1]
    for dist in ("torch", "GalSim", "astropy", "pandas"):
        assert dist in needed


LOG = """\
import time: self [us] | cumulative | imported package
import time:        10 |         10 |       cffi
import time:        10 |         20 |     numba.core.typing
import time:        10 |         30 |   numba
import time:        10 |         10 |     myst_nb
import time:        10 |         20 |   hrcn_lib.chapters.context
import time:        10 |         10 |     erfa
import time:        10 |         20 |   astropy
"""


def test_a_module_counts_as_needed_by_its_importer():
    got = check_imports.parse_importtime(LOG, carried={"astropy", "erfa"})
    # imported at the top, by the project or by a carried wheel: needed
    assert got.needed == {"numba", "myst_nb", "hrcn_lib", "erfa", "astropy"}
    # imported only by a package of the device's image (numba's optional cffi): its concern
    assert got.indirect == {"cffi"}


def test_classify_accepts_the_allowed_and_drops_stdlib_project_and_absent_modules():
    accepted, missing = check_imports.classify(
        {"numpy", "json", "hrcn_lib", "no_such_module_anywhere"}, allowed=set())
    assert accepted == {} and missing == ["numpy (distribution: numpy)"]
    accepted, missing = check_imports.classify({"numpy"}, allowed={"numpy"})
    assert accepted == {"numpy": "numpy"} and missing == []


def test_the_carried_wheels_are_pinned_once_and_not_already_on_the_device():
    lines = [ln.split("#", 1)[0].strip() for ln in (DEVICE / "wheels.txt").read_text().splitlines()]
    pins = [ln for ln in lines if ln]
    assert pins and all("==" in p for p in pins)
    names = [check_imports.normalize(p.split("==")[0]) for p in pins]
    assert len(names) == len(set(names))
    assert not set(names) & check_imports.read_names(DEVICE / "device_packages.txt")
    assert {"astropy", "galsim"} <= set(names)


def test_bench_gpu_dry_run_takes_every_code_path_on_the_cpu(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py"), "--device",
                           "cpu", "--dry-run", "--goal-pairs", "resnet:lcid-resize", "--out",
                           str(tmp_path)], capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads((tmp_path / "gpu_dryrun.json").read_text())["pairs"]["resnet:lcid-resize"]
    assert res["classify"]["predictor_ms"] > 0
    assert res["train_fp32"]["step_ms"] > 0 and res["train_bf16"]["step_ms"] > 0
    assert [r["batch"] for r in res["train_sweep"]] == [1, 2]
    assert all(r["samples_per_s"] > 0 for r in res["train_sweep"])
    assert res["classify_variants"] and not any("error" in v for v in
                                                 res["classify_variants"].values())
