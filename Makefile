# The commands README.md names. Every target installs what it needs first and can be run again.
SHELL := /bin/bash
export JAVA_HOME ?= $(shell dirname $$(dirname $$(readlink -f $$(which java))))
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup env jars demo test test-fast lint typecheck kafka-start kafka-stop clean

setup: env jars

env: $(VENV)/.synced
$(VENV)/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install -q uv
	$(UV) sync --frozen
	@touch $@

jars: target/.jars
target/.jars: pom.xml
	rm -rf target/kafka-libs target/flink-libs
	mvn -q -B package
	@touch $@

demo: setup                ## simulate a day into Kafka, Flink pre-aggregation, settlement DAG, publish
	$(BIN)/dayclear demo

test: setup lint typecheck ## everything CI runs: lint, types, unit and real-service integration tests
	$(BIN)/pytest

test-fast: env             ## unit tests only
	$(BIN)/pytest -m "not slow"

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: env
	$(BIN)/mypy

kafka-start: setup
	$(BIN)/dayclear kafka start

kafka-stop: env
	$(BIN)/dayclear kafka stop

clean:
	-$(BIN)/dayclear kafka stop
	rm -rf .state target $(VENV)
