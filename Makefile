# Two commands do everything on a fresh machine (Python 3.11 + pip):
#   make report   set up .venv, write the demo data if data/raw is empty, run the demo trust's report
#   make test     set up .venv, run the whole test suite
# `make report WORKBOOK=path/x.xlsx` runs the report on your own workbook instead.
# `make help` lists every target.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TRUST ?= norfolk-and-suffolk
AUDIENCE ?= internal
# Your own workbook for `make report` (empty: the demo trust's).
WORKBOOK ?=
# The inspectors' ratings of the domain-one standards (`report --standard-ratings`): a file,
# or a folder holding <trust>.ratings.csv (or .yaml). Default: the raw folder, so the demo
# trust's own file there is used when there is one (demo-data writes tarnbrook.ratings.yaml).
STANDARD_RATINGS ?= $(RAW_DIR)
# Where workbooks are read from: data/raw, or what ANALYSIS_RAW_DIR says (as for the package).
RAW_DIR := $(or $(ANALYSIS_RAW_DIR),data/raw)
# TRUST typed on the command line (or set in the environment) names the organisation; left
# at its default it does not, and the report takes the organisation from the workbook.
TRUST_NAMED := $(filter command line environment,$(origin TRUST))
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (one per core by default; each test file, and each notebook,
# stays in one worker); PYTEST_JOBS=0 runs serially.
PYTEST_JOBS ?= auto
LAB_ARGS ?=
# The demo workbooks the tests read (copied into each test session's temporary folders by
# conftest.py): written here, never into data/raw, and rewritten when what they are made
# from changes. build/ is git-ignored.
TEST_DEMO := build/test-demo
# Exact versions, with sha256 hashes, of every runtime and dev dependency (transitively),
# resolved from pyproject.toml by `make lock`.
LOCK := requirements/lock.txt
LOCK_ARGS ?=
# Stamp file: the venv is reinstalled only when the lock or the project's declarations change.
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help setup lock report pdf demo-data batch aggregate lab test test-fast lint format dictionary reproduce bench clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

# The venv's own pip installs the lock (hash-checked: a file whose hash is not in the lock is
# refused), then the package itself, editable, with nothing more to resolve.
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP) ## create .venv; install the locked dependencies, then the package (editable)

# Resolved for Python 3.11 and up on every platform (environment markers), keeping the pins the
# lock already has while they still fit pyproject.toml; LOCK_ARGS=--upgrade takes the newest
# releases instead (--upgrade-package NAME: one package). Uses the venv's uv (a dev dependency).
lock: ## re-resolve requirements/lock.txt from pyproject.toml (LOCK_ARGS=--upgrade: newest)
	@test -x $(VENV)/bin/uv || $(MAKE) setup
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" --quiet $(LOCK_ARGS) -o $(LOCK)

# The demo workbooks are regenerated when what they are made from changes (a new instrument
# version, say); demo-data refreshes only workbooks nobody has edited since it wrote them.
DEMO_INPUTS := $(wildcard src/analysis/synthetic/profiles/*.yaml src/analysis/instrument/programmes/*.yaml \
	src/analysis/synthetic/published/*.yaml src/analysis/synthetic/*.py src/analysis/instrument/*.py) \
	src/analysis/engine/wording.py

$(RAW_DIR)/$(TRUST).xlsx: $(DEMO_INPUTS) | $(STAMP)
	$(PY) -m analysis demo-data --out $(RAW_DIR)
	@touch $@

demo-data: $(STAMP) ## write the twelve synthetic demo workbooks into data/raw/
	$(PY) -m analysis demo-data --out $(RAW_DIR)

# The demo: for the calibrated demo trust the reproduction check runs first, so the report
# carries it (an appendix, shown only when the check was made on the very same workbook).
# With WORKBOOK: that workbook's report, for the organisation its trust column names (or
# TRUST=slug, when typed; with neither, a neutral name from the workbook's sha256, never its
# file name), which never replaces a report made from other data unless TRUST names it.
report: $(STAMP) $(if $(WORKBOOK),,$(RAW_DIR)/$(TRUST).xlsx) ## run the demo trust's report (WORKBOOK=path/x.xlsx: your own)
ifneq ($(WORKBOOK),)
	$(PY) -m analysis report "$(WORKBOOK)" $(if $(TRUST_NAMED),--trust $(TRUST)) --audience $(AUDIENCE)$(if $(filter command line environment,$(origin STANDARD_RATINGS)), --standard-ratings "$(STANDARD_RATINGS)")
else
	@if [ -f src/analysis/synthetic/profiles/$(TRUST).yaml ] && grep -q '^calibrate_to:' src/analysis/synthetic/profiles/$(TRUST).yaml; then \
		$(PY) -m analysis reproduce --profile $(TRUST) --summary; fi
	$(PY) -m analysis report $(RAW_DIR)/$(TRUST).xlsx --trust $(TRUST) --audience $(AUDIENCE) --standard-ratings "$(STANDARD_RATINGS)"
endif

lab: $(STAMP) ## start JupyterLab on notebooks/ (LAB_ARGS="--no-browser --port 8899": more options)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(LAB_ARGS)

pdf: $(STAMP) ## print outputs/$(TRUST)/report.html to an A4 report.pdf (headless Chromium; TRUST=aggregate too)
	$(PY) -m analysis pdf --trust $(TRUST)

batch: $(STAMP) ## run every workbook in data/raw/ in parallel, then the aggregate report
	@ls $(RAW_DIR)/*.xlsx >/dev/null 2>&1 || $(PY) -m analysis demo-data --out $(RAW_DIR)
	$(PY) -m analysis batch --standard-ratings "$(STANDARD_RATINGS)"

aggregate: $(STAMP) ## rebuild the cross-trust aggregate report from existing trust outputs
	$(PY) -m analysis aggregate

reproduce: $(STAMP) ## check the demo data reproduces the reference report's published figures
	$(PY) -m analysis reproduce

dictionary: $(STAMP) ## write each programme's data dictionary into docs/ (the default's: docs/data-dictionary.md)
	$(PY) -m analysis dictionary --all docs

# The notebooks run on the demo data (nbval), so the demo workbooks are a prerequisite: in
# $(TEST_DEMO), never data/raw. Each pytest run works in temporary folders of its own
# (conftest.py sets ANALYSIS_RAW_DIR, _PROCESSED_DIR and _OUTPUTS_DIR, copies the demo
# workbooks in, and fails the run if the checkout's data/ or outputs/ changed).
$(TEST_DEMO)/$(TRUST).xlsx: $(DEMO_INPUTS) | $(STAMP)
	$(PY) -m analysis demo-data --out $(TEST_DEMO)
	@touch $@

test: $(STAMP) $(TEST_DEMO)/$(TRUST).xlsx ## run the whole test suite (unit, notebooks, end to end)
	ANALYSIS_TEST_DEMO_DIR=$(CURDIR)/$(TEST_DEMO) $(PY) -m pytest -n $(PYTEST_JOBS) --dist loadfile $(PYTEST_ARGS)
	ANALYSIS_TEST_DEMO_DIR=$(CURDIR)/$(TEST_DEMO) $(PY) -m pytest --nbval-lax notebooks/ -n $(PYTEST_JOBS) --dist loadfile $(PYTEST_ARGS)

test-fast: $(STAMP) ## unit tests only
	$(PY) -m pytest -m "not notebooks and not e2e and not browser" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and format check (modules and notebooks)
	$(VENV)/bin/ruff check src tests bench notebooks
	$(VENV)/bin/ruff format --check src tests bench notebooks

format: $(STAMP) ## format the code
	$(VENV)/bin/ruff format src tests bench notebooks
	$(VENV)/bin/ruff check --fix src tests bench notebooks

bench: $(STAMP) ## run the benchmarks (ratios measured side by side)
	$(PY) bench/ingest.py
	$(PY) bench/score_million.py
	$(PY) bench/charts.py
	$(PY) bench/batch.py
	$(PY) bench/explore.py

clean: ## remove outputs, processed data and build/ (the tests' demo workbooks); never raw data
	rm -rf outputs/*/ data/processed/*.parquet build/
