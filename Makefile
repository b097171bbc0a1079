# congvu-mail: the two commands that matter are `make staging` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
ACT := source scripts/env.sh &&
SCENARIO ?=

.PHONY: help setup venv image staging staging-down staging-status lint unit integration scenarios test bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: ## install host packages, the virtualenv, collections and the base image (idempotent)
	scripts/bootstrap
	scripts/build-image

venv: ## create/refresh the project virtualenv only
	scripts/bootstrap --venv

image: ## build the Debian 12 systemd base image if missing or outdated
	scripts/build-image

staging: setup ## bring up the demo province on local podman containers
	./stage up

staging-down: ## remove the staging containers
	./stage down

staging-status: ## show the staging containers
	./stage status

lint: venv ## ruff, yamllint, ansible-lint (production profile)
	$(ACT) scripts/lint

unit: venv ## pytest unit tests of the policy engine and plugins
	$(ACT) pytest -q tests/unit

integration: venv ## ansible-playbook level tests (filters load, errors fail the play)
	$(ACT) pytest -q tests/integration

scenarios: setup ## every layout and molecule scenario, or one: make scenarios SCENARIO=demo-split
	$(ACT) scripts/scenarios $(SCENARIO)

# Lint and pytest run in the background beside the scenarios' first steps (creating containers,
# installing packages: mostly waiting), which takes a few minutes off the hour (docs/testing.md);
# their output is printed in one piece when they end, and the scenarios' summary comes last. The
# scenarios stay in the foreground, so Ctrl-C stops them (a background job of this shell ignores
# it: lint and pytest, a few minutes long, finish on their own).
test: setup ## everything CI runs: lint, unit, integration, the scenarios (all run; fails if any failed)
	@rc=0; mkdir -p .cache; \
	( qrc=0; { $(ACT) scripts/lint || qrc=1; $(ACT) pytest -q tests/unit tests/integration || qrc=1; } \
	    >.cache/checks.log 2>&1; cat .cache/checks.log; exit $$qrc ) & checks=$$!; \
	$(ACT) scripts/scenarios || rc=1; \
	wait $$checks || rc=1; \
	[ $$rc -eq 0 ] || echo "make test: FAILED (see the lint, pytest and molecule summaries above)" >&2; \
	exit $$rc

bench: venv ## benchmarks (see bench/README.md)
	$(ACT) python bench/naming_bench.py

clean: ## remove caches and the virtualenv (not the image)
	rm -rf .venv .cache collections
