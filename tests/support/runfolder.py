"""A run folder in devstack's GCS emulator, as the steps see it: files put and read by name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout


@dataclass
class RunFolder:
    run_id: str
    store: ObjectStore
    layout: RunLayout
    environ: dict[str, str]

    @classmethod
    def create(cls, run_id: str, environ: dict[str, str]) -> RunFolder:
        settings = load_settings(environ)
        return cls(run_id, ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs),
                   dict(environ))

    def put(self, filename: str, text: str) -> None:
        self.store.write_text(self.layout.artifact(filename), text)

    def put_json(self, filename: str, document: Any) -> None:
        self.store.write_json(self.layout.artifact(filename), document)

    def get(self, filename: str) -> str:
        return self.store.read_text(self.layout.artifact(filename))

    def json(self, filename: str) -> Any:
        return json.loads(self.get(filename))

    def has(self, filename: str) -> bool:
        return self.store.exists(self.layout.artifact(filename))

    def report_text(self, name: str) -> str:
        return self.store.read_text(self.layout.report(name))

    def remove(self) -> None:
        self.store.delete_prefix(self.layout.root)
