"""The ``hrcn`` command line as a whole and the ``hrcn_lib`` front door: --version,
``python -m hrcn_lib``, -q/-v on every command through logging, no heavy imports for --help
or for ``import hrcn_lib``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

import hrcn_lib
from hrcn_lib.cli import COMMANDS, build_parser, main
from hrcn_lib.cli.verbosity import configure_logging

HEAVY = ("torch", "torchvision", "numpy", "pandas", "astropy", "scipy", "cv2", "numba")


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"hrcn {hrcn_lib.__version__}\n"


def test_python_dash_m_is_hrcn():
    proc = subprocess.run([sys.executable, "-m", "hrcn_lib", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == f"hrcn {hrcn_lib.__version__}\n"
    proc = subprocess.run([sys.executable, "-m", "hrcn_lib", "classify", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: hrcn classify")


def test_help_of_every_command_imports_nothing_heavy():
    code = (
        "import sys, contextlib, io\n"
        "from hrcn_lib.cli import COMMANDS, main\n"
        "for argv in [['--help']] + [[c, '--help'] for c in COMMANDS]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit as e:\n"
        "            assert e.code == 0, (argv, e.code)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    assert _run_python(code).stdout.strip() == "[]"


def test_front_door_is_lazy():
    code = (
        "import sys, json, hrcn_lib\n"
        f"before = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "names = sorted(n for n in hrcn_lib.__all__ if n != '__version__')\n"
        "objs = {n: getattr(hrcn_lib, n).__module__ for n in names}\n"
        "print(json.dumps({'before': before, 'objs': objs}))\n"
    )
    out = json.loads(_run_python(code).stdout)
    assert out["before"] == []
    assert out["objs"] == {"Predictor": "hrcn_lib.inference", "build_model": "hrcn_lib.models",
                           "grad_cam": "hrcn_lib.saliency", "load_sample": "hrcn_lib.preprocess.recipe",
                           "read_manifest": "hrcn_lib.manifest",
                           "simulate_dataset": "hrcn_lib.simulate.dataset"}
    assert set(hrcn_lib.__all__) - {"__version__"} <= set(dir(hrcn_lib))
    with pytest.raises(AttributeError, match="no attribute 'predict'"):
        hrcn_lib.predict  # noqa: B018


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_quiet_and_verbose(command, capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    flags = {s for a in sub._actions for s in a.option_strings}
    assert {"-q", "--quiet", "-v", "--verbose"} <= flags
    with pytest.raises(SystemExit) as done:  # both at once: a usage error
        parser.parse_args([command, "-q", "-v"])
    assert done.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_logging_levels_and_format(capsys):
    log = logging.getLogger("hrcn_lib.cli.test")
    try:
        configure_logging("demo")
        log.debug("detail")
        log.info("wrote 3 files")
        log.error("x.fits [HDU 1]: not a FITS file")
        assert capsys.readouterr().err == ("wrote 3 files\n"
                                           "hrcn demo: error: x.fits [HDU 1]: not a FITS file\n")
        configure_logging("demo", quiet=True)
        log.info("wrote 3 files")
        log.warning("slow")
        assert capsys.readouterr().err == "hrcn demo: warning: slow\n"
        configure_logging("demo", verbose=True)
        log.debug("detail")
        assert capsys.readouterr().err == "detail\n"
        assert len(logging.getLogger("hrcn_lib").handlers) == 1  # replaced, not added
    finally:
        configure_logging("demo")
