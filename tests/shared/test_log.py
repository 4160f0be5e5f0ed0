import io
import json
import logging

from shared import log


def capture(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    log.configure("unit", "db_20250101_000000", fmt=fmt, stream=stream,
                  secrets=["hunter2-very-secret", "AKIA-SECRET-KEY-123"])
    return stream


def test_json_lines_carry_run_step_table():
    stream = capture("json")
    with log.table_context("public.sales"):
        log.event("phase.finished", phase="load", duration_s=1.5)
    entry = json.loads(stream.getvalue().strip())
    assert entry["run_id"] == "db_20250101_000000"
    assert entry["step"] == "unit"
    assert entry["table"] == "public.sales"
    assert entry["event"] == "phase.finished"
    assert entry["phase"] == "load" and entry["duration_s"] == 1.5


def test_a_json_line_stays_one_line_for_every_line_splitter_and_reads_back_the_name():
    stream = capture("json")
    name = "s.t\n\r\x0b\x0c\x1c\x85\u2028\u2029\x1b[2J é\u202egnp.exe"
    log.event("table.failed", table=name)
    assert len(stream.getvalue().splitlines()) == 1 and "\u202e" not in stream.getvalue()
    assert json.loads(stream.getvalue())["table"] == name
    assert "é" in stream.getvalue()  # readable, not \u00e9


def test_text_format_is_one_readable_line():
    stream = capture("text")
    log.event("unload.started", table="public.users", parts=4)
    line = stream.getvalue().strip()
    assert "\n" not in line
    assert "unit public.users unload.started parts=4" in line


def test_text_format_shows_line_breaks_and_terminal_escapes_from_names_instead_of_obeying_them():
    stream = capture("text")
    forged = "public.t\n00:00:00 info    unit public.t table.succeeded\u2028\x1b[2Jx"
    log.event("table.failed", table=forged, reason="a\rb")
    line = stream.getvalue()
    assert line.count("\n") == 1 and line.endswith("\n")
    assert "\x1b" not in line and "\u2028" not in line and "\r" not in line
    assert "public.t\\n00:00:00 info    unit public.t table.succeeded\\u2028\\u001b[2Jx table.failed reason=a\\rb" in line


def test_secrets_never_reach_the_output_from_any_logger():
    stream = capture("json")
    log.event("connecting", password="hunter2-very-secret")
    logging.getLogger("botocore.foreign").warning("key AKIA-SECRET-KEY-123 rejected")
    logging.getLogger("r2a").error("dsn postgresql://u:hunter2-very-secret@h/db failed")
    log.event("unload", statement="UNLOAD ('select 1') TO 's3://b/p' ACCESS_KEY_ID 'AKIAXX' SECRET_ACCESS_KEY 'zzz'")
    output = stream.getvalue()
    assert "hunter2-very-secret" not in output
    assert "AKIA-SECRET-KEY-123" not in output
    assert "SECRET_ACCESS_KEY '***'" in output
    assert output.count("\n") == 4


def test_redact_masks_dsn_passwords_not_registered():
    assert log.redact("host=h password=abc123 dbname=x") == "host=h password=*** dbname=x"


def test_visible_shows_a_name_as_it_is_with_breaks_escapes_and_bidi_controls_written_out():
    # a right-to-left override would display "s.t\u202egnp.exe" as "s.texe.png" (CVE-2021-42574)
    assert log.visible("s.t\u202egnp.exe\u2066x\u2069") == "s.t\\u202egnp.exe\\u2066x\\u2069"
    assert log.visible("a\tb  c\x1b") == "a\\tb  c\\u001b"
    assert log.visible("🏳️\u200d🌈 ñ") == "🏳️\u200d🌈 ñ"  # a zero-width joiner of an emoji stays
