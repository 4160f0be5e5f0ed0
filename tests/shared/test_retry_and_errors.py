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
