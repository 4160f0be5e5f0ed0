"""What the rendered workflows do unless a submitter changes a parameter: delete staged data after a verified
table, and verify the servers' TLS certificates."""

from __future__ import annotations

import yaml

from workflows.render import RENDERED_DIR


def _documents() -> dict[str, dict]:
    return {path.name: yaml.safe_load(path.read_text()) for path in RENDERED_DIR.glob("*.yaml")}


def _spec(document: dict) -> dict:
    return document["spec"].get("workflowSpec", document["spec"])


def _defaults(document: dict) -> dict[str, str]:
    return {p["name"]: p.get("value") for p in _spec(document).get("arguments", {}).get("parameters", [])}


def _templates(document: dict) -> dict[str, dict]:
    return {t["name"]: t for t in _spec(document).get("templates", [])}


def _with_pipeline() -> dict[str, dict]:
    found = {name: doc for name, doc in _documents().items() if "table-transfer" in _templates(doc)}
    assert len(found) >= 4, sorted(found)  # the template, the cron, the local workflow, retry-failed
    return found


def test_table_transfer_deletes_staged_parts_by_default_and_a_parameter_keeps_them():
    for name, document in _with_pipeline().items():
        args = _templates(document)["table-transfer"]["container"]["args"]
        assert "--cleanup={{workflow.parameters.cleanup}}" in args, name
        assert _defaults(document)["cleanup"] == "s3,gcs", name


def test_tls_is_verified_by_default_with_the_ca_of_each_server_from_a_secret():
    """Redshift's CA bundle (AWS: https://docs.aws.amazon.com/redshift/latest/mgmt/connecting-ssl-support.html) and
    AlloyDB's CA come from Secrets mounted where REDSHIFT_SSLROOTCERT and PGSSLROOTCERT point."""
    for name, document in _with_pipeline().items():
        defaults = _defaults(document)
        assert (defaults["redshift-sslmode"], defaults["alloydb-sslmode"]) == ("verify-full", "verify-full"), name
        spec = _spec(document)
        transfer = _templates(document)["table-transfer"]
        volumes = {v["name"]: v["secret"]["secretName"] for v in spec.get("volumes", []) + transfer.get("volumes", [])
                   if "secret" in v}
        container = transfer["container"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = {m["mountPath"]: volumes.get(m["name"]) for m in container["volumeMounts"]}
        for variable, secret in (("REDSHIFT_SSLROOTCERT", "r2a-redshift"), ("PGSSLROOTCERT", "r2a-alloydb")):
            folder = env[variable].rsplit("/", 1)[0]
            assert mounts.get(folder) == secret, (name, variable)
        assert env["REDSHIFT_SSLMODE"] == "{{workflow.parameters.redshift-sslmode}}"
