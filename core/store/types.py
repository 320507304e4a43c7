"""Column types shared by the ORM and the migrations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Current time in UTC, microsecond precision (what the case file stores)."""
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """Canonical ISO-8601 UTC text ('…Z') for a datetime; the form hashed in the audit log."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as canonical ISO text, so they sort and hash stably."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        return iso(value)

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return parse_iso(value)


class JSONText(TypeDecorator[Any]):
    """JSON stored as canonical text (sorted keys), readable with any SQLite tool."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)
