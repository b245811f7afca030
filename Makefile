# minfo: set-up from nothing, tests, the book, one chapter, benchmarks.
#   make test                      ruff, notebooks clean + library in sync, tests/, every chapter at `smoke`, the smoke book in Chromium
#   make book [PROFILE=cpu] [DEVICE=auto] [EXECUTOR=local|ray]   every chapter through papermill, then the HTML book in _build/html
#   make run CH=02 [PROFILE=paper] [DEVICE=cuda]   one chapter into _runs/
#   make bench                     the benchmarks in bench/
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.minfo-installed
PROFILE ?= cpu
DEVICE ?= auto
CH ?= 02
EXECUTOR ?= local

# Exact pins, tested here (see DESIGN.md); the library's own requirements in settings.ini stay loose.
PINS := torch==2.14.1 torchvision==0.29.1 "jupyter-book>=1.0.4,<2" nbdev==2.4.14 "fastcore<2" "execnb<0.2" \
        papermill nbval pytest matplotlib scikit-learn tqdm ipykernel selenium pyyaml jupyter-server-mathjax setuptools wheel \
        "ray>=2.9" ruff==0.17.6 zuko==1.6.0

# Data: the argument of each chapter, else $MINFO_DATA; the offline MNIST mirror beside the project when present.
ifneq ($(wildcard ../shared/data/MNIST),)
export MINFO_DATA ?= $(abspath ../shared/data)
endif
export MINFO_RESULTS ?= $(abspath _results/$(PROFILE))

.PHONY: venv test book run bench chromium clean

venv: $(STAMP)

$(STAMP): settings.ini setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PINS)
	$(PY) -m pip uninstall -y -q minfo 2>/dev/null || true  # the distribution's old name (now minfo-lab), in older .venvs
	$(PY) -m pip install -q -e .
	touch $@

# Headless Chromium and its driver for the book checks (Debian packages), installed where missing.
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: $(STAMP) chromium
	$(VENV)/bin/ruff check minfo tests bench nbs
	MINFO_PROGRESS=0 MINFO_RESULTS=$(abspath _build/test/results) $(PY) -m pytest tests -ra

book: $(STAMP)
	MINFO_PROGRESS=0 $(PY) -m minfo.harness.book --profile $(PROFILE) --device $(DEVICE) --executor $(EXECUTOR) --results-dir $(MINFO_RESULTS)

run: $(STAMP)
	@nb=$$(ls nbs/$(CH)_*.ipynb 2>/dev/null | head -1); test -n "$$nb" || { echo "no chapter nbs/$(CH)_*.ipynb"; exit 2; }; \
	mkdir -p _runs && $(VENV)/bin/papermill "$$nb" "_runs/$$(basename $$nb)" -p profile $(PROFILE) -p device $(DEVICE) -p results_dir $(MINFO_RESULTS) \
	  $(if $(filter-out local,$(EXECUTOR)),-p executor $(EXECUTOR))

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf _build _runs .pytest_cache
