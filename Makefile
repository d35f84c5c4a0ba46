# Every target creates and uses the virtual environment in .venv on its own.
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
SYSPY   ?= python3

.PHONY: run test lint bench clean system-deps

$(STAMP): pyproject.toml sdk/pyproject.toml
	test -x $(PYTHON) || $(SYSPY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	# relgate-sdk (sdk/) first: the server depends on it, and no index has this checkout's
	$(PYTHON) -m pip install --quiet -e ./sdk -e '.[test]'
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
## PostgreSQL, servers), end-to-end (the CLI and API against real servers), browser (the web UI in
## Debian's Chromium through Playwright); a failure names its tier
TIERS := unit integration e2e browser
test: lint system-deps
	@for tier in $(TIERS); do \
	    echo "== make test: the $$tier tier (tests/$$tier)"; \
	    $(PYTHON) -m pytest tests/$$tier || { \
	        code=$$?; echo "make test: the $$tier tier FAILED (pytest exit $$code)" >&2; exit $$code; }; \
	done

## system-deps: the Debian packages the tests run for real, installed once when missing:
## docker-registry (the OCI registry of tests/support/registry.py), chromium (the browser tier),
## prometheus (the metric analysis's real Prometheus, tests/support/prometheus.py),
## haproxy (the routing tests and bench, run in the foreground: never the system service)
SYSTEM_PACKAGES := docker-registry chromium prometheus haproxy
system-deps:
	@{ command -v docker-registry && test -x /usr/bin/chromium && command -v prometheus \
	    && { command -v haproxy || test -x /usr/sbin/haproxy; }; } >/dev/null 2>&1 || { \
	    test "$$(id -u)" = 0 || { echo "make: run as root, or apt-get install -y $(SYSTEM_PACKAGES)" >&2; exit 1; }; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES) \
	    || { apt-get update && apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES); }; }

## bench: the benchmarks against peer tools; figures go to bench/RESULTS.md by hand.
## The control plane is measured at BENCH_BASELINE (before the deployment model of issue 8)
## and at the working tree, in the same run.
BENCH_BASELINE ?= 74289a5
## versioning before the real-history fixes of issue 10
CALIBRATE_BASELINE ?= ee11c46
bench: $(STAMP)
	$(PYTHON) bench/versioning.py
	$(PYTHON) bench/calibrate.py --baseline $(CALIBRATE_BASELINE)
	$(PYTHON) bench/control_plane.py --baseline $(BENCH_BASELINE)
	$(PYTHON) bench/flags.py
	$(PYTHON) bench/hostile.py
	$(PYTHON) bench/notify.py
	$(PYTHON) bench/web_overview.py
	$(PYTHON) bench/web_audit.py
	$(PYTHON) bench/routing.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
