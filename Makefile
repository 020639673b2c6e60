# `make test` and `make demo` work on a fresh clone: they build .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REAL_FRAMES ?= ../shared/real-frames

.PHONY: test demo bench lint clean

$(BIN)/mxqc: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

test: $(BIN)/mxqc
	$(BIN)/python -m pytest -q

demo: $(BIN)/mxqc
	BIN=$(BIN) REAL_FRAMES=$(REAL_FRAMES) scripts/demo.sh

bench: $(BIN)/mxqc
	$(BIN)/python benchmarks/bench_foundation.py
	$(BIN)/python benchmarks/bench_scan.py

lint: $(BIN)/mxqc
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
