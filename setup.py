"""Build hook: ship the book's sources and recorded data inside the wheel.

Everything else is declared in pyproject.toml. The chapter notebooks, the Jupyter Book
configuration and static pages, and the recorded benchmark JSON live at the top of the
repository (where Jupyter Book, Binder and readers expect them), not in the package; this
hook copies them (``hrcn_lib.resources.BUNDLE_PATTERNS``) into ``hrcn_lib/_bundle/`` of the
built package, so that ``pip install .`` gives an ``hrcn book`` that works in any folder.
An editable install reads them from the checkout instead (nothing is copied).
"""

from __future__ import annotations

import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# stdlib only: the module can be read before the package's dependencies are installed
_RESOURCES = runpy.run_path(str(ROOT / "hrcn_lib" / "resources.py"))


class BuildPyWithBundle(build_py):
    """``build_py`` that also copies the bundle files into ``<build_lib>/hrcn_lib/_bundle``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "hrcn_lib" / _RESOURCES["BUNDLE_DIR"]
        optional = set(_RESOURCES["OPTIONAL_BUNDLE_PATTERNS"])
        for pattern in (*_RESOURCES["BUNDLE_PATTERNS"], *sorted(optional)):
            files = sorted(ROOT.glob(pattern))
            if not files and pattern not in optional:
                raise FileNotFoundError(f"setup.py: no file matches {pattern!r} in {ROOT}; "
                                        "build from a checkout or an sdist")
            for src in files:
                dst = target / src.relative_to(ROOT)
                self.mkpath(str(dst.parent))
                self.copy_file(str(src), str(dst))


setup(cmdclass={"build_py": BuildPyWithBundle})
