"""Query shapes Redshift has and PostgreSQL lacks, rewritten on the sqlglot tree while names are still Redshift's:
SUPER navigation `c.a[0].b` (https://docs.aws.amazon.com/redshift/latest/dg/query-super.html), lateral column
alias references (https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_list.html) and QUALIFY
(https://docs.aws.amazon.com/redshift/latest/dg/r_QUALIFY_clause.html); PIVOT/UNPIVOT are in pivots.py.

Each needs the columns of the relations a query reads: `RelationColumns` gives a Redshift table's columns and
types; a subquery's or CTE's come from its select list. Where a rewrite depends on columns that cannot be known
(a `SELECT *` of a view, say), the query is reported unsupported instead of guessed.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from shared.identifiers import TableRef

# A Redshift relation -> {column: Redshift type}, in column order; None when it is not a known table.
RelationColumns = Callable[[TableRef], dict[str, str] | None]
Note = Callable[[str], None]


class Unsupported(Exception):
    """The query cannot be rewritten faithfully; the message says why."""


def no_relation_columns(_: TableRef) -> None:
    return None


def _name(node: exp.Expression | None) -> str | None:
    return node.name if isinstance(node, exp.Identifier) else None


def _table_ref(table: exp.Table) -> TableRef:
    return TableRef(_name(table.args.get("db")) or "public", table.name)


def _projection_names(query: exp.Expression) -> list[str] | None:
    if isinstance(query, exp.Subquery):
        query = query.this
    if not isinstance(query, exp.Select) or query.is_star:
        return None
    names = [e.alias_or_name for e in query.expressions]
    return names if all(names) else None


def select_list_names(text: str) -> list[str] | None:
    """The output column names of a Redshift query text (unquoted names folded), or None if not plain."""
    try:
        tree = sqlglot.parse_one(text, read="redshift")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return None
    names = _projection_names(tree)
    if names is None:
        return None
    quoted = {e.alias_or_name: (e.args.get("alias") or e).find(exp.Identifier) for e in tree.expressions}
    return [n if (quoted.get(n) is not None and quoted[n].quoted) else n.lower() for n in names]


def output_names(text: str, lookup: RelationColumns) -> list[str] | None:
    """The output column names of a Redshift query, `*` and `t.*` expanded with the columns `lookup` knows (a
    late-binding view keeps `SELECT *` as written; PostgreSQL expands it when the converted view is created, to
    the same names); None when a name cannot be known."""
    names = select_list_names(text)
    if names is not None:
        return names
    try:
        tree = sqlglot.parse_one(text, read="redshift")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return None
    if not isinstance(tree, exp.Select):
        return None
    try:
        root = traverse_scope(tree)[-1]
    except sqlglot.errors.OptimizeError:
        return None
    sources = _scope_columns(root, Columns(lookup, cte_map(tree)))
    out: list[str] = []
    for expression in tree.expressions:
        if isinstance(expression, exp.Star) or (isinstance(expression, exp.Column) and expression.is_star):
            wanted = [expression.table] if isinstance(expression, exp.Column) and expression.table else list(sources)
            for source in wanted:
                known = sources.get(source)
                if known is None:
                    return None
                out.extend(known)
            continue
        identifier = (expression.args.get("alias") or expression).find(exp.Identifier)
        name = expression.alias_or_name
        if not name:
            return None
        out.append(name if identifier is not None and identifier.quoted else name.lower())
    return out


class Columns:
    """The columns a FROM item provides, by the name the query uses for it."""

    def __init__(self, lookup: RelationColumns, ctes: dict[str, exp.Expression]):
        self.lookup = lookup
        self.ctes = ctes

    def of_table(self, table: exp.Table) -> dict[str, str | None] | None:
        if table.args.get("db") is None and table.name in self.ctes:
            names = _projection_names(self.ctes[table.name])
            return None if names is None else dict.fromkeys(names)
        columns = self.lookup(_table_ref(table))
        return None if columns is None else dict(columns)

    def of_source(self, source: exp.Expression | Scope) -> dict[str, str | None] | None:
        if isinstance(source, Scope):
            names = _projection_names(source.expression)
            return None if names is None else dict.fromkeys(names)
        if isinstance(source, exp.Table):
            return self.of_table(source)
        names = _projection_names(source)
        return None if names is None else dict.fromkeys(names)


def cte_map(tree: exp.Expression) -> dict[str, exp.Expression]:
    return {cte.alias: cte.this for cte in tree.find_all(exp.CTE) if cte.alias}


# ------------------------------------------------------------------ per-SELECT rewrites

def _scope_columns(scope: Scope, columns: Columns) -> dict[str, dict[str, str | None] | None]:
    return {name: columns.of_source(source) for name, source in scope.sources.items()}


def _chain_top(column: exp.Column) -> exp.Expression:
    node: exp.Expression = column
    while isinstance(node.parent, (exp.Dot, exp.Bracket)) and node.parent.this is node:
        node = node.parent
    return node


def _is_super(type_name: str | None) -> bool:
    return (type_name or "").lower() == "super"


def _navigation(column: exp.Column, sources: dict[str, dict[str, str | None] | None]):
    """(qualifier, column name, [path steps]) when `column` starts a navigation into a SUPER column."""
    parts = [p.name for p in column.parts]
    if len(parts) >= 2 and parts[0] in sources:
        known = sources[parts[0]] or {}
        if _is_super(known.get(parts[1])):
            return parts[0], parts[1], parts[2:]
        return None
    owners = [known for known in sources.values() if known and parts[0] in known]
    if len(owners) == 1 and _is_super(owners[0][parts[0]]):
        return None, parts[0], parts[1:]
    return None


def _rewrite_navigation(scope: Scope, sources: dict, note: Note) -> None:
    for column in list(scope.columns):
        found = _navigation(column, sources)
        if found is None:
            continue
        top = _chain_top(column)
        if not found[2] and top is column:
            continue
        qualifier, name, keys = found
        steps: list[exp.Expression] = [exp.Literal.string(k) for k in keys]
        trail: list[exp.Expression] = []
        node = column
        while node is not top:
            parent = node.parent
            if isinstance(parent, exp.Dot):
                trail.append(exp.Literal.string(parent.expression.name))
            else:
                if len(parent.expressions) != 1:
                    raise Unsupported("a SUPER subscript with more than one index")
                trail.append(parent.expressions[0].copy())
            node = parent
        result: exp.Expression = exp.column(name, table=qualifier, quoted=True)
        for step in steps + trail:
            result = exp.JSONExtract(this=result, expression=step)
        if isinstance(top.parent, exp.Cast) and top.parent.to.is_type(*exp.DataType.TEXT_TYPES):
            # a SUPER string cast to VARCHAR is its text; jsonb's ::varchar would keep the JSON quotes
            result = exp.JSONBExtractScalar(this=result, expression=exp.Literal.string("{}"))
        note("SUPER navigation -> jsonb -> / ->> operators")
        top.replace(result)


def _inline_lateral_aliases(select: exp.Select, sources: dict, note: Note) -> None:
    """A later select-list expression naming an earlier alias gets the aliased expression, unless a FROM
    column has that name (it takes priority, AWS r_SELECT_list)."""
    aliases: dict[str, exp.Expression] = {}
    known = [s for s in sources.values() if s is not None]
    complete = len(known) == len(sources)
    from_names = {name for s in known for name in s}
    for projection in select.expressions:
        for column in list(projection.find_all(exp.Column)):
            if column.table or column.name not in aliases or column.name in from_names:
                continue
            if column.find_ancestor(exp.Select) is not select:
                continue
            if not complete:
                raise Unsupported(f"{column.name} names an earlier alias and maybe a column of a relation whose "
                                  "columns are not known")
            column.replace(exp.Paren(this=aliases[column.name].copy()))
            note("select-list alias reuse -> the aliased expression inlined")
        if isinstance(projection, exp.Alias):
            aliases[projection.alias] = projection.this


def _expand_star(select: exp.Select, sources: dict) -> list[str]:
    names: list[str] = []
    for expression in select.expressions:
        if isinstance(expression, exp.Star) or (isinstance(expression, exp.Column) and expression.is_star):
            wanted = [expression.table] if isinstance(expression, exp.Column) and expression.table else list(sources)
            for source in wanted:
                known = sources.get(source)
                if known is None:
                    raise Unsupported("QUALIFY with SELECT * over a relation whose columns are not known")
                names.extend(known)
        else:
            names.append(expression.alias_or_name)
    return names


def _rewrite_qualify(select: exp.Select, sources: dict, note: Note) -> exp.Select:
    """SELECT … QUALIFY cond -> SELECT <the same output columns> FROM (SELECT …, cond AS r2a_keep) WHERE
    r2a_keep: the window functions run in the inner query, over the rows WHERE/GROUP BY/HAVING left."""
    qualify = select.args["qualify"]
    names = _expand_star(select, sources)
    if not all(names) or len(set(names)) != len(names):
        raise Unsupported("QUALIFY over a select list with unnamed or repeated output columns")
    if select.args.get("order") is not None or select.args.get("limit") is not None:
        raise Unsupported("QUALIFY with ORDER BY or LIMIT in the same SELECT")
    aliases = {p.alias: p.this for p in select.expressions if isinstance(p, exp.Alias)}
    from_names = {name for known in sources.values() for name in (known or {})}
    condition = qualify.this.copy()
    for column in list(condition.find_all(exp.Column)):
        if not column.table and column.name in aliases and column.name not in from_names:
            column.replace(exp.Paren(this=aliases[column.name].copy()))
    select.set("qualify", None)
    inner = select.copy()
    distinct = inner.args.get("distinct")
    inner.set("distinct", None)  # DISTINCT comes after QUALIFY, and must not see r2a_keep
    inner.select(exp.alias_(condition, "r2a_keep", quoted=True), copy=False)
    outer = exp.select(*[exp.column(n, table="r2a_q", quoted=True) for n in names]).from_(
        exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("r2a_q", quoted=True)))).where(
        exp.column("r2a_keep", table="r2a_q", quoted=True))
    if distinct is not None:
        outer.set("distinct", distinct)
    note("QUALIFY -> a subquery filtered on the condition")
    if select.parent is not None:
        select.replace(outer)
    return outer


def _refuse_unnesting(tree: exp.Expression) -> None:
    """`FROM t c, c.c_orders o` iterates over a SUPER array (query-super.html, "Unnesting queries"); sqlglot
    reads it as UNNEST, which PostgreSQL has for arrays, not jsonb (Redshift itself has no UNNEST)."""
    unnest = tree.find(exp.Unnest)
    if unnest is not None:
        raise Unsupported(f"unnesting the SUPER array {unnest.expressions[0].sql('redshift')} in FROM has no "
                          "conversion")


def rewrite_selects(tree: exp.Expression, lookup: RelationColumns, note: Note) -> exp.Expression:
    """SUPER navigation, lateral alias references and QUALIFY in every SELECT of the tree (innermost first)."""
    _refuse_unnesting(tree)
    columns = Columns(lookup, cte_map(tree))
    for scope in traverse_scope(tree):
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        sources = _scope_columns(scope, columns)
        _rewrite_navigation(scope, sources, note)
        _inline_lateral_aliases(select, sources, note)
        if select.args.get("qualify") is not None:
            outer = _rewrite_qualify(select, sources, note)
            if select is tree:
                tree = outer
    return tree
