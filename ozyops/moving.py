"""Moving an install's data to another database: from the embedded SQLite file to
PostgreSQL, when a practice outgrows one machine (`flask --app ozyops copy-database`)."""

import hashlib

from sqlalchemy import create_engine, func, insert, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from .config import ConfigError, database_uri
from .extensions import db

BATCH = 1000  # rows per INSERT: the audit log may hold many


class MoveError(ValueError):
    """The target cannot take the data; nothing was written."""


def copy_database(target_url):
    """Copy every row of this app's database into the one at `target_url`, which must hold
    the same schema (`db upgrade` run against it) and no rows. One transaction: on any
    error the target is left as it was. Returns {table name: rows copied}.

    N.B. ids are copied as they are (sessions, links and the audit chain name rows by id),
    so PostgreSQL's sequences are then moved past the highest, or the next row made there
    would take an id already used.

    N.B. every table is read again at the end, and the copy is undone if any changed: a
    server still running would otherwise lose, without a word, the audit entries, sign-ins
    and MFA changes made while the copy ran, and could leave a copy whose rows disagree.
    What a server writes after that second read is not copied: it must be stopped first."""
    try:
        target = create_engine(database_uri(target_url, "--to"))
    except ConfigError as e:
        raise MoveError(f"Not a database URL OzyOps can use: {e.message}") from None
    source = db.engine
    try:
        with source.connect() as src, target.begin() as dst:
            _check_target(src, dst)
            copied, read = {}, {}
            for table in db.metadata.sorted_tables:  # a row's parents before it
                digest = hashlib.sha256()
                copied[table.name] = 0
                for batch in _read(src, table, digest):
                    dst.execute(insert(table), batch)
                    copied[table.name] += len(batch)
                read[table.name] = digest.digest()
            for table in db.metadata.sorted_tables:
                if _digest(src, table) != read[table.name]:
                    raise MoveError(
                        f"This install's database changed while it was copied (table "
                        f"{table.name}): OzyOps is still running. Nothing was written. Stop "
                        "OzyOps on every server that uses this database, then run this again."
                    )
                if dst.dialect.name == "postgresql":
                    _move_sequences(dst, table)  # N.B. not undone by a rollback: last
            return copied
    except SQLAlchemyError as e:
        cause = getattr(e, "orig", None) or e
        raise MoveError(f"The copy failed and was undone: {cause}") from None
    finally:
        target.dispose()


def _read(src, table, digest):
    """`table`'s rows in batches of dicts, in id order, each row added to `digest`."""
    query = select(table).order_by(*table.primary_key.columns)
    # N.B. on PostgreSQL a server-side cursor: the audit log need not fit in memory.
    rows = src.execution_options(stream_results=True).execute(query).mappings()
    while batch := rows.fetchmany(BATCH):
        batch = [dict(r) for r in batch]
        for row in batch:
            digest.update(repr(sorted(row.items())).encode())
        yield batch


def _digest(src, table):
    """The digest `_read` makes of `table`'s rows, as they are now."""
    digest = hashlib.sha256()
    for _batch in _read(src, table, digest):
        pass
    return digest.digest()


def _check_target(src, dst):
    version = text("SELECT version_num FROM alembic_version")
    if not inspect(dst).has_table("alembic_version"):
        raise MoveError(
            "The target database has no schema: run `flask --app ozyops db upgrade` with "
            "OZYOPS_DATABASE_URL set to it first."
        )
    if dst.execute(version).scalar() != src.execute(version).scalar():
        raise MoveError(
            "The two databases are at different schema versions: run `flask --app ozyops "
            "db upgrade` against both first."
        )
    for table in db.metadata.sorted_tables:
        if dst.execute(select(func.count()).select_from(table)).scalar():
            raise MoveError(f"The target database is not empty (table {table.name}).")


def _move_sequences(dst, table):
    for column in table.primary_key.columns:
        if not column.autoincrement or column.type.python_type is not int:
            continue
        highest = func.max(column)
        dst.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(table.name, column.name),
                    func.coalesce(highest, 1),
                    highest.is_not(None),  # none yet: the next id is 1
                )
            ).select_from(table)
        )
