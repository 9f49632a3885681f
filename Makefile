# Two commands do all set-up on a fresh machine (they call tasks.py, which needs only Python):
#   make lab    - JupyterLab on notebooks/ (creates .venv from the lock on first use)
#   make test   - unit tests + every notebook under nbval (same environment)
# Without make (e.g. Windows): python tasks.py lab / python tasks.py test.
# Another interpreter for .venv: make PYTHON=python3.12 test (an existing .venv is rebuilt).
# Windows (GNU make sets OS=Windows_NT): python.org's installer gives `py` (the launcher) and
# `python`, no `python3`; the launcher is taken when it is on the PATH.
ifeq ($(OS),Windows_NT)
# (`where py 2>&1` reads the same under cmd.exe and an MSYS/Git Bash sh.)
PYTHON ?= $(if $(findstring py.exe,$(shell where py 2>&1)),py -3,python)
else
PYTHON ?= python3
endif
# Pass PYTHON on to tasks.py only when it was asked for (command line or environment).
ASKED := $(if $(filter command line environment,$(origin PYTHON)),--python $(PYTHON),)
TASKS := $(PYTHON) tasks.py $(ASKED)

.PHONY: lab test site site-check test-fast test-portable env sync notebooks notebook student grade zh figures bench-fast bench-memory bench-online bench-load check-lock lock clean

lab test site test-fast test-portable student env sync notebooks figures bench-fast bench-memory bench-online bench-load check-lock lock clean:
	$(TASKS) $@

# make notebook NB=04  (or NB="04 07"): restart-and-run-all in place, re-sync the .md twin
# (the checks below are make's own $(error), not sh: they read the same under cmd.exe)
notebook:
	$(if $(NB),,$(error say which notebook: make notebook NB=04))
	$(TASKS) notebook $(NB)

# make grade SUBMISSIONS=folder [CSV=scores.csv] [EDITION=zh-CN]: autograde folder/<student>/NN_name.ipynb
grade:
	$(if $(SUBMISSIONS),,$(error say which folder: make grade SUBMISSIONS=submissions))
	$(TASKS) grade $(SUBMISSIONS) --csv $(or $(CSV),scores.csv) --edition $(or $(EDITION),en)

# make zh NB=04 (or no NB: all): rebuild Chinese twins from the English code cells and run them
zh:
	$(TASKS) zh $(NB)

# make site-check: the site with warnings as errors, offline, then its static checks
site-check:
	$(TASKS) site --check
