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
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

## Extract translatable strings and update every catalog (then translate the new entries)
messages: install-test
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -k gettext -o src/parvis/locales/messages.pot --no-location --sort-output --omit-header .
	for lang in fr en vi km ar; do \
	  if [ -f src/parvis/locales/$$lang/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel update -i src/parvis/locales/messages.pot -d src/parvis/locales -D messages -l $$lang --no-location --omit-header --no-fuzzy-matching; \
	  else \
	    $(BIN)/pybabel init -i src/parvis/locales/messages.pot -d src/parvis/locales -D messages -l $$lang; \
	  fi; \
	done

bench: install-test
	$(BIN)/python bench/page_weight.py
	$(BIN)/python bench/locate_district.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
