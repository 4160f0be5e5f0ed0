"""Argo's template-level semaphores, as `r2a run-local` honours them.

In Argo a template's `synchronization.semaphores` names ConfigMap keys; the controller lets a node start only when
it holds a slot of every one of them ("The workflow will block until all of these locks are available"), keeps
them until the node completes, and reads the limit from the ConfigMap, so editing the ConfigMap changes it for
running workflows too (https://argo-workflows.readthedocs.io/en/latest/synchronization/). The limit is shared by
every workflow of the namespace that names the same key.

run-local does the same with the ConfigMap manifests it is given (k8s/limits.yaml): the file is read again at
every acquisition, so an edit applies to the next node that starts. A slot is an exclusively flock()ed file
`<folder>/<configmap>/<key>/slot-<n>` (n < the limit); the folder belongs to one devstack, so every run-local
against it shares the limits as runs in one namespace do, and a crashed run leaves no slot taken (the kernel
drops its locks). Lowering a limit does not stop nodes already holding a slot, as in Argo.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from shared.log import one_line


class SemaphoreError(Exception):
    """A semaphore cannot be taken as written (one line: which one and why)."""


@dataclass(frozen=True)
class SemaphoreRef:
    config_map: str
    key: str

    def __str__(self) -> str:
        return f"{self.config_map}/{self.key}"


def template_semaphores(template: dict) -> list[SemaphoreRef]:
    """The semaphores a template holds while it runs (both the list form and the single, pre-3.6 form)."""
    sync = template.get("synchronization") or {}
    if sync.get("mutexes") or sync.get("mutex"):
        raise SemaphoreError(f"template {template.get('name')!r}: mutexes are not supported by run-local")
    refs = [*(sync.get("semaphores") or []), *([sync["semaphore"]] if sync.get("semaphore") else [])]
    out = []
    for ref in refs:
        selector = ref.get("configMapKeyRef") or {}
        if not selector.get("name") or not selector.get("key"):
            raise SemaphoreError(f"template {template.get('name')!r}: a semaphore without configMapKeyRef "
                                 "name and key (only ConfigMap semaphores run locally)")
        out.append(SemaphoreRef(selector["name"], selector["key"]))
    return out


class ConfigMapLimits:
    """Semaphore limits from ConfigMap manifests, read again at every call (an edit applies to the next node)."""

    def __init__(self, files: tuple[Path, ...]):
        self.files = files

    def __call__(self, ref: SemaphoreRef) -> int:
        for path in self.files:
            try:
                documents = list(yaml.safe_load_all(path.read_text()))
            except (OSError, yaml.YAMLError) as exc:
                raise SemaphoreError(f"semaphore {ref}: cannot read {path}: {one_line(exc, 160)}") from None
            for doc in documents:
                if (isinstance(doc, dict) and doc.get("kind") == "ConfigMap"
                        and (doc.get("metadata") or {}).get("name") == ref.config_map):
                    return _limit(ref, (doc.get("data") or {}).get(ref.key), path)
        where = ", ".join(str(p) for p in self.files) or "no ConfigMap file"
        raise SemaphoreError(f"semaphore {ref}: ConfigMap {ref.config_map!r} is not in {where}")


def _limit(ref: SemaphoreRef, value, path: Path) -> int:
    if value is None:
        raise SemaphoreError(f"semaphore {ref}: {path} has no key {ref.key!r} in ConfigMap {ref.config_map!r}")
    try:
        limit = int(str(value).strip())
    except ValueError:
        limit = -1
    if limit < 0:
        raise SemaphoreError(f"semaphore {ref}: {path}: {one_line(str(value), 40)!r} is not a count")
    return limit


class Semaphores:
    """Slots held as flock()ed files: shared by the threads of one run and by every run using the same folder."""

    def __init__(self, folder: Path, limits: Callable[[SemaphoreRef], int], poll_s: float = 0.1):
        self.folder, self.limits, self.poll_s = folder, limits, poll_s

    @contextmanager
    def hold(self, refs: list[SemaphoreRef], waiting: Callable[[list[SemaphoreRef]], None] | None = None
             ) -> Iterator[None]:
        """Block until one slot of every semaphore in `refs` is held at once (none is kept while another is
        missing, so two nodes can never hold half of each other's), then hold them for the block."""
        told = False
        while True:
            held, missing = self._try_all(refs)
            if not missing:
                break
            if waiting is not None and not told:
                waiting(missing)
                told = True
            time.sleep(self.poll_s)
        try:
            yield
        finally:
            for fd in held:
                os.close(fd)  # closing the descriptor drops its flock

    def _try_all(self, refs: list[SemaphoreRef]) -> tuple[list[int], list[SemaphoreRef]]:
        held: list[int] = []
        for ref in refs:
            fd = self._try_one(ref, self.limits(ref))
            if fd is None:
                for taken in held:
                    os.close(taken)
                return [], [ref]
            held.append(fd)
        return held, []

    def _try_one(self, ref: SemaphoreRef, limit: int) -> int | None:
        folder = self.folder / _safe(ref.config_map) / _safe(ref.key)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for slot in range(limit):
            fd = os.open(folder / f"slot-{slot}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"
