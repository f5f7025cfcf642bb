# Every target creates .venv when it is missing, so `make demo` and `make test` are the
# only two commands a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Azurite, Microsoft's storage emulator, for the azurerm state backend tests (Node.js + npm).
AZURITE_VERSION := 3.35.0
AZURITE := .azurite/node_modules/.bin/azurite-blob

.PHONY: install azurite test lint demo bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Installed on demand like the venv; without npm the Azurite tests skip and say why.
$(AZURITE):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --no-save --prefix .azurite azurite@$(AZURITE_VERSION); \
	else echo "npm not found: the Azure Blob state tests will be skipped"; fi

azurite: $(AZURITE)

test: $(STAMP) $(AZURITE)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check sssctl tests bench
	$(BIN)/mypy --strict sssctl

demo: $(STAMP)
	$(BIN)/sssctl demo

# Options pass through, e.g. make bench BENCH_ARGS="--quick" (see bench/run.py --help).
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .azurite .mypy_cache .ruff_cache .pytest_cache .hypothesis
