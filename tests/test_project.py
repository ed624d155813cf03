"""Project-level invariants: set-up files stay in step with each other and with the code."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jupytext
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package ([dev] extra)
    import tomli as tomllib

import hrcn_lib
from hrcn_lib.resources import BUNDLE_PATTERNS

ROOT = Path(__file__).resolve().parent.parent

#: Import name -> distribution, for the third-party imports of hrcn_lib.
DISTRIBUTIONS = {"cv2": "opencv-python-headless", "sklearn": "scikit-learn", "yaml": "pyyaml",
                 "galsim": "galsim", "astroquery": "astroquery", "numba": "numba",
                 "numpy": "numpy", "pandas": "pandas", "astropy": "astropy", "scipy": "scipy",
                 "torch": "torch", "torchvision": "torchvision", "tqdm": "tqdm",
                 "matplotlib": "matplotlib", "seaborn": "seaborn", "papermill": "papermill",
                 "nbformat": "nbformat", "nbclient": "nbclient", "traitlets": "traitlets",
                 "myst_nb": "myst-nb", "jupytext": "jupytext"}
#: Which extra each part of the library belongs to (the rest is core); a module may import
#: only what its extra (plus core) declares.
MODULE_EXTRAS = {"hrcn_lib/simulate/": "sim", "hrcn_lib/mast.py": "fetch",
                 "hrcn_lib/figures/": "book", "hrcn_lib/chapters/": "book",
                 "hrcn_lib/bookbuild.py": "book"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(req: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower().replace("_", "-")


def _extra(name: str) -> set[str]:
    """Distributions an extra brings (following self-references like hrcn-lib[sim])."""
    project = _pyproject()["project"]
    out: set[str] = set()
    for req in project["optional-dependencies"][name]:
        m = re.match(r"hrcn-lib\[([a-z,]+)\]", req)
        if m:
            for sub in m.group(1).split(","):
                out |= _extra(sub)
        else:
            out.add(_name(req))
    return out


def _core() -> set[str]:
    return {_name(r) for r in _pyproject()["project"]["dependencies"]}


def _third_party_imports(path: Path) -> set[str]:
    """Top-level names of the non-stdlib imports of a module or of a notebook's code cells."""
    if path.parent.name == "notebooks":  # a chapter: MyST markdown notebook
        code = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
        text = "\n".join(line for src in code for line in src.splitlines()
                         if not line.lstrip().startswith(("%", "!")))  # IPython magics
    else:
        text = path.read_text()
    tree = ast.parse(text)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "hrcn_lib"}


def test_every_import_is_declared_in_its_extra():
    """Core holds what preprocess / models / train / evaluate / classify import; simulation,
    MAST downloads and the book need their extras, and [dev] installs everything."""
    core = _core()
    for path in sorted((ROOT / "hrcn_lib").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        extra = next((e for prefix, e in MODULE_EXTRAS.items() if rel.startswith(prefix)), None)
        allowed = core | (_extra(extra) if extra else set())
        for name in _third_party_imports(path):
            assert name in DISTRIBUTIONS, f"{rel}: import {name}: add it to DISTRIBUTIONS"
            assert DISTRIBUTIONS[name] in allowed, (
                f"{rel} imports {name} ({DISTRIBUTIONS[name]}), not declared in "
                f"{'core' if extra is None else f'core or [{extra}]'}")
    for path in sorted((ROOT / "notebooks").glob("*.md")):  # the chapters run with [book]
        for name in _third_party_imports(path):
            assert DISTRIBUTIONS.get(name) in core | _extra("book"), f"{path.name}: {name}"


def test_extras_layering_and_no_unused_dependencies():
    extras = _pyproject()["project"]["optional-dependencies"]
    assert set(extras) == {"sim", "fetch", "book", "dev"}
    book, dev = _extra("book"), _extra("dev")
    assert _extra("sim") <= book  # the book simulates its data
    assert _extra("sim") | _extra("fetch") | book <= dev
    assert {"pytest", "ruff", "selenium", "pyyaml"} <= dev  # pyyaml: the tests read YAML
    assert not _core() & {"papermill", "jupyter-book", "myst-nb", "galsim", "astroquery",
                               "matplotlib", "seaborn"}, "the book's stack in core"
    declared = _core() | set().union(*(_extra(e) for e in extras))
    sources = [*(ROOT / "hrcn_lib").rglob("*.py"), *(ROOT / "notebooks").glob("*.md")]
    used = {DISTRIBUTIONS[n] for p in sources for n in _third_party_imports(p)}
    tools = {"pytest", "pytest-timeout", "ruff", "selenium", "pyyaml", "tomli", "ipykernel",
             "jupyter-book"}  # run, not imported: the test suite and the book's kernel/build
    assert declared - used - tools == set(), "declared but never imported"
    assert "psutil" not in declared


def test_environment_yml_installs_the_project_with_the_books_extras():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    assert any(str(d).startswith("jupyterlab") for d in deps)  # Binder serves the notebooks
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    (install,) = [r for r in pip if r.startswith("-e")]
    extras = re.fullmatch(r"-e \.\[([a-z,]+)\]", install).group(1).split(",")
    assert set(extras) == {"book", "fetch"}
    assert set(extras) <= set(_pyproject()["project"]["optional-dependencies"])
    # nothing else is pinned here: pyproject.toml is the one list of dependencies
    assert all(r.startswith(("-e", "--extra-index-url")) for r in pip)
    python = tuple(int(v) for v in deps[deps.index("python=3.11")].split("=")[1].split("."))
    low = tuple(int(v) for v in _pyproject()["project"]["requires-python"][2:].split("."))
    assert python >= low


def test_torch_and_torchvision_are_plain_requirements():
    deps = _pyproject()["project"]["dependencies"]
    for name in ("torch", "torchvision"):
        (req,) = [d for d in deps if re.match(rf"^{name}\b(?![-_])", d)]
        assert "==" not in req and "<" not in req, f"{req} pins {name} too tightly"


def test_jupyter_book_is_1x():
    (req,) = [d for d in _pyproject()["project"]["optional-dependencies"]["book"]
              if d.startswith("jupyter-book")]
    assert "<2" in req


def test_python_range_license_citation_urls_and_classifiers():
    project = _pyproject()["project"]
    assert project["requires-python"] == ">=3.10"
    assert project["dynamic"] == ["version"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "hrcn_lib.__version__"}
    assert project["license"] == "BSD-3-Clause"
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License")
    versions = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert versions and min(versions, key=lambda v: int(v.split(".")[1])) == "3.10"
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # PEP 639
    # only true addresses: the paper's code repository, as printed in the paper
    assert list(project["urls"].values()) == [
        "https://github.com/YooQuuAN/Classification_of_galaxy_and_NSC"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == hrcn_lib.__version__
    assert cff["license"] == project["license"]
    paper = cff["preferred-citation"]
    assert paper["type"] == "article" and paper["year"] == 2023
    assert paper["journal"] == "Monthly Notices of the Royal Astronomical Society"
    assert [a["family-names"] for a in paper["authors"]] == [
        "Zhang", "Cao", "Wang", "Lam", "Deng", "Mei", "Tan"]


def test_bundle_patterns_match_files_and_the_sdist_manifest():
    manifest = (ROOT / "MANIFEST.in").read_text()
    for pattern in BUNDLE_PATTERNS:
        assert list(ROOT.glob(pattern)), f"{pattern}: nothing to ship"
        assert f"include {pattern}" in manifest.splitlines(), f"{pattern}: not in the sdist"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash)?\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands[:2] == ["make book", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_make_book_and_make_test_each_set_up_what_they_need():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^book: \$\(VENV\)/\.installed-book$", text, re.M)
    assert re.search(r"^test: \$\(VENV\)/\.installed-dev$", text, re.M)
    assert "pip install --quiet -e '.[$*]'" in text


def test_console_script_points_at_the_cli():
    assert _pyproject()["project"]["scripts"]["hrcn"] == "hrcn_lib.cli:main"
