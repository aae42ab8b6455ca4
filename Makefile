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
.PHONY: help run redrive test lint typecheck unit bench wheel package lock clean system-packages

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt chalice_app/requirements.txt
	@echo "==> Setting up $(VENV) from requirements-dev.txt (first run only, about a minute)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --progress-bar on -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP) ## Run the whole pipeline locally on moto (make run ARGS=--help for options)
	@$(BIN)/python -m local_stack $(ARGS)

AWS_PORT ?= 4566
redrive: $(STAMP) ## Send a queue's dead letters back: make redrive QUEUE=order-fulfillment
	@test -n "$(QUEUE)" || { echo "usage: make redrive QUEUE=order-fulfillment [AWS_PORT=4566]"; exit 2; }
	@AWS_ENDPOINT_URL=http://127.0.0.1:$(AWS_PORT) AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
	  $(BIN)/python -m local_stack.redrive $(QUEUE)

test: lint typecheck templates playbooks-lint system-packages unit ## Every check CI runs: ruff, mypy, templates, playbooks, pytest (e2e, browser, converge)

# Debian packages the tests use: a real PostgreSQL server (the ledger tests run the same SQL
# on SQLite and on it), chromium (the browser test) and iproute2 (its network namespace);
# debootstrap, systemd-container and openssh-client for the host role's converge test; npm
# (with Node.js) for newman, which runs the Postman collection.
SYSTEM_PACKAGES := $(strip \
	$(if $(shell command -v npm),,npm) \
	$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) \
	$(if $(wildcard /usr/bin/chromium),,chromium) \
	$(if $(wildcard /usr/sbin/ip /sbin/ip /bin/ip),,iproute2) \
	$(if $(wildcard /usr/sbin/debootstrap),,debootstrap) \
	$(if $(wildcard /usr/bin/systemd-nspawn),,systemd-container) \
	$(if $(wildcard /usr/bin/ssh-keygen),,openssh-client))

# $(call apt-install,PACKAGES,WHO): install the missing Debian packages, or say how (root).
define apt-install
@if [ -n "$(1)" ]; then \
  if [ "$$(id -u)" != 0 ]; then \
    echo "$(2) needs Debian packages that are missing, and installing them needs root:"; \
    echo "  sudo apt-get install -y --no-install-recommends $(1)"; exit 1; \
  fi; \
  echo "==> Installing $(1) from Debian's packages (first run only, a minute or two)"; \
  export DEBIAN_FRONTEND=noninteractive; \
  apt-get update -q && apt-get install -y -q --no-install-recommends $(1); \
fi
endef

system-packages:
	$(call apt-install,$(SYSTEM_PACKAGES),make test)

lint: $(STAMP) ## ruff lint and format check
	@echo "==> ruff"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy on the application packages
	@echo "==> mypy"
	@$(BIN)/mypy

# newman runs the Postman collection against the local stack; pinned in package-lock.json.
NEWMAN := node_modules/.bin/newman
unit: $(STAMP) $(NEWMAN) ## pytest (handlers, contract vectors, templates, the running local stack)
	@echo "==> pytest"
	@$(BIN)/pytest $(ARGS)

$(NEWMAN): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 (apt-get install nodejs npm)"; exit 1; }
	@echo "==> Installing newman from package-lock.json (first run only, a few seconds)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bench: $(STAMP) $(if $(findstring --help,$(ARGS)),,bench-tools) ## Web tier load, AWS requests and cost per order, cold start, end to end (ARGS=--help)
	@$(BIN)/python -m bench $(ARGS)

# wrk (Debian's package) offers the web tier its load; only make bench needs it.
BENCH_PACKAGES := $(if $(wildcard /usr/bin/wrk),,wrk)
.PHONY: bench-tools
bench-tools:
	$(call apt-install,$(BENCH_PACKAGES),make bench)

wheel: $(STAMP) ## Build the web tier's wheel into build/wheels (what the Ansible role installs)
	@$(BIN)/pip wheel --quiet --no-deps --no-build-isolation -w build/wheels ./ec2_tier
	@ls build/wheels/order_web-*.whl

# Ansible in its own virtual environment: the ansible package (with the amazon.aws and
# community.aws collections, never fetched from Galaxy) is ~600 MB and pinned apart.
.PHONY: ansible-venv playbooks-lint wheelhouse
ANSIBLE_VENV ?= .venv-ansible
ANSIBLE_STAMP := $(ANSIBLE_VENV)/.installed-$(shell cat requirements-ansible.txt | cksum | cut -d' ' -f1)

$(ANSIBLE_STAMP): requirements-ansible.txt
	@echo "==> Setting up $(ANSIBLE_VENV) from requirements-ansible.txt (first run only, two minutes or so)"
	@test -x $(ANSIBLE_VENV)/bin/python || $(PYTHON) -m venv $(ANSIBLE_VENV)
	@$(ANSIBLE_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(ANSIBLE_VENV)/bin/python -m pip install --progress-bar on -r requirements-ansible.txt
	@rm -f $(ANSIBLE_VENV)/.installed-* && touch $@

ansible-venv: $(ANSIBLE_STAMP) ## Set up .venv-ansible (ansible, ansible-lint) for playbooks/

playbooks-lint: $(ANSIBLE_STAMP) ## ansible-lint --profile production and syntax check of site.yml
	@echo "==> ansible-lint"
	@cd playbooks && PATH="$(CURDIR)/$(ANSIBLE_VENV)/bin:$$PATH" ansible-lint --offline --profile production
	@cd playbooks && PATH="$(CURDIR)/$(ANSIBLE_VENV)/bin:$$PATH" ansible-playbook --syntax-check -i localhost, site.yml

wheelhouse: $(STAMP) ## The web tier's wheel and its pinned dependencies in build/wheelhouse
	@rm -rf build/wheelhouse
	@$(BIN)/pip wheel --quiet --no-build-isolation -c requirements-dev.txt -w build/wheelhouse ./ec2_tier
	@ls build/wheelhouse | wc -l | xargs echo "==> build/wheelhouse: wheels:"

# checkov in its own virtual environment: it pins an old boto3 the main one must not get.
.PHONY: templates
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat requirements-checkov.txt | cksum | cut -d' ' -f1)

$(CHECKOV_STAMP): requirements-checkov.txt
	@echo "==> Setting up $(CHECKOV_VENV) from requirements-checkov.txt (first run only, about a minute)"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(CHECKOV_VENV)/bin/python -m pip install --progress-bar on -r requirements-checkov.txt
	@rm -f $(CHECKOV_VENV)/.installed-* && touch $@

templates: $(STAMP) $(CHECKOV_STAMP) ## cfn-lint and checkov on cloudformation/ and the packaged Chalice template
	@$(BIN)/python -m local_stack.package build/chalice-lint >/dev/null
	@echo "==> cfn-lint (cloudformation/*.yaml, packaged Chalice template)"
	@$(BIN)/cfn-lint cloudformation/*.yaml build/chalice-lint/sam.json
	@echo "==> checkov (cloudformation/, packaged Chalice template)"
	@$(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --quiet --compact -d cloudformation
	@$(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --quiet --compact -f build/chalice-lint/sam.json

package: $(STAMP) ## chalice package --merge-template into build/chalice
	@$(BIN)/python -m local_stack.package build/chalice

lock: ## Re-pin requirements-dev.txt from a fresh environment (needs the registry)
	@rm -rf build/lockvenv && $(PYTHON) -m venv build/lockvenv
	@build/lockvenv/bin/pip install --quiet -r requirements-dev.txt --upgrade
	@{ head -2 requirements-dev.txt; build/lockvenv/bin/pip freeze; } > requirements-dev.txt.new && mv requirements-dev.txt.new requirements-dev.txt

clean: ## Remove the virtual environments, node_modules and build output (the image cache too)
	rm -rf $(VENV) .venv-checkov .venv-ansible build .pytest_cache .mypy_cache .ruff_cache test-output node_modules
