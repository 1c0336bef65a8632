# lossbook: `make book` builds the site, `make test` runs everything CI runs.
# Both create .venv and install the pinned requirements and lossbook on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard chapters/*.ipynb))
export PYTHONHASHSEED := 0

.PHONY: help install book test lint unit nbval site execute lab bench clean

help:
	@echo "make book     build the website into _build/html"
	@echo "make test     lint, package tests, strict notebook validation, strict book build, link check"
	@echo "make execute  re-run every chapter notebook in place from a fresh kernel"
	@echo "make lab      open JupyterLab on the chapters"
	@echo "make bench    time every notebook and the registry-wide cross-check"
	@echo "make clean    remove _build (keeps .venv; rm -rf .venv to reinstall)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

book: install
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lossbook tests

unit: install
	$(BIN)/python -m pytest -q -n 2

nbval: install
	$(BIN)/python -m pytest -q --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg \
		-n 2 --dist loadscope chapters/

site: install
	rm -rf _build/html
	$(BIN)/jupyter-book build . -W -n --keep-going

test: lint site unit nbval

execute: install
	@for nb in $(NOTEBOOKS); do \
		echo "executing $$nb"; \
		$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=300 "$$nb" || exit 1; \
		$(BIN)/nbstripout --keep-output --keep-count --extra-keys "metadata.jupytext" "$$nb" || exit 1; \
	done

lab: install
	$(BIN)/jupyter lab chapters/

bench: install
	$(BIN)/python tests/bench.py

clean:
	rm -rf _build .pytest_cache .ruff_cache .hypothesis
