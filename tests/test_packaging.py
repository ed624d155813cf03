"""Works from ``pip install .`` in any folder: the book's sources and recorded data are found
in the installed package (or the checkout), and nothing is written into the package.

The fast tests check the resolution logic of :mod:`hrcn_lib.resources`; the slow one builds
the sdist and, from it, the wheel (setuptools' PEP 517 backend, no network), checks the
wheel's contents, installs it with ``pip --no-deps --target`` and runs the installed copy
from an empty folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from hrcn_lib import bookbuild, resources
from hrcn_lib.resources import BOOK_PAGES, BUNDLE_PATTERNS, OPTIONAL_BUNDLE_PATTERNS, ResourceError

ROOT = Path(__file__).resolve().parent.parent


def _fake_source(folder: Path) -> Path:
    (folder / "notebooks").mkdir(parents=True)
    (folder / "_config.yml").write_text("title: t\n")
    return folder


def test_the_installed_bundle_wins_over_the_folder_above_the_package(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "hrcn_lib"
    bundle = _fake_source(package / resources.BUNDLE_DIR)
    checkout = _fake_source(tmp_path / "checkout")
    monkeypatch.setattr(resources.resources, "files", lambda _name: package)
    monkeypatch.setattr(resources, "checkout_root", lambda: checkout)
    assert resources.source_root() == bundle
    assert resources.notebook_dir() == bundle / "notebooks"
    assert resources.recorded_file("x.json") == bundle / "benchmarks" / "recorded" / "x.json"
    shutil.rmtree(bundle)  # an editable install or a checkout: the files in place
    assert resources.source_root() == checkout
    shutil.rmtree(checkout / "notebooks")  # neither: one clear error naming both places
    with pytest.raises(ResourceError, match=r"neither in .*_bundle nor in .*checkout"):
        resources.source_root()


def test_this_checkout_is_a_source_root():
    assert resources.source_root() in (ROOT, ROOT / "hrcn_lib" / resources.BUNDLE_DIR)
    for rel in BOOK_PAGES:
        assert (resources.source_root() / rel).is_file(), rel


def _build(tmp_path: Path) -> Path:
    """sdist of a copy of the checkout, then the wheel from the unpacked sdist."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "data", "_build", "build", "dist", "*.egg-info", "__pycache__",
        ".pytest_cache", ".ruff_cache", "test-artifacts", "results", "book/*.ipynb"))
    backend = "import sys, setuptools.build_meta as b; print(getattr(b, sys.argv[1])(sys.argv[2]))"
    run = dict(capture_output=True, text=True, timeout=600, check=True)
    sdist = subprocess.run([sys.executable, "-c", backend, "build_sdist", str(tmp_path / "sd")],
                           cwd=src, **run).stdout.strip().splitlines()[-1]
    with tarfile.open(tmp_path / "sd" / sdist) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    wheel = subprocess.run([sys.executable, "-c", backend, "build_wheel", str(tmp_path / "wh")],
                           cwd=unpacked, **run).stdout.strip().splitlines()[-1]
    return tmp_path / "wh" / wheel


@pytest.mark.slow
def test_wheel_ships_the_book_and_runs_from_any_folder(tmp_path):
    wheel = _build(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    bundle = "hrcn_lib/_bundle/"
    for pattern in (*BUNDLE_PATTERNS, *OPTIONAL_BUNDLE_PATTERNS):
        for path in ROOT.glob(pattern):
            assert bundle + path.relative_to(ROOT).as_posix() in names, path
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "notebooks/")) for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--target", str(target), str(wheel)], check=True, timeout=300)
    work = tmp_path / "elsewhere"
    work.mkdir()
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        "import hrcn_lib\n"
        "from hrcn_lib import bookbuild, resources\n"
        "from hrcn_lib.chapters import context\n"
        "from hrcn_lib.cli import main\n"
        "try:\n"
        "    bookbuild.build_book('smoke', skip_execute=True, log=lambda _l: None)\n"
        "    err = ''\n"
        "except FileNotFoundError as exc:\n"
        "    err = str(exc)\n"
        "print(json.dumps({'package': hrcn_lib.__file__, 'source': str(resources.source_root()),\n"
        "                  'gpu_rows': len(context.recorded_gpu()), 'error': err,\n"
        "                  'run_dir': str(context.chapter_context('smoke').paths.root),\n"
        "                  'chapters': sorted(p.name for p in resources.notebook_dir().iterdir())}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["package"].startswith(str(target))  # the installed copy, not the checkout
    assert out["source"] == str(target / "hrcn_lib" / "_bundle")
    assert out["gpu_rows"] > 0  # the recorded GPU JSON is package data
    assert out["chapters"] == [f"{s}.md" for s in bookbuild.NOTEBOOKS]  # the text notebooks
    assert str(work / "book") in out["error"]  # looked for executed chapters here ...
    assert out["run_dir"] == "runs/smoke"  # ... and runs go under the current folder
    assert sorted(p.name for p in work.iterdir()) == []  # nothing written by asking
    installed = sorted(p.relative_to(target).as_posix() for p in target.rglob("*")
                       if "__pycache__" not in p.parts)
    assert not any(p.startswith(("hrcn_lib/runs", "hrcn_lib/_build", "runs", "_build"))
                   for p in installed)
