"""Does the lent GPU machine have every module ``hrcn record`` and ``bench_gpu.py`` import?

The device (kind nvidia-h200) runs its own Python 3.12 with the packages of
``device/device_packages.txt``; what it lacks travels as the wheels of ``device/wheels.txt``
(``device/wheels.sh``). This check reads which modules the record path imports, and who
imports each, from the ``import time:`` lines Python writes under ``-X importtime`` /
``PYTHONPROFILEIMPORTTIME=1`` (one line per module, nested by importer), and accepts a
top-level module that is

* in the standard library (``sys.stdlib_module_names``) or built in,
* the project's own (``hrcn_lib``, ``bench_gpu``, ``benchmarks``), or
* a module of a distribution (:func:`importlib.metadata.packages_distributions`) named in
  ``device_packages.txt`` or ``wheels.txt``.

Only modules the project or a carried wheel imports must pass: what a package of the device's
image imports in turn is that image's concern (its own dependencies are installed with it, and
the rest are optional imports behind ``try``, e.g. numba's of cffi); those are listed apart.

Where the ``import time:`` lines come from:

* default: a child Python (``-X importtime``) imports the record path -- the ``hrcn`` command
  line with ``record``, :mod:`hrcn_lib.recording` and the simulator (every module of
  :mod:`hrcn_lib.simulate`: the simulation's worker processes run them), then every import
  written inside a function of an imported ``hrcn_lib`` module (lazy imports, found with
  :mod:`ast`, followed until no new one appears; :data:`NOT_ON_RECORD_PATH` names the
  functions left out), and ``benchmarks/bench_gpu.py``;
* ``--importtime LOG ...``: the stderr of a real run and its worker processes
  (``device/record_gpu.sh`` with ``DRY_RUN=1`` writes them).

Run from the repository root (``PYTHONPATH=.``); prints the third-party distributions the
record path needs and each module that is not accepted, and exits 1 if there is one (2 for a
usage error).

    python device/check_imports.py [--importtime LOG ...]
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata as md
import importlib.util
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Top-level modules of this repository.
PROJECT = frozenset({"hrcn_lib", "bench_gpu", "benchmarks"})
#: What the record path imports when it starts (the rest follows from these).
RECORD_ENTRY = ("hrcn_lib.cli", "hrcn_lib.cli.record", "hrcn_lib.recording", "hrcn_lib.simulate")
#: Functions whose lazy imports are not followed: ``hrcn record`` never calls them.
NOT_ON_RECORD_PATH = frozenset({
    "hrcn_lib.chapters.context.glue_numbers",  # the book's glue (myst_nb)
})


def normalize(name: str) -> str:
    """A distribution's name as PEP 503 compares it (``LSSTDESC.Coord`` -> ``lsstdesc-coord``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_names(path: Path) -> set[str]:
    """Distribution names of a list file: one a line, ``name`` or ``name==version``,
    ``#`` comments."""
    out = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(normalize(re.split(r"[=<>!~ \[;]", line, maxsplit=1)[0]))
    return out


# ----------------------------------------------------------------------------- importing


def _lazy_imports(path: Path, module: str, package: str | None) -> set[str]:
    """Absolute names imported inside the functions of a module's source (except those of
    :data:`NOT_ON_RECORD_PATH`)."""
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or \
                f"{module}.{fn.name}" in NOT_ON_RECORD_PATH:
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = (package or "").split(".")
                    base = base[:len(base) - node.level + 1]
                    mod = ".".join([*base, node.module] if node.module else base)
                else:
                    mod = node.module or ""
                out.add(mod)
                out.update(f"{mod}.{a.name}" for a in node.names)  # may be submodules
    return out


def _try_import(name: str) -> None:
    """Import ``name`` when it is a module (``from x import function`` names are not)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None  # its parent is a module, not a package: ``name`` is an attribute
    if spec is not None:
        importlib.import_module(name)


def import_record_path() -> None:
    """Import what the record and the GPU benchmark import (see the module's docstring).

    Raises:
        ImportError: a module the record path needs is missing here.
    """
    import hrcn_lib.simulate

    for name in RECORD_ENTRY:
        importlib.import_module(name)
    for info in pkgutil.walk_packages(hrcn_lib.simulate.__path__, "hrcn_lib.simulate."):
        importlib.import_module(info.name)
    seen: set[str] = set()
    while True:
        ours = [m for m in list(sys.modules.values())
                if getattr(m, "__name__", "").split(".")[0] == "hrcn_lib"
                and getattr(m, "__file__", None) and m.__name__ not in seen]
        if not ours:
            break
        for mod in ours:
            seen.add(mod.__name__)
            is_pkg = mod.__file__.endswith("__init__.py")
            for name in sorted(_lazy_imports(Path(mod.__file__), mod.__name__,
                                             mod.__name__ if is_pkg else mod.__package__)):
                if name.startswith("hrcn_lib.chapters.") and name != "hrcn_lib.chapters.context":
                    continue  # the book's chapters: not on the record path
                _try_import(name)
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "benchmarks" / "bench_gpu.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_gpu"] = bench
    spec.loader.exec_module(bench)


def import_in_child() -> str:
    """Run :func:`import_record_path` in a child Python under ``-X importtime``; its stderr.

    Raises:
        ImportError: the child could not import the record path (its message).
    """
    proc = subprocess.run([sys.executable, "-X", "importtime", str(Path(__file__).resolve()),
                           "--import-only"], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.splitlines() if not ln.startswith("import time:")]
        raise ImportError("\n".join(tail[-5:]) or f"exit status {proc.returncode}")
    return proc.stderr


# ----------------------------------------------------------------------------- the check


@dataclass
class Imports:
    """Top-level modules of an import log: who imports them.

    Attributes:
        needed: modules imported by the project, a carried wheel or the interpreter itself.
        indirect: modules imported only by other third-party packages.
    """

    needed: set[str] = field(default_factory=set)
    indirect: set[str] = field(default_factory=set)


def parse_importtime(text: str, carried: set[str]) -> Imports:
    """Sort the modules of ``-X importtime`` lines by importer.

    Python writes a module's line after those of the modules it imported, two spaces deeper;
    a module's importer is the first later line one level up. ``carried``: top-level names of
    the carried wheels (their imports are checked like the project's).
    """
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or line.count("|") < 2:
            continue
        name = line.rsplit("|", 1)[1]
        stripped = name.strip()
        if not stripped or stripped == "imported package":
            continue
        rows.append(((len(name) - len(name.lstrip(" ")) - 1) // 2, stripped))
    out = Imports()
    first_party = PROJECT | carried
    for i, (depth, name) in enumerate(rows):
        top = name.split(".")[0]
        importer = next((n for d, n in rows[i + 1:] if d < depth), None)
        # the nearest importer of another top-level module decides
        j = i
        while importer is not None and importer.split(".")[0] == top:
            j = next(k for k in range(j + 1, len(rows)) if rows[k][1] == importer)
            importer = next((n for d, n in rows[j + 1:] if d < rows[j][0]), None)
        if importer is None or importer.split(".")[0] in first_party:
            out.needed.add(top)
        else:
            out.indirect.add(top)
    out.indirect -= out.needed
    return out


def classify(tops: Iterable[str], allowed: set[str]) -> tuple[dict[str, str], list[str]]:
    """Split third-party top-level modules into accepted (-> distribution) and missing
    (-> ``"name (distribution: ...)"``); standard-library and project modules are dropped,
    and so are modules not installed here (failed optional imports). A module of several
    distributions (a namespace package) passes when one is allowed."""
    owners = md.packages_distributions()
    stdlib = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    accepted: dict[str, str] = {}
    missing = []
    for top in sorted(set(tops)):
        if top in stdlib or top in PROJECT or top.startswith(("__editable__", "_sysconfigdata_")):
            continue
        dists = owners.get(top, [])
        if not dists and importlib.util.find_spec(top) is None:
            continue  # tried and absent here too (``-X importtime`` logs failed imports):
            # an optional import, since the run it logs went on without it
        ok = [d for d in dists if normalize(d) in allowed]
        if ok:
            accepted[top] = ok[0]
        else:
            missing.append(f"{top} (distribution: {', '.join(dists) or 'unknown'})")
    return accepted, missing


def carried_modules() -> set[str]:
    """Top-level import names of the carried wheels' distributions, where installed here."""
    wheels = read_names(HERE / "wheels.txt")
    return {top for top, dists in md.packages_distributions().items()
            if any(normalize(d) in wheels for d in dists)}


def _versions(dists: Iterable[str]) -> str:
    out = []
    for d in sorted(set(dists), key=str.lower):
        try:
            out.append(f"{d} {md.version(d)}")
        except md.PackageNotFoundError:
            out.append(f"{d} ?")
    return ", ".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--importtime", nargs="+", type=Path, metavar="LOG",
                    help="read the imports from these PYTHONPROFILEIMPORTTIME logs instead of "
                         "importing the record path in a child Python")
    ap.add_argument("--import-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.import_only:
        import_record_path()
        return 0
    if args.importtime:
        absent = [str(p) for p in args.importtime if not p.is_file()]
        if absent:
            print(f"check_imports: no such log: {', '.join(absent)}", file=sys.stderr)
            return 2
        text = "\n".join(p.read_text(errors="replace") for p in args.importtime)
        source = f"the import logs {', '.join(map(str, args.importtime))}"
    else:
        try:
            text = import_in_child()
        except ImportError as err:
            print(f"check_imports: the record path does not import here:\n{err}",
                  file=sys.stderr)
            return 1
        source = "importing the record path"
    imports = parse_importtime(text, carried_modules())
    if not imports.needed:
        print(f"check_imports: no 'import time:' lines in {source}; run with "
              "PYTHONPROFILEIMPORTTIME=1", file=sys.stderr)
        return 2
    allowed = read_names(HERE / "device_packages.txt") | read_names(HERE / "wheels.txt")
    accepted, missing = classify(imports.needed, allowed)
    _, indirect_missing = classify(imports.indirect, allowed)
    print(f"check_imports ({source}): the record path imports "
          f"{_versions(accepted.values())}")
    if indirect_missing:
        print("check_imports: imported in turn by packages of the device's image, not there "
              "(optional imports, their concern): " + "; ".join(indirect_missing))
    if missing:
        print("check_imports: NOT on the device (device_packages.txt) nor carried "
              "(wheels.txt):\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    print("check_imports: every module the record path imports is on the device or carried")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
