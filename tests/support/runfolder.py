"""A run folder in devstack's GCS emulator, as the steps see it: files put and read at the URLs its RunLayout gives
(`folder.put(folder.layout.name_map_json, text)`), so that a test follows wherever layout puts a file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from shared.config import load_settings
from shared.identifiers import TableRef
from shared.layout import SECTIONS
from shared.objectstore import ObjectStore, RunLayout


def url_of(layout: RunLayout, path: str) -> str:
    """The URL of `path`, relative to the run root as the report keys documents ("results/public.sales.json"),
    from the RunLayout accessor that builds it: a path no accessor gives is refused, not put somewhere."""
    named = [getattr(layout, name) for name, value in vars(RunLayout).items() if isinstance(value, property)]
    named += [layout.validated_sql(section) for section in SECTIONS]
    named += [layout.schema_alloydb_section_sql(section) for section in SECTIONS]
    folder, _, rest = path.partition("/")
    stem = rest.removesuffix(".json")
    built = {"results": lambda: layout.result(TableRef(*map(unquote, stem.split(".", 1)))),  # file_stem's inverse
             "steps": lambda: layout.step_result(stem),
             "batches": lambda: layout.batch(stem)}
    urls = [url for url in named if layout.relative(url) == path]
    if not urls and folder in built:
        urls = [url for url in [built[folder]()] if layout.relative(url) == path]
    if not urls:
        raise ValueError(f"RunLayout gives no file the name {path!r}")
    return urls[0]


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

    def put(self, url: str, text: str) -> None:
        self.store.write_text(url, text)

    def put_json(self, url: str, document: Any) -> None:
        self.store.write_json(url, document)

    def get(self, url: str) -> str:
        return self.store.read_text(url)

    def json(self, url: str) -> Any:
        return json.loads(self.get(url))

    def has(self, url: str) -> bool:
        return self.store.exists(url)

    def report_text(self, name: str) -> str:
        return self.store.read_text(self.layout.report(name))

    def remove(self) -> None:
        self.store.delete_prefix(self.layout.root)
