# normlab: two commands.
#   make book   set up (.venv, dependencies, offline web assets) and build the book into _build/html
#   make test   set up what the tests need (the above, chromium) and run the whole test suite
#   make check  (authors) the fast subset: unit, quiz and exercise-check tests; no browser,
#               no JupyterLab server, no nbgrader runs, no book build (well under a minute)
#   make lint   ruff (lint rules, formatting), import-linter (layers, no cycles) and mypy, all
#               configured in pyproject.toml; make test runs it beside the tests
#   make format ruff: fix what can be fixed automatically and format the code
#   make lab    set up (.venv) and open JupyterLab on the repository: chapters open as live notebooks
#   make formgrader  (instructors) JupyterLab with nbgrader's Formgrader on the course folder
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=
# Two workers; tests sharing an expensive session fixture share a worker, and the longest
# work starts first (tests/conftest.py: longest_first; xdist would otherwise reorder it).
PYTEST_PARALLEL ?= -n 2 --dist loadgroup --no-loadscope-reorder
CHECK_TESTS := tests/unit tests/test_quiz.py tests/test_widgets.py tests/exercises/test_exercise_checks.py
CHECK_MARKS := not browser and not jupyterlab and not slow and not nbgrader

.PHONY: book test check lint format setup assets chromium clean lab formgrader postgresql redis

setup: $(INSTALLED)

# Re-install only when the pins or the package metadata change.
$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# requirejs, the widget manager's dist/ and MathJax 3 from the npm registry, so
# the built book loads nothing from the internet (not committed: see .gitignore).
assets: $(INSTALLED)
	$(BIN)/python -m normlab.book.assets

book: assets
	$(BIN)/python -m normlab.book.build
	$(BIN)/python -m normlab.demos --quiet

# Debian's chromium for the browser tests; playwright cannot download a browser here.
chromium:
	command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core; }

# The project's Jupyter config (jupyter/) comes first on the config path; ~/.jupyter stays yours.
LAB_CONFIG := JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}
# JupyterLab refuses to start as root without --allow-root (fresh machines run as root).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(INSTALLED)
	$(LAB_CONFIG) $(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) $(LAB_ARGS)

# course/ is made by `python -m autograder release` (run it first if it is missing).
COURSE ?= course
formgrader: $(INSTALLED)
	test -f $(COURSE)/nbgrader_config.py || $(BIN)/python -m autograder --course $(COURSE) release
	cd $(COURSE) && NORMLAB_COURSE=$(abspath $(COURSE)) JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter/instructor:$(CURDIR)/jupyter \
	  $(abspath $(BIN))/jupyter lab $(LAB_ARGS)

# Debian's PostgreSQL server for the autograder's --db-url tests (started per test run by a
# pytest fixture on a free loopback port in a temp folder; never as a system service).
postgresql:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }

# Debian's redis-server, the broker of the distributed-grading tests (started per test by a
# pytest fixture on a free loopback port in a temp folder, --save ''; never as a service).
redis:
	command -v redis-server >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; }

# lint runs beside the tests, not before them: alone it takes most of a minute on a fresh
# clone (mypy, with no cache yet), beside them only its share of the two cores. Its report
# is printed when the tests end, and either failing fails `make test`; `make lint` alone is
# the quick check.
LINT_LOG := _build/lint.log
test: book chromium postgresql redis
	mkdir -p $(dir $(LINT_LOG))
	$(MAKE) --no-print-directory lint > $(LINT_LOG) 2>&1 & linting=$$!; \
	  status=0; $(BIN)/python -m pytest $(PYTEST_PARALLEL) --durations=15 $(PYTEST_ARGS) || status=$$?; \
	  if wait $$linting; then echo "make lint: clean"; else cat $(LINT_LOG); echo "make lint failed (above)"; status=1; fi; \
	  exit $$status

check: $(INSTALLED)
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) --durations=5 -m "$(CHECK_MARKS)" $(CHECK_TESTS) $(PYTEST_ARGS)

# Rules and format in pyproject.toml [tool.ruff]; `make format` fixes most findings.
# Import contracts in [tool.importlinter]; they replace a hand-written import test. Types:
# [tool.mypy] over its `files` (src/normlab and autograder).
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf _build _static/vendor .pytest_cache
