# Parvis: the two commands of the README, and the helpers behind them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test lint messages bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"

## Install Parvis, create the demo city on SQLite and serve it on http://127.0.0.1:8000
demo:
	./scripts/demo

## Install the test dependencies and run the whole suite (SQLite and PostgreSQL, browser included)
test:
	./scripts/test

lint: install-test
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports

## Extract translatable strings and merge them into every catalog (then translate the new entries)
messages: install-test
	$(BIN)/python scripts/messages.py

bench: install-test
	$(BIN)/python bench/page_weight.py
	$(BIN)/python bench/locate_district.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
