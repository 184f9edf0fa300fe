# nbprod: `make run` builds the pipeline on the default data, `make test` runs the whole suite.
# Everything installs into a project-local .venv; `make help` lists the targets.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
# `uv` is needed by `make lock` only (pip install uv)
.PHONY: help run test lint install install-test lock browser promtool postgres build lab serve dashboard mlflow-ui team-server benchmarks clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: install ## install into .venv and build the whole pipeline on the default data
	$(BIN)/nbprod build

# the suite runs on TEST_WORKERS processes (pytest-xdist), a whole test file at a time on one of them (module
# fixtures are built once); TEST_WORKERS=0 runs it in this process
TEST_WORKERS ?= 2

test: install-test browser promtool postgres ## install what the tests need and run the whole suite
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: install-test ## pyflakes, hadolint on the Dockerfile, actionlint and GitHub's schema on the workflows (CI's lint job)
	$(BIN)/python -m pyflakes src tests benchmarks
	$(BIN)/hadolint Dockerfile
	$(BIN)/actionlint
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The dependencies are the locked ones, hashes checked (requirements.lock: the runtime; requirements-test.lock:
# the runtime and the test tools); nbprod itself goes on top without resolving anything again. After changing
# pyproject.toml's dependencies, lock again: `make lock`.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@# an editable install skips pyproject's data-files: switch Ploomber's broken server extension off here
	$(BIN)/jupyter server extension disable --sys-prefix ploomber
	@touch $@

$(VENV)/.installed-test: pyproject.toml requirements-test.lock $(VENV)/.installed
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements-test.lock
	@touch $@

LOCK := uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28

lock: ## resolve pyproject.toml's dependencies again into requirements.lock and requirements-test.lock (uv)
	$(LOCK) -o requirements.lock
	$(LOCK) --extra test -c requirements.lock -o requirements-test.lock

install: $(VENV)/.installed ## create .venv and install nbprod

install-test: $(VENV)/.installed-test ## install nbprod with the test tools

browser: ## install Debian's chromium and chromium-driver (browser tests)
	bash scripts/install-browser.sh

promtool: ## install Debian's prometheus package for promtool (alert rule and dashboard query tests)
	bash scripts/install-promtool.sh

postgres: ## install Debian's postgresql server (nbprod team-server and its tests)
	bash scripts/install-postgres.sh

build: install ## build again, only what changed (nbprod build --set key=value for overrides)
	$(BIN)/nbprod build

lab: install ## open JupyterLab on the project (edit and run the notebooks by hand)
	$(BIN)/jupyter lab

serve: install ## serve the champion model on 127.0.0.1
	$(BIN)/nbprod serve

dashboard: install ## serve the Voila dashboards on 127.0.0.1
	$(BIN)/nbprod dashboard

mlflow-ui: install ## open the MLflow UI on the project's store (http://127.0.0.1:5000)
	$(BIN)/nbprod mlflow-ui

team-server: postgres ## a trial team store: MLflow over PostgreSQL + an S3 bucket in .team/ (http://127.0.0.1:5000)
	$(BIN)/pip install --quiet -e ".[team]"
	$(BIN)/nbprod team-server --data .team

benchmarks: install-test browser ## run the benchmarks; figures go to reports/benchmarks/
	$(BIN)/pip install --quiet -e ".[bench]"
	bash scripts/install-wrk.sh
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_robustness.py
	$(BIN)/python benchmarks/bench_bad_input.py
	$(BIN)/python benchmarks/bench_drift.py
	$(BIN)/python benchmarks/bench_scaffold.py
	@# the dashboards are timed on this project's own build (made or brought up to date first)
	$(BIN)/nbprod build
	$(BIN)/python benchmarks/bench_dashboards.py

clean: ## remove products, reports and the MLflow store (keeps .venv)
	rm -rf build mlflow.db mlartifacts reports/*.ipynb reports/*.html reports/*.json reports/dashboards reports/monitoring
