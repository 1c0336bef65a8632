# lossbook: `make book` builds the site, `make test` runs everything CI runs.
# Both create .venv and install the pinned requirements and lossbook on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard chapters/*.ipynb))
# `make execute NB=chapters/x.ipynb` runs one notebook; without NB, every chapter.
NB ?= $(NOTEBOOKS)
# `make install TORCH_INDEX=https://download.pytorch.org/whl/cpu` takes PyTorch's CPU-only wheel
# from that index. Without it pip takes torch==2.13.0 from the indexes it is configured with;
# on a machine that reaches only the public PyPI that is the CUDA build (about 5.7 GB installed).
TORCH_INDEX ?=
export PYTHONHASHSEED := 0
SHELL := /bin/bash

# Kernels talk to their client over local IPC sockets, not TCP ports: nothing listens on the
# network, and ipykernel has no reason to warn that TCP is unencrypted. The sockets are named
# after the kernel's connection file, which must then be an absolute path (a relative socket
# name would be resolved once from the client's and once from the kernel's directory).
KERNEL_OPTS := --KernelManager.transport=ipc
KERNEL_FILE = --KernelManager.connection_file="$$(mktemp -u "$${TMPDIR:-/tmp}/lossbook-kernel-XXXXXX.json")"
# Execute from a fresh kernel, then merge consecutive stream outputs (how stdout is cut into
# pieces depends on flush timing), record the run in the notebook's metadata (date, seconds,
# status, versions: _ext/execution_record.py, shown by the Execution status appendix), then strip
# volatile metadata but keep outputs, counts and that record: re-executing an unchanged notebook
# changes nothing but the record.
EXECUTE := $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	--ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=300 $(KERNEL_OPTS) $(KERNEL_FILE) \
	--NotebookExporter.preprocessors='["nbconvert.preprocessors.CoalesceStreamsPreprocessor"]'
STRIP := $(BIN)/nbstripout --keep-output --keep-count --extra-keys "metadata.jupytext"

.PHONY: help install book test lint unit nbval portable site browser execute lab bench pdf clean

help:
	@echo "make book     build the website into _build/html"
	@echo "make test     lint, strict book build, browser test, package tests, strict notebook validation"
	@echo "make execute  re-run every chapter notebook in place from a fresh kernel (NB=path for one)"
	@echo "make lab      open JupyterLab on the chapters"
	@echo "make bench    time every notebook against the import floor, and the registry-wide cross-check"
	@echo "make pdf      the whole book as one PDF, _build/lossbook.pdf (needs TeX: see README)"
	@echo "make clean    remove _build (keeps .venv; rm -rf .venv to reinstall)"

$(STAMP): requirements.txt pyproject.toml kernel/ipython_kernel_config.py
	@echo "==> [1/4] virtual environment $(VENV) ($(PYTHON))"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [2/4] pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> [3/4] requirements.txt: PyTorch, SymPy, Jupyter Book, ... (a few minutes the first time)"
	@set -o pipefail; $(BIN)/python -m pip install --progress-bar off \
		$(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -r requirements.txt 2>&1 \
		| tee $(VENV)/install.log | { grep --line-buffered -E "^(Collecting|Installing collected|Successfully installed)" || true; } \
		|| { echo "pip failed; the end of $(VENV)/install.log:"; tail -n 40 $(VENV)/install.log; exit 1; }
	@echo "==> [4/4] lossbook from this checkout (editable)"
	@$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/python -c "import torch; print('==> done: torch', torch.__version__, '(CUDA build)' if torch.version.cuda else '(CPU build)')"
	@mkdir -p $(VENV)/etc/ipython && cp kernel/ipython_kernel_config.py $(VENV)/etc/ipython/
	@touch $(STAMP)

install: $(STAMP)

book: install
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lossbook tests _ext

unit: install
	$(BIN)/python -m pytest -q -n 2 --ignore=tests/test_browser.py

nbval: install
	$(BIN)/python -m pytest -q --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg \
		-n 2 --dist loadscope chapters/

# nbval again, with the kernels another x86-64 CPU would use (AVX2 instead of AVX-512 in PyTorch,
# MKL and OpenBLAS; one thread): a stored output that passes here and in `make nbval` does not
# depend on which machine executed it. Run it after `make execute`.
portable: install
	ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 OPENBLAS_CORETYPE=Haswell OMP_NUM_THREADS=1 \
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg -n 2 --dist loadscope $(NB)

site: install
	rm -rf _build/html
	$(BIN)/jupyter-book build . -W -n --keep-going

# Headless Chromium over every built page, offline (needs `make site` first; screenshots and
# measurements go to _build/screenshots and _build/browser-report).
browser: install
	$(BIN)/python -m pytest -q -n 2 tests/test_browser.py

test: lint site browser unit nbval

execute: install
	@for nb in $(NB); do \
		echo "executing $$nb"; \
		start=$$(date +%s.%N); \
		$(EXECUTE) "$$nb" || exit 1; \
		$(BIN)/python _ext/execution_record.py "$$nb" --since "$$start" || exit 1; \
		$(STRIP) "$$nb" || exit 1; \
	done

# --allow-root only when run as root (containers): Jupyter refuses root without it.
lab: install
	$(BIN)/jupyter lab $(KERNEL_OPTS) $(if $(filter 0,$(shell id -u)),--allow-root) chapters/

bench: install
	$(BIN)/python tests/bench.py

# The whole book as a PDF through Jupyter Book's LaTeX builder and XeLaTeX, then checked
# (tests/check_pdf.py: no missing glyph, no code line past the margin, every chapter there).
# TeX comes from Debian: apt-get install $(PDF_APT) (README, "The PDF").
PDF_APT := texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended \
	fonts-freefont-otf fonts-dejavu-core tex-gyre latexmk poppler-utils
pdf: install
	@for tool in xelatex latexmk pdftotext; do command -v $$tool >/dev/null || \
		{ echo "make pdf needs $$tool: apt-get install $(PDF_APT)"; exit 1; }; done
	rm -rf _build/latex
	$(BIN)/jupyter-book build . --builder pdflatex
	$(BIN)/python tests/check_pdf.py
	cp _build/latex/lossbook.pdf _build/lossbook.pdf
	@echo "Open $(CURDIR)/_build/lossbook.pdf"

clean:
	rm -rf _build .pytest_cache .ruff_cache .hypothesis
