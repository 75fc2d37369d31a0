"""The one source of "now", so tests can set the time instead of sleeping, and how a
stored time reads on a practice's clock.

Tests put a callable in `app.config["CLOCK"]`; everything else gets UTC wall time.
"""

from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_login import current_user


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


@cache
def zones():
    """The time zones a practice may choose: UTC, then by name the zones of tzdata's zone.tab,
    one per place. N.B. not every name the database knows: the rest are old aliases
    ("Asia/Calcutta", "US/Eastern") and fixed offsets ("Etc/GMT+5")."""
    table = files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    places = {row.split("\t")[2] for row in table.splitlines() if row and row[0] != "#"}
    return ("UTC", *sorted(places))


def local(dt, zone):
    """`dt` (naive UTC, as stored) as a clock in `zone`, an IANA name, shows it."""
    return dt.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))


def init_app(app):
    @app.template_filter("local")
    def _local(dt, fmt):
        """A stored time as the signed-in person's practice reads it, e.g.
        `{{ m.last_login_at|local('%H:%M %Z') }}` → "13:22 EST"."""
        return local(dt, current_user.account.time_zone).strftime(fmt)
