"""Where the book's sources and recorded data are: the installed package or a checkout.

The book needs files that live at the top of the repository, not in ``hrcn_lib``: the
Jupyter Book configuration (``_config.yml``, ``_toc.yml``), its static pages
(``book/*.md``, ``book/references.bib``), the chapters' sources (``notebooks/*.md``, MyST
markdown notebooks),
recorded measurements (``benchmarks/recorded/*.json``) and the committed run records
(``records/<name>/``). A wheel ships them as package data
in ``hrcn_lib/_bundle/`` with the same layout (``setup.py`` copies :data:`BUNDLE_PATTERNS`
there when it builds the wheel; ``MANIFEST.in`` puts them in the sdist); a checkout (or an
editable install) reads them in place. :func:`source_root` answers which.

What a run *produces* never goes there: runs, executed notebooks and the HTML book go
under the current folder (or ``hrcn book --root``), see :mod:`hrcn_lib.bookbuild`.

This module imports only the standard library (``setup.py`` reads it at build time).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["BUNDLE_PATTERNS", "OPTIONAL_BUNDLE_PATTERNS", "BOOK_PAGES", "BUNDLE_DIR",
           "source_root", "checkout_root", "notebook_dir", "recorded_file", "record_path",
           "ResourceError"]

#: Files shipped in the wheel, as glob patterns relative to the repository root.
BUNDLE_PATTERNS: tuple[str, ...] = ("_config.yml", "_toc.yml", "book/*.md", "book/*.bib",
                                    "notebooks/*.md", "benchmarks/recorded/*.json")
#: Shipped when present (a checkout may hold no committed record yet): the run records the
#: book shows (``records/<name>/``, :mod:`hrcn_lib.records`).
OPTIONAL_BUNDLE_PATTERNS: tuple[str, ...] = ("records/*/*.json", "records/*/*.csv",
                                             "records/*/curves/*.csv",
                                             "records/*/gradcam/*.png")
#: The book's static pages (relative to a source root), staged next to the executed
#: chapters when the book is built in another folder.
BOOK_PAGES: tuple[str, ...] = ("book/intro.md", "book/api.md", "book/references.md",
                               "book/references.bib")
#: Folder of the shipped files inside the installed package.
BUNDLE_DIR = "_bundle"


class ResourceError(FileNotFoundError):
    """The book's sources are neither installed with the package nor in a checkout."""


def checkout_root() -> Path:
    """The folder above the ``hrcn_lib`` package: the repository root in a checkout
    (``site-packages`` in an installation, where it holds no book sources)."""
    return Path(__file__).resolve().parent.parent


def _is_source_root(path: Path) -> bool:
    return (path / "_config.yml").is_file() and (path / "notebooks").is_dir()


def source_root() -> Path:
    """The folder holding ``_config.yml``, ``_toc.yml``, ``book/``, ``notebooks/`` and
    ``benchmarks/recorded/``: the package's bundle when installed from a wheel, else the
    checkout.

    Raises:
        ResourceError: neither has them (e.g. an editable install whose checkout was moved).
    """
    bundle = Path(str(resources.files("hrcn_lib") / BUNDLE_DIR))
    for candidate in (bundle, checkout_root()):
        if _is_source_root(candidate):
            return candidate
    raise ResourceError(f"the book's sources (_config.yml, notebooks/) are neither in {bundle} "
                        f"nor in {checkout_root()}: install hrcn-lib from a wheel or sdist "
                        "(`pip install .`), or run from a git checkout")


def notebook_dir() -> Path:
    """``notebooks/`` of :func:`source_root`: the chapter sources."""
    return source_root() / "notebooks"


def recorded_file(name: str) -> Path:
    """``benchmarks/recorded/<name>`` of :func:`source_root` (may not exist; callers check)."""
    return source_root() / "benchmarks" / "recorded" / name


def record_path(name: str) -> Path:
    """``records/<name>`` of :func:`source_root`: a committed run record (may not exist)."""
    return source_root() / "records" / name
