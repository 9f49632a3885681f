# Two commands do all set-up on a fresh machine with Python 3.11 and make:
#   make lab    - JupyterLab on notebooks/ (creates .venv from the lock on first use)
#   make test   - unit tests + every notebook under nbval (same environment)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ottt-edu-installed
KERNEL := ottt-edu

.PHONY: lab test env lock clean figures bench-fast bench-memory

env: $(STAMP)

$(STAMP): requirements-lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "The pinned lock needs Python 3.11 or newer; run: make PYTHON=python3.11 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (ottt-edu)"
	touch $(STAMP)

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG)

test: $(STAMP)
	$(BIN)/python -m pytest

# README pictures and benchmarks (not part of the tests).
figures: $(STAMP)
	$(BIN)/python scripts/make_readme_figures.py

bench-fast: $(STAMP)
	$(BIN)/python benchmarks/fast_path.py --threads 1 --repeats 15

bench-memory: $(STAMP)
	$(BIN)/python benchmarks/memory_time.py --threads 2

# Re-pin the lock from the current environment (after a deliberate upgrade).
lock: $(STAMP)
	{ head -n 3 requirements-lock.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^ottt'; } > requirements-lock.tmp
	mv requirements-lock.tmp requirements-lock.txt

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts
