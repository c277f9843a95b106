# socialcare - developer entry points. The README promises two commands on a fresh machine:
#   make demo   (the main job on the embedded stack)      make test   (lint + all test tiers)
# Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
# the SAM CLI whose makefile builds docs/build.md describes
SAM_CLI_VERSION := 1.170.0
export AWS_DEFAULT_REGION ?= eu-west-1
STAMP := $(VENV)/.installed

.PHONY: install lock lock-upgrade demo local test lint unit integration reliability e2e validate build deploy bench \
        fuzz clean report-check bench-report-full

# Two lock files, both with the sha256 of every file (docs/build.md, "Lock files"):
#   requirements-dev.lock   this package's requirements and its `dev` extra, resolved for every
#                           platform from Python 3.11 up: what `make install` puts in .venv
#   shared/requirements.lock  the Lambda layer's, for manylinux2014_aarch64 / CPython 3.13
# The development lock is resolved within the layer's pins, so tests run the versions that ship.
DEV_LOCK := requirements-dev.lock
LAYER_LOCK := shared/requirements.lock

install: $(STAMP)

# Exactly the pinned, hash-checked versions, then this package itself (editable, no dependencies).
$(STAMP): $(DEV_LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Regenerate both lock files after a change to shared/requirements.txt, infra/requirements.txt or
# pyproject.toml's extras; pins move only where a range now excludes them. `make lock-upgrade`
# moves every pin to the newest release the ranges allow. Then `make install` applies the result.
lock:
	@test -x $(BIN)/uv || $(MAKE) --no-print-directory install
	$(MAKE) --no-print-directory -C shared lock UV="$(CURDIR)/$(BIN)/uv" LOCK_FLAGS="$(LOCK_FLAGS)"
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev -o $(DEV_LOCK) -c $(LAYER_LOCK) \
	  --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock" $(LOCK_FLAGS)

lock-upgrade:
	$(MAKE) --no-print-directory lock LOCK_FLAGS=--upgrade

demo: $(STAMP)
	$(BIN)/socialcare demo

local: $(STAMP)
	$(BIN)/socialcare local

test: lint unit integration reliability e2e

lint: $(STAMP)
	$(BIN)/ruff check shared infra functions tests events
	$(BIN)/mypy
	@# the layers point one way (docs/architecture.md): contracts in pyproject.toml
	$(BIN)/lint-imports
	@# every functions/<name>/app.py is module "app" in its own Lambda: type-check each alone
	@for f in functions/*/app.py; do $(BIN)/mypy "$$f" >/dev/null || { $(BIN)/mypy "$$f"; exit 1; }; done

unit: $(STAMP)
	$(BIN)/pytest -q -n auto tests/unit tests/fuzz

# Every integration test builds its own moto in-process: they run on every core (pytest-xdist)
integration: $(STAMP)
	$(BIN)/pytest -q -n auto tests/integration

# Redelivery, poison messages, injected AWS faults, concurrent first contact, accounting: the real
# functions on moto built from template.yaml (docs/reliability.md)
reliability: $(STAMP)
	$(BIN)/pytest -q -n auto tests/reliability

# Each e2e module starts its own `socialcare local` on free ports: whole files per worker
e2e: $(STAMP)
	$(BIN)/pytest -q -n auto --dist loadfile tests/e2e

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet 'aws-sam-cli==$(SAM_CLI_VERSION)'
	touch $@

# Lint the template (cfn-lint, then SAM's own lint), check the design guards, and build the
# layer and every function (docs/build.md). --cached reuses the layer while shared/ is unchanged
# (its third-party dependencies are cached apart, keyed by shared/requirements.lock); functions
# always rebuild.
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam

validate: $(STAMP) $(SAM_VENV)/.installed
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/test_template.py
	$(SAM) build --template template.yaml --cached --parallel

build: validate

# Validate and build as above, then deploy .aws-sam/build with samconfig.toml's settings (stack
# socialcare, eu-west-1, Stage=dev; it shows the change set and asks before applying it). The
# first deploy of a stack: `make deploy DEPLOY_ARGS=--guided` (or `sam deploy --guided`), which
# asks for the parameters and saves the answers to samconfig.toml. DEPLOY_ARGS passes anything
# else to `sam deploy`, e.g. DEPLOY_ARGS='--config-env prod'.
deploy: validate
	$(SAM) deploy $(DEPLOY_ARGS)

# Opt-in: the long fuzzing profile, at least 10,000 examples per property and parser (tests/fuzz;
# `make test` runs the short "ci" profile). FUZZ_EXAMPLES=N for more.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q -n auto -o timeout=0 tests/fuzz

# Opt-in benchmarks (bench/README.md); each merges its own keys into bench/results.json. Both run
# even when the first misses a goal; the target fails if either did. The second prints the table.
bench: $(STAMP)
	@status=0; \
	$(BIN)/python -m bench.recognition.run --out bench/results.json || status=1; \
	$(BIN)/python -m bench.run --out bench/results.json || status=1; \
	$(BIN)/python -m bench.report --interactions 15000 --out bench/results.json || status=1; \
	exit $$status

# Opt-in: the report bench at the issue's volume, 100,000 interactions over 90 days. Building the
# report reads only day counters, so its time hardly grows with volume; feeding 384,000 stream
# records through the aggregator on in-process moto takes about 18 minutes on two cores, which is
# why `make bench` feeds 15,000 (bench/README.md).
bench-report-full: $(STAMP)
	$(BIN)/python -m bench.report --interactions 100000 --days 90 --out bench/results.json

# Opt-in: the stakeholder report (docs/reports.md) of a generated quarter, rendered by Debian's
# chromium (installed if missing) to a PNG for a person to look at: build/report-check/.
REPORT_CHECK := build/report-check
report-check: $(STAMP)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	rm -rf $(REPORT_CHECK) && mkdir -p $(REPORT_CHECK)
	$(BIN)/python -m bench.report --interactions 8000 --days 45 --no-results \
	  --html $(REPORT_CHECK)/report.html --csv $(REPORT_CHECK)/csv
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
	  --disable-component-update --disable-sync --user-data-dir=$$(mktemp -d) --hide-scrollbars \
	  --screenshot=$(CURDIR)/$(REPORT_CHECK)/report.png --window-size=1280,11000 file://$(CURDIR)/$(REPORT_CHECK)/report.html
	@echo "look at $(REPORT_CHECK)/report.png (and $(REPORT_CHECK)/report.html)"

clean:
	rm -rf .aws-sam .socialcare-local .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
