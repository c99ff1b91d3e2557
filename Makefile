# compositor: `make` renders every cut and the screening cut; `make help` lists the targets.
# Recipes are one line each and call the `compositor` command; the Python does the work.

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

# Which files each cut's steps read: written by `compositor deps` from the specs, rewritten when they change.
# Targets that render nothing do not need it (and `make clean` must not set up an environment to run).
ifeq ($(filter-out help clean distclean env test bench,$(or $(MAKECMDGOALS),all)),)
else
include render/deps.mk
endif

.PHONY: all help test bench clean distclean validate env
all: render/$(EDIT).mp4 ## render every cut and the screening cut (render/<edit>.mp4, .otio, .edl, review page)

help: ## list the targets
	@grep -hE '^[a-zA-Z_%/$$().-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 24; echo "<cut>                   render one cut (e.g. make sc010_c010; the cuts are listed in shots/edit.toml)"; echo "FARM=tcp://host:8786    render frame chunks on a Dask cluster"

env: $(RUNTIME) ## set up the virtual environment (.venv) for rendering

$(RUNTIME): $(HERE)/pyproject.toml
	$(PYTHON) -m venv $(VENV) && $(VENV)/bin/python -m pip install -q --upgrade pip && $(VENV)/bin/python -m pip install -q -e '$(HERE)' && touch $@

$(DEVTOOLS): $(RUNTIME)
	$(VENV)/bin/python -m pip install -q -e '$(HERE)[test,diffusion,farm]' && touch $@

render/deps.mk: | $(RUNTIME)
	$(CLI) deps --output $@

render/%/bg/bg.json: | $(RUNTIME)
	$(CLI) bg $*

render/%/comp/comp.json: | $(RUNTIME)
	$(CLI) render $* $(FARM_FLAG)

render/%.mp4: | $(RUNTIME)
	$(CLI) encode $(notdir $*)

render/$(EDIT).mp4: | $(RUNTIME)
	$(CLI) cut

validate: $(RUNTIME) ## check every spec and report all problems at once
	$(CLI) validate

test: $(DEVTOOLS) ## run the test suite
	cd $(HERE) && $(VENV)/bin/python -m pytest -q

bench: $(DEVTOOLS) ## time the demo short per stage, the temporal pass, flow presets and the ffmpeg peer
	cd $(HERE) && $(VENV)/bin/python bench/run_all.py

clean: ## remove renders (keeps render/cache: generated backgrounds survive)
	find render -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} + 2>/dev/null || true

distclean: ## remove renders, the cache and the virtual environment
	rm -rf render $(VENV)
