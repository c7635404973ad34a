# The commands README.md names. Every target installs what it needs first and can be run again.
SHELL := /bin/bash
export JAVA_HOME ?= $(shell dirname $$(dirname $$(readlink -f $$(which java))))
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup env jars browser postgres demo portal messages test test-fast chaos lint typecheck kafka-start kafka-stop cluster cluster-down clean

setup: env jars browser

env: $(VENV)/.synced
$(VENV)/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install -q uv
	$(UV) sync --frozen
	@touch $@

jars: target/.jars
target/.jars: pom.xml $(shell find src -name '*.java')
	rm -rf target/kafka-libs target/flink-libs
	mvn -q -B package
	@touch $@

browser:                   ## Debian's Chromium and a Chinese font for the portal's browser tests (no browser download)
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

postgres:                  ## Debian's PostgreSQL server for Airflow's metadata (devtools/airflow_services.py)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql >/dev/null; }; }

demo: setup                ## simulate a day into Kafka, Flink, settlement/ops/audit/smoke DAGs, publish, serve the portal
	$(BIN)/dayclear demo --serve

portal: env                ## serve the settlement portal over .state (users: dayclear portal add-user)
	$(BIN)/dayclear portal serve

messages: env              ## extract the portal's messages again and merge them into its catalogues (then translate)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output -o portal/locale/messages.pot portal
	$(BIN)/pybabel update -i portal/locale/messages.pot -d portal/locale --ignore-obsolete --width 100

test: setup postgres lint typecheck ## everything CI runs: lint, types, unit and real-service integration tests
	$(BIN)/pytest -m "not chaos"

chaos: setup postgres      ## the long fault and scale cases (tests marked chaos; longer than CI's budget)
	$(BIN)/pytest -m chaos

test-fast: env             ## unit tests only
	$(BIN)/pytest -m "not slow"

lint: env                  ## ruff, and the layers' import contracts (docs/architecture.md, pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: env
	$(BIN)/mypy

kafka-start: setup
	$(BIN)/dayclear kafka start

kafka-stop: env
	$(BIN)/dayclear kafka stop

cluster: setup postgres    ## the production topology on this machine (dayclear cluster up; see README)
	$(BIN)/dayclear cluster up

cluster-down: env
	$(BIN)/dayclear cluster down

clean:
	-$(BIN)/dayclear kafka stop
	-$(BIN)/dayclear cluster down
	rm -rf .state target $(VENV)
