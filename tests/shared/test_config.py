import subprocess
import sys

import pytest

from shared.config import documented_settings, load_settings, require
from shared.errors import ConfigError


def test_defaults_and_env_precedence():
    settings = load_settings({"PGHOST": "db.internal", "REDSHIFT_PORT": "5440"})
    assert settings.alloydb.host == "db.internal"
    assert settings.alloydb.port == 5432
    assert settings.redshift.port == 5440
    assert settings.bastion.strict_host_key is True
    assert settings.s3.prefix == "r2a"


def test_flag_overrides_environment():
    settings = load_settings({"R2A_GCS_BUCKET": "from-env"}, overrides={"R2A_GCS_BUCKET": "from-flag",
                                                                      "PGHOST": None})
    assert settings.gcs.bucket == "from-flag"
    assert settings.alloydb.host is None


@pytest.mark.parametrize("env,value,fragment", [
    ("PGPORT", "abc", "PGPORT='abc' is not a whole number"),
    ("REDSHIFT_PORT", "70000", "REDSHIFT_PORT='70000' is not a port number"),
    ("PGSSLMODE", "sometimes", "PGSSLMODE='sometimes' is not one of"),
    ("SSH_BASTION_STRICT_HOST_KEY", "maybe", "is not a boolean"),
    ("SSH_BASTION_KEY_FILE", "/nonexistent/key", "SSH_BASTION_KEY_FILE names '/nonexistent/key'"),
])
def test_invalid_values_name_the_variable(env, value, fragment):
    with pytest.raises(ConfigError) as caught:
        load_settings({env: value})
    assert fragment in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


def test_secret_from_file(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cr3t-from-file\n")
    settings = load_settings({"REDSHIFT_PASSWORD_FILE": str(secret)})
    assert settings.redshift.password == "s3cr3t-from-file"
    assert "s3cr3t-from-file" in settings.secret_values()


def test_unreadable_secret_file_is_one_line():
    with pytest.raises(ConfigError, match=r"cannot read /nonexistent/password \(named by REDSHIFT_PASSWORD_FILE\)"):
        load_settings({"REDSHIFT_PASSWORD_FILE": "/nonexistent/password"})


def test_require_lists_every_missing_variable():
    settings = load_settings({"REDSHIFT_HOST": "rs"})
    with pytest.raises(ConfigError) as caught:
        require(settings.redshift, "host", "database", "user")
    assert caught.value.one_line().startswith("missing settings: REDSHIFT_DATABASE, REDSHIFT_USER")


def test_every_setting_is_documented():
    rows = documented_settings()
    envs = [row["env"] for row in rows]
    assert len(envs) == len(set(envs))
    assert all(row["doc"] for row in rows)
    assert {"PGHOST", "REDSHIFT_HOST", "SSH_BASTION_KNOWN_HOSTS", "AWS_ENDPOINT_URL_S3",
            "STORAGE_EMULATOR_HOST"} <= set(envs)


def test_settings_error_is_one_line_and_nonzero_exit(tmp_path):
    """A step started with PGPORT=abc prints exactly one line on stderr and exits 2 (BAD_CONFIG)."""
    script = tmp_path / "step.py"
    script.write_text(
        "import typer\n"
        "from shared.cli import step_boundary\n"
        "app = typer.Typer()\n"
        "@app.command()\n"
        "def main(run_id: str = 'db_20250101_000000'):\n"
        "    with step_boundary('demo_step', run_id):\n"
        "        print('should not get here')\n"
        "app()\n")
    env = {"PATH": "/usr/bin:/bin", "PGPORT": "abc", "PYTHONPATH": str(__import__("pathlib").Path.cwd())}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == "r2a demo_step: error: PGPORT='abc' is not a whole number"
    assert "Traceback" not in done.stderr
    assert "should not get here" not in done.stdout


def test_a_missing_ca_file_matters_only_when_the_certificate_is_verified(tmp_path):
    absent = str(tmp_path / "ca.pem")
    relaxed = load_settings({"PGSSLMODE": "disable", "PGSSLROOTCERT": absent})
    assert relaxed.alloydb.sslrootcert is None
    with pytest.raises(ConfigError, match="PGSSLROOTCERT names"):
        load_settings({"PGSSLMODE": "verify-full", "PGSSLROOTCERT": absent})
