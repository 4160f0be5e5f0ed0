"""shared/dependencies: the one dependency rule of validate_restore, pre-data and post-data. Names are canonical
spellings of hostile Redshift text: a dot or a quote inside a quoted part belongs to the part."""

from __future__ import annotations

import pytest

from shared.dependencies import dependency_graph, schema_of, skipped_reason
from shared.errors import BadInputError
from shared.identifiers import name_parts
from shared.sqlblocks import SqlObject


def test_name_parts_keep_dots_and_quotes_inside_quoted_parts():
    assert name_parts('"a.b"."c""d".e') == ["a.b", 'c"d', "e"]
    assert name_parts("plain") == ["plain"]
    with pytest.raises(BadInputError, match="unterminated quote"):
        name_parts('"open.t')
    with pytest.raises(BadInputError, match="after a quoted part"):
        name_parts('"s"x.t')


def test_schema_of_is_the_schema_objects_canonical_spelling():
    assert schema_of('"Sales.EU"."t"') == '"Sales.EU"'
    assert schema_of("sales.t") == "sales"
    assert schema_of("sales") is None


def test_graph_adds_the_schema_and_resolves_target_names():
    objects = [SqlObject("schema", '"S.x"', ""), SqlObject("table", '"S.x".t', "", target_name='"S.x".t2'),
               SqlObject("comment", '"S.x".t', "", depends_on=('"S.x".t',)),
               SqlObject("view", '"S.x".v', "", depends_on=('"S.x".t2', "pg_catalog.now"))]
    assert dependency_graph(objects) == [[], [0], [1, 0], [1, 0]]


def test_a_skipped_reason_names_the_chain_down_to_the_root_cause():
    root = skipped_reason("table s.t", "failed", "type geometry does not exist")
    assert root == "depends on table s.t, which failed: type geometry does not exist"
    assert skipped_reason(["view s.v", "table s.t"], "failed", "type geometry does not exist") == \
        "depends on view s.v, which depends on table s.t, which failed: type geometry does not exist"
    assert skipped_reason("view s.v", "skipped", root) == \
        "depends on view s.v, which depends on table s.t, which failed: type geometry does not exist"
    assert skipped_reason("s.t", "absent", "failed in pre-data") == \
        "depends on s.t, which is not in AlloyDB: failed in pre-data"
    assert skipped_reason("function s.f", "skipped", "Python UDF") == \
        "depends on function s.f, which was skipped: Python UDF"
