# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Each builds its own virtual environment first. torch is installed alone, pinned to the
# local CPU build, before anything else resolves, so that no CUDA build is ever pulled.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test check bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sparsegrain tradeoff --out results/

test: $(STAMP)
	$(PY) -m pytest -q -n 2

# the lint rules and the type check (pyproject.toml says which); .ci/run runs it before the tests
check: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples scripts
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
