# The two commands: `make plan` (run exoform against the demo tenant) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: plan test test-long lint fmt schema bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

plan: $(STAMP)
	$(BIN)/exoform plan

test: lint
	$(BIN)/pytest -n auto

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
