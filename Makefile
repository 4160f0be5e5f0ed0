# Every target bootstraps .venv itself: a fresh machine with python3 needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# checkov pins older boto3/botocore than the product uses, so it lives in a venv of its own.
SCAN_VENV := .venv-scan
CHECKOV := checkov==3.3.30
# Where `make images` tags and `make render` points the step images (the defaults of workflows/images.py).
IMAGE_REGISTRY ?= ghcr.io/r2a
IMAGE_TAG ?= 0.1.0

.PHONY: test test-fast demo bench faults lint render images clean devstack-up devstack-down constraints

# constraints.txt pins every distribution (direct and transitive) to what the tests last ran with; the step images
# install with the same file.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# The tests that need no devstack and take seconds (tier `fast`, set by tests/conftest.py), spread over every core
# by pytest-xdist: under a minute, for the edit loop. Starting a devstack service is refused here, so a test that
# needs one fails instead of dropping out.
test-fast: $(STAMP)
	R2A_NO_DEVSTACK=1 $(PY) -m pytest -q -m fast -p no:cacheprovider -n auto $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m workflows.demo $(DEMO_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

# The fault matrix, and the other long end-to-end runs `make test` leaves out (marked slow): the corpora migrated
# through run-local, three nights of the rendered CronWorkflow (full reloads, then incremental sync and cut-over),
# run-local fanning out a 5,000-table plan. tests/test_make_targets.py fails on a slow test no target names.
faults: $(STAMP)
	$(PY) -m pytest -q tests/faults tests/workflows/test_corpora_migration.py tests/workflows/test_nightly_cron.py \
		tests/workflows/test_nightly_sync.py tests/workflows/test_scale.py $(PYTEST_ARGS)

$(SCAN_VENV)/.installed: Makefile
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet '$(CHECKOV)'
	@touch $@

# ruff; bandit: no medium or high finding outside tests/, each accepted one carries `# nosec Bxxx  # why` on its
# line (bandit warns "nosec encountered (Bxxx), but no failed test" for every other check it runs on such a line:
# noise, filtered out here while its exit status is kept); checkov over the rendered workflows, k8s/ and Dockerfiles.
lint: $(STAMP) $(SCAN_VENV)/.installed
	$(PY) -m ruff check .
	@out="$$($(PY) -m bandit --quiet --recursive --severity-level medium shared steps workflows devstack benchmarks 2>&1)"; \
	  status=$$?; printf '%s\n' "$$out" | grep -v 'but no failed test on file'; exit $$status
	$(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework argo_workflows kubernetes dockerfile \
		-d workflows/rendered -d k8s -d steps

render: $(STAMP)
	$(PY) -m workflows.render $(RENDER_ARGS)

images: $(STAMP)
	@PY=$(PY) IMAGE_REGISTRY=$(IMAGE_REGISTRY) IMAGE_TAG=$(IMAGE_TAG) bash steps/build_images.sh

devstack-up: $(STAMP)
	$(PY) -m devstack up

devstack-down: $(STAMP)
	$(PY) -m devstack down

# After a change to pyproject.toml's bounds: install without the old pins, then record what was installed.
constraints:
	$(PY) -m pip install --quiet -e '.[dev]'
	{ printf '%s\n' '# Exact versions make installs (.venv) and every step image installs (pip -c), so a tag always' \
	  '# holds the same code. Regenerate after changing pyproject.toml: make constraints'; \
	  $(PY) -m pip freeze --exclude-editable; } > constraints.txt

# The root-owned copies of the venv and pgserver that run-local and devstack hard-link under $TMPDIR (so uid 10001
# and devstack's service user can reach them from a 0700 clone) are caches keyed by content: removed here too.
clean:
	-test -x $(PY) && $(PY) -m devstack down
	rm -rf $(VENV) $(SCAN_VENV) .devstack .pytest_cache demo-output build *.egg-info
	rm -rf "$${TMPDIR:-/tmp}"/r2a-runtime-* "$${TMPDIR:-/tmp}"/r2a-devstack-pgserver-*
