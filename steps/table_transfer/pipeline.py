"""Unload ∥ copy ∥ load: every part moves on as soon as the stage before has finished it.

Redshift writes an UNLOAD's parts one after another per slice (a new part at each MAXFILESIZE), and an S3 object
is listed only once complete, so parts are picked up by listing the attempt's S3 folder while the UNLOAD runs and
copied to GCS at once; the loaders take each part as soon as it is in GCS. When the UNLOAD ends, its manifest is
the authority: every part picked up early must be in it with the same size (else the attempt fails: nothing is
committed before verification), and the parts not seen yet are copied then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from shared.config import GCSSettings, S3Settings
from shared.errors import R2AError, SourceError
from shared.log import event
from shared.objectstore import ObjectStore
from shared.results import PhaseTiming, utc_now
from shared.retry import RetryPolicy
from steps.table_transfer.background import BackgroundUnload, UnloadOutcome
from steps.table_transfer.copy import copy_part, staged_url
from steps.table_transfer.load import PartFeed
from steps.table_transfer.unload import Manifest, Part

PART_POLL_S = 1.0  # how often the S3 folder is listed while the UNLOAD runs


class CopyStage:
    """S3 → GCS copies in a pool; each copied part goes to the loaders' feed, which ends once the expected number
    of parts is copied, or at the first failure."""

    def __init__(self, s3: S3Settings, gcs: GCSSettings, staging_prefix: str, feed: PartFeed, workers: int,
                 policy: RetryPolicy):
        self.s3, self.gcs, self.staging_prefix, self.feed, self.policy = s3, gcs, staging_prefix, feed, policy
        self.timing = PhaseTiming("copy", utc_now())
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="copy")
        self._lock = threading.Lock()
        self._started: float | None = None
        self._copied = 0
        self._expected: int | None = None
        self._finished = False

    def submit(self, part: Part) -> None:
        with self._lock:
            if self._started is None:
                self._started, self.timing.started_at = time.monotonic(), utc_now()
        future = self._pool.submit(copy_part, self.s3, self.gcs, part, staged_url(self.staging_prefix, part),
                                   policy=self.policy)
        future.add_done_callback(self._copied_one)

    def expect(self, total: int) -> None:
        """Every part is known now: the feed ends when `total` are copied."""
        with self._lock:
            self._expected = total
            complete = self._copied == total
        if complete:
            self._finish(None)

    def fail(self, error: BaseException) -> None:
        self._finish(error)

    def close(self, cancel: bool) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)
        self._finish(RuntimeError("the copy stage was closed"))  # no-op when it finished before

    def _copied_one(self, future: Future) -> None:
        # An exception escaping a done-callback is only logged by concurrent.futures: the loaders would wait for
        # this part forever. Whatever goes wrong here ends the feed with that error instead.
        try:
            if future.cancelled():
                return
            error = future.exception()
            if error is not None:
                self._finish(error)
                return
            self.feed.add(future.result())
            with self._lock:
                self._copied += 1
                complete = self._copied == self._expected
        except BaseException as exc:
            self._finish(exc)
            return
        if complete:
            self._finish(None)

    def _finish(self, error: BaseException | None) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
            started = self._started if self._started is not None else time.monotonic()
        self.timing.finished_at = utc_now()
        self.timing.duration_s = round(time.monotonic() - started, 3)
        self.timing.status = "failed" if error else "succeeded"
        self.feed.finish(error)


def follow_unload(store: ObjectStore, unload: BackgroundUnload, copies: CopyStage,
                  poll_s: float = PART_POLL_S, on_unloaded: Callable[[UnloadOutcome], None] | None = None) -> None:
    """Hand every part to `copies` as soon as it is in S3, then the manifest's others; a failure of the UNLOAD
    (or a part the manifest disowns, or of `on_unloaded`, which records the finished UNLOAD) ends the copy stage,
    and with it the load, with that error."""
    try:
        picked: dict[str, Part] = {}
        while not unload.wait(poll_s):
            for part in _new_parts(store, unload.prefix, picked):
                picked[part.url] = part
                copies.submit(part)
        outcome = unload.outcome()
        event("phase.finished", table=str(unload.spec.source), phase="unload", rows=outcome.source_rows,
              parts=len(outcome.manifest.parts), bytes=outcome.manifest.bytes_compressed, picked_early=len(picked))
        remaining = remaining_parts(outcome.manifest, picked, unload.prefix)
        if on_unloaded is not None:
            on_unloaded(outcome)
        for part in remaining:
            copies.submit(part)
        copies.expect(len(outcome.manifest.parts))
    except BaseException as exc:  # the main thread sees it through the feed
        copies.fail(exc)


def _new_parts(store: ObjectStore, prefix: str, picked: dict[str, Part]) -> list[Part]:
    try:
        listing = store.list(prefix)
    except R2AError:
        return []  # a failed listing is made up for by the next one, or by the manifest at the end
    manifest_url = prefix + "manifest"
    return [Part(info.url, info.size, None) for info in sorted(listing, key=lambda i: i.url)
            if info.url not in picked and info.url != manifest_url]


def remaining_parts(manifest: Manifest, picked: dict[str, Part], prefix: str) -> list[Part]:
    """The manifest's parts not picked up yet; fails when a picked-up file is not the manifest's."""
    listed = {part.url: part for part in manifest.parts}
    for url, part in picked.items():
        entry = listed.get(url)
        if entry is None:
            raise SourceError(f"{url} appeared under {prefix} during the UNLOAD but its manifest does not list it")
        if entry.size and entry.size != part.size:
            raise SourceError(f"{url} had {part.size} bytes when it was picked up, the UNLOAD manifest says "
                              f"{entry.size}")
    return [part for part in manifest.parts if part.url not in picked]
