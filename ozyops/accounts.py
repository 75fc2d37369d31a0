"""Creating accounts and users: the rules shared by first-run setup, the CLI and the team page."""

import unicodedata

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from . import audit, clock, passwords
from .extensions import db
from .models import KINDS, ROLES, Account, User


class AccountError(ValueError):
    """Bad input, with a message fit to show a person as it is, and the form field it is
    about, when there is one ("email", "name"): a page shows it there."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def normalize_email(raw):
    """Lower-cased, validated address, or AccountError. Lower-casing makes uniqueness
    case-insensitive with a plain unique index on every database."""
    try:
        return validate_email((raw or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise AccountError("Enter a valid email address.", "email") from None


# Unicode's explicit direction controls (embeddings, overrides, isolates). In a name they
# reorder what is shown after them, on the team page and in the audit log: "Sam \u202eMA"
# shows as "Sam AM". Right-to-left names need none of them.
_DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_name(raw, what="a name"):
    """A display name: trimmed, 1-120 characters, no control characters (they would break
    a CSV export or, for NUL, PostgreSQL) and no direction controls."""
    name = (raw or "").strip()
    if not name or len(name) > 120:
        raise AccountError(f"Enter {what} (at most 120 characters).", "name")
    if any(unicodedata.category(c) == "Cc" or c in _DIRECTION_CONTROLS for c in name):
        raise AccountError(f"Enter {what} without control characters.", "name")
    return name


def find_user_by_email(raw):
    """The user with this address, whatever its case, or None (also for malformed input)."""
    try:
        email = normalize_email(raw)
    except AccountError:
        return None
    return db.session.scalar(_BY_EMAIL, {"email": email})


# Built once, as the statement every sign-in runs: its cache key is worked out once too.
_BY_EMAIL = select(User).where(User.email == bindparam("email"))


def any_account_exists():
    return db.session.scalar(select(func.count()).select_from(Account)) > 0


def create_account(name, kind, owner_email, owner_name, owner_password, via, time_zone="UTC"):
    """A new account and its owner, committed; AccountError on bad input. `via`: "setup"
    (the first-run page) or "cli" (the operator's command), for the audit log."""
    name = clean_name(name, "the practice name")
    if kind not in KINDS:
        raise AccountError(f"Kind must be one of: {', '.join(KINDS)}.")
    if time_zone not in clock.zones():
        raise AccountError(
            f"Time zone must be a place such as America/New_York, not {time_zone!r}."
        )
    if db.session.scalar(select(Account).where(func.lower(Account.name) == func.lower(name))):
        raise AccountError(f"An account named {name!r} already exists.")
    account = Account(name=name, kind=kind, time_zone=time_zone)
    db.session.add(account)
    owner = _new_user(account, owner_email, owner_name, "owner", owner_password)
    if via == "setup" and not _alone(account):
        db.session.rollback()
        raise AccountError(SET_UP_MEANWHILE)
    audit.record("account_created", account_id=None, actor=None, target=owner, kind=kind, via=via)
    db.session.commit()
    return account, owner


SET_UP_MEANWHILE = (
    "OzyOps was set up meanwhile, from another browser, so this practice was not added. "
    "Log in, or ask whoever set it up."
)
# Any fixed number: the key of PostgreSQL's lock that first-run setups take turns on.
_SETUP_LOCK = 0x6F7A7970


def _alone(account):
    """Whether `account`, just written in this transaction, is the only one, judged so that
    two first-run setups at once cannot both find themselves alone (the page's own check
    comes before the password's hash, a long moment earlier).

    N.B. SQLite has one writer at a time: this transaction holds the lock from its INSERT,
    so the count sees every setup committed before it and none can commit meanwhile.
    PostgreSQL lets both INSERT and sees the other's only once committed: setups count in
    turn, holding a lock that ends with their transaction."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(_SETUP_LOCK)))
    others = select(func.count()).select_from(Account).where(Account.id != account.id)
    return db.session.scalar(others) == 0


def add_user(account_name, email, name, role, password):
    """A new admin or member in the account called `account_name`, committed: the operator's
    `add-user` (the team page invites people instead)."""
    account = db.session.scalar(
        select(Account).where(func.lower(Account.name) == func.lower((account_name or "").strip()))
    )
    if account is None:
        raise AccountError(f"No account named {account_name!r}.")
    if role not in ROLES or role == "owner":
        raise AccountError("Role must be admin or member (an account has exactly one owner).")
    user = _new_user(account, email, name, role, password)
    audit.record("user_added", target=user, role=role, via="cli")
    db.session.commit()
    return user


def _new_user(account, email, name, role, password):
    email = normalize_email(email)
    name = clean_name(name)
    if problem := passwords.problem_with(password, about=(email, name, account.name)):
        raise AccountError(problem)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise AccountError(f"A user with the email {email} already exists.")
    user = User(
        account=account,
        email=email,
        name=name,
        role=role,
        password_hash=passwords.hash_password(password),
    )
    insert_new(user)
    return user


def insert_new(row, taken="That email or practice name is already in use.", field=None):
    """Write `row` (a user, and their account if it is new) now, in this transaction.

    N.B. two requests adding the same email or practice name at once both pass the
    caller's checks; the unique index decides at this INSERT, and the loser gets the
    message `taken`, as from those checks, rather than a 500.
    """
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AccountError(taken, field) from None
