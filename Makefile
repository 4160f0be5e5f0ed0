# Every target bootstraps .venv itself: a fresh machine with python3 needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench faults lint render images clean devstack-up devstack-down

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m workflows.demo $(DEMO_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

faults: $(STAMP)
	$(PY) -m pytest -q tests/faults $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

render: $(STAMP)
	$(PY) -m workflows.render

images:
	@bash steps/build_images.sh

devstack-up: $(STAMP)
	$(PY) -m devstack up

devstack-down: $(STAMP)
	$(PY) -m devstack down

clean:
	-test -x $(PY) && $(PY) -m devstack down
	rm -rf $(VENV) .devstack .pytest_cache demo-output build *.egg-info
