# The course's commands. Needs only python3 (3.11+) with venv and pip, and make.
#   make lab    start JupyterLab on 127.0.0.1 at notebooks/00_start_here.ipynb
#   make test   package tests, every notebook (twice, with its testbook checks), Korean notebooks (once), Binder and browser checks
#   make check  the fast tier while you work: package tests only, no notebook, nothing marked slow
#   make bench  print the benchmark ratios
#   make compose-test  the exported capstone, run for real under Docker Compose (needs a Docker engine; else it says so)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Re-install only when pyproject.toml (the pins) changed since the last install.
STAMP  := $(VENV)/.labsvc-installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check

# Every notebook runs in tests/: an English one once per session, twice in one
# kernel; a Korean one once (see tests/conftest.py).
.PHONY: venv install lab test check bench clean

# JupyterLab's default overrides (no "news" pop-up, no update check); binder/postBuild does the same on Binder.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings

venv install: $(STAMP) $(LAB_SETTINGS)/overrides.json

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "labsvc needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1). Try: make PYTHON=python3.11 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing the pinned packages into $(VENV) (a few minutes the first time)..."
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[test]"
	@touch $@

$(LAB_SETTINGS)/overrides.json: binder/overrides.json | $(STAMP)
	@mkdir -p $(LAB_SETTINGS)
	cp binder/overrides.json $@

# Jupyter refuses to run as root (containers, CI) unless told to.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

# The printed URL opens notebooks/00_start_here.ipynb, with the repository as
# JupyterLab's root (as on Binder), so datasets/ and labsvc/ are browsable too.
# `make lab START=notebooks/ko/00_start_here.ipynb` opens the Korean edition instead.
# JupyterLab logs only warnings, so the URL is the last thing on screen when it is ready;
# it opens a browser itself where a desktop session can show one (macOS, or a DISPLAY).
START ?= notebooks/00_start_here.ipynb
OPEN_BROWSER := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)
lab: install
	@echo "Starting JupyterLab; open the URL below when it appears (Ctrl-C twice stops it)."
	@$(BIN)/jupyter lab --ip=127.0.0.1 $(OPEN_BROWSER) $(ALLOW_ROOT) --ServerApp.log_level=WARN --LabApp.log_level=WARN \
	  --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/$(START)

# One pytest run: tests/ (package tests; every notebook top to bottom twice in
# one kernel, then its testbook checks on that kernel; every Korean notebook
# once; the outputs of both editions at 1280 px; the Binder and browser checks).
test: install
	MPLBACKEND=Agg $(BIN)/python -m pytest tests -n auto --dist loadgroup --durations=15

# The fast tier: what a maintainer runs after each change (a few minutes at most).
check: install
	MPLBACKEND=Agg $(BIN)/python -m pytest tests -m "not slow" -q

bench: install
	@set -e; for f in benchmarks/bench_*.py; do \
	  [ -e "$$f" ] || { echo "no benchmarks/bench_*.py yet"; break; }; \
	  echo "== $$f"; $(BIN)/python $$f; \
	done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .bench
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +

# The capstone's export run for real under Docker Compose and checked end to end
# (docker/compose_test.py): builds the image (on a local Debian base image when no
# registry is reachable), brings the system up, runs the journeys, crashes, a pause and
# a real `chaos run`, then removes everything it made. Where no Docker engine runs or
# can be started, it prints one line and checks nothing.
.PHONY: compose-test base-image
compose-test: install
	$(BIN)/python docker/compose_test.py $(COMPOSE_TEST_ARGS)

# The local base image alone (Debian's python3 via debootstrap; reused once built).
base-image:
	bash docker/base-image.sh
