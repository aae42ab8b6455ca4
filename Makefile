# The README's two commands are `make run` and `make test`; everything they need is set up
# here on first use (a virtual environment in .venv built from the pinned requirements).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt chalice_app/requirements.txt | cksum | cut -d' ' -f1)
export PYTHONPATH := $(CURDIR):$(CURDIR)/chalice_app:$(CURDIR)/ec2_tier
# chalice package and boto3 need a region even offline; the local stack uses this one.
export AWS_DEFAULT_REGION ?= us-east-1

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck unit bench wheel package lock clean system-packages

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt chalice_app/requirements.txt
	@echo "==> Setting up $(VENV) from requirements-dev.txt (first run only, about a minute)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --progress-bar on -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP) ## Run the order pipeline locally on moto and show an order through both doors
	@$(BIN)/python -m local_stack.demo $(ARGS)

test: lint typecheck system-packages unit ## Run every check CI runs: ruff, mypy, pytest

# Debian packages the tests use: a real PostgreSQL server (the ledger tests run the same SQL
# on SQLite and on it), chromium (the browser test) and iproute2 (its network namespace).
SYSTEM_PACKAGES := $(strip \
	$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) \
	$(if $(wildcard /usr/bin/chromium),,chromium) \
	$(if $(wildcard /usr/sbin/ip /sbin/ip /bin/ip),,iproute2))

system-packages:
	@if [ -n "$(SYSTEM_PACKAGES)" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "The tests need Debian packages that are missing, and installing them needs root:"; \
	    echo "  sudo apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES)"; exit 1; \
	  fi; \
	  echo "==> Installing $(SYSTEM_PACKAGES) from Debian's packages (first run only, a minute or two)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES); \
	fi

lint: $(STAMP) ## ruff lint and format check
	@echo "==> ruff"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy on the application packages
	@echo "==> mypy"
	@$(BIN)/mypy

unit: $(STAMP) ## pytest (handlers on moto, contract vectors, packaged template)
	@echo "==> pytest"
	@$(BIN)/pytest $(ARGS)

bench: $(STAMP) ## Print the serverless core's figures: AWS calls and time per order, cold start
	@$(BIN)/python -m bench.pipeline $(ARGS)

wheel: $(STAMP) ## Build the web tier's wheel into build/wheels (what the Ansible role installs)
	@$(BIN)/pip wheel --quiet --no-deps --no-build-isolation -w build/wheels ./ec2_tier
	@ls build/wheels/order_web-*.whl

package: $(STAMP) ## chalice package --merge-template into build/chalice
	@$(BIN)/python -m local_stack.package build/chalice

lock: ## Re-pin requirements-dev.txt from a fresh environment (needs the registry)
	@rm -rf build/lockvenv && $(PYTHON) -m venv build/lockvenv
	@build/lockvenv/bin/pip install --quiet -r requirements-dev.txt --upgrade
	@{ head -2 requirements-dev.txt; build/lockvenv/bin/pip freeze; } > requirements-dev.txt.new && mv requirements-dev.txt.new requirements-dev.txt

clean: ## Remove the virtual environment and build output
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache test-output
