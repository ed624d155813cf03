"""Papermill smoke run of every chapter notebook (smoke profile, tiny data, one run dir).

The chapters run in order, sharing one run directory (as ``hrcn book`` runs
them), through :mod:`book_support`'s session object; each test checks that
its chapter executed without error and holds the outputs the book needs.
"""

from __future__ import annotations

import re

import jupytext
import nbformat
import pytest

from hrcn_lib.bookbuild import NOTEBOOKS, SOURCE_SUFFIX, read_chapter
from hrcn_lib.paths import REPO_ROOT

#: Minimum number of figures (image/png outputs) each executed chapter shows.
MIN_FIGURES: dict[str, int] = {
    "01_data": 2, "02_preprocessing": 3, "03_architecture": 1, "04_training": 1,
    "05_hardware": 1, "06_results": 2, "07_blurry_robustness": 3, "08_misclassification": 2,
    "09_what_holds": 1,
}
#: Minimum number of tables (text/html DataFrame outputs) each executed chapter shows.
MIN_TABLES: dict[str, int] = {
    "01_data": 4, "02_preprocessing": 2, "03_architecture": 2, "04_training": 2,
    "05_hardware": 2, "06_results": 2, "07_blurry_robustness": 1, "08_misclassification": 2,
    "09_what_holds": 5,
}


def _outputs(nb, mime: str) -> int:
    return sum(1 for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []) if mime in out.get("data", {}))


def test_sources_are_text_notebooks_clean_and_parameterised():
    """Each chapter's source is a MyST markdown notebook that jupytext reads back to the same
    text (so an edit saved from Jupyter is the source), with one ``parameters`` cell and no
    outputs, and that opens with what the paper says."""
    assert sorted(p.name for p in (REPO_ROOT / "notebooks").iterdir()) == [
        f"{stem}{SOURCE_SUFFIX}" for stem in NOTEBOOKS]
    for stem in NOTEBOOKS:
        path = REPO_ROOT / "notebooks" / f"{stem}{SOURCE_SUFFIX}"
        text = path.read_text()
        nb = jupytext.reads(text, fmt="md:myst")
        again = re.sub(r"\n +jupytext_version: .*", "", jupytext.writes(nb, fmt="md:myst"))
        assert again == text, f"{stem}: not in jupytext's form (open and save it in Jupyter)"
        nb = read_chapter(path)  # as the book executes it
        nbformat.validate(nb)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{stem}: expected one cell tagged 'parameters'"
        for name in ("profile", "run_dir", "data_dir", "device", "seed"):
            assert f"{name} =" in tagged[0].source, f"{stem}: parameter {name} missing"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{stem}: has outputs"
        assert nb.metadata["kernelspec"]["name"] == "python3" and "jupytext" not in nb.metadata
        first = nb.cells[0].source
        assert "What the paper says" in first and "zhang2023hrcelestialnet" in first, stem


def test_chapters_call_the_library_and_glue_the_papers_numbers():
    """Cells call hrcn_lib (they do not rename table columns back or parse pair keys), and the
    prose outside quotations takes the paper's numbers from glue, not from typing."""
    for stem in NOTEBOOKS:
        nb = read_chapter(REPO_ROOT / "notebooks" / f"{stem}{SOURCE_SUFFIX}")
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        for pattern in (".rename(", ".split(\"_\"", "key.split", "spec.key"):
            assert pattern not in code, f"{stem}: {pattern!r} in a code cell"
        prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        unquoted = [line for line in prose.splitlines() if not line.startswith(">")]
        for number in ("89.09", "84.48", "60.6", "120.6", "116.5", "32.79", "211", "20.4"):
            assert not any(number in line for line in unquoted), (stem, number)


@pytest.mark.slow
@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_chapter_executes(stem, smoke_book):
    out = smoke_book.execute(stem)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata.tags
    assert "'smoke'" in injected[0].source or '"smoke"' in injected[0].source
    assert _outputs(nb, "image/png") >= MIN_FIGURES[stem]
    assert _outputs(nb, "text/html") >= MIN_TABLES[stem]
    print(f"{stem}: executed in {smoke_book.seconds[stem]:.0f} s")  # shown with -s / -rA
