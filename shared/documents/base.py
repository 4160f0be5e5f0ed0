"""What every run-folder document class shares: `read` fetches the file and hands it to the class's `from_json`."""

from __future__ import annotations

from typing import Any, Self

from shared.objectstore import ObjectStore


class RunDocument:
    @classmethod
    def from_json(cls, document: Any, url: str) -> Self:
        raise NotImplementedError

    @classmethod
    def read(cls, store: ObjectStore, url: str) -> Self:
        """The document at `url`, checked: one BadInputError line naming the file and the place of a problem."""
        return cls.from_json(store.read_json(url), url)
