#!/usr/bin/env bash
# `make images`: build every step image from the repository root (each Dockerfile copies shared/ and its step).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker >/dev/null 2>&1; then
  echo "make images: docker is not installed on this machine; nothing built (the Dockerfiles are steps/*/Dockerfile)"
  exit 0
fi
if ! docker info >/dev/null 2>&1; then
  echo "make images: the docker CLI is here but no Docker daemon answers; nothing built"
  exit 0
fi
tag="${R2A_IMAGE_TAG:-dev}"
for dockerfile in steps/*/Dockerfile; do
  step="$(basename "$(dirname "$dockerfile")")"
  echo "building r2a-${step//_/-}:$tag"
  docker build -f "$dockerfile" -t "r2a-${step//_/-}:$tag" .
done
