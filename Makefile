# The two commands: `make plan` (run exoform against the demo tenant) and `make test`.
# `make check` is the quick loop while working: lint and the fast tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: plan check test test-long lint fmt schema bench clean tests-fast tests-all

# pytest keeps its rewritten test modules as bytecode: with bytecode switched off (some shells export
# PYTHONDONTWRITEBYTECODE) every pytest worker and every exoform subprocess compiles them all again.
unexport PYTHONDONTWRITEBYTECODE

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

plan: $(STAMP)
	$(BIN)/exoform plan

# Lint and the tests run side by side (-j2): lint is mostly one core's work, the tests wait on sockets.
check: $(STAMP)
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint tests-fast

# Every tier but long: what CI runs (.ci/run).
test: $(STAMP)
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint tests-all

tests-fast: $(STAMP)
	$(BIN)/pytest -n auto --dist worksteal -m fast

# One worker more than CPUs: the whole suite spends about a fifth of its time waiting on sockets and
# deadlines (hostile servers, latency), and the extra worker runs tests in those waits.  The fast tier
# waits on nothing, so it keeps one worker per CPU.  CPUs are counted as pytest-xdist's auto does (the
# ones this process may run on, where the system says).
ALL_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(len(getattr(os, "sched_getaffinity", lambda _: range(os.cpu_count() or 1))(0)) + 1)')

tests-all: $(STAMP)
	$(BIN)/pytest -n $(ALL_WORKERS) --dist worksteal

test-long: $(STAMP)
	$(BIN)/pytest -m long -o addopts='-q -p no:cacheprovider --import-mode=importlib'

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/ruff format --check reconciler tests bench
	$(BIN)/mypy
	$(BIN)/zizmor --offline --no-progress .github/workflows

fmt: $(STAMP)
	$(BIN)/ruff check --fix reconciler tests bench
	$(BIN)/ruff format reconciler tests bench

schema: $(STAMP)
	$(BIN)/exoform schema

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
