# Distill Audit — every target a new user needs. `make demo` and `make test` set up
# the virtual environment themselves on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup lock demo demo-assets app test test-slow fuzz bench lint screenshots clean \
	installer installer-smoke

setup: $(STAMP)

# torch first, pinned to the CPU build (a looser pin pulls a multi-GB CUDA build). Both
# steps install the exact versions in constraints.txt (the lock), so every CI run gets the
# same packages.
$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -c constraints.txt torch==2.13.0
	$(BIN)/pip install -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Refresh the lock: pip resolves the dev install afresh (the newest versions pyproject.toml
# allows; a dry run with --ignore-installed, so neither the venv nor what happens to be
# installed in it decides) and installers/write_constraints.py pins that resolution in
# constraints.txt. The next target that needs the venv reinstalls from the new lock.
# Review the diff and run `make test` before committing it.
lock: $(STAMP)
	$(BIN)/pip install --dry-run --ignore-installed --quiet --report $(VENV)/lock-report.json \
	  -e '.[dev]'
	$(BIN)/python installers/write_constraints.py $(VENV)/lock-report.json constraints.txt

demo: $(STAMP)
	$(BIN)/distill-audit --db demo-output/demo.dacase demo

demo-assets: $(STAMP)
	$(BIN)/python resources/demo_build/build.py

app: $(STAMP)
	$(BIN)/python installers/check_qt_libs.py
	$(BIN)/distill-audit-gui

# The same checks as .pre-commit-config.yaml; mypy reads its files and settings from
# pyproject.toml ([tool.mypy]).
LINT_PATHS := core app tests resources installers setup.py

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

test-slow: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m slow

# The importers' fuzz targets (tests/test_fuzz_importers.py) at length: `make test` runs a
# few examples of each (seconds), this runs FUZZ_EXAMPLES of each (minutes). Each example
# must import or be refused with a typed error, never another exception or a partial write.
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	DISTILL_AUDIT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) QT_QPA_PLATFORM=offscreen \
	  $(BIN)/python -m pytest tests/test_fuzz_importers.py -p no:cacheprovider --timeout 0 -q

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/benchmarks -m bench -s

# Desktop installers (installers/; README "Install"). PyInstaller comes from the
# `installer` extra, installed here only. `make installer` builds the Linux tarball
# dist/distill-audit-<version>-linux-x86_64.tar.gz (4-7 minutes on 2 cores);
# `make installer-smoke` runs the frozen app from it offline (not part of `make test`).
INSTALLER_STAMP := $(VENV)/.installer

$(INSTALLER_STAMP): $(STAMP)
	$(BIN)/pip install -c constraints.txt -e '.[installer]'
	touch $(INSTALLER_STAMP)

installer: $(INSTALLER_STAMP)
	$(BIN)/python installers/build_linux.py

installer-smoke: $(INSTALLER_STAMP)
	$(BIN)/python installers/smoke_test.py --build-if-missing

# The README walk-through's screenshots (resources/screenshots/), 1280x800: under Xvfb when
# xvfb-run is installed, else Qt's offscreen platform. Builds the demo case in a temp dir.
screenshots: $(STAMP)
	if command -v xvfb-run >/dev/null 2>&1; then \
	  xvfb-run -a -s "-screen 0 1280x800x24" $(BIN)/python -m app.screenshots resources/screenshots; \
	else \
	  QT_QPA_PLATFORM=offscreen $(BIN)/python -m app.screenshots resources/screenshots; \
	fi

clean:
	rm -rf build dist *.egg-info .pytest_cache
