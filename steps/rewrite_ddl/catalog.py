"""catalog.json (dump_schema's output) read into dataclasses, after checking it against its JSON Schema."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.errors import BadInputError
from shared.log import one_line

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "catalog.schema.json"


@dataclass(frozen=True)
class Identity:
    seed: int
    step: int


@dataclass
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


@dataclass
class Reference:
    schema: str
    table: str
    columns: list[str] = field(default_factory=list)


@dataclass
class Constraint:
    name: str
    kind: str  # primary_key | unique | foreign_key
    columns: list[str]
    references: Reference | None = None


@dataclass
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
    size_mb: float | None = None


@dataclass
class View:
    schema: str
    name: str
    definition: str
    kind: str = "view"
    late_binding: bool = False
    owner: str | None = None
    comment: str | None = None
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Argument:
    type: str
    name: str | None = None
    mode: str = "in"


@dataclass
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


@dataclass
class Procedure:
    schema: str
    name: str
    arguments: list[Argument]
    definition: str
    language: str = "plpgsql"
    owner: str | None = None
    comment: str | None = None


@dataclass
class Schema:
    name: str
    owner: str | None = None
    comment: str | None = None


@dataclass
class User:
    name: str
    superuser: bool = False
    create_database: bool = False


@dataclass
class Group:
    name: str
    members: list[str]


@dataclass
class Grant:
    object_kind: str
    schema: str
    name: str
    grantee: str
    grantee_kind: str
    privileges: list[str]


@dataclass
class RedshiftOnly:
    """An object Redshift keeps that holds no data to migrate (external schema or table, library, model, RLS
    policy, datashare), or a catalog view dump_schema could not read."""

    kind: str
    name: str
    detail: str | None = None


@dataclass
class Catalog:
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


def catalog_from_dict(data: Any, where: str = "catalog.json") -> Catalog:
    validate(data, where)
    tables = []
    for t in data["tables"]:
        columns = [Column(c["name"], c["type"], c.get("nullable", True), c.get("default"),
                          Identity(c["identity"]["seed"], c["identity"]["step"]) if c.get("identity") else None,
                          c.get("encoding"), c.get("distkey", False), c.get("sortkey_position"), c.get("comment"),
                          c.get("collation"))
                   for c in t["columns"]]
        constraints = [Constraint(k["name"], k["kind"], list(k["columns"]),
                                  Reference(k["references"]["schema"], k["references"]["table"],
                                            list(k["references"].get("columns") or []))
                                  if k.get("references") else None)
                       for k in t.get("constraints", [])]
        tables.append(Table(t["schema"], t["name"], columns, constraints, t.get("owner"), t.get("comment"),
                            t.get("diststyle"), t.get("sortkey_style"), t.get("backup", True),
                            t.get("estimated_rows"), t.get("size_mb")))
    return Catalog(
        run_id=data["run_id"],
        schemas=[Schema(s["name"], s.get("owner"), s.get("comment")) for s in data["schemas"]],
        tables=tables,
        views=[View(v["schema"], v["name"], v["definition"], v.get("kind", "view"), v.get("late_binding", False),
                    v.get("owner"), v.get("comment"), list(v.get("depends_on", []))) for v in data["views"]],
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
