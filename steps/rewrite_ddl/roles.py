"""Users, groups and grants: written to post-data only with --grants (roles are cluster-wide in AlloyDB and
often managed through IAM), always reported."""

from __future__ import annotations

from shared.documents.catalog import Catalog, Grant
from shared.identifiers import TableRef, canonical_name
from steps.rewrite_ddl.names import NamePlan
from steps.rewrite_ddl.output import ObjectEntry, RewriteOutput
from steps.rewrite_ddl.sqltext import dollar_quoted, ident, qualified

# What PostgreSQL can grant per object kind; Redshift-only privileges (DROP, ALTER, …) are reported as dropped.
PRIVILEGES = {
    "schema": ("USAGE", "CREATE"),
    "table": ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    "view": ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    "materialized_view": ("SELECT",),
    "function": ("EXECUTE",),
    "procedure": ("EXECUTE",),
}
_OBJECT_WORD = {"schema": "SCHEMA", "table": "TABLE", "view": "TABLE", "materialized_view": "TABLE"}
NOT_WRITTEN = "not written: roles and grants are written only with --grants"


def _create_role(name: str) -> str:
    # Roles are cluster-wide: an existing role (an earlier run, IAM) is kept.
    # The role name is text from Redshift: the dollar-quote tag is chosen so that the name cannot end the body.
    return f"DO {dollar_quoted(f' BEGIN CREATE ROLE {ident(name)} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END ')};"


def rewrite_roles(catalog: Catalog, plan: NamePlan, grants: bool, excluded: set[TableRef],
                  out: RewriteOutput) -> None:
    for user in sorted(catalog.users, key=lambda u: u.name):
        name = canonical_name(user.name)
        if not grants:
            out.entries.append(ObjectEntry("user", name, None, "skipped", NOT_WRITTEN))
            continue
        changes = ["created NOLOGIN without a password: Redshift password hashes cannot be carried"]
        if user.superuser:
            changes.append("SUPERUSER not carried")
        out.add(out.post_data, ObjectEntry("user", name, name, "converted_with_changes", None, changes),
                _create_role(user.name))
    for group in sorted(catalog.groups, key=lambda g: g.name):
        name = canonical_name(group.name)
        if not grants:
            out.entries.append(ObjectEntry("group", name, None, "skipped", NOT_WRITTEN))
            continue
        statements = [_create_role(group.name)]
        statements += [f"GRANT {ident(group.name)} TO {ident(member)};" for member in sorted(group.members)]
        out.add(out.post_data, ObjectEntry("group", name, name, "converted_with_changes", None,
                                           ["group -> role (NOLOGIN); members granted the role"],
                                           [canonical_name(m) for m in sorted(group.members)]), "\n".join(statements))
    for grant in sorted(catalog.grants, key=lambda g: (g.schema, g.name, g.object_kind, g.grantee)):
        _grant(grant, plan, grants, excluded, out)


def _grant(grant: Grant, plan: NamePlan, grants: bool, excluded: set[TableRef], out: RewriteOutput) -> None:
    on = canonical_name(grant.schema) if grant.object_kind == "schema" else canonical_name(grant.schema, grant.name)
    name = f"{on} to {grant.grantee}"
    if not grants:
        out.entries.append(ObjectEntry("grant", name, None, "skipped", NOT_WRITTEN))
        return
    allowed = PRIVILEGES.get(grant.object_kind, ())
    privileges = sorted({p.upper() for p in grant.privileges if p.upper() in allowed})
    changes = [f"dropped privilege {p.upper()}" for p in sorted(grant.privileges) if p.upper() not in allowed]
    if grant.object_kind == "schema":
        target_on = ident(plan.schemas.get(grant.schema, grant.schema))
    elif grant.object_kind in ("function", "procedure"):
        out.entries.append(ObjectEntry("grant", name, None, "unsupported",
                                       "grants on functions and procedures are not carried (signature needed)"))
        return
    else:
        ref = TableRef(grant.schema, grant.name)
        target = plan.relation(ref)
        if target is None or ref in excluded:
            out.entries.append(ObjectEntry("grant", name, None, "skipped", f"{ref} is not carried"))
            return
        target_on = qualified(target)
    if not privileges:
        out.entries.append(ObjectEntry("grant", name, None, "unsupported",
                                       "no privilege that PostgreSQL knows", changes))
        return
    grantee = "PUBLIC" if grant.grantee_kind == "public" else ident(grant.grantee)
    depends = [on] + ([] if grant.grantee_kind == "public" else [canonical_name(grant.grantee)])
    sql = f"GRANT {', '.join(privileges)} ON {_OBJECT_WORD[grant.object_kind]} {target_on} TO {grantee};"
    out.add(out.post_data, ObjectEntry("grant", name, name, "converted_with_changes" if changes else "converted",
                                       None, changes, depends), sql)
