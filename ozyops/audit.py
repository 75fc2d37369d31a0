"""The one way to write the audit log, the check that it was not altered, and the
latest entry about someone.

N.B. callers pass event names and ids, never a code, secret, key, password or session id;
`details` is for plain facts such as a reason or a role name.

Each account's entries form a hash chain: entry n has `seq` = n and `hash` =
SHA-256(hash of entry n-1, its own fields); the account row keeps the head (`audit_seq`,
`audit_head`). Editing an entry breaks its hash; deleting one leaves a gap or a short chain.

Entries are written unchained inside the caller's transaction and sealed into the chain
later, in a short transaction of their own that locks only the account row: whenever the
log is read (the audit page, its CSV, `audit-verify`) and after about one audited commit
in SEAL_EVERY, so the unsealed tail stays short. N.B. numbering entries inside the
caller's transaction would make every audited action wait on one shared row while holding
its own row locks (two such actions deadlock on PostgreSQL), and sealing after every
commit made all sign-ins of an account queue on that row. Sealing is idempotent.
Entries with no account (a failed login for an unknown email) are kept but not chained.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass

from flask import has_request_context, request
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.orm import joinedload

from . import clock
from .extensions import db
from .models import Account, AuditEvent

GENESIS = "0" * 64
_PENDING = "ozyops.audit_accounts"
_events = AuditEvent.__table__
_accounts = Account.__table__


def record(event, *, account_id=None, actor=None, target=None, **details):
    """Add one entry to the current transaction; the caller's commit keeps it (a rollback
    drops it), and the chain is sealed later (see above)."""
    ip = ua = None
    if has_request_context():
        ip = (request.remote_addr or "")[:64]
        ua = (request.user_agent.string or "")[:255]
    who = target or actor
    if account_id is None and who is not None:
        account_id = who.account_id
    # N.B. written at once on the transaction's connection, not through the ORM's unit of
    # work: a sign-in is then a handful of plain statements. Whoever an entry names
    # already has a row (an id), so nothing needs flushing first.
    db.session.connection().execute(
        _INSERT,
        {
            "account_id": account_id,
            "actor_id": actor.id if actor else None,
            "target_id": target.id if target else None,
            "event": event,
            "ip": ip,
            "user_agent": ua,
            "created_at": clock.utcnow(),
            "details": json.dumps(details, sort_keys=True) if details else None,
        },
    )
    if account_id is not None:
        db.session.info.setdefault(_PENDING, set()).add(account_id)


def latest(target, events):
    """`target`'s newest entry among `events`, with who did it, or None (index
    ix_audit_events_target_event: a few rows read, however long the practice's log)."""
    return db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.target_id == target.id, AuditEvent.event.in_(events))
        .options(joinedload(AuditEvent.actor))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )


# N.B. inline: no RETURNING of the new entry's id, which nothing reads (on PostgreSQL a
# single-row insert asks for it by default): one result fewer to build on every sign-in.
_INSERT = insert(_events).inline()

# What Settings > Audit log calls each event, for an owner reading it. The CSV keeps the
# names, which scripts and the URL's `event=` filter match on.
LABELS = {
    "account_created": "Account created",
    "code_reused": "Code used a second time (refused)",
    "invitation_accepted": "Invitation accepted",
    "invitation_corrected": "Invitation's name or email corrected",
    "login": "Signed in",
    "login_failed": "Sign-in failed",
    "logout": "Signed out",
    "member_deactivated": "Deactivated",
    "member_invited": "Member invited",
    "member_reactivated": "Reactivated",
    "mfa_disabled": "MFA disabled",
    "mfa_enabled": "MFA enabled",
    "mfa_failed": "Wrong code or recovery key",
    "mfa_locked": "Locked out after too many wrong codes",
    "mfa_requirement_changed": "Require MFA for everyone changed",
    "mfa_reset": "MFA reset",
    "other_sessions_ended": "Other sessions signed out",
    "ownership_transferred": "Ownership transferred",
    "password_changed": "Password changed",
    "password_link_created": "Password link made",
    "password_paused": "Password paused after too many wrong passwords",
    "password_reset": "Password set by link",
    "reauth_failed": "Wrong code or password to confirm a change",
    "recovery_key_regenerated": "New recovery key made",
    "recovery_key_used": "Recovery key used",
    "role_changed": "Role changed",
    "secrets_reencrypted": "MFA secrets encrypted again with a new key",
    "sso_failed": "Sign-in with Google or Microsoft failed",
    "sso_linked": "Google or Microsoft sign-in linked",
    "sso_unlinked": "Google or Microsoft sign-in unlinked",
    "time_zone_changed": "Time zone changed",
    "user_added": "Person added",
}


def label(event):
    """The event as Settings > Audit log shows it (an unknown name, spaced out)."""
    return LABELS.get(event) or event.replace("_", " ").capitalize()


SEAL_EVERY = 16


@event.listens_for(db.session, "after_commit")
def _seal_now_and_then(session):
    for account_id in session.info.pop(_PENDING, ()):
        if secrets.randbelow(SEAL_EVERY) == 0:
            seal(account_id)


@event.listens_for(db.session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_PENDING, None)


def seal(account_id):
    """Chain the account's unsealed entries, oldest first, in one short transaction."""
    with db.engine.begin() as conn:
        head = conn.execute(
            update(_accounts)
            .where(_accounts.c.id == account_id)
            .values(audit_seq=_accounts.c.audit_seq)  # a no-op write: takes the row lock
            .returning(_accounts.c.audit_seq, _accounts.c.audit_head)
        ).one()
        seq, previous = head.audit_seq, head.audit_head or GENESIS
        pending = conn.execute(
            select(_events)
            .where(_events.c.account_id == account_id, _events.c.seq.is_(None))
            .order_by(_events.c.id)
        ).all()
        if not pending:
            return
        rows = []
        for entry in pending:
            seq += 1
            previous = digest(previous, entry, seq)
            rows.append({"entry_id": entry.id, "new_seq": seq, "new_hash": previous})
        conn.execute(  # one executemany, however many entries
            update(_events)
            .where(_events.c.id == bindparam("entry_id"))
            .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")),
            rows,
        )
        conn.execute(
            update(_accounts)
            .where(_accounts.c.id == account_id)
            .values(audit_seq=seq, audit_head=previous)
        )


def digest(previous, entry, seq):
    """The chain hash of `entry` as number `seq`, after the entry whose hash is `previous`."""
    fields = [
        previous,
        entry.account_id,
        seq,
        entry.event,
        entry.actor_id,
        entry.target_id,
        entry.ip,
        entry.user_agent,
        entry.created_at.isoformat(timespec="microseconds"),
        entry.details,
    ]
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Break:
    """The first place an account's chain does not hold."""

    account: str
    seq: int
    problem: str

    def __str__(self):
        return f"account {self.account!r}: entry {self.seq} {self.problem}"


def verify():
    """The first break in any account's chain, or None when every chain holds."""
    accounts = db.session.scalars(select(Account).order_by(Account.id)).all()
    for account in accounts:
        seal(account.id)
    db.session.expire_all()
    for account in accounts:
        previous, expected = GENESIS, 1
        entries = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.account_id == account.id)
            .order_by(AuditEvent.seq, AuditEvent.id)
        )
        for entry in entries:
            if entry.seq != expected:
                return Break(account.name, expected, "is missing")
            if entry.hash != digest(previous, entry, entry.seq):
                return Break(account.name, entry.seq, "was altered")
            previous, expected = entry.hash, expected + 1
        if expected - 1 != account.audit_seq or previous != (account.audit_head or GENESIS):
            return Break(account.name, expected, "is missing (the newest entries were removed)")
    return None


def heads():
    """Each account's (id, name, newest entry's seq, its hash), after `verify`.

    N.B. a chain kept in the database proves nothing against someone who can rewrite the
    database and recompute every hash after their change. A head written down elsewhere
    (`audit-verify` prints them) pins the history up to it: see `rewritten`.
    """
    return db.session.execute(
        select(Account.id, Account.name, Account.audit_seq, Account.audit_head).order_by(Account.id)
    ).all()


def rewritten(anchors):
    """The first (account id, seq, hash) of `anchors` (heads written down by an earlier
    run) whose entry no longer has that hash, or None when the history holds."""
    for account_id, seq, expected in anchors:
        if seq == 0:  # an account that had no entries yet pins nothing
            continue
        found = db.session.scalar(
            select(AuditEvent.hash).where(
                AuditEvent.account_id == account_id, AuditEvent.seq == seq
            )
        )
        if found != expected:
            return account_id, seq, expected
    return None
