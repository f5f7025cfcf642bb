# Every target creates .venv when it is missing, so `make demo` and `make test` are the
# only two commands a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Azurite, Microsoft's storage emulator, for the azurerm state backend tests (Node.js + npm).
AZURITE_VERSION := 3.35.0
AZURITE := .azurite/node_modules/.bin/azurite-blob

# The hash-pinned locks (requirements/*.txt) decide what is installed; pyproject.toml
# declares ranges. `make lock` refreshes them with uv for every platform and Python >= 3.10
# (keeping current pins where they still fit); LOCK_ARGS=--upgrade moves every pin forward,
# LOCK_ARGS="--upgrade-package NAME" one. tests/unit/packaging/test_lock.py fails until the
# locks agree with pyproject.toml again.
UV        ?= uv
LOCK_ARGS ?=
COMPILE   := $(UV) pip compile --universal --python-version 3.10 --generate-hashes \
             --custom-compile-command 'make lock' --quiet $(LOCK_ARGS)
# pyproject's [build-system] requires, so `pip install --no-deps --no-build-isolation .` builds
# sssctl with hash-checked setuptools too
SBOM_REQUIRES := $(PYTHON) -c "import tomllib; print(*[r for r in tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['dev'] if r.startswith('cyclonedx-bom')], sep='\\n')"
BUILD_REQUIRES := $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\\n')"

.PHONY: install lock azurite test lint demo bench sbom clean

$(STAMP): pyproject.toml requirements/dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lock:
	$(COMPILE) pyproject.toml -o requirements/runtime.txt
	$(COMPILE) pyproject.toml --extra emulator -o requirements/emulator.txt
	$(COMPILE) pyproject.toml --extra dev -o requirements/dev.txt
	$(BUILD_REQUIRES) | $(COMPILE) - -o requirements/build.txt
	$(SBOM_REQUIRES) | $(COMPILE) - -o requirements/sbom.txt

# A CycloneDX SBOM of exactly what a production install holds: the runtime lock and the
# sssctl wheel (built apart with the hashed build tools) in a fresh venv without pip or
# setuptools, read by cyclonedx-py. Writes sbom.cdx.json. The container build writes the same file
# into the image (/opt/sssctl/sbom.cdx.json).
SBOM_DIR := .sbom
sbom: $(STAMP)
	rm -rf $(SBOM_DIR)
	$(PYTHON) -m venv $(SBOM_DIR)/build
	$(SBOM_DIR)/build/bin/python -m pip install --quiet --require-hashes -r requirements/build.txt
	$(SBOM_DIR)/build/bin/python -m pip wheel --quiet --no-deps --no-build-isolation -w $(SBOM_DIR)/dist .
	$(PYTHON) -m venv --without-pip $(SBOM_DIR)/runtime
	$(SBOM_DIR)/build/bin/python -m pip --python $(SBOM_DIR)/runtime/bin/python install --quiet --require-hashes \
		-r requirements/runtime.txt
	$(SBOM_DIR)/build/bin/python -m pip --python $(SBOM_DIR)/runtime/bin/python install --quiet --no-deps $(SBOM_DIR)/dist/*.whl
	$(BIN)/cyclonedx-py environment $(SBOM_DIR)/runtime/bin/python --pyproject pyproject.toml \
		--output-reproducible --of JSON -o sbom.cdx.json
	rm -rf $(SBOM_DIR)

install: $(STAMP)

# Installed on demand like the venv; without npm the Azurite tests skip and say why.
$(AZURITE):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --no-save --prefix .azurite azurite@$(AZURITE_VERSION); \
	else echo "npm not found: the Azure Blob state tests will be skipped"; fi

azurite: $(AZURITE)

# One worker per logical CPU (at most 8): every worker has its own emulator and Azurite.
# Long end-to-end tests are uneven, so idle workers steal queued tests from busy ones.
TEST_WORKERS ?= logical
test: $(STAMP) $(AZURITE)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --maxprocesses=8 --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check sssctl tests bench
	$(BIN)/mypy --strict sssctl

demo: $(STAMP)
	$(BIN)/sssctl demo

# Options pass through, e.g. make bench BENCH_ARGS="--quick" (see bench/run.py --help).
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .sbom .azurite .mypy_cache .ruff_cache .pytest_cache .hypothesis
