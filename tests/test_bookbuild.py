"""hrcn_lib.bookbuild and ``hrcn book``: parameters, tagging, one-line failures, CLI."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from hrcn_lib import bookbuild
from hrcn_lib.cli import build_parser
from hrcn_lib.paths import REPO_ROOT
from hrcn_lib.resources import BOOK_PAGES, source_root


def _write_nb(path, *sources):
    """A chapter source as the book keeps them: a MyST markdown notebook (jupytext)."""
    cells = [new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(src) for src in sources]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(nb, path, fmt="md:myst")


def test_notebook_parameters(tmp_path):
    params = bookbuild.notebook_parameters("smoke", tmp_path / "r")
    assert params == {"profile": "smoke", "run_dir": str((tmp_path / "r").resolve()),
                      "data_dir": "", "device": "", "seed": 0}
    assert bookbuild.notebook_parameters("cpu", tmp_path, device="cuda", seed=3)["seed"] == 3
    with pytest.raises(ValueError, match="unknown profile"):
        bookbuild.notebook_parameters("gpu", tmp_path)
    # below the kernels' working folder: relative, so no build-machine path is recorded
    rel = bookbuild.notebook_parameters("smoke", tmp_path / "runs" / "smoke", tmp_path / "d",
                                        relative_to=tmp_path)
    assert (rel["run_dir"], rel["data_dir"]) == ("runs/smoke", "d")
    outside = bookbuild.notebook_parameters("smoke", "/elsewhere/run", relative_to=tmp_path)
    assert outside["run_dir"] == "/elsewhere/run"


def test_tag_injected_parameters(tmp_path):
    nb = new_notebook(cells=[new_code_cell("a", metadata={"tags": ["injected-parameters"]}),
                             new_code_cell("b")])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert bookbuild.tag_injected_parameters(path) is True
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].metadata.tags == ["injected-parameters", "remove-cell"]
    assert "tags" not in cells[1].metadata
    nbformat.write(new_notebook(cells=[new_code_cell("c")]), path)
    assert bookbuild.tag_injected_parameters(path) is False


@pytest.mark.slow
def test_execution_and_failure_name_the_notebook_and_cell(tmp_path, capfd):
    src = tmp_path / "notebooks"
    _write_nb(src / "01_ok.md", "y = x + 1\nprint(profile)")
    _write_nb(src / "02_bad.md", "z = 1", "1 / 0  # boom")
    lines = []
    done = bookbuild.execute_notebooks("smoke", tmp_path / "run", notebooks=("01_ok",),
                                       root=tmp_path, sources=src, timeout=60, log=lines.append)
    kernel_log = capfd.readouterr().err  # the kernel inherits this process's stderr
    assert "without encryption" not in kernel_log, kernel_log
    out = nbformat.read(done[0], as_version=4)
    injected = [c for c in out.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "remove-cell" in injected[0].metadata.tags and "profile = \"smoke\"" in injected[0].source
    assert 'run_dir = "run"' in injected[0].source  # relative to the kernel's folder
    assert (out.metadata.papermill.input_path, out.metadata.papermill.output_path) == (
        "notebooks/01_ok.md", "book/01_ok.ipynb")
    assert "jupytext" not in out.metadata  # an ordinary notebook
    assert str(tmp_path) not in done[0].read_text()
    assert out.cells[-1].outputs[0]["text"] == "smoke\n"
    assert lines[0].startswith("[1/1] 01_ok: executing") and "done in" in lines[1]
    with pytest.raises(bookbuild.BookBuildError) as err:
        bookbuild.execute_notebooks("smoke", tmp_path / "run", notebooks=("01_ok", "02_bad"),
                                    root=tmp_path, sources=src, timeout=60, log=lines.append)
    msg = str(err.value)
    assert "\n" not in msg
    assert "02_bad.md" in msg and "`1 / 0  # boom`" in msg and "ZeroDivisionError" in msg
    assert (tmp_path / "book" / "02_bad.ipynb").exists()  # left for reading, error inside


@pytest.mark.slow
def test_a_hung_cell_fails_with_one_line(tmp_path):
    _write_nb(tmp_path / "notebooks" / "03_slow.md", "import time\ntime.sleep(60)")
    with pytest.raises(bookbuild.BookBuildError) as err:
        bookbuild.execute_notebooks("smoke", tmp_path / "run", notebooks=("03_slow",),
                                    root=tmp_path, sources=tmp_path / "notebooks", timeout=2,
                                    log=lambda _l: None)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("notebook 03_slow.md failed: a cell ran longer than 2 s")
    assert "`import time`" in msg


def test_missing_sources_and_executed_copies(tmp_path):
    with pytest.raises(FileNotFoundError, match="chapter source missing"):
        bookbuild.execute_notebooks("smoke", tmp_path, notebooks=("09_none",), root=tmp_path)
    with pytest.raises(FileNotFoundError, match="without --skip-execute"):
        bookbuild.build_book("smoke", skip_execute=True, root=tmp_path)


def test_cli_book_parser():
    args = build_parser().parse_args(["book", "--profile", "smoke", "--skip-execute",
                                      "--run-dir", "x", "--root", "r"])
    assert (args.profile, args.skip_execute, args.run_dir, args.root) == ("smoke", True, "x", "r")
    assert args.func.__module__ == "hrcn_lib.cli.book"
    args = build_parser().parse_args(["book"])
    assert (args.profile, args.root) == ("cpu", None)


def test_builds_go_under_the_current_folder_or_root(tmp_path, monkeypatch):
    """Runs, executed chapters and HTML go under the current folder (or --root), whatever
    the package's location; the sources come from the package."""
    calls = {}

    def fake_execute(profile, run_dir, **kw):
        calls["execute"] = (Path(run_dir), kw["root"])
        return []

    monkeypatch.setattr(bookbuild, "execute_notebooks", fake_execute)
    monkeypatch.setattr(bookbuild, "build_html", lambda root, log: root / "_build" / "html")
    monkeypatch.chdir(tmp_path)
    assert bookbuild.build_book("smoke") == tmp_path / "_build" / "html"
    assert calls["execute"] == (tmp_path / "runs" / "smoke", tmp_path)
    other = tmp_path / "elsewhere"
    assert bookbuild.build_book("smoke", root=other) == other / "_build" / "html"
    assert calls["execute"] == (other / "runs" / "smoke", other)


def test_html_of_a_folder_without_config_uses_the_package_config(tmp_path, monkeypatch):
    commands = []

    class Done:
        returncode, stdout, stderr = 0, "", ""

    def fake_run(cmd, cwd, **_kw):
        commands.append((cmd, cwd))
        return Done()

    monkeypatch.setattr(bookbuild.subprocess, "run", fake_run)
    src = source_root()
    html = bookbuild.build_html(tmp_path, log=lambda _l: None)
    assert html == tmp_path / "_build" / "html"
    cmd, cwd = commands[-1]
    assert cmd[1:3] == ["build", str(tmp_path)] and cwd == tmp_path
    assert cmd[cmd.index("--config") + 1] == str(src / "_config.yml")
    assert cmd[cmd.index("--toc") + 1] == str(src / "_toc.yml")
    for rel in BOOK_PAGES:  # the static pages sit beside the executed chapters
        assert (tmp_path / rel).read_bytes() == (src / rel).read_bytes()
    assert not (tmp_path / "_config.yml").exists()  # nothing else written into the folder
    assert bookbuild.stage_book_pages(tmp_path, src) == []  # already there: left alone
    (tmp_path / "_config.yml").write_text("title: mine\n")  # a folder with its own book
    bookbuild.build_html(tmp_path, log=lambda _l: None)
    assert "--config" not in commands[-1][0]


def test_kernels_run_over_ipc():
    assert bookbuild.kernel_config().KernelManager.transport == "ipc"


def test_cli_book_failure_is_one_line(monkeypatch, capsys):
    from hrcn_lib.cli import book

    def fail(*_a, **_k):
        raise bookbuild.BookBuildError("notebook 04_training.ipynb failed at cell 5 `x`: E: m")

    monkeypatch.setattr(bookbuild, "build_book", fail)
    args = build_parser().parse_args(["book", "--profile", "smoke"])
    assert book.run(args) == 1
    err = capsys.readouterr().err
    assert err == "hrcn book: error: notebook 04_training.ipynb failed at cell 5 `x`: E: m\n"



def test_book_config_executes_nothing():
    cfg = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "off"  # the string, not YAML's false
    assert cfg["only_build_toc_files"] is True
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    numbered = [f for f in files if f.removeprefix("book/")[:2].isdigit()]
    assert numbered == [f"book/{s}" for s in bookbuild.NOTEBOOKS]  # every chapter, in order
    assert "book/api" in files  # the library reference, by Sphinx autodoc
    assert {"sphinx.ext.autodoc", "sphinx.ext.napoleon"} <= set(cfg["sphinx"]["extra_extensions"])
    static = {f"{f}.md" for f in [toc["root"], *files] if not f.removeprefix("book/")[:2].isdigit()}
    assert static | {"book/references.bib"} == set(BOOK_PAGES)  # what a build folder needs


@pytest.mark.slow
def test_html_build_failure_lists_the_warnings(tmp_path):
    (tmp_path / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "intro.md").write_text("# Intro\n\n{glue:text}`no_such_key`\n")
    with pytest.raises(bookbuild.BookBuildError) as err:
        bookbuild.build_html(tmp_path, log=lambda _l: None)
    msg = str(err.value)
    assert msg.startswith("jupyter-book build failed (exit 1):")
    assert "intro.md" in msg and "WARNING" in msg and "\x1b[" not in msg
