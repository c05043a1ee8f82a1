# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run migrate test lint types contracts-check imports unit bench infra clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Everything in one process on embedded defaults (SQLite, in-memory bus): no server needed.
run: install
	$(BIN)/deskline run

migrate: install
	$(BIN)/deskline migrate

## Lint, types, architecture contracts, event contracts, then the whole suite on real servers.
test: install infra lint types imports contracts-check unit

infra:
	@bash scripts/ensure-infra.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy contracts kit services tests

imports: install
	$(BIN)/lint-imports

contracts-check: install
	$(BIN)/python -m contracts check

# pytest exits 5 when it collected nothing; that must fail, never pass silently.
unit: install
	@$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

## Benchmarks print ratios against a baseline measured in the same run (not part of `make test`).
bench: install infra
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
