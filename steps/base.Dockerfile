# What every step image starts from: Python, the shared/ package, the dependency pins and the step user (uid 10001,
# workflows/podspec.py STEP_UID). `make images` builds it first as r2a-step-base:build; each steps/<name>/Dockerfile
# adds only its own requirements, code and entry point, so the seven images share these layers (a node pulls them
# once). The code runs from /app as run-local runs it (workflows/runtime.py CODE), not from an installed package.
# checkov:skip=CKV_DOCKER_2: a batch step runs to completion under Argo, which watches the process; a HEALTHCHECK has nothing to probe
# checkov:skip=CKV_DOCKER_3: never run itself; every step image built on it ends with USER 10001 (tests/images checks)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY constraints.txt ./
COPY shared ./shared
COPY steps/__init__.py ./steps/__init__.py
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin r2a
