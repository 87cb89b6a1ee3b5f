# fieldbooks: the entry points the README names.
# `make demo` and `make test` build the virtualenv themselves on a fresh machine.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export SCARF_ANALYTICS := false

.PHONY: venv demo test lint format sandbox clean airflow browser

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "fieldbooks needs Python 3.11, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.txt
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: venv
	$(BIN)/fieldbooks demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/tests --config dbt_project/.sqlfluff --processes 2

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint browser
	$(BIN)/python -m pytest

# The status page's browser test drives Debian's chromium through Playwright (a test tool's
# own browser download cannot work here); installed with apt-get when missing and possible.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: the status page's browser test needs Debian's chromium package"; fi; }

sandbox: venv
	$(BIN)/fieldbooks sandbox serve --demo

# Airflow's UI on the demo data (api-server, scheduler, dag-processor; LocalExecutor on SQLite,
# AIRFLOW_HOME .fieldbooks/airflow); seeds the demo operations DB and starts the QuickBooks
# sandbox when missing. AIRFLOW_PORT=8081 make airflow picks the port. Ctrl-C stops it all.
airflow: venv
	$(BIN)/fieldbooks dbt-manifest
	PYTHONPATH=$(CURDIR)/include:$(CURDIR) $(BIN)/python -m fieldbooks.airflow_processes local

clean:
	rm -rf .fieldbooks dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
