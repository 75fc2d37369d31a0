"""The tables: accounts (practices), their users, server-side sessions and the audit log.

Every datetime column is naive UTC (see clock.py).
"""

import json
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, false, func, or_
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship
from werkzeug.routing import IntegerConverter

from .extensions import db

KINDS = ("healthcare", "trades", "law")
ROLES = ("owner", "admin", "member")
# N.B. ids from a URL or a query argument are checked against this before any query: a
# number too large for the column would be a database error (a 500), not a 404.
MAX_ID = 2**31 - 1  # the largest INTEGER on PostgreSQL


def row_id(text):
    """`text` as a row id or page number, 1 to MAX_ID (for `request.args.get(type=…)`)."""
    value = int(text)
    if not 1 <= value <= MAX_ID:
        raise ValueError(f"{value} is out of range")
    return value


class RowIdConverter(IntegerConverter):
    """`<id:…>` in a route: a row id, 1 to MAX_ID; any other number there is a 404."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)


class Account(db.Model):
    """A practice. Its kind decides whether MFA is mandatory (healthcare: HIPAA)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    require_mfa: Mapped[bool] = mapped_column(default=False)
    # Where the practice is (an IANA name): the clock times its people read (clock.local).
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # The audit chain's head: how many entries are sealed and the last one's hash (audit.py).
    audit_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    audit_head: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.current_timestamp())

    users: Mapped[list["User"]] = relationship(back_populates="account")

    @property
    def mfa_required(self) -> bool:
        """N.B. the single definition of "this account requires MFA", used by the guard."""
        return self.kind == "healthcare" or self.require_mfa

    @property
    def idle_timeout_key(self) -> str:
        """Which config key holds this account's idle logoff, in minutes."""
        return "IDLE_TIMEOUT_HEALTHCARE_MIN" if self.kind == "healthcare" else "IDLE_TIMEOUT_MIN"


class User(db.Model):
    """A person in one account. `email` is stored lower-cased, so unique means case-insensitive."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Wrong passwords in a row, and the pause they lead to (passwords.check).
    password_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    password_paused_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.current_timestamp())

    # MFA: the secret is Fernet-encrypted (secretbox.py), the recovery key only hashed.
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_last_step: Mapped[int | None]
    pending_totp_secret: Mapped[str | None] = mapped_column(Text)
    pending_totp_created_at: Mapped[datetime | None]
    recovery_key_hash: Mapped[str | None] = mapped_column(String(128))
    mfa_failures: Mapped[int] = mapped_column(default=0)
    # Every wrong code or key counted, never reset: a pending sign-in's own wrong codes are
    # what it gained since the sign-in began (signin.pending_failures_over).
    mfa_failures_total: Mapped[int] = mapped_column(default=0, server_default="0")
    # Whether this run of failures has told the person their password is probably known
    # (mfa._failure): once per run, until a right code or a lock ends it.
    mfa_warned: Mapped[bool] = mapped_column(default=False, server_default=false())
    mfa_locked_until: Mapped[datetime | None]
    # A keyed digest of the last wrong code or key (mfa._failure): the same one sent again,
    # a reload of the page that said it was wrong, is not counted twice.
    mfa_last_wrong: Mapped[str | None] = mapped_column(String(64))
    # Steps still to come whose codes wrong attempts matched (the clock hint told whoever
    # typed them how far off they were), space-separated: refused when they come, so a
    # guess the hint confirmed cannot be sent again later (mfa._miss). N.B. past steps are
    # dropped: they never come again.
    totp_hinted_steps: Mapped[str | None] = mapped_column(Text)

    account: Mapped[Account] = relationship(back_populates="users")

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_secret is not None

    @hybrid_property
    def joined(self) -> bool:
        """Has accepted their invitation: set a password, or signed in (Google, Microsoft).
        In SQL too: a transfer of ownership writes only to someone who has joined."""
        return self.password_hash is not None or self.last_login_at is not None

    @joined.inplace.expression
    @classmethod
    def _joined(cls):
        return or_(cls.password_hash.is_not(None), cls.last_login_at.is_not(None))

    @hybrid_property
    def has_mfa_to_reset(self) -> bool:
        """What Reset MFA is for: an authenticator, or a lock to lift. The button shows, and
        mfa.reset acts (in SQL, as one conditional UPDATE), on the same rule."""
        return self.totp_secret is not None or self.mfa_locked_until is not None

    @has_mfa_to_reset.inplace.expression
    @classmethod
    def _has_mfa_to_reset(cls):
        return or_(cls.totp_secret.is_not(None), cls.mfa_locked_until.is_not(None))

    # Flask-Login's user protocol, spelled out rather than inherited from UserMixin so that
    # `is_active` follows our column.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


# For loading a user with the account the guard reads on every request. Built once: an
# option costs as much to build as the lookup it modifies when the user is already loaded.
WITH_ACCOUNT = (joinedload(User.account),)


class ServerSession(db.Model):
    """A browser session. The cookie holds a random id; only its SHA-256 is stored here,
    so a leaked database does not hand out live sessions."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    authenticated_at: Mapped[datetime | None]
    idle_minutes: Mapped[int]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    # Rows are written with Core (see sessions.py); this is only for reading them.
    user: Mapped[User | None] = relationship(viewonly=True)


class SsoIdentity(db.Model):
    """A Google or Microsoft identity linked to a user: matched by (provider, subject), never
    by email after the first sign-in, so an email changed at the provider takes over nobody."""

    __tablename__ = "sso_identities"
    __table_args__ = (
        Index("ix_sso_identities_provider_subject", "provider", "subject", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254))  # as it was when linked, for display
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class UserToken(db.Model):
    """A one-time link: an invitation or a password reset. Only the token's hash is kept."""

    __tablename__ = "user_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))  # invite | reset
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class AuditEvent(db.Model):
    """One security event. Never holds a code, secret, key, password or session id.

    Entries of an account form a hash chain (`seq`, `hash`): see audit.py.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_account_time", "account_id", "created_at"),
        Index("ix_audit_events_account_seq", "account_id", "seq", unique=True),
        Index("ix_audit_events_target_event", "target_id", "event", "id"),  # audit.latest
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    seq: Mapped[int | None]
    hash: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    event: Mapped[str] = mapped_column(String(40), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    details: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    target: Mapped[User | None] = relationship(foreign_keys=[target_id])

    @property
    def by_operator(self) -> bool:
        """Done at the command line (`reset-mfa`, `password-link`), by whoever runs the
        install rather than by anyone signed in."""
        return self.actor_id is None and json.loads(self.details or "{}").get("via") == "cli"
