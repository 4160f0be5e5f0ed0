"""Redshift DDL: translated for the backend, with what PostgreSQL has no place for (encodings, dist and sort keys,
identity seeds, BACKUP NO, constraints Redshift declares but never enforces, late binding) kept in r2a_emulator."""

from __future__ import annotations

from dataclasses import dataclass, field

from devstack.redshift import translate
from devstack.redshift.lexer import (
    DOLLAR,
    IDENT,
    NUMBER,
    PUNCT,
    QIDENT,
    STRING,
    WS,
    Token,
    matching_paren,
    quote_literal,
    split_top_level,
    string_value,
)

_COLUMN_ATTRIBUTES = {"DEFAULT", "IDENTITY", "GENERATED", "ENCODE", "DISTKEY", "SORTKEY", "NOT", "NULL", "UNIQUE",
                      "PRIMARY", "REFERENCES", "COLLATE", "CONSTRAINT", "CHECK"}
_TABLE_ATTRIBUTES = {"DISTSTYLE", "DISTKEY", "SORTKEY", "COMPOUND", "INTERLEAVED", "BACKUP", "ENCODE", "AS"}
_ENCODINGS = {"RAW", "AZ64", "BYTEDICT", "DELTA", "DELTA32K", "LZO", "MOSTLY8", "MOSTLY16", "MOSTLY32", "RUNLENGTH",
              "TEXT255", "TEXT32K", "ZSTD", "AUTO"}


class DdlError(Exception):
    def __init__(self, sqlstate: str, message: str):
        super().__init__(message)
        self.sqlstate, self.message = sqlstate, message


def _error(message: str, sqlstate: str = "42601") -> DdlError:
    return DdlError(sqlstate, message)


# ---------------------------------------------------------------- token helpers

class Cursor:
    """Walks the significant tokens of a statement."""

    def __init__(self, words: list[Token]):
        self.words = words
        self.pos = 0

    def peek(self, offset: int = 0) -> Token | None:
        k = self.pos + offset
        return self.words[k] if k < len(self.words) else None

    def at(self, *words: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.is_word(*words)

    def at_punct(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == PUNCT and token.text == text

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise _error("syntax error at end of input")
        self.pos += 1
        return token

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.pos += 1
            return True
        return False

    def expect(self, *words: str) -> Token:
        if not self.at(*words):
            found = self.peek().text if self.peek() else "end of input"
            raise _error(f'syntax error at or near "{found}"')
        return self.take()

    def group(self) -> list[Token]:
        """The tokens inside the parenthesized group at the cursor; the cursor moves past it."""
        if not self.at_punct("("):
            found = self.peek().text if self.peek() else "end of input"
            raise _error(f'syntax error at or near "{found}"')
        close = matching_paren(self.words, self.pos)
        inner = self.words[self.pos + 1:close]
        self.pos = close + 1
        return inner

    def rest(self) -> list[Token]:
        out = self.words[self.pos:]
        self.pos = len(self.words)
        return out

    @property
    def done(self) -> bool:
        return self.pos >= len(self.words)


def spaced(words: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in words:
        if out:
            out.append(Token(WS, " "))
        out.append(token)
    return out


def sql_of(words: list[Token], engine) -> str:
    return translate.expression(spaced(words), engine)


def is_name(token: Token | None) -> bool:
    return token is not None and token.kind in (IDENT, QIDENT)


def folded(token: Token, engine) -> str:
    if token.kind == QIDENT and engine.case_sensitive:
        return token.text[1:-1].replace('""', '"')
    return token.name


def user_name(token: Token, engine) -> str:
    """A user name keeps the case it was quoted with, whatever enable_case_sensitive_identifier says
    (https://docs.aws.amazon.com/redshift/latest/dg/r_enable_case_sensitive_identifier.html)."""
    if token.kind == QIDENT:
        return token.text[1:-1].replace('""', '"')
    return folded(token, engine)


@dataclass
class QualifiedName:
    schema: str | None
    name: str

    def sql(self, engine) -> str:
        parts = ([self.schema] if self.schema else []) + [self.name]
        return ".".join(translate.identifier_sql(p, engine) for p in parts)

    def literal(self, engine) -> str:
        return quote_literal(self.sql(engine))


def qualified_name(cursor: Cursor, engine) -> QualifiedName:
    parts = [folded(cursor.take(), engine)]
    while cursor.at_punct(".") and is_name(cursor.peek(1)):
        cursor.take()
        parts.append(folded(cursor.take(), engine))
    if len(parts) == 3:          # database.schema.table: the database must be this one
        if parts[0] != engine.config.database:
            raise _error(f'cross-database reference to database "{parts[0]}" is not supported', "0A000")
        parts = parts[1:]
    if len(parts) > 3:
        raise _error(f"improper qualified name (too many dotted names): {'.'.join(parts)}")
    return QualifiedName(parts[0] if len(parts) == 2 else None, parts[-1])


def creation_name(name: QualifiedName, engine) -> QualifiedName:
    """An unqualified name of an object being created, placed in the first schema of the user's search_path."""
    return name if name.schema else QualifiedName(engine.creation_schema(), name.name)


def name_list(words: list[Token], engine) -> list[str]:
    return [folded(t, engine) for t in words if is_name(t)]


# ---------------------------------------------------------------- types

@dataclass
class ColumnType:
    backend: str             # the type the backend column gets
    redshift: str | None     # what Redshift shows, when the backend's own name would differ


def _type_args(cursor: Cursor) -> list[str]:
    if not cursor.at_punct("("):
        return []
    return ["".join(t.text for t in part).strip() for part in split_top_level(cursor.group())]


def column_type(cursor: Cursor) -> ColumnType:
    first = cursor.take()
    if first.kind not in (IDENT, QIDENT):
        raise _error(f'syntax error at or near "{first.text}"')
    word = first.text.upper() if first.kind == IDENT else first.name.upper()
    if word in ("DOUBLE",):
        cursor.expect("PRECISION")
        return ColumnType("double precision", None)
    if word in ("CHARACTER", "CHAR", "NCHAR") and cursor.at("VARYING"):
        cursor.take()
        word = "VARCHAR"
    if word == "BINARY" and cursor.at("VARYING"):
        cursor.take()
        word = "VARBYTE"
    if word in ("TIMESTAMP", "TIME"):
        args = _type_args(cursor)
        zone = ""
        if cursor.at("WITH", "WITHOUT") and cursor.at("TIME", offset=1) and cursor.at("ZONE", offset=2):
            zone = cursor.take().text.upper()
            cursor.take()
            cursor.take()
        precision = f"({args[0]})" if args else ""
        suffix = " with time zone" if zone == "WITH" else ""
        return ColumnType(f"{word.lower()}{precision}{suffix}", None)
    if word == "INTERVAL":
        fields = []
        while cursor.at("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "TO"):
            fields.append(cursor.take().text.lower())
        return ColumnType(" ".join(["interval"] + fields), None)
    args = _type_args(cursor)
    if word in ("SMALLINT", "INT2"):
        return ColumnType("smallint", None)
    if word in ("INTEGER", "INT", "INT4"):
        return ColumnType("integer", None)
    if word in ("BIGINT", "INT8"):
        return ColumnType("bigint", None)
    if word in ("DECIMAL", "NUMERIC", "DEC"):        # DEC: PostgreSQL 8.0's (and SQL's) alias, taken by Redshift
        precision = args[0] if args else "18"
        scale = args[1] if len(args) > 1 else "0"
        if not precision.isdigit() or not scale.isdigit() or not 1 <= int(precision) <= 38:
            raise _error(f"NUMERIC precision {precision} must be between 1 and 38", "22023")
        return ColumnType(f"numeric({precision},{scale})", None)
    if word in ("REAL", "FLOAT4"):
        return ColumnType("real", None)
    if word in ("FLOAT8",):
        return ColumnType("double precision", None)
    if word == "FLOAT":
        return ColumnType("real" if args and args[0].isdigit() and int(args[0]) <= 24 else "double precision", None)
    if word in ("BOOLEAN", "BOOL"):
        return ColumnType("boolean", None)
    if word in ("CHAR", "CHARACTER", "NCHAR", "BPCHAR"):
        length = args[0] if args else ("256" if word == "BPCHAR" else "1")
        return ColumnType(f"character({_length(length, 4096)})", None)
    if word in ("VARCHAR", "NVARCHAR", "TEXT"):
        length = args[0] if args else "256"
        return ColumnType(f"character varying({_length(length, 65535)})", None)
    if word in ("VARBYTE", "VARBINARY"):
        length = _length(args[0], 1024000) if args else "64000"
        return ColumnType("r2a_catalog.varbyte", f"varbyte({length})")
    if word in ("SUPER", "GEOMETRY", "GEOGRAPHY", "HLLSKETCH"):
        return ColumnType(f"r2a_catalog.{word.lower()}", None)
    if word in ("DATE", "TIMETZ", "TIMESTAMPTZ"):
        return ColumnType(word.lower(), None)
    raise _error(f'type "{first.text.lower()}" does not exist', "42704")


def _length(text: str, maximum: int) -> str:
    if text.upper() == "MAX":
        return str(maximum)
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise _error(f"length {text} is out of range (1..{maximum})", "22023")
    return text


# ---------------------------------------------------------------- CREATE TABLE

@dataclass
class ColumnDef:
    name: str
    type: ColumnType
    default: str | None = None
    identity: tuple[int, int] | None = None
    encoding: str | None = None
    distkey: bool = False
    sortkey: bool = False
    not_null: bool = False
    collate: str | None = None


@dataclass
class Constraint:
    kind: str                       # p | u | f
    columns: list[str]
    name: str | None = None
    ref_table: QualifiedName | None = None
    ref_columns: list[str] = field(default_factory=list)


@dataclass
class TableDef:
    name: QualifiedName
    temporary: bool = False
    if_not_exists: bool = False
    columns: list[ColumnDef] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    like: tuple[QualifiedName, bool] | None = None      # (parent, including defaults)
    diststyle: str | None = None
    distkey: str | None = None
    sortkey_kind: str | None = None
    sortkey: list[str] = field(default_factory=list)
    backup: bool = True
    query: list[Token] | None = None                  # CREATE TABLE … AS query


def parse_create_table(words: list[Token], engine) -> TableDef:
    cursor = Cursor(words)
    cursor.expect("CREATE")
    temporary = False
    cursor.accept("LOCAL")
    if cursor.accept("TEMPORARY", "TEMP"):
        temporary = True
    cursor.expect("TABLE")
    if_not_exists = False
    if cursor.at("IF") and cursor.at("NOT", offset=1) and cursor.at("EXISTS", offset=2):
        cursor.pos += 3
        if_not_exists = True
    name_token = cursor.peek()
    if name_token is not None and name_token.kind in (IDENT, QIDENT) and name_token.name.startswith("#"):
        temporary = True
    table = TableDef(qualified_name(cursor, engine), temporary, if_not_exists)
    if table.name.name.startswith("#"):
        table.name = QualifiedName(None, table.name.name[1:])
    if cursor.at_punct("("):
        for element in split_top_level(cursor.group()):
            _table_element(element, table, engine)
    _table_attributes(cursor, table, engine)
    if cursor.accept("AS"):
        table.query = cursor.rest()
    if not cursor.done:
        raise _error(f'syntax error at or near "{cursor.peek().text}"')
    if not table.columns and table.like is None and table.query is None:
        raise _error("CREATE TABLE needs columns, LIKE or AS")
    return table


def _table_element(element: list[Token], table: TableDef, engine) -> None:
    cursor = Cursor(element)
    if cursor.done:
        raise _error('syntax error at or near ")"')
    if cursor.at("LIKE"):
        cursor.take()
        parent = qualified_name(cursor, engine)
        including = False
        if cursor.accept("INCLUDING"):
            cursor.expect("DEFAULTS")
            including = True
        elif cursor.accept("EXCLUDING"):
            cursor.expect("DEFAULTS")
        table.like = (parent, including)
        return
    next_is_group = cursor.peek(1) is not None and cursor.peek(1).kind == PUNCT and cursor.peek(1).text == "("
    if cursor.at("CONSTRAINT") or (cursor.at("PRIMARY", "FOREIGN") and cursor.at("KEY", offset=1)) \
            or (cursor.at("UNIQUE") and next_is_group):
        table.constraints.append(_table_constraint(cursor, engine))
        return
    table.columns.append(_column(cursor, table, engine))


def _table_constraint(cursor: Cursor, engine) -> Constraint:
    name = None
    if cursor.accept("CONSTRAINT"):
        name = folded(cursor.take(), engine)
    if cursor.accept("PRIMARY"):
        cursor.expect("KEY")
        return Constraint("p", name_list(cursor.group(), engine), name)
    if cursor.accept("UNIQUE"):
        return Constraint("u", name_list(cursor.group(), engine), name)
    cursor.expect("FOREIGN")
    cursor.expect("KEY")
    columns = name_list(cursor.group(), engine)
    cursor.expect("REFERENCES")
    ref = qualified_name(cursor, engine)
    ref_columns = name_list(cursor.group(), engine) if cursor.at_punct("(") else []
    return Constraint("f", columns, name, ref, ref_columns)


def _column(cursor: Cursor, table: TableDef, engine) -> ColumnDef:
    name_token = cursor.take()
    if not is_name(name_token):
        raise _error(f'syntax error at or near "{name_token.text}"')
    column = ColumnDef(folded(name_token, engine), column_type(cursor))
    constraint_name = None
    while not cursor.done:
        if cursor.accept("DEFAULT"):
            start = cursor.pos
            depth = 0
            while not cursor.done:
                token = cursor.peek()
                if token.kind == PUNCT and token.text == "(":
                    depth += 1
                elif token.kind == PUNCT and token.text == ")":
                    depth -= 1
                elif depth == 0 and token.kind == IDENT and token.upper in _COLUMN_ATTRIBUTES - {"NULL"}:
                    break
                elif depth == 0 and token.is_word("NULL") and cursor.pos > start:
                    break
                cursor.pos += 1
            identity = _identity_default(cursor.words[start:cursor.pos])
            if identity is not None:
                column.identity = identity
            else:
                column.default = sql_of(cursor.words[start:cursor.pos], engine)
        elif cursor.accept("IDENTITY"):
            column.identity = _identity_args(cursor)
        elif cursor.accept("GENERATED"):
            cursor.expect("BY")
            cursor.expect("DEFAULT")
            cursor.expect("AS")
            cursor.expect("IDENTITY")
            column.identity = _identity_args(cursor)
        elif cursor.accept("ENCODE"):
            encoding = cursor.take()
            if encoding.upper not in _ENCODINGS:
                raise _error(f'invalid encoding type "{encoding.text}"', "22023")
            column.encoding = encoding.text.lower()
        elif cursor.accept("DISTKEY"):
            column.distkey = True
        elif cursor.accept("SORTKEY"):
            column.sortkey = True
        elif cursor.accept("COLLATE"):
            column.collate = cursor.take().text.lower()
        elif cursor.accept("NOT"):
            cursor.expect("NULL")
            column.not_null = True
        elif cursor.accept("NULL"):
            column.not_null = False
        elif cursor.accept("CONSTRAINT"):
            constraint_name = folded(cursor.take(), engine)
        elif cursor.accept("UNIQUE"):
            table.constraints.append(Constraint("u", [column.name], constraint_name))
        elif cursor.accept("PRIMARY"):
            cursor.expect("KEY")
            table.constraints.append(Constraint("p", [column.name], constraint_name))
            column.not_null = True
        elif cursor.accept("REFERENCES"):
            ref = qualified_name(cursor, engine)
            ref_columns = name_list(cursor.group(), engine) if cursor.at_punct("(") else []
            table.constraints.append(Constraint("f", [column.name], constraint_name, ref, ref_columns))
        else:
            raise _error(f'syntax error at or near "{cursor.peek().text}"')
    return column


def _identity_default(words: list[Token]) -> tuple[int, int] | None:
    """`DEFAULT "identity"(<table oid>, <column index>, '<seed>,<step>'::text)`: how Redshift's catalog (adsrc) and
    DDL generators built on it (awslabs v_generate_tbl_ddl) write an IDENTITY column; it creates one."""
    if len(words) < 3 or words[0].name != "identity" or words[1].kind != PUNCT or words[1].text != "(":
        return None
    close = matching_paren(words, 1)
    args = split_top_level(words[2:close])
    strings = [t for t in args[-1] if t.kind == STRING] if len(args) == 3 else []
    if len(strings) != 1:
        return None
    seed, _, step = string_value(strings[0]).partition(",")
    try:
        return int(seed), int(step)
    except ValueError:
        raise _error(f"IDENTITY arguments must be integers, not {string_value(strings[0])!r}") from None


def _identity_args(cursor: Cursor) -> tuple[int, int]:
    args = [[t for t in part] for part in split_top_level(cursor.group())]
    values = []
    for part in args:
        text = "".join(t.text for t in part)
        try:
            values.append(int(text))
        except ValueError:
            raise _error(f"IDENTITY arguments must be integers, not {text!r}") from None
    if len(values) != 2:
        raise _error("IDENTITY needs (seed, step)")
    if values[1] == 0:
        raise _error("IDENTITY step cannot be 0", "22023")
    return values[0], values[1]


def _table_attributes(cursor: Cursor, table: TableDef, engine) -> None:
    while not cursor.done and not cursor.at("AS"):
        if cursor.accept("DISTSTYLE"):
            style = cursor.expect("AUTO", "EVEN", "KEY", "ALL")
            table.diststyle = style.text.upper()
        elif cursor.accept("DISTKEY"):
            names = name_list(cursor.group(), engine)
            if len(names) != 1:
                raise _error("DISTKEY takes exactly one column")
            table.distkey = names[0]
        elif cursor.at("COMPOUND", "INTERLEAVED", "SORTKEY"):
            kind = "COMPOUND"
            if cursor.at("COMPOUND", "INTERLEAVED"):
                kind = cursor.take().text.upper()
            cursor.expect("SORTKEY")
            if cursor.accept("AUTO"):
                table.sortkey_kind, table.sortkey = "AUTO", []
            else:
                table.sortkey_kind, table.sortkey = kind, name_list(cursor.group(), engine)
        elif cursor.accept("BACKUP"):
            table.backup = cursor.expect("YES", "NO").text.upper() == "YES"
        elif cursor.accept("ENCODE"):
            cursor.expect("AUTO")
        else:
            raise _error(f'syntax error at or near "{cursor.peek().text}"')


def create_table(engine, tokens: list[Token], words: list[Token]):
    try:
        table = parse_create_table(words, engine)
    except DdlError as exc:
        raise engine_error(exc) from None
    _check_keys(table)
    if not table.temporary:
        table.name = creation_name(table.name, engine)
    statement = _backend_create_table(table, engine)
    original = "".join(t.text for t in tokens).strip()
    with engine.transaction():
        result = engine.run(statement)
        if table.if_not_exists and engine.last_notice_says_exists():
            return result
        relid = engine.query("select %s::regclass::oid", (table.name.sql(engine),))[0][0]
        _store_table(engine, table, relid, original)
    return result


def engine_error(exc: DdlError):
    from devstack.redshift.engine import EmulatorError
    return EmulatorError(exc.sqlstate, exc.message)


def _check_keys(table: TableDef) -> None:
    names = {c.name for c in table.columns}
    distkeys = [c.name for c in table.columns if c.distkey] + ([table.distkey] if table.distkey else [])
    if len(set(distkeys)) > 1:
        raise engine_error(_error("multiple DISTKEY columns are not allowed"))
    sort_columns = [c.name for c in table.columns if c.sortkey]
    if sort_columns and table.sortkey:
        raise engine_error(_error("column and table SORTKEY cannot both be given"))
    if table.diststyle in ("EVEN", "ALL", "AUTO") and distkeys:
        raise engine_error(_error(f"DISTSTYLE {table.diststyle} cannot have a DISTKEY", "22023"))
    if table.diststyle == "KEY" and not distkeys and table.like is None:
        raise engine_error(_error("DISTSTYLE KEY needs a DISTKEY column", "22023"))
    if table.columns and table.query is None:
        for name in distkeys + table.sortkey:
            if name not in names:
                raise engine_error(_error(f'column "{name}" named in DISTKEY/SORTKEY does not exist', "42703"))


def _backend_create_table(table: TableDef, engine) -> str:
    head = f"CREATE {'TEMPORARY ' if table.temporary else ''}TABLE {'IF NOT EXISTS ' if table.if_not_exists else ''}"
    head += table.name.sql(engine)
    if table.query is not None:
        columns = ""
        if table.columns:
            columns = " (" + ", ".join(translate.identifier_sql(c.name, engine) for c in table.columns) + ")"
        return f"{head}{columns} AS {sql_of(table.query, engine)}"
    elements = []
    if table.like is not None:
        parent, including = table.like
        elements.append(f"LIKE {parent.sql(engine)}{' INCLUDING DEFAULTS INCLUDING IDENTITY' if including else ''}")
    primary = {c for k in table.constraints if k.kind == "p" for c in k.columns}
    for column in table.columns:
        parts = [translate.identifier_sql(column.name, engine), column.type.backend]
        if column.default is not None:
            parts.append(f"DEFAULT {column.default}")
        if column.identity is not None:
            seed, step = column.identity
            # Redshift takes any seed (IDENTITY(0, 1) is common); PostgreSQL's default bounds would refuse seeds
            # below 1 (ascending) or above -1 (descending)
            bound = f" MINVALUE {seed}" if step > 0 and seed < 1 else f" MAXVALUE {seed}" if step < 0 and seed > -1 \
                else ""
            parts.append(f"GENERATED BY DEFAULT AS IDENTITY (START WITH {seed} INCREMENT BY {step}{bound})")
        if column.not_null or column.name in primary:
            parts.append("NOT NULL")
        elements.append(" ".join(parts))
    return f"{head} ({', '.join(elements)})"


def _store_table(engine, table: TableDef, relid: int, original: str) -> None:
    columns = engine.query("select attnum, attname from pg_catalog.pg_attribute where attrelid = %s and attnum > 0 "
                           "and not attisdropped order by attnum", (relid,))
    attnums = {engine.state.long_names.original(name): int(num) for num, name in columns}
    engine.run("delete from r2a_emulator.columns where relid = %s; delete from r2a_emulator.tables where relid = %s;"
               "delete from r2a_emulator.constraints where relid = %s", (relid, relid, relid))
    if table.like is not None:
        _copy_like(engine, table, relid)
        return
    distkey = table.distkey or next((c.name for c in table.columns if c.distkey), None)
    diststyle = table.diststyle or ("KEY" if distkey else "AUTO")
    sortkey = table.sortkey or [c.name for c in table.columns if c.sortkey]
    sortkey_kind = table.sortkey_kind or ("COMPOUND" if sortkey else None)
    engine.run("insert into r2a_emulator.tables (relid, diststyle, sortkey_kind, backup, ddl) values (%s, %s, %s, %s, "
               "%s)", (relid, diststyle, sortkey_kind, table.backup, original))
    declared = {c.name: c for c in table.columns}
    for name, attnum in attnums.items():
        column = declared.get(name)
        position = sortkey.index(name) + 1 if name in sortkey else 0
        seed, step = column.identity if column and column.identity else (None, None)
        engine.run("insert into r2a_emulator.columns (relid, attnum, encoding, distkey, sortkey, identity_seed, "
                   "identity_step, rs_type, collate_name) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                   (relid, attnum, column.encoding if column else None, name == distkey, position, seed, step,
                    column.type.redshift if column else None, column.collate if column else None))
    for index, constraint in enumerate(table.constraints):
        _store_constraint(engine, relid, table, constraint, index)


def _store_constraint(engine, relid: int, table: TableDef, constraint: Constraint, index: int) -> None:
    suffix = {"p": "pkey", "u": "key", "f": "fkey"}[constraint.kind]
    name = constraint.name or (f"{table.name.name}_pkey" if constraint.kind == "p"
                               else f"{table.name.name}_{'_'.join(constraint.columns)}_{suffix}")
    ref_relid, ref_columns = None, constraint.ref_columns or None
    if constraint.ref_table is not None:
        rows = engine.query("select to_regclass(%s)::oid", (constraint.ref_table.sql(engine),))
        ref_relid = rows[0][0] if rows and rows[0][0] else None
        if ref_relid is None:
            raise_missing(constraint.ref_table)
        if not ref_columns:
            rows = engine.query("select columns from r2a_emulator.constraints where relid = %s and contype = 'p'",
                                (ref_relid,))
            ref_columns = _text_array(rows[0][0]) if rows else None
    engine.run("insert into r2a_emulator.constraints (relid, conname, contype, columns, ref_relid, ref_columns) "
               "values (%s, %s, %s, %s, %s, %s)", (relid, name, constraint.kind, constraint.columns, ref_relid,
                                                   ref_columns))


def raise_missing(name: QualifiedName):
    from devstack.redshift.engine import EmulatorError
    label = f"{name.schema}.{name.name}" if name.schema else name.name
    raise EmulatorError("42P01", f'relation "{label}" does not exist')


def _text_array(value) -> list[str]:
    if isinstance(value, list):
        return value
    inner = value.strip("{}")
    return [part.strip('"') for part in inner.split(",")] if inner else []


def _copy_like(engine, table: TableDef, relid: int) -> None:
    parent = engine.query("select %s::regclass::oid", (table.like[0].sql(engine),))[0][0]
    engine.run("insert into r2a_emulator.tables (relid, diststyle, sortkey_kind, backup, ddl) "
               "select %s, coalesce(%s, diststyle), sortkey_kind, backup, null from r2a_emulator.tables "
               "where relid = %s", (relid, table.diststyle, parent))
    # identity travels with INCLUDING DEFAULTS only, like the backend's own LIKE … INCLUDING IDENTITY
    engine.run("insert into r2a_emulator.columns select %s, attnum, encoding, distkey, sortkey, "
               "case when %s then identity_seed end, case when %s then identity_step end, rs_type, collate_name "
               "from r2a_emulator.columns where relid = %s", (relid, table.like[1], table.like[1], parent))


# ---------------------------------------------------------------- views

def create_view(engine, tokens: list[Token], words: list[Token]):
    cursor = Cursor(words)
    cursor.expect("CREATE")
    replace = False
    if cursor.accept("OR"):
        cursor.expect("REPLACE")
        replace = True
    materialized = cursor.accept("MATERIALIZED")
    cursor.expect("VIEW")
    try:
        name = creation_name(qualified_name(cursor, engine), engine)
    except DdlError as exc:
        raise engine_error(exc) from None
    columns = name_list(cursor.group(), engine) if cursor.at_punct("(") else []
    auto_refresh = None
    if materialized:
        auto_refresh = False                                  # r_CREATE_MATERIALIZED_VIEW.html: AUTO REFRESH NO
        while not cursor.done and not cursor.at("AS"):        # BACKUP, DIST/SORT keys, AUTO REFRESH
            if cursor.at_punct("("):
                cursor.group()
            elif cursor.at("AUTO") and cursor.at("REFRESH", offset=1):
                cursor.pos += 2
                auto_refresh = cursor.expect("YES", "NO").upper == "YES"
            else:
                cursor.take()
    cursor.expect("AS")
    query = cursor.rest()
    late = False
    if len(query) >= 4 and [t.upper for t in query[-4:]] == ["WITH", "NO", "SCHEMA", "BINDING"]:
        query, late = query[:-4], True
    head = f"CREATE {'OR REPLACE ' if replace else ''}{'MATERIALIZED ' if materialized else ''}VIEW {name.sql(engine)}"
    if columns:
        head += " (" + ", ".join(translate.identifier_sql(c, engine) for c in columns) + ")"
    original = "".join(t.text for t in tokens).strip()
    with engine.transaction():
        result = engine.run(f"{head} AS {translate.statement(spaced(query), engine).strip()}")  # TOP n too
        relid = engine.query("select %s::regclass::oid", (name.sql(engine),))[0][0]
        engine.run("delete from r2a_emulator.views where relid = %s", (relid,))
        engine.run("insert into r2a_emulator.views (relid, late_binding, materialized, ddl, auto_refresh) "
                   "values (%s, %s, %s, %s, %s)", (relid, late, materialized, original, auto_refresh))
    return result


# ---------------------------------------------------------------- functions and procedures

def create_routine(engine, tokens: list[Token], words: list[Token]):
    """CREATE FUNCTION / PROCEDURE: Redshift writes procedure arguments as `name [IN|OUT|INOUT] type`;
    NONATOMIC has no PostgreSQL equivalent. Bodies are stored without being checked (check_function_bodies off)."""
    out: list[str] = []
    significant_index = 0
    k = 0
    is_procedure = any(t.is_word("PROCEDURE") for t in words[:4])
    name_at = _unqualified_routine_name(tokens)
    while k < len(tokens):
        token = tokens[k]
        if token.significant:
            significant_index += 1
        if is_procedure and token.kind == PUNCT and token.text == "(" and not out_has_args(out):
            close = matching_paren(tokens, k)
            args = split_top_level(tokens[k + 1:close])
            out.append("(" + ", ".join(_procedure_argument(a, engine) for a in args if any(t.significant for t in a))
                       + ")")
            out.append("\x00")        # marks that the argument list is done
            k = close + 1
            continue
        if token.is_word("NONATOMIC"):
            k += 1
            continue
        if k == name_at:
            out.append(translate.identifier_sql(engine.creation_schema(), engine) + ".")
        if token.kind in (STRING, DOLLAR, NUMBER):
            out.append(token.text)
        else:
            out.append(translate.statement([token], engine))
        k += 1
    return engine.run("".join(out).replace("\x00", ""))


def _unqualified_routine_name(tokens: list[Token]) -> int | None:
    """Index of the routine's name token when it has no schema, else None."""
    sig = [k for k, t in enumerate(tokens) if t.significant]
    for position, k in enumerate(sig[:-1]):
        if tokens[k].is_word("FUNCTION", "PROCEDURE"):
            name = sig[position + 1]
            after = tokens[sig[position + 2]] if position + 2 < len(sig) else None
            return None if after is not None and after.kind == PUNCT and after.text == "." else name
    return None


def out_has_args(out: list[str]) -> bool:
    return "\x00" in out


def _procedure_argument(arg: list[Token], engine) -> str:
    words = [t for t in arg if t.significant]
    modes = ("IN", "OUT", "INOUT")
    if len(words) >= 3 and words[1].is_word(*modes) and is_name(words[0]):
        words = [words[1], words[0]] + words[2:]
    return translate.expression(spaced(words), engine)


# ---------------------------------------------------------------- schemas and tables

def create_schema(engine, tokens: list[Token], words: list[Token]):
    """QUOTA has no PostgreSQL meaning; AUTHORIZATION names a Redshift user."""
    from devstack.redshift import users
    cursor = Cursor(words)
    kept: list[str] = []
    while not cursor.done:
        if cursor.accept("QUOTA"):
            if not cursor.accept("UNLIMITED"):
                cursor.take()
                cursor.accept("MB", "GB", "TB")
            continue
        if cursor.accept("AUTHORIZATION"):
            owner = user_name(cursor.take(), engine)
            if cursor.pos == 4:  # CREATE SCHEMA AUTHORIZATION user: the schema is named after the user (r_CREATE_SCHEMA)
                kept.append(translate.identifier_sql(owner, engine))
            kept.append("AUTHORIZATION " + users.role_sql(engine, owner))
            continue
        kept.append(translate.statement([cursor.take()], engine))
    return engine.run(" ".join(kept))


def alter_table(engine, tokens: list[Token], words: list[Token]):
    """ALTER TABLE: Redshift's dist/sort/encode changes and declared constraints go to the metadata; the rest runs."""
    cursor = Cursor(words)
    cursor.expect("ALTER")
    cursor.expect("TABLE")
    try:
        name = qualified_name(cursor, engine)
    except DdlError as exc:
        raise engine_error(exc) from None
    from devstack.redshift.engine import Result
    if cursor.at("ALTER") and cursor.at("DISTSTYLE", "DISTKEY", "SORTKEY", "COMPOUND", "INTERLEAVED", "ENCODE",
                                        offset=1):
        cursor.take()
        relid = _relid(engine, name)
        table = TableDef(name)
        if cursor.accept("ENCODE"):
            cursor.expect("AUTO")
            return Result(None, [], "ALTER TABLE")
        try:
            _alter_attributes(cursor, table, engine)
        except DdlError as exc:
            raise engine_error(exc) from None
        with engine.transaction():
            _ensure_table_row(engine, relid)
            if table.diststyle:
                engine.run("update r2a_emulator.tables set diststyle = %s where relid = %s", (table.diststyle, relid))
                engine.run("update r2a_emulator.columns set distkey = false where relid = %s", (relid,))
                if table.distkey:
                    _ensure_column_row(engine, relid, table.distkey)
                    engine.run("update r2a_emulator.columns c set distkey = true from pg_catalog.pg_attribute a "
                               "where c.relid = %s and a.attrelid = c.relid and a.attnum = c.attnum "
                               "and r2a_emulator.rs_name(a.attname) = %s", (relid, table.distkey))
            if table.sortkey_kind:
                engine.run("update r2a_emulator.tables set sortkey_kind = %s where relid = %s",
                           (None if table.sortkey_kind == "NONE" else table.sortkey_kind, relid))
                engine.run("update r2a_emulator.columns set sortkey = 0 where relid = %s", (relid,))
                for position, column in enumerate(table.sortkey, 1):
                    _ensure_column_row(engine, relid, column)
                    engine.run("update r2a_emulator.columns c set sortkey = %s from pg_catalog.pg_attribute a "
                               "where c.relid = %s and a.attrelid = c.relid and a.attnum = c.attnum "
                               "and r2a_emulator.rs_name(a.attname) = %s", (position, relid, column))
        return Result(None, [], "ALTER TABLE")
    if cursor.at("ALTER") and cursor.at("COLUMN", offset=1) and cursor.at("ENCODE", offset=3):
        cursor.pos += 2
        column = folded(cursor.take(), engine)
        cursor.expect("ENCODE")
        encoding = cursor.take().text.lower()
        relid = _relid(engine, name)
        with engine.transaction():
            _ensure_table_row(engine, relid)
            _ensure_column_row(engine, relid, column)
            engine.run("update r2a_emulator.columns c set encoding = %s from pg_catalog.pg_attribute a "
                       "where c.relid = %s and a.attrelid = c.relid and a.attnum = c.attnum "
                       "and r2a_emulator.rs_name(a.attname) = %s", (encoding, relid, column))
        return Result(None, [], "ALTER TABLE")
    if cursor.at("ADD") and (cursor.at("CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", offset=1)):
        cursor.take()
        try:
            constraint = _table_constraint(cursor, engine)
        except DdlError as exc:
            raise engine_error(exc) from None
        relid = _relid(engine, name)
        with engine.transaction():
            _ensure_table_row(engine, relid)
            _store_constraint(engine, relid, TableDef(name), constraint, 0)
        return Result(None, [], "ALTER TABLE")
    if cursor.at("ADD"):
        return _add_column(engine, name, cursor, tokens)
    if cursor.at("DROP") and cursor.at("CONSTRAINT", offset=1):
        cursor.pos += 2
        conname = folded(cursor.take(), engine)
        relid = _relid(engine, name)
        deleted = engine.run("delete from r2a_emulator.constraints where relid = %s and conname = %s",
                             (relid, conname))
        if deleted.tag != "DELETE 0":
            return Result(None, [], "ALTER TABLE")
    if cursor.at("OWNER") and cursor.at("TO", offset=1):
        from devstack.redshift import users
        cursor.pos += 2
        owner = users.role_sql(engine, user_name(cursor.take(), engine))
        return engine.run(f"ALTER TABLE {name.sql(engine)} OWNER TO {owner}")
    return None


def _alter_attributes(cursor: Cursor, table: TableDef, engine) -> None:
    """After ALTER TABLE t ALTER (https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html): DISTKEY col,
    DISTSTYLE ALL | EVEN | AUTO | KEY DISTKEY col, [COMPOUND] SORTKEY (cols), SORTKEY AUTO, SORTKEY NONE."""
    if cursor.accept("DISTKEY"):
        table.distkey, table.diststyle = _one_column(cursor, engine), "KEY"
    elif cursor.at("DISTSTYLE") and cursor.at("KEY", offset=1) and cursor.at("DISTKEY", offset=2):
        cursor.pos += 3
        table.distkey, table.diststyle = _one_column(cursor, engine), "KEY"
    elif cursor.at("SORTKEY") and cursor.at("NONE", offset=1):
        cursor.pos += 2
        table.sortkey_kind, table.sortkey = "NONE", []
    else:
        _table_attributes(cursor, table, engine)
    if not cursor.done:
        raise _error(f'syntax error at or near "{cursor.peek().text}"')


def _one_column(cursor: Cursor, engine) -> str:
    names = name_list(cursor.group(), engine) if cursor.at_punct("(") else [folded(cursor.take(), engine)]
    if len(names) != 1:
        raise _error("DISTKEY takes exactly one column")
    return names[0]


def _add_column(engine, name: QualifiedName, cursor: Cursor, tokens: list[Token]):
    cursor.expect("ADD")
    cursor.accept("COLUMN")
    table = TableDef(name)
    try:
        column = _column(cursor, table, engine)
    except DdlError as exc:
        raise engine_error(exc) from None
    parts = [translate.identifier_sql(column.name, engine), column.type.backend]
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.not_null:
        parts.append("NOT NULL")
    with engine.transaction():
        result = engine.run(f"ALTER TABLE {name.sql(engine)} ADD COLUMN {' '.join(parts)}")
        relid = _relid(engine, name)
        _ensure_table_row(engine, relid)
        _ensure_column_row(engine, relid, column.name)
        engine.run("update r2a_emulator.columns c set encoding = %s, rs_type = %s, collate_name = %s "
                   "from pg_catalog.pg_attribute a where c.relid = %s and a.attrelid = c.relid "
                   "and a.attnum = c.attnum and r2a_emulator.rs_name(a.attname) = %s",
                   (column.encoding, column.type.redshift, column.collate, relid, column.name))
        for index, constraint in enumerate(table.constraints):
            _store_constraint(engine, relid, table, constraint, index)
    return result


def _relid(engine, name: QualifiedName) -> int:
    rows = engine.query("select to_regclass(%s)::oid", (name.sql(engine),))
    if not rows or rows[0][0] is None:
        raise_missing(name)
    return rows[0][0]


def _ensure_table_row(engine, relid: int) -> None:
    engine.run("insert into r2a_emulator.tables (relid) values (%s) on conflict do nothing", (relid,))


def _ensure_column_row(engine, relid: int, column: str) -> None:
    rows = engine.query("select attnum from pg_catalog.pg_attribute where attrelid = %s and attnum > 0 "
                        "and not attisdropped and r2a_emulator.rs_name(attname) = %s", (relid, column))
    if not rows:
        from devstack.redshift.engine import EmulatorError
        raise EmulatorError("42703", f'column "{column}" does not exist')
    engine.run("insert into r2a_emulator.columns (relid, attnum) values (%s, %s) on conflict do nothing",
               (relid, rows[0][0]))


# ---------------------------------------------------------------- dispatch

def handler_for(words: list[Token]):
    upper = [t.upper for t in words[:5]]
    if upper[:1] == ["CREATE"]:
        rest = upper[1:]
        while rest and rest[0] in ("OR", "REPLACE", "LOCAL", "TEMP", "TEMPORARY", "EXTERNAL"):
            rest = rest[1:]
        kind = rest[0] if rest else ""
        if kind == "TABLE":
            return create_table
        if kind in ("VIEW", "MATERIALIZED"):
            return create_view
        if kind in ("FUNCTION", "PROCEDURE"):
            return create_routine
        if kind == "SCHEMA":
            return create_schema
    if upper[:2] == ["ALTER", "TABLE"]:
        return alter_table
    return None

