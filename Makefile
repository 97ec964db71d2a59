# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Each builds its own virtual environment first. torch is installed alone, pinned to the
# local CPU build, before anything else resolves, so that no CUDA build is ever pulled.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test check bench clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sparsegrain tradeoff --out results/

test: $(STAMP) browser
	$(PY) -m pytest -q -n 2

# the report's browser test renders the page in headless Chromium: installed here where apt-get
# can (as root); elsewhere the test skips and says why
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "no Chromium installed (needs root and apt-get): the browser test will skip"

# the lint rules and the type check (pyproject.toml says which); .ci/run runs it before the tests
check: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples scripts
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
