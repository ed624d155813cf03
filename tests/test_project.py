"""Project-level invariants: set-up files stay in step with each other."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    deps = _pyproject()["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pip_reqs = [r for r in pip_section if not r.startswith("-e")]
    assert sorted(pip_reqs) == sorted(deps)
    assert "-e ." in pip_section


def test_torch_and_torchvision_are_plain_requirements():
    deps = _pyproject()["project"]["dependencies"]
    for name in ("torch", "torchvision"):
        (req,) = [d for d in deps if re.match(rf"^{name}\b(?![-_])", d)]
        assert "==" not in req and "<" not in req, f"{req} pins {name} too tightly"


def test_jupyter_book_is_1x():
    deps = _pyproject()["project"]["dependencies"]
    (req,) = [d for d in deps if d.startswith("jupyter-book")]
    assert "<2" in req


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash)?\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands[:2] == ["make book", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_console_script_points_at_the_cli():
    assert _pyproject()["project"]["scripts"]["hrcn"] == "hrcn_lib.cli:main"
