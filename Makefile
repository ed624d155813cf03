# Two commands do everything: `make book` (set up + build the HTML book with the
# cpu profile) and `make test` (set up + run the test suite). Each creates or
# refreshes the virtual environment in .venv first, with what it needs
# (pyproject.toml extras): the book installs hrcn-lib[book] (core + simulation +
# papermill / Jupyter Book), the tests hrcn-lib[dev] (everything + pytest, ruff,
# selenium). `make install` installs the core only (preprocess, train, evaluate,
# classify).

PYTHON ?= python3
VENV   ?= .venv
PROFILE ?= cpu
BIN    := $(VENV)/bin

.PHONY: book test install venv lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# $(VENV)/.installed-<extra>: the project installed (editable) with that extra; the
# kernel the chapters run in is registered for the extras that execute notebooks.
$(VENV)/.installed-%: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	if $(BIN)/python -c 'import ipykernel' 2>/dev/null; then \
	    $(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null; fi
	touch $@

$(VENV)/.installed-core: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

install: $(VENV)/.installed-core

venv: $(VENV)/.installed-dev

book: $(VENV)/.installed-book
	$(BIN)/hrcn book --profile $(PROFILE)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check hrcn_lib tests benchmarks setup.py
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check hrcn_lib tests benchmarks setup.py

bench: $(VENV)/.installed-dev
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build book/*.ipynb test-artifacts build dist
