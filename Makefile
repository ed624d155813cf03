# Two commands do everything: `make book` (set up + build the HTML book with the
# cpu profile) and `make test` (set up + run the test suite). Each creates or
# refreshes the virtual environment in .venv first.

PYTHON ?= python3
VENV   ?= .venv
PROFILE ?= cpu
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test venv lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	$(BIN)/hrcn book --profile $(PROFILE)

test: $(STAMP)
	$(BIN)/ruff check hrcn_lib tests benchmarks notebooks/_make_notebooks.py
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check hrcn_lib tests benchmarks

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build book/*.ipynb test-artifacts
