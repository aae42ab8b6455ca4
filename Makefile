# The README's two commands are `make run` and `make test`; everything they need is set up
# here on first use (a virtual environment in .venv built from the pinned requirements).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# checkov and Ansible each have an environment of their own: checkov pins an old boto3 the
# main one must not get; the ansible package (with the amazon.aws and community.aws
# collections, never fetched from Galaxy) is ~600 MB.
CHECKOV_VENV ?= .venv-checkov
ANSIBLE_VENV ?= .venv-ansible
# $(call venv-stamp,DIR,FILES): the stamp of the environment in DIR, named after the checksum
# of its requirements FILES, so that editing one rebuilds the environment.
venv-stamp = $(1)/.installed-$(shell cat $(2) | cksum | cut -d' ' -f1)
STAMP := $(call venv-stamp,$(VENV),requirements-dev.txt chalice_app/requirements.txt)
CHECKOV_STAMP := $(call venv-stamp,$(CHECKOV_VENV),requirements-checkov.txt)
ANSIBLE_STAMP := $(call venv-stamp,$(ANSIBLE_VENV),requirements-ansible.txt)
export PYTHONPATH := $(CURDIR):$(CURDIR)/chalice_app:$(CURDIR)/ec2_tier
# chalice package and boto3 need a region even offline; the local stack uses this one.
export AWS_DEFAULT_REGION ?= us-east-1

.DEFAULT_GOAL := help
.PHONY: help run redrive trace deploy destroy test check lint typecheck templates playbooks-lint unit functional system \
	system-packages bench bench-tools wheel wheelhouse package ansible-venv lock clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' \
	  '{ name[NR] = $$1; text[NR] = $$2; if (length($$1) > width) width = length($$1) } \
	  END { for (i = 1; i <= NR; i++) printf "  make %-" width "s  %s\n", name[i], text[i] }'

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

# $(call venv,DIR,HOW LONG): the recipe of an environment's stamp ($@): DIR built from the
# pinned requirements file that is the stamp's first prerequisite ($<).
define venv
@echo "==> Setting up $(1) from $< (first run only, $(2))"
@test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
@$(1)/bin/python -m pip install --quiet --upgrade pip
@$(1)/bin/python -m pip install --progress-bar on -r $<
@rm -f $(1)/.installed-* && touch $@
endef

$(STAMP): requirements-dev.txt chalice_app/requirements.txt
	$(call venv,$(VENV),about a minute)

$(CHECKOV_STAMP): requirements-checkov.txt
	$(call venv,$(CHECKOV_VENV),about a minute)

$(ANSIBLE_STAMP): requirements-ansible.txt
	$(call venv,$(ANSIBLE_VENV),two minutes or so)

# exec: the shell make starts becomes the stack, whatever ARGS holds, so the stack is make's
# own child: make forwards it SIGTERM, and it sees make die (--exit-with-parent), even by SIGKILL.
run: $(STAMP) ## Run the whole pipeline locally on moto (make run ARGS=--help for options)
	@exec $(BIN)/python -m local_stack --exit-with-parent $(ARGS)

# On AWS: the caller's account, credentials and region (AWS_REGION, AWS_DEFAULT_REGION or the
# profile's), never the us-east-1 this Makefile sets for the local tools. LOCAL=1 (or
# AWS_PORT=N): make run's local AWS on 127.0.0.1, with fake keys.
REDRIVE_LOCAL := $(if $(LOCAL)$(AWS_PORT),--local $(if $(AWS_PORT),--aws-port $(AWS_PORT)))
REDRIVE_ENV := $(if $(REDRIVE_LOCAL),,$(if $(filter file,$(origin AWS_DEFAULT_REGION)),env -u AWS_DEFAULT_REGION))
redrive: $(STAMP) ## Dead letters back to their queue on AWS: QUEUE=order-fulfillment [LOCAL=1 | AWS_PORT=N]
	@test -n "$(QUEUE)" || { \
	  echo "usage: make redrive QUEUE=order-fulfillment                 on AWS, with your AWS environment"; \
	  echo "       make redrive QUEUE=order-fulfillment LOCAL=1         on make run's local stack"; \
	  echo "       make redrive QUEUE=order-fulfillment AWS_PORT=4566   on a local stack on that port"; \
	  exit 2; }
	@$(REDRIVE_ENV) $(BIN)/python -m ops.redrive $(REDRIVE_LOCAL) $(QUEUE)

# LOCAL=1 (or STATE_DIR=the stack's --state-dir): make run's logs; otherwise Logs Insights on
# AWS with your AWS environment, as redrive (STAGE=prod, WEB_LOG_GROUP=... to choose).
TRACE_LOCAL := $(if $(LOCAL)$(STATE_DIR),--local $(if $(STATE_DIR),--state-dir $(STATE_DIR)))
TRACE_AWS := $(if $(STAGE),--stage $(STAGE)) $(if $(WEB_LOG_GROUP),--web-log-group $(WEB_LOG_GROUP))
trace: $(STAMP) ## An order's timeline from every log line: ORDER=id [LOCAL=1 | STATE_DIR=dir] (AWS: STAGE=prod)
	@test -n "$(ORDER)" || { \
	  echo "usage: make trace ORDER=web-0123abcd LOCAL=1        make run's logs (the newest local stack)"; \
	  echo "       make trace ORDER=web-0123abcd STATE_DIR=dir  a local stack started with --state-dir dir"; \
	  echo "       make trace ORDER=web-0123abcd [STAGE=prod]   CloudWatch Logs Insights, with your AWS environment"; \
	  exit 2; }
	@$(if $(TRACE_LOCAL),,$(REDRIVE_ENV)) $(BIN)/python -m ops.trace $(TRACE_LOCAL) $(if $(TRACE_LOCAL),,$(TRACE_AWS)) $(ORDER)

# One command each way (deploy/sequence.py), on the caller's account and region as redrive:
# every step of README "Deploying to AWS" in order; a re-run changes nothing. DRY_RUN=1 prints
# the plan without AWS; PARAMETERS="network.NatGateways=per-az ..." gives stacks more
# parameters; SKIP="web-fleet ..." skips steps; DELETE_DATA=1 lets destroy delete
# the tables, buckets and billing database too.
SEQUENCE_ENV := $(if $(filter file,$(origin AWS_DEFAULT_REGION)),env -u AWS_DEFAULT_REGION)
SEQUENCE_SKIP := $(foreach step,$(SKIP),--skip $(step))
SEQUENCE_PARAMETERS := $(foreach parameter,$(PARAMETERS),--parameter $(parameter))
deploy: $(STAMP) $(if $(DRY_RUN),,$(ANSIBLE_STAMP)) ## Deploy everything to AWS, in order: STAGE=production DOMAIN=shop.example.com [HOSTED_ZONE_ID=Z...] [DRY_RUN=1]
	@test -n "$(STAGE)" -a -n "$(DOMAIN)" || { echo "usage: make deploy STAGE=production|staging DOMAIN=shop.example.com [HOSTED_ZONE_ID=Z...] [DRY_RUN=1] [SKIP=step]"; exit 2; }
	@$(SEQUENCE_ENV) $(BIN)/python -m deploy.sequence deploy --stage $(STAGE) --domain $(DOMAIN) \
	  $(if $(HOSTED_ZONE_ID),--hosted-zone-id $(HOSTED_ZONE_ID)) $(if $(SES_SEND_RATE),--ses-send-rate $(SES_SEND_RATE)) $(if $(DRY_RUN),--dry-run) \
	  $(SEQUENCE_PARAMETERS) $(SEQUENCE_SKIP)

destroy: $(STAMP) ## Tear an environment down, keeping its data: STAGE=production [DELETE_DATA=1]
	@test -n "$(STAGE)" || { echo "usage: make destroy STAGE=production|staging [DELETE_DATA=1] [SKIP=step]"; exit 2; }
	@$(SEQUENCE_ENV) $(BIN)/python -m deploy.sequence destroy --stage $(STAGE) \
	  $(if $(DELETE_DATA),--delete-data) $(SEQUENCE_SKIP)

test: check templates playbooks-lint system-packages system ## Every check CI runs: make check, templates, playbooks, then the system tests

# The tiers of tests/ (tests/conftest.py marks each test after its directory): unit is pure
# Python; functional runs in process (moto, the Chalice and Flask test clients, SQLite);
# system starts or drives what is outside the process (the local stack, gunicorn, chromium,
# PostgreSQL, systemd-nspawn, ansible-playbook, pip, chalice package) and needs root.
check: lint typecheck ## The fast loop, under a minute: ruff, mypy, unit and functional tests on 2 workers
	@echo "==> pytest (unit, functional)"
	@$(BIN)/pytest -n 2 -m "not system" tests/unit tests/functional $(ARGS)

unit: $(STAMP) ## pytest tests/unit: pure Python, in seconds
	@echo "==> pytest tests/unit"
	@$(BIN)/pytest tests/unit $(ARGS)

functional: $(STAMP) ## pytest tests/functional: in process on moto, the Chalice and Flask clients, SQLite
	@echo "==> pytest tests/functional"
	@$(BIN)/pytest tests/functional $(ARGS)

# newman runs the Postman collection against the local stack; pinned in package-lock.json.
# The Debian packages first: npm comes with them.
NEWMAN := node_modules/.bin/newman
system: $(STAMP) $(ANSIBLE_STAMP) system-packages $(NEWMAN) ## pytest tests/system: e2e, browser, gunicorn, PostgreSQL, converge, packaging (minutes)
	@echo "==> pytest tests/system"
	@$(BIN)/pytest tests/system $(ARGS)

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

system-packages:
	$(call apt-install,$(SYSTEM_PACKAGES),make test)

lint: $(STAMP) ## ruff lint and format check
	@echo "==> ruff"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy on the application packages
	@echo "==> mypy"
	@$(BIN)/mypy

$(NEWMAN): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 (apt-get install nodejs npm)"; exit 1; }
	@echo "==> Installing newman from package-lock.json (first run only, a few seconds)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bench: $(STAMP) $(if $(findstring --help,$(ARGS)),,bench-tools) ## Web tier load, AWS requests and cost per order, cold start, end to end (ARGS=--help)
	@$(BIN)/python -m bench $(ARGS)

# wrk (Debian's package) offers the web tier its load; only make bench needs it.
BENCH_PACKAGES := $(if $(wildcard /usr/bin/wrk),,wrk)
bench-tools:
	$(call apt-install,$(BENCH_PACKAGES),make bench)

wheel: $(STAMP) ## Build the web tier's wheel into build/wheels (what the Ansible role installs)
	@$(BIN)/pip wheel --quiet --no-deps --no-build-isolation -w build/wheels ./ec2_tier
	@ls build/wheels/order_web-*.whl

ansible-venv: $(ANSIBLE_STAMP) ## Set up .venv-ansible (ansible, ansible-lint) for playbooks/

playbooks-lint: $(ANSIBLE_STAMP) ## ansible-lint --profile production and syntax check of site.yml
	@echo "==> ansible-lint"
	@cd playbooks && PATH="$(CURDIR)/$(ANSIBLE_VENV)/bin:$$PATH" ansible-lint --offline --profile production
	@cd playbooks && PATH="$(CURDIR)/$(ANSIBLE_VENV)/bin:$$PATH" ansible-playbook --syntax-check -i localhost, site.yml

wheelhouse: $(STAMP) ## The web tier's wheel and its pinned dependencies for the hosts (Debian 12, CPython 3.11, x86_64) in build/wheelhouse
	@$(BIN)/python -m deploy.wheelhouse build/wheelhouse
	@ls build/wheelhouse | wc -l | xargs echo "==> build/wheelhouse: wheels:"

templates: $(STAMP) $(CHECKOV_STAMP) ## cfn-lint and checkov on cloudformation/ and the packaged Chalice template
	@$(BIN)/python -m deploy.package build/chalice-lint >/dev/null
	@echo "==> cfn-lint (cloudformation/*.yaml, packaged Chalice template)"
	@$(BIN)/cfn-lint cloudformation/*.yaml build/chalice-lint/sam.json
	@echo "==> checkov (cloudformation/, packaged Chalice template)"
	@$(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --quiet --compact -d cloudformation
	@$(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --quiet --compact -f build/chalice-lint/sam.json

package: $(STAMP) ## chalice package --merge-template into build/chalice (deploy.package)
	@$(BIN)/python -m deploy.package build/chalice

# $(call lock,FILE[,CONSTRAINTS]): re-pin FILE. It names every package (no separate list of
# direct dependencies is kept), so each gets its newest version compatible with the others
# (and with CONSTRAINTS), resolved in a fresh environment; the pins replace the old ones
# under FILE's header comment. A package nothing needs any more stays until removed by hand.
# Without the exported PYTHONPATH, or pip would see (and pin) the repository's own packages.
LOCK_PIP := env -u PYTHONPATH build/lock/bin/python -m pip
define lock
@echo "==> Re-pinning $(1) in a fresh environment (needs the package index)"
@rm -rf build/lock && $(PYTHON) -m venv build/lock
@grep -v '^#' $(1) | sed 's/==.*//' > build/lock/names.txt
@$(LOCK_PIP) install --quiet --upgrade pip
@$(LOCK_PIP) install --quiet -r build/lock/names.txt $(if $(2),-c $(2))
@{ sed '/^[^#]/,$$d' $(1); $(LOCK_PIP) freeze; } > $(1).new && mv $(1).new $(1)
endef

lock: ## Re-pin requirements-dev.txt (within chalice_app's runtime pins), -checkov, -ansible
	$(call lock,requirements-dev.txt,chalice_app/requirements.txt)
	$(call lock,requirements-checkov.txt)
	$(call lock,requirements-ansible.txt)
	@rm -rf build/lock

clean: ## Remove the virtual environments, node_modules and build output (the image cache too)
	rm -rf $(VENV) $(CHECKOV_VENV) $(ANSIBLE_VENV) build .pytest_cache .mypy_cache .ruff_cache test-output node_modules
