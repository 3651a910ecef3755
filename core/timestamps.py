"""Service timestamps: UTC ISO strings in, local aware datetimes out."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["parse_utc"]


def parse_utc(value: object) -> datetime | None:
    """Parse a service timestamp as UTC and return it in local time; ``None`` stays ``None``.

    The service writes UTC with a ``Z``; like the IBM clients we *replace* any tzinfo with UTC
    rather than convert, so a timestamp is never shifted twice.
    """
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc).astimezone()
