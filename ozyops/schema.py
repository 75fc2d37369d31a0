"""Whether the database answers and holds the schema this version of OzyOps needs: for
/healthz, and for the page a request gets when the database fails it."""

from functools import cache

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

# PostgreSQL's codes for a table and a column that are not there; SQLite says it in words.
_MISSING_SQLSTATES = frozenset({"42P01", "42703"})
_MISSING_SQLITE = ("no such table", "no such column", "has no column named")

READY = "ok"
UNAVAILABLE = "database unavailable"
BEHIND = "database schema out of date: run flask --app ozyops db upgrade"


def state():
    """READY, UNAVAILABLE or BEHIND.

    N.B. a database *ahead* of this version (the old servers of a rolling upgrade, once
    the new one has migrated it) is READY: migrations add, so the old code runs."""
    try:
        version = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        db.session.rollback()
        try:  # the database answers, and has no schema yet?
            db.session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            db.session.rollback()
            return UNAVAILABLE
        version = None
    return BEHIND if version is None or _behind(version) else READY


def _behind(version):
    """Whether the database's schema `version` is one this version's migrations go beyond:
    neither a head of theirs nor one they do not know (a newer version's)."""
    heads, known = _migrations(current_app.extensions["migrate"].directory)
    return version in known and version not in heads


@cache  # read once: the files do not change under a running server
def _migrations(directory):
    """This version's migrations: their heads, and every revision they hold."""
    script = ScriptDirectory(directory)
    return frozenset(script.get_heads()), frozenset(r.revision for r in script.walk_revisions())


def missing_from(error):
    """Whether `error` (a DBAPIError) says a table or column is not there, as every query
    does before `db upgrade`."""
    original = error.orig
    if getattr(original, "sqlstate", None) in _MISSING_SQLSTATES:
        return True
    return any(words in str(original) for words in _MISSING_SQLITE)
