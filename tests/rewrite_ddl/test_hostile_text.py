"""Text from Redshift in rewrite_ddl's output: every block still holds exactly one statement of its kind (read
by PostgreSQL's own parser through shared.sqlcheck), and the text comes back unchanged from that parse."""

from pglast import parse_sql
from pglast.visitors import Visitor

from shared.sqlblocks import parse
from shared.sqlcheck import refusal
from tests.rewrite_ddl.conftest import catalog, column, rewrite, table

MARKER_LINE = '\n-- r2a:object {"kind": "table", "name": "public.z"}\nCREATE ROLE evil; --'
BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x01\x7f"


def _blocks(files):
    return [obj for name in ("pre_data.sql", "views.sql", "post_data.sql") for obj in parse(files.files[name], name)]


def test_hostile_comments_and_role_names_stay_inside_one_statement():
    comment = f"x{MARKER_LINE}{BREAKS}' $$ $r2a$ $_$"
    role = 'u$r2a$; CREATE ROLE evil; DO $r2a$'
    data = catalog(
        schemas=[{"name": "s", "comment": comment}],
        tables=[table("s", "t", column("a", "integer", comment=comment), comment=comment)],
        users=[{"name": role}], groups=[{"name": f"g{MARKER_LINE}", "members": [role]}])
    files = rewrite(data, grants=True)
    blocks = _blocks(files)
    assert [(b.kind, b.name) for b in blocks].count(("comment", "s.t")) == 1
    assert not any(b.name == "public.z" for b in blocks)
    for block in blocks:
        assert refusal(block) is None, (block.kind, block.name, refusal(block))
    comments = [raw.stmt.comment for b in blocks for raw in parse_sql(b.sql) if type(raw.stmt).__name__ ==
                "CommentStmt"]
    assert comments == [comment, comment, comment]  # schema, table, column: byte-exact
    dos = [raw.stmt for b in blocks for raw in parse_sql(b.sql) if type(raw.stmt).__name__ == "DoStmt"]
    assert len(dos) == 2 and all(f'CREATE ROLE "{role}"' in d.args[0].arg.sval or "CREATE ROLE \"g" in
                                 d.args[0].arg.sval for d in dos)


def test_regenerated_view_literals_with_line_breaks_are_escape_strings():
    value = f"v{MARKER_LINE}{BREAKS}"
    redshift_text = value.replace("'", "''")
    files = rewrite(catalog(tables=[table("s", "t", column("a", "integer"))],
                            views=[{"schema": "s", "name": "v", "kind": "view",
                                    "definition": f"SELECT '{redshift_text}'::varchar(256) AS x FROM s.t"}]))
    view = next(b for b in _blocks(files) if b.kind == "view")
    assert "E'v\\n-- r2a:object" in view.sql and "\n-- r2a:object" not in view.sql
    assert refusal(view) is None
    constants: list[str] = []

    class Constants(Visitor):
        def visit_A_Const(self, ancestors, node):
            if type(node.val).__name__ == "String":
                constants.append(node.val.sval)

    Constants()(parse_sql(view.sql))
    assert value in constants  # the literal's value is the Redshift text, byte for byte
