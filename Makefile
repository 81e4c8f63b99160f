# Two entry points a user needs: `make demo` and `make test` (see README.md).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# torch must be the local CPU wheel: a bare `torch` requirement pulls a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: demo test lint typecheck pytest venv dev clean bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Every extra (the transformer model pulls torch); `pip install -e .` alone is the light CLI and Action (README).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[all]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	CIMEDIC_HOME=$${CIMEDIC_HOME:-.cimedic-demo} $(BIN)/cimedic analyze --format text examples/*.log

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check agent knowledge webhooks actions tests bench
	$(BIN)/ruff format --check agent knowledge webhooks actions tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .cimedic-demo .mypy_cache .pytest_cache .ruff_cache
