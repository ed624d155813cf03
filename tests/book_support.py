"""Shared smoke run of the book for tests/test_notebooks.py and tests/test_book.py.

One temporary book root per test session, built as ``hrcn book --root`` builds in any
folder: the chapters (from :func:`hrcn_lib.resources.notebook_dir`) are executed in order
with the ``smoke`` profile into ``<root>/book`` with one run directory shared by all
chapters, and the HTML is built into ``<root>/_build/html`` with the package's
configuration (the static pages are staged by :func:`hrcn_lib.bookbuild.build_html`). The
repository's own ``book/`` and ``_build/`` are never touched. The state lives at module level so that both
test modules (each with its own session fixture) share one execution.

Set ``HRCN_SMOKE_RUN_DIR`` to an existing smoke run directory to reuse its
finished artefacts (data, split, trained models, predictions) instead of
starting from nothing: the chapters then only re-render, in about a minute each.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from hrcn_lib.bookbuild import (
    NOTEBOOKS,
    SOURCE_SUFFIX,
    build_html,
    execute_notebook,
    notebook_parameters,
)
from hrcn_lib.resources import notebook_dir

__all__ = ["SmokeBook"]

#: Per-cell timeout of the smoke run (s): a hung cell fails the test instead of CI.
CELL_TIMEOUT_S = 900


class SmokeBook:
    """A book root in a temporary folder, executed chapter by chapter on demand."""

    def __init__(self, base: Path, data_dir: Path | None = None) -> None:
        self.root = base / "book_root"
        reuse = os.environ.get("HRCN_SMOKE_RUN_DIR")
        self.run_dir = Path(reuse) if reuse else self.root / "runs" / "smoke"  # as hrcn book
        if reuse:
            data_dir = None  # the reused run directory has its own data
        self.root.mkdir(parents=True)
        if data_dir is not None:  # reuse the session's simulated smoke data
            self.run_dir.mkdir(parents=True)
            (self.run_dir / "data").symlink_to(data_dir, target_is_directory=True)
        self.params = notebook_parameters("smoke", self.run_dir, relative_to=self.root)
        self.errors: dict[str, BaseException] = {}
        self.seconds: dict[str, float] = {}
        self.html: Path | None = None

    def executed(self, stem: str) -> Path:
        return self.root / "book" / f"{stem}.ipynb"

    def execute(self, stem: str) -> Path:
        """Execute ``stem`` (and, first, every earlier chapter); re-raise an earlier failure."""
        for earlier in NOTEBOOKS[: NOTEBOOKS.index(stem)]:
            if earlier not in self.seconds:
                self.execute(earlier)
        if stem in self.errors:
            raise self.errors[stem]
        if stem not in self.seconds:
            t0 = time.perf_counter()
            try:
                execute_notebook(notebook_dir() / f"{stem}{SOURCE_SUFFIX}", self.executed(stem),
                                 self.params, timeout=CELL_TIMEOUT_S, cwd=self.root)
            except BaseException as exc:
                self.errors[stem] = exc
                raise
            self.seconds[stem] = time.perf_counter() - t0
        return self.executed(stem)

    def build(self) -> Path:
        """Execute every chapter, then build the HTML once."""
        for stem in NOTEBOOKS:
            self.execute(stem)
        if self.html is None:
            self.html = build_html(self.root, log=lambda _line: None)
        return self.html
