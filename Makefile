# One-command set-up: a virtual environment with the CPU build of PyTorch pinned, then the task.
# On a CUDA machine, pick the matching build instead: make TORCH="torch==2.13.0 --index-url ..." ...
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
BIN := $(VENV)/bin
DEMO ?= runs/demo

.PHONY: setup demo test lint bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

test: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
