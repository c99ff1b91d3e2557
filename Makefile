# compositor: `make` renders every cut and the screening cut; `make help` lists the targets.
# Recipes are one line each and call the `compositor` command; the Python does the work. The rules of each cut
# (every folder under shots/, in the edit or not) are written by `compositor deps` into render/deps.mk, with the
# paths compositor/layout.py gives; the commands compare keys and redo only what changed.

.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
SHELL := /bin/bash

# The repository holding this Makefile (a production may live elsewhere: make -C prod -f path/to/Makefile).
HERE := $(patsubst %/,%,$(dir $(abspath $(firstword $(MAKEFILE_LIST)))))
PYTHON ?= python3
VENV ?= $(HERE)/.venv
CLI := $(VENV)/bin/compositor
RUNTIME := $(VENV)/.runtime-installed
DEVTOOLS := $(VENV)/.dev-installed
FARM ?=
FARM_FLAG := $(if $(FARM),--scheduler $(FARM),)
DEPS := render/deps.mk

# When this make started (once, not again when make restarts after writing deps.mk): `compositor cut`, the
# last step, ends the run with a table of the cuts made since.
ifndef MAKE_STARTED
export MAKE_STARTED := $(shell date +%s)
endif

# The oldest Python compositor runs on is pyproject.toml's requires-python (its one home); say so before pip does.
export PYTHON_FLOOR := import re, sys; want = tuple(int(n) for n in re.search(r'requires-python\s*=\s*">=\s*(\d+)\.(\d+)', open(sys.argv[1]).read()).groups()); sys.exit(None if sys.version_info >= want else f"compositor needs Python {want[0]}.{want[1]} or newer; {sys.executable} is {sys.version.split()[0]} (make PYTHON=python3.{want[1]})")

# Goals that render nothing need no dependency file (and `make clean` must not set up an environment to run).
ifneq ($(filter-out help clean distclean env test bench validate,$(or $(MAKECMDGOALS),all)),)
include $(DEPS)
endif

.PHONY: all help test bench clean distclean validate env
all: $(EDIT_OUTPUTS) ## render every cut and the screening cut (render/<edit>.mp4, .otio, .edl, review page)

help: ## list the targets
	@grep -hE '^[a-zA-Z_%/$$().-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 24; echo "<cut>                   render one cut, any folder under shots/ (e.g. make sc010_c010)"; echo "FARM=tcp://host:8786    render frame chunks on a Dask cluster"

env: $(RUNTIME) ## set up the virtual environment (.venv) for rendering

$(RUNTIME): $(HERE)/pyproject.toml
	$(PYTHON) -c "$$PYTHON_FLOOR" '$(HERE)/pyproject.toml' && $(PYTHON) -m venv $(VENV) && $(VENV)/bin/python -m pip install -q --upgrade pip && $(VENV)/bin/python -m pip install -q -e '$(HERE)' && touch $@

$(DEVTOOLS): $(RUNTIME)
	$(VENV)/bin/python -m pip install -q -e '$(HERE)[test,diffusion,farm,moviepy]' && touch $@

$(DEPS): | $(RUNTIME)
	$(CLI) deps

# The compositor's own code: when a file of it is newer (an upgrade, a default changed), `compositor code-key`
# runs and rewrites render/code.key only if the code's key changed, and the dependency file is written again;
# every step's rule names render/code.key, so after an upgrade each step runs and its own keys decide what, if
# anything, to make again.
CODE := $(wildcard $(HERE)/compositor/*.py $(HERE)/compositor/*/*.py $(HERE)/compositor/*/*/*.py $(HERE)/compositor/*/*/*/*.py)
render/code.checked: $(CODE) $(RUNTIME)
	$(CLI) code-key && touch $@
$(DEPS): render/code.checked
render/code.key: | $(RUNTIME)
	$(CLI) code-key

validate: $(RUNTIME) ## check every spec, style and preset and report all problems at once
	$(CLI) validate

test: $(DEVTOOLS) ## run the test suite (the review page's tests need Chromium: apt-get install chromium)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || echo "*** make test: no Chromium: the review page tests will FAIL. Install it: apt-get install chromium ***" >&2
	cd $(HERE) && $(VENV)/bin/python -m pytest -q -n 2

bench: $(DEVTOOLS) ## time the demo short per stage, a one-drawing re-render, the temporal pass, the ffmpeg peer
	cd $(HERE) && $(VENV)/bin/python bench/run_all.py

# render/ may be a link to another disk: `render/` (with the slash) is the folder it leads to, which is emptied;
# the link itself is left in place.
clean: ## remove renders (keeps render/cache: generated backgrounds survive)
	find render/ -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} + 2>/dev/null || true

distclean: ## remove renders, the cache and the virtual environment
	find render/ -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null || true
	[ -L render ] || rm -rf render
	rm -rf $(VENV)
