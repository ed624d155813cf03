"""Build the book: papermill-execute the chapter notebooks, then ``jupyter-book build``.

``notebooks/NN_*.md`` are the chapters' sources: MyST markdown notebooks (jupytext), which
Jupyter opens and saves as notebooks and a diff reads as prose plus code, each with a cell
tagged ``parameters``. :func:`execute_notebooks` converts each to a notebook
(:func:`read_chapter`, jupytext) and runs it, in order, into ``<root>/book/NN_*.ipynb``
(executed copies, ignored by git) with the parameters ``profile, run_dir, data_dir, device,
seed``; the chapters themselves reuse finished artefacts in the run directory. :func:`build_html` then renders the
book with Jupyter Book 1.x with execution off (``_config.yml``) and warnings
as errors, into ``<root>/_build/html``.

Sources and outputs are apart: the sources (notebooks, ``_config.yml``, ``_toc.yml``,
the static pages) come from :func:`hrcn_lib.resources.source_root` (the installed
package's data, or the checkout), while everything a build writes (the run directory
``runs/<profile>``, ``book/``, ``_build/``) goes under ``root``, by default the current
folder, never into the installed package. When ``root`` has no ``_config.yml`` of its own,
the static pages are copied into ``<root>/book/`` and Jupyter Book reads the package's
configuration (``--config``/``--toc``). In a checkout, ``root`` = the repository root
builds in place, as ``make book`` does.

The kernels run over IPC (Unix sockets) instead of TCP, so they are not reachable from
the network and do not warn about unencrypted TCP in the build log.

A failing cell stops the build with a :class:`BookBuildError` whose one-line
message names the notebook, the cell and the exception.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jupytext
import nbformat
import papermill as pm
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from hrcn_lib.paths import RunPaths
from hrcn_lib.profiles import get_profile
from hrcn_lib.resources import BOOK_PAGES, notebook_dir, source_root

__all__ = [
    "NOTEBOOKS",
    "SOURCE_SUFFIX",
    "EXECUTION_TIMEOUT",
    "BookBuildError",
    "read_chapter",
    "notebook_parameters",
    "tag_injected_parameters",
    "execute_notebook",
    "execute_notebooks",
    "build_html",
    "build_book",
    "stage_book_pages",
    "kernel_config",
    "portable_metadata",
]

#: The chapters, in reading order (file stems in ``notebooks/`` and ``book/``).
NOTEBOOKS: tuple[str, ...] = (
    "01_data",
    "02_preprocessing",
    "03_architecture",
    "04_training",
    "05_hardware",
    "06_results",
    "07_blurry_robustness",
    "08_misclassification",
    "09_what_holds",
)

#: File suffix of the chapters' sources in ``notebooks/`` (MyST markdown notebooks).
SOURCE_SUFFIX: str = ".md"

#: Per-cell execution timeout (s) of each profile: a hung cell fails the build.
EXECUTION_TIMEOUT: dict[str, int] = {"smoke": 900, "cpu": 3 * 3600, "paper": 48 * 3600}


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class BookBuildError(RuntimeError):
    """The book could not be built; the message names the notebook and cell (one line)."""


def _param_path(path: Path | str, relative_to: Path | None) -> str:
    """``path`` made absolute, or relative to ``relative_to`` when it lies below it."""
    absolute = Path(os.path.abspath(path))
    if relative_to is not None:
        base = Path(os.path.abspath(relative_to))
        if absolute.is_relative_to(base) and absolute != base:
            return absolute.relative_to(base).as_posix()
    return str(absolute)


def notebook_parameters(profile: str, run_dir: Path | str, data_dir: Path | str | None = None,
                        device: str | None = None, seed: int | None = None, *,
                        relative_to: Path | str | None = None) -> dict:
    """The papermill parameters of every chapter (plain JSON types).

    Args:
        profile: profile name (validated).
        run_dir: run directory (made absolute, or relative to ``relative_to``).
        data_dir: data folder; ``""`` means ``<run_dir>/data``.
        device: ``""`` means the profile's device.
        seed: ``None`` means the profile's seed.
        relative_to: the kernels' working folder: paths below it are passed relative to
            it, so the executed notebooks (and the book's downloadable sources) do not
            carry the build machine's absolute paths.

    Raises:
        ValueError: for an unknown profile.
    """
    prof = get_profile(profile)
    base = Path(relative_to) if relative_to is not None else None
    return {
        "profile": prof.name,
        "run_dir": _param_path(run_dir, base),
        "data_dir": _param_path(data_dir, base) if data_dir else "",
        "device": device or "",
        "seed": int(prof.seed if seed is None else seed),
    }


def read_chapter(path: Path | str) -> nbformat.NotebookNode:
    """A chapter's source (a MyST markdown notebook, or an ``.ipynb``) as a clean notebook.

    jupytext turns ``{code-cell}`` blocks into code cells (their ``:tags:`` into cell tags)
    and the text between them into markdown cells; jupytext's own metadata is dropped, so
    the executed copy is an ordinary notebook.

    Raises:
        FileNotFoundError: no such file.
        nbformat.ValidationError: the result is not a valid notebook.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: chapter source missing")
    nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nbformat.validate(nb)
    return nb


def tag_injected_parameters(path: Path, tag: str = "remove-cell") -> bool:
    """Add ``tag`` to the papermill ``injected-parameters`` cell of an executed notebook.

    Returns:
        Whether an injected-parameters cell was found (the file is rewritten only then).
    """
    nb = nbformat.read(path, as_version=4)
    found = False
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags:
            found = True
            if tag not in tags:
                cell.metadata["tags"] = [*tags, tag]
    if found:
        nbformat.write(nb, path)
    return found


def portable_metadata(path: Path, root: Path, source: Path | None = None) -> None:
    """Papermill's ``input_path``/``output_path`` of an executed notebook, without the
    build machine's folders: the output relative to ``root`` (``book/01_data.ipynb``), the
    input as ``notebooks/<name>`` (the name of ``source``, else of papermill's input)."""
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("papermill")
    if meta is None:
        return
    name = (source or Path(meta.get("input_path") or path)).name
    meta["input_path"] = f"notebooks/{name}"
    meta["output_path"] = _param_path(path, root)
    nbformat.write(nb, path)


def _failed_cell(exc) -> str:
    """One-line description of the failing cell of a papermill error.

    ``cell_index`` counts the cells of the executed notebook (the injected
    parameters cell included); the cell's first source line identifies it.
    """
    src = str(getattr(exc, "source", "") or "").strip().splitlines()
    first = src[0][:80] if src else ""
    evalue = " ".join(str(exc.evalue).split())[:300]
    where = f"cell {exc.cell_index}" + (f" (execution {exc.exec_count})" if exc.exec_count else "")
    return f"{where} `{first}`: {exc.ename}: {evalue}"


def _timed_out_cell(message: str) -> str:
    """First source line of the cell in nbclient's timeout message (its preview)."""
    lines = message.splitlines()
    try:
        first = lines[lines.index("-" * 19) + 1]
    except (ValueError, IndexError):
        return "?"
    if first.startswith("['"):  # long cells are previewed as lists of lines
        first = first[2:].split("'", 1)[0]
    return first[:80]


def kernel_config() -> Config:
    """traitlets configuration of the chapters' kernels: IPC transport (Unix sockets) where
    the platform has it, so no TCP port is opened and ipykernel does not warn "Kernel is
    running over TCP without encryption" into the build log; TCP on Windows."""
    return Config({"KernelManager": {"transport": "ipc" if os.name == "posix" else "tcp"}})


def execute_notebook(src: Path, dst: Path, parameters: dict, *, timeout: int,
                     cwd: Path | None = None) -> None:
    """Execute one chapter with papermill into ``dst`` and hide its injected parameters.

    Args:
        src, dst: the chapter's source (MyST markdown, :func:`read_chapter`; or an
            ``.ipynb``) and the executed notebook.
        parameters: papermill parameters.
        timeout: per-cell timeout (s).
        cwd: the kernel's working folder (default: the current folder).

    Raises:
        BookBuildError: if a cell fails (names notebook, cell, exception); the
            executed copy, with the error at the top, is left at ``dst`` for reading.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    source = read_chapter(src)
    try:
        pm.execute_notebook(source, str(dst), parameters=parameters, kernel_name="python3",
                            execution_timeout=timeout, progress_bar=False,
                            cwd=str(cwd or Path.cwd()), config=kernel_config())
    except PapermillExecutionError as exc:
        raise BookBuildError(f"notebook {src.name} failed at {_failed_cell(exc)}") from exc
    except CellTimeoutError as exc:
        raise BookBuildError(f"notebook {src.name} failed: a cell ran longer than {timeout} s "
                             f"(`{_timed_out_cell(str(exc))}`); raise --timeout or use a "
                             "smaller profile") from exc
    except DeadKernelError as exc:
        raise BookBuildError(f"notebook {src.name} failed: the kernel died "
                             f"({' '.join(str(exc).split())[:200]}); out of memory?") from exc
    tag_injected_parameters(dst)
    portable_metadata(dst, cwd or Path.cwd(), Path(src))


def execute_notebooks(profile: str, run_dir: Path | str, *, data_dir: Path | str | None = None,
                      device: str | None = None, seed: int | None = None,
                      notebooks: Sequence[str] = NOTEBOOKS, root: Path | None = None,
                      sources: Path | None = None, out_dir: Path | None = None,
                      timeout: int | None = None,
                      log: Callable[[str], None] = print) -> list[Path]:
    """Execute the chapters in order into ``out_dir`` (default ``<root>/book``).

    Args:
        profile, run_dir, data_dir, device, seed: see :func:`notebook_parameters`.
        notebooks: chapter stems to run, in order (default: all of :data:`NOTEBOOKS`).
        root: the build folder: the kernels' working folder and the parent of ``book/``
            (default: the current folder).
        sources: folder of the chapter sources (default
            :func:`hrcn_lib.resources.notebook_dir`).
        out_dir: where the executed copies go.
        timeout: per-cell timeout in s (default :data:`EXECUTION_TIMEOUT` of the profile).
        log: receives one progress line per notebook.

    Returns:
        Paths of the executed notebooks.

    Raises:
        FileNotFoundError: a source notebook is missing.
        BookBuildError: a cell failed.
    """
    root = Path(root) if root is not None else Path.cwd()
    params = notebook_parameters(profile, run_dir, data_dir, device, seed, relative_to=root)
    out_dir = out_dir or root / "book"
    timeout = timeout or EXECUTION_TIMEOUT.get(params["profile"], 3600)
    folder = Path(sources) if sources is not None else notebook_dir()
    paths = [folder / f"{stem}{SOURCE_SUFFIX}" for stem in notebooks]
    for src in paths:
        if not src.exists():
            raise FileNotFoundError(f"{src}: chapter source missing")
    done = []
    total = time.perf_counter()
    for i, src in enumerate(paths, 1):
        dst = out_dir / f"{src.stem}.ipynb"
        t0 = time.perf_counter()
        log(f"[{i}/{len(paths)}] {src.stem}: executing (profile {params['profile']}) ...")
        execute_notebook(src, dst, params, timeout=timeout, cwd=root)
        log(f"[{i}/{len(paths)}] {src.stem}: done in {time.perf_counter() - t0:.1f} s")
        done.append(dst)
    log(f"executed {len(done)} notebook(s) in {time.perf_counter() - total:.1f} s")
    return done


def stage_book_pages(root: Path, sources: Path | None = None) -> list[Path]:
    """Copy the static pages (:data:`hrcn_lib.resources.BOOK_PAGES`) into ``root``.

    Only for a build folder other than the sources (``root`` without ``_config.yml``);
    pages already identical are left alone.

    Returns:
        The pages copied.
    """
    sources = sources or source_root()
    copied = []
    for rel in BOOK_PAGES:
        src, dst = sources / rel, root / rel
        if src.resolve() == dst.resolve() or not src.is_file():
            continue
        if dst.is_file() and dst.read_bytes() == src.read_bytes():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        copied.append(dst)
    return copied


def build_html(root: Path | None = None, *, strict: bool = True,
               log: Callable[[str], None] = print) -> Path:
    """``jupyter-book build <root> [--warningiserror --keep-going]`` (execution is off).

    ``root`` (default: the current folder) holds ``book/`` with the executed chapters. If
    it has no ``_config.yml`` of its own, the package's configuration and table of
    contents are used (``--config``/``--toc``) and the static pages are staged into
    ``<root>/book/`` (:func:`stage_book_pages`).

    Returns:
        ``<root>/_build/html``.

    Raises:
        BookBuildError: if Jupyter Book exits non-zero (its last output lines are included).
    """
    root = Path(root) if root is not None else Path.cwd()
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root)]
    if not (root / "_config.yml").is_file():
        sources = source_root()
        stage_book_pages(root, sources)
        cmd += ["--config", str(sources / "_config.yml"), "--toc", str(sources / "_toc.yml")]
    if strict:
        cmd += ["--warningiserror", "--keep-going"]
    log("jupyter-book: " + " ".join(cmd[1:]))
    t0 = time.perf_counter()
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [_ANSI.sub("", line) for line in (proc.stdout + proc.stderr).splitlines()]
        problems = [line for line in lines if "WARNING:" in line or "ERROR:" in line]
        detail = "\n".join(problems or lines[-30:])
        raise BookBuildError(f"jupyter-book build failed (exit {proc.returncode}):\n{detail}")
    html = root / "_build" / "html"
    log(f"jupyter-book: HTML in {html} ({time.perf_counter() - t0:.1f} s)")
    return html


def build_book(profile: str = "cpu", run_dir: Path | str | None = None, *,
               data_dir: Path | str | None = None, device: str | None = None,
               seed: int | None = None, skip_execute: bool = False, root: Path | None = None,
               notebooks: Sequence[str] = NOTEBOOKS, timeout: int | None = None,
               log: Callable[[str], None] = print) -> Path:
    """Execute every chapter with ``profile`` and build the HTML book.

    Args:
        profile: ``smoke``, ``cpu``, ``binder`` or ``paper``.
        run_dir: run directory (default ``<root>/runs/<profile>``).
        data_dir, device, seed: chapter parameters (see :func:`notebook_parameters`).
        skip_execute: only rebuild the HTML from the executed copies already in ``book/``.
        root: the build folder (default: the current folder): receives ``runs/``,
            ``book/`` and ``_build/html``.
        notebooks: chapters to execute.
        timeout: per-cell timeout (s).
        log: progress sink.

    Returns:
        The HTML folder, ``<root>/_build/html``.

    Raises:
        BookBuildError: a failing cell or a failing Jupyter Book build.
        FileNotFoundError: ``skip_execute`` without executed copies in ``book/``.
    """
    root = Path(root) if root is not None else Path.cwd()
    run_dir = Path(run_dir) if run_dir else RunPaths.for_profile(profile, root).root
    if skip_execute:
        missing = [s for s in notebooks if not (root / "book" / f"{s}.ipynb").exists()]
        if missing:
            raise FileNotFoundError(f"{root / 'book'}: no executed copy of {', '.join(missing)}; "
                                    "run without --skip-execute first")
    else:
        execute_notebooks(profile, run_dir, data_dir=data_dir, device=device, seed=seed,
                          notebooks=notebooks, root=root, timeout=timeout, log=log)
    return build_html(root, log=log)
