# normlab: two commands.
#   make book   set up (.venv, dependencies, offline web assets) and build the book into _build/html
#   make test   set up what the tests need (the above, chromium) and run the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: book test setup assets chromium clean

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
	$(BIN)/python -m normlab.assets

book: assets
	$(BIN)/python -m normlab.build

# Debian's chromium for the browser tests; playwright cannot download a browser here.
chromium:
	command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core; }

test: book chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf _build _static/vendor .pytest_cache
