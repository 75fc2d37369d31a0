"""The one source of "now", so tests can set the time instead of sleeping.

Tests put a callable in `app.config["CLOCK"]`; everything else gets UTC wall time.
"""

from datetime import UTC, datetime

from flask import current_app, has_app_context


def now() -> datetime:
    """Aware UTC datetime, from the app's injected clock when there is one."""
    if has_app_context():
        clock = current_app.config.get("CLOCK")
        if clock is not None:
            return clock()
    return datetime.now(UTC)


def naive(dt: datetime) -> datetime:
    """UTC without tzinfo, as stored: SQLite keeps no zone, so every column is naive UTC."""
    return dt.astimezone(UTC).replace(tzinfo=None)


def utcnow() -> datetime:
    """`now()` in the naive-UTC form the database stores."""
    return naive(now())
