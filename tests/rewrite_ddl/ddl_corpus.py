"""For tests only: read Redshift CREATE SCHEMA / CREATE TABLE / COMMENT ON TABLE text (the corpora in
../shared/corpora) into a catalog.json dict, as dump_schema would describe the same tables. The product never
parses DDL text: it reads Redshift's catalog."""

from __future__ import annotations

import re
from pathlib import Path

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
_COLUMN_STOP = {"encode", "not", "null", "default", "unique", "primary", "identity", "distkey", "sortkey",
                "references", "collate", "generated"}


def _strip_comments(text: str) -> str:
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j == -1 else j + 2
        elif text[i] == "'":
            j = i + 1
            while j < n and not (text[j] == "'" and text[j + 1:j + 2] != "'"):
                j += 2 if text[j] == "'" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside parentheses and quotes."""
    parts, depth, quote, current = [], 0, None, []
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _name(token: str) -> str:
    token = token.strip()
    return token[1:-1].replace('""', '"') if token.startswith('"') else token.lower()


def _qualified(text: str, default_schema: str) -> tuple[str, str]:
    parts = [_name(p) for p in re.findall(r'"(?:[^"]|"")*"|[^.\s]+', text.strip())]
    return (parts[0], parts[1]) if len(parts) == 2 else (default_schema, parts[0])


def _columns_of(text: str) -> list[str]:
    return [_name(c) for c in _split(text.strip().strip("()"), ",")]


class CorpusCatalog:
    def __init__(self, run_id: str):
        self.run_id = run_id
        self.schemas: dict[str, dict] = {}
        self.tables: dict[tuple[str, str], dict] = {}

    def load(self, text: str, default_schema: str = "public") -> None:
        for statement in _split(_strip_comments(text), ";"):
            lowered = statement.lower()
            if lowered.startswith("create schema"):
                name = _name(re.sub(r"(?i)^create\s+schema\s+(if\s+not\s+exists\s+)?", "", statement).split()[0])
                self.schemas.setdefault(name, {"name": name})
            elif lowered.startswith("create table"):
                self._table(statement, default_schema)
            elif lowered.startswith("comment on table"):
                match = re.match(r"(?is)comment\s+on\s+table\s+(\S+)\s+is\s+'(.*)'$", statement)
                schema, name = _qualified(match.group(1), default_schema)
                if (schema, name) in self.tables:
                    self.tables[(schema, name)]["comment"] = match.group(2).replace("''", "'")

    def _table(self, statement: str, default_schema: str) -> None:
        head = re.match(r"(?is)create\s+table\s+(if\s+not\s+exists\s+)?(\S+)\s*\(", statement)
        schema, name = _qualified(head.group(2), default_schema)
        if (schema, name) in self.tables:
            return  # Redshift refuses the second CREATE of the same table
        self.schemas.setdefault(schema, {"name": schema})
        start = head.end() - 1
        depth = 0
        for end in range(start, len(statement)):
            depth += {"(": 1, ")": -1}.get(statement[end], 0)
            if depth == 0:
                break
        body, tail = statement[start + 1:end], statement[end + 1:]
        table = {"schema": schema, "name": name, "columns": [], "constraints": [], "diststyle": None,
                 "sortkey_style": None, "owner": "loader", "estimated_rows": 0, "size_mb": 0}
        for item in _split(body, ","):
            self._item(table, item)
        style = re.search(r"(?i)diststyle\s+(\w+)", tail)
        if style:
            table["diststyle"] = style.group(1).upper()
        dist = re.search(r"(?i)distkey\s*\(([^)]*)\)", tail)
        if dist:
            self._column(table, _name(dist.group(1)))["distkey"] = True
            table["diststyle"] = "KEY"
        sort = re.search(r"(?i)(compound\s+|interleaved\s+)?sortkey\s*\(([^)]*)\)", tail)
        if sort:
            table["sortkey_style"] = "interleaved" if (sort.group(1) or "").strip().lower() == "interleaved" \
                else "compound"
            for position, column in enumerate(_columns_of(sort.group(2)), start=1):
                self._column(table, column)["sortkey_position"] = position
        self.tables[(schema, name)] = table

    @staticmethod
    def _column(table: dict, name: str) -> dict:
        return next(c for c in table["columns"] if c["name"] == name)

    def _item(self, table: dict, item: str) -> None:
        lowered = item.lower()
        constraint_name = None
        match = re.match(r'(?is)constraint\s+("(?:[^"]|"")*"|\S+)\s+(.*)$', item)
        if match:
            constraint_name, item, lowered = _name(match.group(1)), match.group(2), match.group(2).lower()
        if lowered.startswith("primary key"):
            columns = _columns_of(item[len("primary key"):])
            table["constraints"].append({"name": constraint_name or f"{table['name']}_pkey",
                                         "kind": "primary_key", "columns": columns})
        elif lowered.startswith("unique"):
            columns = _columns_of(item[len("unique"):])
            table["constraints"].append({"name": constraint_name or f"{table['name']}_{'_'.join(columns)}_key",
                                         "kind": "unique", "columns": columns})
        elif lowered.startswith("foreign key"):
            match = re.match(r"(?is)foreign\s+key\s*(\([^)]*\))\s*references\s+([^\s(]+)\s*(\([^)]*\))?", item)
            columns = _columns_of(match.group(1))
            ref_schema, ref_table = _qualified(match.group(2), table["schema"])
            table["constraints"].append({
                "name": constraint_name or f"{table['name']}_{'_'.join(columns)}_fkey", "kind": "foreign_key",
                "columns": columns, "references": {"schema": ref_schema, "table": ref_table,
                                                   "columns": _columns_of(match.group(3)) if match.group(3) else []}})
        else:
            self._column_definition(table, item)

    def _column_definition(self, table: dict, item: str) -> None:
        tokens = re.findall(r'"(?:[^"]|"")*"|\([^)]*\)|\S+', item)
        name = _name(tokens[0])
        type_words = []
        i = 1
        while i < len(tokens) and tokens[i].lower() not in _COLUMN_STOP:
            type_words.append(tokens[i])
            i += 1
        column = {"name": name, "position": len(table["columns"]) + 1,
                  "type": " ".join(type_words).replace(" (", "("), "nullable": True, "default": None,
                  "identity": None, "encoding": None, "distkey": False, "sortkey_position": None}
        rest = [t.lower() for t in tokens[i:]]
        raw_rest = tokens[i:]
        for j, word in enumerate(rest):
            if word == "encode":
                column["encoding"] = rest[j + 1]
            elif word == "not" and j + 1 < len(rest) and rest[j + 1] == "null":
                column["nullable"] = False
            elif word == "default":
                column["default"] = raw_rest[j + 1]
            elif word == "identity":
                seed, step = (int(x) for x in raw_rest[j + 1].strip("()").split(","))
                column["identity"] = {"seed": seed, "step": step}
            elif word == "unique":
                table["constraints"].append({"name": f"{table['name']}_{name}_key", "kind": "unique",
                                             "columns": [name]})
            elif word == "primary":
                table["constraints"].append({"name": f"{table['name']}_pkey", "kind": "primary_key",
                                             "columns": [name]})
            elif word == "distkey":
                column["distkey"] = True
        table["columns"].append(column)

    def as_dict(self) -> dict:
        return {"format_version": 1, "run_id": self.run_id,
                "source": {"database": "corpus", "version": None, "dumped_at": None},
                "schemas": [self.schemas[k] for k in sorted(self.schemas)],
                "tables": [self.tables[k] for k in sorted(self.tables)],
                "views": [], "functions": [], "procedures": [], "users": [], "groups": [], "grants": []}


def corpus_catalog(run_id: str = "corpus_20260101_000000") -> dict:
    """iglu-central in schema atomic, TPC-H in tpch, TPC-DS in tpcds (both define `customer`)."""
    if not (CORPORA / "iglu-central" / "000_atomic_events.sql").exists():
        raise FileNotFoundError(f"the DDL corpora are expected in {CORPORA} (the team folder ../shared/corpora)")
    catalog = CorpusCatalog(run_id)
    iglu = sorted((CORPORA / "iglu-central").glob("*.sql"))
    for path in iglu:  # 000_atomic_events.sql sorts first
        catalog.load(path.read_text(), "atomic")
    catalog.schemas.setdefault("tpch", {"name": "tpch"})
    catalog.load((CORPORA / "tpc" / "tpch_ddl.sql").read_text(), "tpch")
    catalog.schemas.setdefault("tpcds", {"name": "tpcds"})
    catalog.load((CORPORA / "tpc" / "tpcds_ddl.sql").read_text(), "tpcds")
    return catalog.as_dict()
