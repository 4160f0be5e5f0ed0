"""The image references the manifests use: the step images (registry and tag are render options, and `make images`
builds exactly these), the scratch PostgreSQL and the AlloyDB Auth Proxy, each pinned by digest on request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from shared.errors import BadInputError
from shared.stepnames import STEPS

DEFAULT_REGISTRY = "ghcr.io/r2a"
DEFAULT_TAG = "0.1.0"
POSTGRES_IMAGE = "postgres:16"
AUTH_PROXY_IMAGE = "gcr.io/alloydb-connectors/alloydb-auth-proxy:1.13.1"

_DIGEST = re.compile(r"^(?P<reference>[^\s@]+)@(?P<digest>sha256:[0-9a-f]{64})$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REGISTRY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")


def repository(reference: str) -> str:
    """`host:5000/name:tag` → `host:5000/name` (a colon after the last slash starts the tag)."""
    head, slash, last = reference.rpartition("/")
    return head + slash + last.split(":", 1)[0]


@dataclass(frozen=True)
class Images:
    registry: str = DEFAULT_REGISTRY
    tag: str = DEFAULT_TAG
    digests: dict[str, str] = field(default_factory=dict)  # reference (or repository) → sha256:…

    def __post_init__(self) -> None:
        if not _REGISTRY.match(self.registry):
            raise BadInputError(f"image registry {self.registry!r} is not a registry/path (e.g. ghcr.io/r2a)")
        if not _TAG.match(self.tag):
            raise BadInputError(f"image tag {self.tag!r} is not a valid tag")

    def step_reference(self, step: str) -> str:
        return f"{self.registry}/{step.replace('_', '-')}:{self.tag}"

    def references(self) -> list[str]:
        """Every image the manifests run, unpinned: the six steps, then the sidecars."""
        return [self.step_reference(s) for s in STEPS] + [POSTGRES_IMAGE, AUTH_PROXY_IMAGE]

    def pin(self, reference: str) -> str:
        if not self.digests:
            return reference
        digest = self.digests.get(reference) or self.digests.get(repository(reference))
        if digest is None:
            raise BadInputError(f"no digest for image {reference} in the --image-digests file",
                                "Add a line `<image>@sha256:<digest>` for it")
        return f"{reference}@{digest}"

    def step(self, step: str) -> str:
        return self.pin(self.step_reference(step))

    def postgres(self) -> str:
        return self.pin(POSTGRES_IMAGE)

    def auth_proxy(self) -> str:
        return self.pin(AUTH_PROXY_IMAGE)


def load_digests(path: Path) -> dict[str, str]:
    """Lines `image[:tag]@sha256:<64 hex>` (what `docker inspect --format '{{index .RepoDigests 0}}'` prints, with or
    without the tag); `#` comments and blank lines are skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise BadInputError(f"--image-digests {path}: cannot read it: {exc.strerror or exc}") from None
    digests: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        match = _DIGEST.match(text)
        if not match:
            raise BadInputError(f"--image-digests {path}:{number}: not `image@sha256:<64 hex digits>`: {text[:80]!r}")
        digests[match["reference"]] = match["digest"]
    if not digests:
        raise BadInputError(f"--image-digests {path} lists no image")
    return digests
