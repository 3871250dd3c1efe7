# Everything a newcomer needs: `make demo` (see it work) and `make test` (the whole suite). `make help` lists all.
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS := bot,openai,anthropic,litellm,langchain,agno,demo,postgres,dev
SAMPLE_DB := .sample/usage.db

.PHONY: help install demo sample test lint bench bench-quick clean

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the bot, the tracking library and the test tools

demo: install  ## a throwaway homeserver, agents at work, the bot answering (about 2 minutes)
	$(VENV)/bin/usage-bot demo

sample: install  ## ingest docs/sample-events.jsonl into .sample/ and report it
	rm -f $(SAMPLE_DB)
	$(VENV)/bin/usage-bot ingest --db sqlite:///$(SAMPLE_DB) < docs/sample-events.jsonl
	$(VENV)/bin/usage-bot report --db sqlite:///$(SAMPLE_DB) --period all --by agent
	$(VENV)/bin/usage-bot report --db sqlite:///$(SAMPLE_DB) --period 2026-10 --by model --room '!research:example.org'

# LiteLLM would otherwise try to download its model cost map at import. In one process the suite keeps about
# one core busy (it waits on Synapse, PostgreSQL and the provider stand-ins), so two processes share it, a file
# each at a time (a file's module fixtures, like the benchmarks' query database, are made once); each starts its
# own Synapse and PostgreSQL server. TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
test: install  ## the whole suite (starts its own Synapse and PostgreSQL on loopback)
	LITELLM_LOCAL_MODEL_COST_MAP=True $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

lint: install  ## ruff
	$(PY) -m ruff check .

# Benchmarks: each prints its figures and writes its section of docs/benchmarks.md.
# The query database (10M events, several GB) is built once under .bench/ and reused.
BENCHES := hook_overhead ingest layout_parts writers queries whatif roundtrip memory http_collector dashboard erasure

bench: install  ## every benchmark; writes docs/benchmarks.md (hours: builds 10M-event stores)
	@for b in $(BENCHES); do echo "== bench.$$b"; $(PY) -m bench.$$b || exit 1; done

bench-quick: install  ## every benchmark at a small size, writing nothing
	@for b in $(BENCHES); do echo "== bench.$$b --quick"; $(PY) -m bench.$$b --quick || exit 1; done

clean:  ## remove .sample and the tools' caches
	rm -rf .sample .pytest_cache .ruff_cache
