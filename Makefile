# Every target creates and uses the virtual environment in .venv on its own.
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
SYSPY   ?= python3

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PYTHON) || $(SYSPY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: start the relgate server on the embedded SQLite default (relgate.db here)
run: $(STAMP)
	$(VENV)/bin/relgate serve

## lint: ruff (lint and format) and mypy
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

## test: lint, types, then the test tiers in order: unit, integration (real git, SQLite,
## PostgreSQL, servers), end-to-end (the CLI and API against real servers); a failure names its tier
TIERS := unit integration e2e
test: lint
	@for tier in $(TIERS); do \
	    echo "== make test: the $$tier tier (tests/$$tier)"; \
	    $(PYTHON) -m pytest tests/$$tier || { \
	        code=$$?; echo "make test: the $$tier tier FAILED (pytest exit $$code)" >&2; exit $$code; }; \
	done

## bench: the benchmarks against peer tools; figures go to bench/RESULTS.md by hand
bench: $(STAMP)
	$(PYTHON) bench/versioning.py
	$(PYTHON) bench/control_plane.py
	$(PYTHON) bench/flags.py
	$(PYTHON) bench/hostile.py
	$(PYTHON) bench/notify.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
