"""PIVOT and UNPIVOT (https://docs.aws.amazon.com/redshift/latest/dg/r_FROM_clause-pivot-unpivot-examples.html)
as PostgreSQL: PIVOT becomes a grouped subquery of FILTERed aggregates, UNPIVOT a LATERAL VALUES join; the input's
other columns are the implicit columns, as AWS documents, so the input's columns must be known."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from steps.rewrite_ddl.queries import Columns, Note, RelationColumns, Unsupported, cte_map


def _pivot_value_name(value: exp.Expression) -> str:
    if isinstance(value, exp.PivotAlias):
        return value.alias
    if isinstance(value, exp.Null):
        return "null"
    if isinstance(value, exp.Literal):  # "the constant itself", in lower case like every result column name
        return value.this.lower() if value.is_string else value.this
    raise Unsupported("a PIVOT IN value that is not a constant needs an alias")


def _referenced_names(nodes: list[exp.Expression]) -> set[str]:
    return {column.name for node in nodes for column in node.find_all(exp.Column)}


def _parse(text: str) -> exp.Select:
    return sqlglot.parse_one(text, read="postgres")


def _quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("postgres")


def _pivot_select(pivot: exp.Pivot, inputs: list[str]) -> exp.Select:
    """Built from nodes, not text, so that the aggregates' arguments still get the Redshift rewrites later."""
    aggregates = pivot.expressions
    field = pivot.args["fields"][0]
    for_column = field.this.name
    implicit = [c for c in inputs if c not in _referenced_names([*aggregates, field.this]) | {for_column}]
    projections: list[exp.Expression] = [exp.column(c, quoted=True) for c in implicit]
    for value in field.expressions:
        constant = value.this if isinstance(value, exp.PivotAlias) else value
        target = exp.column(for_column, quoted=True)
        condition = (exp.Is(this=target, expression=exp.Null()) if isinstance(constant, exp.Null)
                     else exp.EQ(this=target, expression=constant.copy()))
        for aggregate in aggregates:
            call = aggregate.this if isinstance(aggregate, exp.Alias) else aggregate
            if not isinstance(call, (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)):
                raise Unsupported("PIVOT takes COUNT, SUM, MIN, MAX or AVG only")
            name = _pivot_value_name(value)
            if isinstance(aggregate, exp.Alias):
                name = f"{name}_{aggregate.alias}"
            # COUNT gives 0 for a value without rows, the others NULL: what AWS documents for PIVOT
            filtered = exp.Filter(this=call.copy(), expression=exp.Where(this=condition.copy()))
            projections.append(exp.alias_(filtered, name, quoted=True))
    select = exp.select(*projections).from_("r2a_pivot_input")
    if implicit:
        select = select.group_by(*[exp.column(c, quoted=True) for c in implicit])
    return select


def _unpivot_select(pivot: exp.Pivot, inputs: list[str], alias: str) -> str:
    value_column = pivot.expressions[0].name
    field = pivot.args["fields"][0]
    name_column = field.this.name
    pairs = []
    for item in field.expressions:
        column = item.this if isinstance(item, exp.PivotAlias) else item
        if not isinstance(column, exp.Column):
            raise Unsupported("UNPIVOT IN takes columns of its input only")
        label = item.alias if isinstance(item, exp.PivotAlias) else column.name
        pairs.append((label, column.name))
    unpivoted = {c for _, c in pairs}
    implicit = [c for c in inputs if c not in unpivoted]
    rows = ", ".join(f"({exp.Literal.string(label).sql('postgres')}::varchar, {_quoted(alias)}.{_quoted(c)})"
                     for label, c in pairs)
    projections = [f"{_quoted(alias)}.{_quoted(c)}" for c in implicit]
    projections += [f"r2a_u.{_quoted(name_column)}", f"r2a_u.{_quoted(value_column)}"]
    where = "" if pivot.args.get("include_nulls") else f" WHERE r2a_u.{_quoted(value_column)} IS NOT NULL"
    # View text, parsed back by sqlglot: every name goes through _quoted, every label through sqlglot's literal.
    return (f"SELECT {', '.join(projections)} FROM r2a_pivot_input CROSS JOIN LATERAL (VALUES {rows}) "  # nosec B608
            f"AS r2a_u({_quoted(name_column)}, {_quoted(value_column)}){where}")


def rewrite_pivots(tree: exp.Expression, lookup: RelationColumns, note: Note) -> None:
    """`<source> PIVOT (agg FOR c IN (…))` -> a grouped subquery of FILTERed aggregates; UNPIVOT -> a LATERAL
    VALUES join. The input's other columns become the implicit columns, as AWS documents."""
    columns = Columns(lookup, cte_map(tree))
    for source in list(tree.find_all(exp.Table, exp.Subquery)):
        pivots = source.args.get("pivots") or []
        if not pivots:
            continue
        if len(pivots) > 1:
            raise Unsupported("PIVOT/UNPIVOT applied to a PIVOT or UNPIVOT")
        pivot = pivots[0]
        source.set("pivots", None)
        inputs = columns.of_source(source)
        if inputs is None:
            raise Unsupported("PIVOT/UNPIVOT over an input whose columns are not known (SELECT * or not a table)")
        outer_alias = pivot.alias or source.alias or ("r2a_unpivot" if pivot.unpivot else "r2a_pivot")
        inner_alias = source.alias or "r2a_pivot_input"
        if pivot.unpivot:
            select = _parse(_unpivot_select(pivot, list(inputs), inner_alias))
            note("UNPIVOT -> CROSS JOIN LATERAL (VALUES …)")
        else:
            select = _pivot_select(pivot, list(inputs))
            note("PIVOT -> aggregates with FILTER (WHERE …) grouped by the other columns")
        inner = source.copy()
        inner.set("alias", exp.TableAlias(this=exp.to_identifier(inner_alias, quoted=True)))
        select.args["from_"].this.replace(inner)
        source.replace(exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(outer_alias))))
