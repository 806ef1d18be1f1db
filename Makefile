# The two commands a newcomer runs: `make demo` and `make test`. Each one creates or
# refreshes the project virtualenv (.venv) itself, with uv; nothing is installed by hand.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synced
TOOLS := .tools
# uv from PATH if there is one, else a private copy bootstrapped with pip.
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)

# The interpreter a new .venv is made with: the first python3 on PATH (Debian 12's stock
# 3.11.2 will do; 3.11 to 3.13 are supported), or PYTHON=python3.13 (a name or a path). An
# existing .venv keeps its interpreter unless PYTHON is given; `make clean` starts over.
PYTHON ?= python3
PYTHON_BIN = $(shell $(PYTHON) -c 'import sys; print(sys.executable if (3, 11) <= sys.version_info[:2] <= (3, 13) else "")' 2>/dev/null)
PYTHON_GIVEN := $(filter-out file,$(origin PYTHON))
UV_PYTHON = $(if $(or $(PYTHON_GIVEN),$(if $(wildcard $(PY)),,new)),--python $(or $(PYTHON_BIN),$(error \
  $(PYTHON) is not Python 3.11 to 3.13 (or not found): install one, or name one with PYTHON=/path/to/python3.12)))
ifneq ($(PYTHON_GIVEN),)
$(STAMP): FORCE
endif

# Without a HOME (`env -i`, some CI containers) uv, pip and pre-commit have nowhere to keep
# their caches: they get one under .tools.
ifeq ($(HOME),)
export HOME := $(CURDIR)/$(TOOLS)/home
endif

# uv reads the system's certificate store, as pip and curl do, so a proxy's CA installed
# there is trusted (uv's own bundled roots are not the machine's).
export UV_SYSTEM_CERTS ?= 1

# Python keeps the bytecode of what it imports in __pycache__ (ignored by git). Where
# PYTHONDONTWRITEBYTECODE is set, as on some CI machines, each of the suite's and the
# demo's hundreds of processes compiled this repository's modules again (4% of the suite's
# CPU time) and pytest rewrote every test module in each worker.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: help install test lint demo bench clean deploy-lambda terraform-template FORCE

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS) || { echo "make: no uv on PATH, and $(PYTHON) -m venv failed:" \
	  "install uv, or Python's venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv

# Bytecode is compiled at install: step scripts start as fresh processes, and without .pyc
# files (e.g. under PYTHONDONTWRITEBYTECODE) importing scikit-learn alone takes seconds.
# The editable install maps each top-level package, so a new one means a re-install.
PACKAGES := $(wildcard */__init__.py modelbuild/*/__init__.py)
$(STAMP): pyproject.toml uv.lock $(PACKAGES) | $(UV)
	$(UV) sync --frozen --extra dev --compile-bytecode $(UV_PYTHON) \
	  --reinstall-package sagemaker-mlops-template
	@touch $@

# checkov lives in a venv of its own: its pins clash with the SageMaker SDK's. Bytecode is
# compiled at install, as for .venv: without it each run spent 12 s where it now spends 6 s.
CHECKOV_VERSION := 3.3.30
CHECKOV := $(TOOLS)/checkov/.installed-$(CHECKOV_VERSION)
$(CHECKOV): | $(UV) $(STAMP)
	$(UV) venv --quiet --allow-existing --python $(PY) $(TOOLS)/checkov
	$(UV) pip install --quiet --reinstall --compile-bytecode --python $(TOOLS)/checkov/bin/python \
	  checkov==$(CHECKOV_VERSION)
	@touch $@

install: $(STAMP)  ## create or refresh the project virtualenv

# pytest exits 5 when it collected nothing: say so, and fail (an empty suite proves nothing).
test: lint  ## pre-commit checks, then the test suite (offline, moto-backed)
	@$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	  exit $$status

# checkov takes as long as every other hook together, so it runs beside them; its report
# follows theirs.
lint: $(STAMP) $(CHECKOV)  ## pre-commit on every file: ruff, cfn-lint, actionlint, checkov, yaml, secrets
	@checkov_log=$$(mktemp); \
	  $(VENV)/bin/pre-commit run --all-files checkov >$$checkov_log 2>&1 & checkov=$$!; \
	  SKIP=checkov $(VENV)/bin/pre-commit run --all-files --show-diff-on-failure; status=$$?; \
	  wait $$checkov || status=1; cat $$checkov_log; rm -f $$checkov_log; exit $$status

# The whole lifecycle on the sandbox: foundation stack, data, the model-build pipeline (the
# definition SDK v3 renders for AWS, run locally), approval, and the deploy pipeline stage by
# stage as codepipeline/model-deploy.yml lists it. Report: .sandbox/report/index.html.
# SCENARIO=gate-failure|rollback|multi-account|stepfunctions|drift for the others; DEMO_ARGS=--interactive to approve.
# IAC=terraform: the build side from terraform/environments/dev instead (terraform/README.md).
SCENARIO ?= happy
IAC ?= cloudformation
demo: $(STAMP)  ## the whole CI/CD lifecycle on the local sandbox, with a report
	$(PY) -m sandbox demo $(SCENARIO) --iac $(IAC) $(DEMO_ARGS)

# The benchmarks (benchmarks/README.md): results in benchmarks/results/. kfp, the runner
# they compare with, is a benchmark-only extra, added without removing anything (--inexact).
bench: $(STAMP)  ## run the benchmarks (about 15 min on 2 cores), write benchmarks/results/
	$(UV) sync --frozen --inexact --extra dev --extra bench --compile-bytecode
	$(PY) -m benchmarks $(BENCH_ARGS)

# Terraform (terraform/README.md). The deploy Lambda's zip, reproducible (same sources, same
# bytes), where the environments read it; and the pipeline definition template with the
# step code it names, regenerated from what SDK v3 renders (against a sandbox: no account).
deploy-lambda: $(STAMP)  ## build build/deploy-lambda.zip and build/orchestration-lambda.zip (Terraform's Lambdas)
	$(PY) -m modeldeploy.package_lambda build/deploy-lambda.zip
	$(PY) -m orchestration.package_lambda build/orchestration-lambda.zip

terraform-template: $(STAMP)  ## regenerate terraform/'s pipeline definition template
	$(PY) -m sandbox exec -- $(PY) -m pipelines.render_template

FORCE:

clean:  ## remove the virtualenv, caches and sandbox state
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .sandbox
