# Backprop Explorer: set-up, run, test, benchmark.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen
# The packages the type checker covers (no Qt in them); `make lint` fails on any error.
MYPY_PATHS := graph nets

.PHONY: venv run test lint bench fuzz screenshots clean

venv: $(STAMP)

# The stamp is older than pyproject.toml when dependencies changed: reinstall.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed")'
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys' >/dev/null 2>&1; then rm -rf $(VENV); $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: venv
	@QT_QPA_PLATFORM= $(PY) -m gui.platform_check
	QT_QPA_PLATFORM= $(VENV)/bin/backprop-explorer

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy $(MYPY_PATHS)

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# BENCH_SKIP="bench/bench_x.py ..." leaves scripts out (a run that must fit a time slot).
BENCH_SKIP ?=
bench: venv
	@mkdir -p bench/results
	@set -e; for f in bench/bench_*.py; do case " $(BENCH_SKIP) " in *" $$f "*) echo "== $$f skipped (BENCH_SKIP)"; continue;; esac; echo "== $$f"; QT_QPA_PLATFORM=offscreen $(PY) $$f; done

fuzz: venv
	FUZZ_EXAMPLES=10000 QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -k fuzz tests

screenshots: venv
	QT_QPA_PLATFORM=offscreen $(PY) bench/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis build *.egg-info
