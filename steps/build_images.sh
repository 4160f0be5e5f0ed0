#!/usr/bin/env bash
# `make images [IMAGE_REGISTRY=…] [IMAGE_TAG=…]`: build every step image under exactly the reference the rendered
# manifests use (`python -m workflows.render --list-images` prints them), from the repository root: first
# steps/base.Dockerfile as r2a-step-base:build (Python, shared/, the step user), then each steps/<step>/Dockerfile on
# it (BuildKit: its requirements are bind-mounted, not copied). Render with the same --image-registry/--image-tag
# when they are not the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PY:-.venv/bin/python}"
list=(--list-images)
[ -n "${IMAGE_REGISTRY:-}" ] && list+=(--image-registry "$IMAGE_REGISTRY")
[ -n "${IMAGE_TAG:-}" ] && list+=(--image-tag "$IMAGE_TAG")
images="$("$py" -m workflows.render "${list[@]}")"
if ! command -v docker >/dev/null 2>&1; then
  echo "make images: docker is not installed on this machine; nothing built. These are the images to build:"
  echo "$images"
  exit 0
fi
if ! docker info >/dev/null 2>&1; then
  echo "make images: the docker CLI is here but no Docker daemon answers; nothing built"
  exit 0
fi
export DOCKER_BUILDKIT=1
echo "building r2a-step-base:build"
docker build -f steps/base.Dockerfile -t r2a-step-base:build .
while read -r step reference; do
  echo "building $reference"
  docker build -f "steps/$step/Dockerfile" -t "$reference" .
done <<< "$images"
echo "push them, then pin them: docker inspect --format '{{index .RepoDigests 0}}' <image> >> digests.txt (each image),"
echo "and r2a render --image-digests digests.txt"
