# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUM    := $(shell cksum < pyproject.toml | cut -d' ' -f1)
# Running needs the runtime dependencies only; the dev extras (pytest, mypy, ruff, hypothesis…)
# are installed by the targets that use them. Each stamp is redone when pyproject.toml changes.
STAMP     := $(VENV)/.installed-run-$(SUM)
DEV_STAMP := $(VENV)/.installed-dev-$(SUM)
PIP       := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test install install-dev lint typecheck schema schema-check clean

# `PORT=8080 make run` when 8000 is taken (seed-demo's link and the server both follow it).
ifdef PORT
run: export GQL_PROGRESS_PORT := $(PORT)
endif
run: install ## migrate the SQLite database, load demo data, serve GraphiQL on :8000 (or $PORT)
	$(BIN)/gql-progress migrate
	$(BIN)/gql-progress seed-demo
	$(BIN)/gql-progress serve

test: install-dev lint typecheck schema-check ## lint, types, schema drift, then the test suite
	$(BIN)/pytest

install: $(STAMP)

install-dev: $(DEV_STAMP)

define venv
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gql_progress needs Python >= 3.11; run: make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
endef

$(STAMP):
	$(venv)
	$(PIP) -e .
	@rm -f $(VENV)/.installed-run-* && touch $@

# The dev extras include everything running needs: one pip run, and both stamps are current.
$(DEV_STAMP):
	$(venv)
	$(PIP) -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@ $(STAMP)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

schema: install ## regenerate schema.graphql and possible-types.json from the code
	$(BIN)/gql-progress export-schema
	$(BIN)/gql-progress export-possible-types

schema-check: install
	$(BIN)/gql-progress export-schema --check
	$(BIN)/gql-progress export-possible-types --check

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

.PHONY: bench
bench: install ## benchmark on PostgreSQL (bench/README.md); BENCH_ARGS="--scale 0.1 --quick" for a smoke run
	$(BIN)/python -m bench $(BENCH_ARGS)
