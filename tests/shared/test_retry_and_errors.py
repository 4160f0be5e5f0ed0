import psycopg2
import pytest

from shared.errors import ConfigError, ExitCode, TransientError, exit_code_for
from shared.retry import RetryPolicy, is_transient, retry_call


class FakePgError(Exception):
    """Stands in for psycopg2 errors carrying a SQLSTATE (the attribute is what is_transient reads)."""

    def __init__(self, pgcode):
        super().__init__(pgcode)
        self.pgcode = pgcode


@pytest.mark.parametrize("pgcode,expected", [("08006", True), ("57P01", True), ("40001", True),
                                             ("42P01", False), ("28P01", False), ("57014", False)])
def test_sqlstate_classification(pgcode, expected):
    assert is_transient(FakePgError(pgcode)) is expected


def test_connection_loss_without_sqlstate_is_transient():
    assert is_transient(psycopg2.OperationalError("server closed the connection unexpectedly"))
    assert not is_transient(psycopg2.OperationalError('password authentication failed for user "x"'))


def test_retry_call_retries_transient_then_succeeds():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("blip")
        return "ok"

    assert retry_call(flaky, policy=RetryPolicy(attempts=5, initial_s=0.01, max_s=0.02)) == "ok"
    assert len(calls) == 3


def test_retry_call_does_not_retry_permanent_errors():
    calls = []

    def broken():
        calls.append(1)
        raise ConfigError("bad")

    with pytest.raises(ConfigError):
        retry_call(broken, policy=RetryPolicy(attempts=5, initial_s=0.01))
    assert len(calls) == 1


def test_exit_codes_tell_whether_a_retry_helps():
    assert exit_code_for(TransientError("x")) == ExitCode.FAILED
    assert exit_code_for(ConfigError("x")) == ExitCode.BAD_CONFIG
    assert exit_code_for(ConfigError("x", transient=True)) == ExitCode.FAILED
    assert ConfigError("a.", "do b.").one_line() == "a. do b"


def test_a_policy_tells_its_callback_of_every_retry():
    seen = []
    calls = iter([TransientError("first"), TransientError("second"), None])

    def flaky():
        error = next(calls)
        if error:
            raise error
        return "done"

    policy = RetryPolicy(attempts=3, initial_s=0.001, max_s=0.001, on_retry=lambda n, e: seen.append((n, str(e))))
    assert retry_call(flaky, policy=policy) == "done"
    assert [number for number, _ in seen] == [1, 2] and "first" in seen[0][1]


def test_google_retries_running_out_on_a_503_stay_transient_and_name_the_url():
    from google.api_core.exceptions import Forbidden, RetryError, ServiceUnavailable

    from shared.objectstore import translate_error

    gave_up = RetryError("Timeout of 120.0s exceeded", cause=ServiceUnavailable("GET https://storage/x: busy"))
    assert is_transient(gave_up)
    error = translate_error(gave_up, "gs://bucket/run/tables.json")
    assert isinstance(error, TransientError)
    assert error.one_line() == ("temporary object-store failure on gs://bucket/run/tables.json: ServiceUnavailable "
                                "503, still after google-cloud-storage's retries")
    refused = RetryError("Timeout of 120.0s exceeded", cause=Forbidden("GET https://storage/x: no"))
    assert not is_transient(refused)
    assert not isinstance(translate_error(refused, "gs://bucket/x"), TransientError)


@pytest.mark.parametrize(("status", "transient"), [(503, True), (429, True), (404, False), (403, False)])
def test_a_gcs_media_request_answered_with_a_status_is_transient_only_for_5xx_and_429(status, transient):
    import requests
    from google.cloud.storage.exceptions import InvalidResponse

    from shared.objectstore import translate_error

    response = requests.Response()
    response.status_code = status
    error = InvalidResponse(response, "Request failed with status code", status, "Expected one of", 200)
    assert is_transient(error) is transient
    translated = translate_error(error, "gs://bucket/run/tables.json")
    assert isinstance(translated, TransientError) is transient
    if transient:
        assert translated.one_line() == f"temporary object-store failure on gs://bucket/run/tables.json: " \
                                        f"InvalidResponse {status}"
