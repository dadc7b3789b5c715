# koop: the two commands of the README, and the rest of the developer loop.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.koop-installed
PEERS := .venv-peers
PYDMD := .venv-pydmd
DATAFOLD := .venv-datafold

.PHONY: demo test lint docs bench bench-fields venv clean

venv: $(STAMP)

# torch comes first, pinned, so that the CPU build on disk is used (an unpinned torch
# pulls a multi-GB CUDA build); the extras' torch range is then already satisfied.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[torch,dask,plot,dev,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/koop demo

test: $(STAMP)
	$(PY) -m pytest -q --cov=koop --cov-report=term:skip-covered

lint: $(STAMP)
	$(VENV)/bin/ruff check koop tests benchmarks

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

# Peers (pykoopman 1.2.1 needs setuptools<82 and pins old scikit-learn/pydmd) live in
# their own venv so that they never change koop's environment.
$(PEERS)/.installed:
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet torch==2.13.0
	$(PEERS)/bin/python -m pip install --quiet 'setuptools<82' pykoopman==1.2.1 kooplearn deeptime pydmd psutil
	touch $@

# datafold 2.x pins scikit-learn ~1.2 against pykoopman's 1.1.3: in the peers venv pip
# falls back to datafold 1.0.0, which fails with today's numpy, pandas and scikit-learn
# (np.int, a recursion in TSCDataFrame, EDMD's read-only feature_names_in_).
$(DATAFOLD)/.installed:
	$(PYTHON) -m venv $(DATAFOLD)
	$(DATAFOLD)/bin/python -m pip install --quiet --upgrade pip
	$(DATAFOLD)/bin/python -m pip install --quiet datafold==2.0.2 psutil
	touch $@

bench: $(STAMP) $(PEERS)/.installed $(DATAFOLD)/.installed
	$(PY) benchmarks/gram.py

# The current PyDMD release (with BOPDMD) in a venv of its own: pykoopman pins .venv-peers
# to PyDMD 0.4.1. benchmarks/fields.py runs it as a subprocess.
$(PYDMD)/.installed:
	$(PYTHON) -m venv $(PYDMD)
	$(PYDMD)/bin/python -m pip install --quiet --upgrade pip
	$(PYDMD)/bin/python -m pip install --quiet 'pydmd>=2025.1' psutil
	touch $@

bench-fields: $(STAMP) $(PYDMD)/.installed
	$(PY) benchmarks/fields.py

clean:
	rm -rf $(VENV) $(PEERS) $(PYDMD) $(DATAFOLD) koop-report site .pytest_cache
