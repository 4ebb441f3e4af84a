# The two commands a newcomer types: `make demo` and `make test`.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
USERS   ?= 50000
HOST    ?= 127.0.0.1
PORT    ?= 8000

.PHONY: demo test check lint typecheck imports bench install clean sdk migration

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/siyu demo --users $(USERS) --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest -m "not slow"

check: lint typecheck imports test

lint: $(STAMP)
	$(BIN)/ruff format --check siyu tests bench
	$(BIN)/ruff check siyu tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# Rebuild the shipped web SDK (siyu/sdk_assets/siyu.js) from sdk/web/siyu.js with esbuild from
# the npm registry. Not needed to test: the built file is committed and its source hash checked.
sdk:
	node sdk/build.mjs

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf .siyu .pytest_cache .mypy_cache .ruff_cache

# Until the first release the schema is one migration, regenerated from the tables.
migration: $(STAMP)
	$(BIN)/python scripts/regenerate_migration.py
