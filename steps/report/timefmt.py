"""Timestamps as the report prints them: UTC ISO-8601 with milliseconds and a Z, whatever the writer used."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_ts(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_ts(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"
