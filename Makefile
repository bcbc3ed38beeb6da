# One command to set up, one to run, one to test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0
export DO_NOT_TRACK := 1
export KEDRO_DISABLE_TELEMETRY := true

.PHONY: install run test lint format viz viz-build

install: $(BIN)/kedro

$(BIN)/kedro: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first, pinned, so no later step can pull a CUDA build.
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[dev,viz,nwb]" "torch==$(TORCH_VERSION)"
	touch $(BIN)/kedro

run: install
	$(BIN)/kedro run

test: install
	$(BIN)/python -m pytest

lint:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format:
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

viz: install
	$(BIN)/kedro viz run --no-browser

# Static site in build/; the proxy points at a closed local port so the build's version check
# against the package index fails at once instead of leaving this machine.
viz-build: install
	HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 $(BIN)/kedro viz build
