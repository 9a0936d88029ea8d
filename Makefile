# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: run test install lint typecheck schema schema-check clean

run: install ## migrate the SQLite database, load demo data, serve GraphiQL on :8000
	$(BIN)/gql-progress migrate
	$(BIN)/gql-progress seed-demo
	$(BIN)/gql-progress serve

test: install lint typecheck schema-check ## lint, types, schema drift, then the test suite
	$(BIN)/pytest

install: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gql_progress needs Python >= 3.11; run: make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

schema: install ## regenerate schema.graphql from the code
	$(BIN)/gql-progress export-schema

schema-check: install
	$(BIN)/gql-progress export-schema --check

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

.PHONY: bench
bench: install ## benchmark on PostgreSQL (bench/README.md); BENCH_ARGS="--scale 0.1 --quick" for a smoke run
	$(BIN)/python -m bench $(BENCH_ARGS)
