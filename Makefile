# Two commands for a fresh clone (see README):
#   make demo   set up .venv and protect the sample photos with the embedded default generator
#   make test   set up .venv (with test tools) and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SHARED ?= ../shared
DEMO_INPUT  ?= $(if $(wildcard $(SHARED)/data/eval),$(SHARED)/data/eval,demo/input)
DEMO_OUTPUT ?= demo/output
export RID_DESKTOP_MODELS_DIR ?= $(abspath $(SHARED)/models)

.PHONY: setup demo test test-fast bench screenshots package clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[test,package]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	@test -d "$(DEMO_INPUT)" || $(BIN)/python -m rid_desktop.demo_images "$(DEMO_INPUT)"
	$(BIN)/rid-desktop protect "$(DEMO_INPUT)" -o "$(DEMO_OUTPUT)"
	@echo "Protected copies are in $(DEMO_OUTPUT)/ (originals untouched)."

test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -ra

test-fast: setup
	$(BIN)/python -m pytest -q -ra -m "not slow"

bench: setup
	$(BIN)/python -m bench

screenshots: setup
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python -m ui.screenshot

package: setup
	bash packaging/build_linux.sh

clean:
	rm -rf build dist demo/output .pytest_cache
