# One-command set-up: a virtual environment with the CPU build of PyTorch pinned, then the task.
# On a CUDA machine, pick the matching build instead: make TORCH="torch==2.13.0 --index-url ..." ...
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
BIN := $(VENV)/bin
DEMO ?= runs/demo
# The demo's CPU threads: auto takes the cores the machine's load leaves free.
THREADS ?= auto

.PHONY: setup demo test lint mutation

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

test: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# Mutation testing of the core (not in CI: it takes tens of minutes): mutmut mutates the modules
# [tool.mutmut] lists and runs the tests that cover each mutant; `mutmut results` lists the
# survivors, `mutmut show NAME` one of them. Figures and triage: benchmarks/RESULTS.md.
mutation: $(VENV)/.installed
	$(BIN)/pip install --quiet 'mutmut>=3.3'
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut export-cicd-stats && cat mutants/mutmut-cicd-stats.json

lint: $(VENV)/.installed
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

# The main job on the embedded corpus (docstrings of the standard library and dependencies): vocabulary -> shards
# -> pre-training -> detection. Each step is a file target, so a re-run skips what is done.
demo: $(DEMO)/run/discriminator/model.safetensors
	$(BIN)/electra report $(DEMO)/run
	$(BIN)/electra detect --model $(DEMO)/run/discriminator $(DEMO_TEXTS)

DEMO_TEXTS ?= "Return a new sorted list from the items in iterable." \
	"Return a new sorted list from the items in banana."

$(DEMO)/vocab/vocab.txt: $(VENV)/.installed
	$(BIN)/electra vocab --default-corpus --size 8000 --out $(DEMO)/vocab

$(DEMO)/shards/manifest.json: $(DEMO)/vocab/vocab.txt
	$(BIN)/electra prepare --default-corpus --vocab $(DEMO)/vocab --out $(DEMO)/shards --overwrite

$(DEMO)/run/discriminator/model.safetensors: $(DEMO)/shards/manifest.json
	$(BIN)/electra pretrain --preset tiny --data $(DEMO)/shards --out $(DEMO)/run --log-every 20 --eval-every 100 --threads $(THREADS) $(if $(wildcard $(DEMO)/run/checkpoints),--resume)
