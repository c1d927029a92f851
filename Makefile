# streamrec: a streaming, personalised recommender, end to end. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BACKEND ?= tensorflow
EVENTS ?= 20000
DATA ?=
API_PORT ?= 8000
PYTEST_ARGS ?=

export API_PORT

.PHONY: help venv test test-fast lint fmt broker up down status train preprocess ingest bench clean lock models promote rollback

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP) ## Create or update the virtual environment from the pinned dependencies

lock: ## Re-resolve requirements.lock from pyproject.toml (after changing a dependency)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/' > requirements.lock

test: $(STAMP) ## Run the whole test suite, every tier (what CI runs)
	$(PY) -m pytest -m "slow or not slow" $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run the fast tier only
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and format check
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

fmt: $(STAMP) ## Format the code with ruff
	$(PY) -m ruff check --fix . && $(PY) -m ruff format .

broker: $(STAMP) ## Start the embedded Apache Kafka (Java 17; Maven fetches it on first use) unless KAFKA_BOOTSTRAP_SERVERS is set
	$(PY) -m infra.broker start

ingest: $(STAMP) ## Stream EVENTS simulated events (or a replay of DATA) and land them as Parquet
	$(PY) -m pipeline.up --until landed --events $(EVENTS) $(if $(DATA),--data $(DATA))

preprocess: $(STAMP) ## Run the Spark preprocessing job on the landed events
	$(PY) -m training.prep

train: $(STAMP) ## Train BACKEND=tensorflow|pytorch on the latest preprocessed data and register it
	$(PY) -m training.train --backend $(BACKEND)

models: $(STAMP) ## List the registry's versions (* = serving) with their held-out NDCG beside the baselines
	$(PY) -m training.registry list

promote: $(STAMP) ## Serve VERSION=v00003-pytorch after the publish checks (the API reloads it)
	$(PY) -m training.registry promote $(VERSION)

rollback: $(STAMP) ## Serve the version that served before the current one
	$(PY) -m training.registry rollback

up: $(STAMP) ## Run the whole pipeline locally: broker, events, Spark, training, API [BACKEND DATA EVENTS API_PORT]
	$(PY) -m pipeline.up --backend $(BACKEND) --events $(EVENTS) --api-port $(API_PORT) $(if $(DATA),--data $(DATA))

down: $(STAMP) ## Stop every process the project started (data is kept)
	$(PY) -m pipeline.up --down

status: $(STAMP) ## What runs, where, which model, how many events landed
	$(PY) -m pipeline.up --status

bench: $(STAMP) ## Run the benchmarks (figures as ratios measured side by side)
	$(PY) -m tests.bench

clean: ## Remove generated data, models and run state (stops processes first)
	-@test -x $(PY) && $(PY) -m pipeline.up --down >/dev/null 2>&1 || true
	rm -rf var spark-warehouse metastore_db derby.log
