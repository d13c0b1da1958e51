# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,dronekit,train]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m api.demo --out demo-out

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	-sh scripts/ensure-postgres.sh
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/compliance.py
	$(BIN)/python bench/flight.py
	$(BIN)/python bench/vision.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
