"""catalog.json: the Redshift schema as dump_schema read it (its JSON Schema: shared/schemas/catalog.schema.json).
dump_schema builds the document from its catalog rows and writes it through `Catalog` (so what it writes is what
`from_json` accepts, key for key); rewrite_ddl reads it with `Catalog.read` / `catalog_from_dict`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.documents._checks import format_version
from shared.documents.base import RunDocument
from shared.errors import BadInputError
from shared.layout import CATALOG_JSON
from shared.log import one_line

FORMAT_VERSION = 1
SCHEMA = "catalog"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "catalog.schema.json"


@dataclass(frozen=True)
class Identity:
    seed: int
    step: int


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    default: str | None = None
    identity: Identity | None = None
    encoding: str | None = None
    distkey: bool = False
    sortkey_position: int | None = None
    comment: str | None = None
    collation: str | None = None
    position: int | None = None  # attnum; absent in a catalog written by hand

    def to_json(self) -> dict[str, Any]:
        position = {} if self.position is None else {"position": self.position}
        return {"name": self.name, **position, "type": self.type, "nullable": self.nullable, "default": self.default,
                "identity": None if self.identity is None else {"seed": self.identity.seed, "step": self.identity.step},
                "encoding": self.encoding, "distkey": self.distkey, "sortkey_position": self.sortkey_position,
                "comment": self.comment, "collation": self.collation}


@dataclass(frozen=True)
class Reference:
    schema: str
    table: str
    columns: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "table": self.table, "columns": list(self.columns)}


@dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # primary_key | unique | foreign_key
    columns: list[str]
    references: Reference | None = None

    def to_json(self) -> dict[str, Any]:
        references = {} if self.references is None else {"references": self.references.to_json()}
        return {"name": self.name, "kind": self.kind, "columns": list(self.columns), **references}


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: list[Column]
    constraints: list[Constraint] = field(default_factory=list)
    owner: str | None = None
    comment: str | None = None
    diststyle: str | None = None
    sortkey_style: str | None = None
    backup: bool = True
    estimated_rows: int | None = None
    size_mb: float | None = None  # the data: svv_table_info's size less the table's empty blocks (footprint.py)
    redshift_size_mb: float | None = None  # svv_table_info's size

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "name": self.name, "owner": self.owner, "comment": self.comment,
                "diststyle": self.diststyle, "sortkey_style": self.sortkey_style, "backup": self.backup,
                "estimated_rows": self.estimated_rows, "size_mb": self.size_mb,
                "redshift_size_mb": self.redshift_size_mb,
                "columns": [c.to_json() for c in self.columns], "constraints": [c.to_json() for c in self.constraints]}


@dataclass(frozen=True)
class View:
    schema: str
    name: str
    definition: str
    kind: str = "view"
    late_binding: bool = False
    owner: str | None = None
    comment: str | None = None
    depends_on: list[str] = field(default_factory=list)
    columns: list[ViewColumn] = field(default_factory=list)  # as pg_attribute lists them; not used to rewrite

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "name": self.name, "owner": self.owner, "comment": self.comment,
                "kind": self.kind, "late_binding": self.late_binding, "definition": self.definition,
                "columns": [c.to_json() for c in self.columns], "depends_on": list(self.depends_on)}


@dataclass(frozen=True)
class ViewColumn:
    name: str
    type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name} if self.type is None else {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class Argument:
    type: str
    name: str | None = None
    mode: str = "in"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **({"name": self.name} if self.name else {}),
                **({"mode": self.mode} if self.mode != "in" else {})}


@dataclass(frozen=True)
class Function:
    schema: str
    name: str
    language: str
    arguments: list[Argument]
    returns: str
    body: str
    volatility: str = "volatile"
    owner: str | None = None
    comment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "name": self.name, "owner": self.owner, "comment": self.comment,
                "language": self.language, "arguments": [a.to_json() for a in self.arguments],
                "returns": self.returns, "volatility": self.volatility, "body": self.body}


@dataclass(frozen=True)
class Procedure:
    schema: str
    name: str
    arguments: list[Argument]
    definition: str
    language: str = "plpgsql"
    owner: str | None = None
    comment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "name": self.name, "owner": self.owner, "comment": self.comment,
                "language": self.language, "arguments": [a.to_json() for a in self.arguments],
                "definition": self.definition}


@dataclass(frozen=True)
class Schema:
    name: str
    owner: str | None = None
    comment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "comment": self.comment}


@dataclass(frozen=True)
class User:
    name: str
    superuser: bool = False
    create_database: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "superuser": self.superuser, "create_database": self.create_database}


@dataclass(frozen=True)
class Group:
    name: str
    members: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "members": list(self.members)}


@dataclass(frozen=True)
class Grant:
    object_kind: str
    schema: str
    name: str
    grantee: str
    grantee_kind: str
    privileges: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"object_kind": self.object_kind, "schema": self.schema, "name": self.name, "grantee": self.grantee,
                "grantee_kind": self.grantee_kind, "privileges": list(self.privileges)}


@dataclass(frozen=True)
class RedshiftOnly:
    """An object Redshift keeps that holds no data to migrate (external schema or table, library, model, RLS
    policy, datashare), or a catalog view dump_schema could not read."""

    kind: str
    name: str
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "detail": self.detail}


@dataclass(frozen=True)
class Catalog(RunDocument):
    run_id: str
    schemas: list[Schema]
    tables: list[Table]
    views: list[View] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    procedures: list[Procedure] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    redshift_only: list[RedshiftOnly] = field(default_factory=list)
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, data: Any, url: str) -> Catalog:
        return catalog_from_dict(data, url)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "run_id": self.run_id, "source": dict(self.source),
                "schemas": [s.to_json() for s in self.schemas], "tables": [t.to_json() for t in self.tables],
                "views": [v.to_json() for v in self.views], "functions": [f.to_json() for f in self.functions],
                "procedures": [p.to_json() for p in self.procedures], "users": [u.to_json() for u in self.users],
                "groups": [g.to_json() for g in self.groups], "grants": [g.to_json() for g in self.grants],
                "redshift_only": [o.to_json() for o in self.redshift_only]}


@lru_cache(maxsize=1)
def _validator():
    import fastjsonschema

    return fastjsonschema.compile(json.loads(SCHEMA_PATH.read_text()), use_default=False)


def validate(data: Any, where: str) -> None:
    """Raise one line naming the first problem and where it is (as a JSON path). fastjsonschema compiles the
    schema to Python: a 10,000-table catalog validates in a fraction of a second."""
    import fastjsonschema

    try:
        _validator()(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        path = (exc.name or "data").removeprefix("data") or "(top level)"
        message = one_line(exc.message.removeprefix(exc.name or ""), 200)
        raise BadInputError(f"{where} is not a valid catalog: at {path}: {message}",
                            "Re-run dump_schema for this run id") from None


def _args(items: list[dict]) -> list[Argument]:
    return [Argument(a["type"], a.get("name"), a.get("mode", "in")) for a in items]


def catalog_from_dict(data: Any, where: str = CATALOG_JSON) -> Catalog:
    format_version(data, where, FORMAT_VERSION)
    validate(data, where)
    tables = []
    for t in data["tables"]:
        columns = [Column(c["name"], c["type"], c.get("nullable", True), c.get("default"),
                          Identity(c["identity"]["seed"], c["identity"]["step"]) if c.get("identity") else None,
                          c.get("encoding"), c.get("distkey", False), c.get("sortkey_position"), c.get("comment"),
                          c.get("collation"), c.get("position"))
                   for c in t["columns"]]
        constraints = [Constraint(k["name"], k["kind"], list(k["columns"]),
                                  Reference(k["references"]["schema"], k["references"]["table"],
                                            list(k["references"].get("columns") or []))
                                  if k.get("references") else None)
                       for k in t.get("constraints", [])]
        tables.append(Table(t["schema"], t["name"], columns, constraints, t.get("owner"), t.get("comment"),
                            t.get("diststyle"), t.get("sortkey_style"), t.get("backup", True),
                            t.get("estimated_rows"), t.get("size_mb"), t.get("redshift_size_mb")))
    return Catalog(
        run_id=data["run_id"],
        schemas=[Schema(s["name"], s.get("owner"), s.get("comment")) for s in data["schemas"]],
        tables=tables,
        views=[View(v["schema"], v["name"], v["definition"], v.get("kind", "view"), v.get("late_binding", False),
                    v.get("owner"), v.get("comment"), list(v.get("depends_on", [])),
                    [ViewColumn(c["name"], c.get("type")) for c in v.get("columns", [])]) for v in data["views"]],
        functions=[Function(f["schema"], f["name"], f["language"], _args(f["arguments"]), f["returns"], f["body"],
                            f.get("volatility", "volatile"), f.get("owner"), f.get("comment"))
                   for f in data["functions"]],
        procedures=[Procedure(p["schema"], p["name"], _args(p["arguments"]), p["definition"],
                              p.get("language", "plpgsql"), p.get("owner"), p.get("comment"))
                    for p in data["procedures"]],
        users=[User(u["name"], u.get("superuser", False), u.get("create_database", False)) for u in data["users"]],
        groups=[Group(g["name"], list(g["members"])) for g in data["groups"]],
        grants=[Grant(g["object_kind"], g["schema"], g["name"], g["grantee"], g["grantee_kind"],
                      list(g["privileges"])) for g in data["grants"]],
        source=dict(data.get("source") or {}),
        redshift_only=[RedshiftOnly(o["kind"], o["name"], o.get("detail")) for o in data.get("redshift_only", [])],
    )
