"""Papermill smoke run of every chapter notebook (smoke profile, tiny data, one run dir).

The chapters run in order, sharing one run directory (as ``hrcn book`` runs
them), through :mod:`book_support`'s session object; each test checks that
its chapter executed without error and holds the outputs the book needs.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from hrcn_lib.bookbuild import NOTEBOOKS
from hrcn_lib.paths import REPO_ROOT

#: Library modules each chapter needs (the test skips until they exist).
NEEDS: dict[str, tuple[str, ...]] = {
    "01_data": ("hrcn_lib.simulate", "hrcn_lib.manifest", "hrcn_lib.preprocess"),
    "02_preprocessing": ("hrcn_lib.preprocess", "hrcn_lib.datasets"),
    "03_architecture": ("hrcn_lib.models", "hrcn_lib.hardware"),
    "04_training": ("hrcn_lib.train",),
    "05_hardware": ("hrcn_lib.hardware",),
    "06_results": ("hrcn_lib.evaluate",),
    "07_blurry_robustness": ("hrcn_lib.evaluate",),
    "08_misclassification": ("hrcn_lib.evaluate", "hrcn_lib.train"),
}
#: Minimum number of figures (image/png outputs) each executed chapter shows.
MIN_FIGURES: dict[str, int] = {
    "01_data": 2, "02_preprocessing": 3, "03_architecture": 1, "04_training": 1,
    "05_hardware": 1, "06_results": 2, "07_blurry_robustness": 3, "08_misclassification": 2,
}
#: Minimum number of tables (text/html DataFrame outputs) each executed chapter shows.
MIN_TABLES: dict[str, int] = {
    "01_data": 4, "02_preprocessing": 2, "03_architecture": 2, "04_training": 2,
    "05_hardware": 2, "06_results": 2, "07_blurry_robustness": 1, "08_misclassification": 1,
}


def _require(stem: str) -> None:
    earlier = NOTEBOOKS[: NOTEBOOKS.index(stem) + 1]
    for chapter in earlier:
        for module in NEEDS[chapter]:
            pytest.importorskip(module, reason=f"{module} (needed by {chapter}) not written yet")
    if stem in ("01_data",) or any("hrcn_lib.simulate" in NEEDS[c] for c in earlier):
        from hrcn_lib import simulate

        if not hasattr(simulate, "simulate_dataset"):
            pytest.skip("hrcn_lib.simulate.simulate_dataset not written yet")


def _outputs(nb, mime: str) -> int:
    return sum(1 for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []) if mime in out.get("data", {}))


def test_sources_are_clean_and_parameterised():
    for stem in NOTEBOOKS:
        nb = nbformat.read(REPO_ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        nbformat.validate(nb)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{stem}: expected one cell tagged 'parameters'"
        for name in ("profile", "run_dir", "data_dir", "device", "seed"):
            assert f"{name} =" in tagged[0].source, f"{stem}: parameter {name} missing"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{stem}: has outputs"
        assert nb.metadata["kernelspec"]["name"] == "python3"
        first = nb.cells[0].source
        assert "What the paper says" in first and "zhang2023hrcelestialnet" in first, stem


def test_generator_reproduces_the_committed_notebooks(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("mk", REPO_ROOT / "notebooks" / "_make_notebooks.py")
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    monkeypatch.setattr(mk, "HERE", tmp_path)
    mk.main()
    for stem in NOTEBOOKS:
        fresh = json.loads((tmp_path / f"{stem}.ipynb").read_text())
        committed = json.loads((REPO_ROOT / "notebooks" / f"{stem}.ipynb").read_text())
        assert fresh == committed, f"{stem}.ipynb is stale: run notebooks/_make_notebooks.py"


@pytest.mark.slow
@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_chapter_executes(stem, smoke_book):
    _require(stem)
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
