"""`r2a submit` when the Argo Server refuses, and what --dry-run and a misspelt parameter give. The Argo controller and
server cannot run here: a local HTTP server answers the create-workflow call as the Argo Server does on refusal
(a gRPC-gateway JSON error with an HTTP status)."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from typer.testing import CliRunner

from tests.workflows.argo_server import AcceptingArgoServer, serving
from workflows.cli import app

TOKEN = "tok-4f9e-very-secret"


class _RefusingArgoServer(AcceptingArgoServer):
    status = 403
    requests = 0

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests += 1
        self.answer(self.status, {"code": 7, "message": 'workflows.argoproj.io is forbidden: User "system:'
                                                        'serviceaccount:argo:ci" cannot create resource "workflows" '
                                                        'in namespace "argo"'})


@pytest.fixture
def refusing_server():
    _RefusingArgoServer.requests = 0
    with serving(_RefusingArgoServer) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("status", [401, 403, 500])
def test_a_refusal_by_the_argo_server_is_one_line_without_the_token(refusing_server, status, monkeypatch):
    monkeypatch.setattr(_RefusingArgoServer, "status", status)
    done = CliRunner().invoke(app, ["submit", "-p", "database=sales"],
                              env={"ARGO_SERVER": refusing_server, "ARGO_TOKEN": TOKEN})
    assert _RefusingArgoServer.requests == 1
    assert done.exit_code != 0
    lines = done.output.strip().splitlines()
    assert len(lines) == 1, done.output
    assert lines[0].startswith(f"r2a submit: error: the Argo Server at {refusing_server} refused the workflow")
    assert TOKEN not in done.output and "Traceback" not in done.output


def test_dry_run_prints_the_workflow_with_the_parameters_filled_in():
    done = CliRunner().invoke(app, ["submit", "--dry-run", "-p", "database=sales", "-p", "tables=public.a"],
                              env={"ARGO_SERVER": ""})
    assert done.exit_code == 0, done.output
    workflow = yaml.safe_load(done.output)
    assert workflow["kind"] == "Workflow"
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "redshift-to-alloydb"}
    parameters = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert parameters["database"] == "sales" and parameters["tables"] == "public.a"
    assert parameters["run-id"].startswith("sales_")


@pytest.mark.parametrize("command", [["submit"], ["retry-failed", "--run-id", "sales_20260101_000000"], ["cutover"]])
def test_a_parameter_the_template_does_not_declare_is_refused_before_submitting(refusing_server, command):
    done = CliRunner().invoke(app, [*command, "-p", "databse=sales"], env={"ARGO_SERVER": refusing_server})
    assert done.exit_code == 3
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and "unknown parameter(s)" in lines[0] and "databse" in lines[0], done.output
    assert _RefusingArgoServer.requests == 0


def test_cutover_submits_the_cutover_template_which_always_verifies_by_checksum(refusing_server):
    done = CliRunner().invoke(app, ["cutover", "--dry-run", "-p", "database=sales", "-p", "sync-config=gs://b/s.yaml"],
                              env={"ARGO_SERVER": ""})
    assert done.exit_code == 0, done.output
    spec = yaml.safe_load(done.output)["spec"]
    assert spec["workflowTemplateRef"] == {"name": "cutover"}
    parameters = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}
    assert parameters["sync-config"] == "gs://b/s.yaml" and parameters["run-id"].startswith("sales_")
    # verification and the dry run are the template's, not the caller's: refused before anything is sent
    for fixed in ("verify=count", "dry-run=true"):
        refused = CliRunner().invoke(app, ["cutover", "-p", fixed], env={"ARGO_SERVER": refusing_server})
        assert refused.exit_code == 3 and "unknown parameter(s) for cutover" in refused.output, refused.output
    assert _RefusingArgoServer.requests == 0


class _TlsArgoServer(AcceptingArgoServer):
    name_suffix = "tls01"


def _self_signed(folder) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "argo-server")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_server(tmp_path):
    """The Argo Server's default: HTTPS with a self-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    with serving(_TlsArgoServer, tls=context) as port:
        yield f"127.0.0.1:{port}"


def test_an_untrusted_certificate_is_one_line_and_skip_verify_submits(tls_server):
    untrusted = CliRunner().invoke(app, ["submit"], env={"ARGO_SERVER": tls_server,
                                                         "ARGO_INSECURE_SKIP_VERIFY": ""})
    assert untrusted.exit_code == 2
    assert untrusted.output.strip().splitlines() == [
        f"r2a submit: error: the Argo Server at https://{tls_server} presented a TLS certificate this machine does "
        "not trust. Set ARGO_INSECURE_SKIP_VERIFY=true for a self-signed one (as the argo CLI's --insecure-skip-verify)"]
    skipped = CliRunner().invoke(app, ["submit"], env={"ARGO_SERVER": tls_server, "ARGO_INSECURE_SKIP_VERIFY": "true"})
    assert skipped.exit_code == 0, skipped.output
    assert "submitted redshift-to-alloydb-tls01" in skipped.output
