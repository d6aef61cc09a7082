# cookiecutter-sagemaker-mlops: `make demo` bakes a model repo and runs its local
# rehearsal; `make test` runs the template's test suite. Both build .venv on first use.
PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
# checkov pins an older boto3 than the generated repos, so it gets a venv of its own.
CHECKOV_VENV := $(CURDIR)/.venv-checkov
UV_VERSION := 0.13.8
DEMO_DIR ?= $(CURDIR)/build/demo
PYTEST_ARGS ?= --durations=20

.PHONY: help venv demo test lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/test.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements/test.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt $(VENV)/.installed
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements/checkov.txt
	touch $@

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed ## Build .venv (and .venv-checkov) from pinned requirements

demo: $(VENV)/.installed ## Bake a repo with the default answers into build/demo and run its local rehearsal
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/cookiecutter --no-input --output-dir $(DEMO_DIR) $(CURDIR)
	$(MAKE) -C $(DEMO_DIR)/customer-churn local VENV=$(VENV)

test: $(VENV)/.installed $(CHECKOV_VENV)/.installed ## Run the template's test suite
	$(PY) -m pytest $(PYTEST_ARGS)

lock: $(VENV)/.installed ## Re-pin requirements/*.txt from requirements/*.in
	$(VENV)/bin/uv pip compile --python-version 3.11 -q requirements/test.in -o requirements/test.txt
	$(VENV)/bin/uv pip compile --python-version 3.11 -q requirements/checkov.in -o requirements/checkov.txt

clean: ## Remove build output
	rm -rf build .pytest_cache
