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

# The whole chain through the service on the sample city, then the service left serving.
demo: $(STAMP)
	$(BIN)/skyledger demo --data-dir demo-data

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	-sh scripts/ensure-postgres.sh
	-sh scripts/ensure-browser.sh
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/compliance.py
	$(BIN)/python bench/flight.py
	$(BIN)/python bench/vision.py
	$(BIN)/python bench/ledger.py
	-command -v wrk >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk)
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) demo-out demo-data .pytest_cache .mypy_cache .ruff_cache
