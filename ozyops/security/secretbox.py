"""Encryption of TOTP secrets at rest with cryptography's MultiFernet.

`ENCRYPTION_KEYS` is a comma-separated list: the first key encrypts, every key decrypts,
so an operator rotates by putting a new key first and keeping the old ones after it, then
runs `flask --app ozyops reencrypt-secrets` (`reencrypt_stored_secrets`) so that the old
ones can go.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError


def box(keys_text):
    """The MultiFernet for an `ENCRYPTION_KEYS` value, or ValueError naming the setting
    (config.load calls it at start-up, so a mistyped key stops the server there and not
    at someone's first sign-in)."""
    try:
        return MultiFernet([Fernet(k) for k in _keys(keys_text)])
    except ValueError:
        raise ValueError(
            "ENCRYPTION_KEYS must be one or more Fernet keys separated by commas; make one "
            'with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from None


def _keys(keys_text):
    return [k.strip() for k in (keys_text or "").split(",") if k.strip()]


def _box():
    return box(current_app.config["ENCRYPTION_KEYS"])


def seal(plaintext: str) -> str:
    return _box().encrypt(plaintext.encode()).decode()


def open_(token: str) -> str:
    return _box().decrypt(token.encode()).decode()


def stored_secrets_unopened():
    """What is wrong when `ENCRYPTION_KEYS` cannot open every stored TOTP secret (naming
    whose), or None. The server checks it at start-up (wsgi.py).

    N.B. a host started without the install's keys generates keys of its own into its
    `instance/`: it then could check no one's code, and would seal the secret of anyone
    who set MFA up through it with a key no other host has (found by an operator's walk
    through the README's "Scaling out"). The same for a database restored without its
    keys, or an old key dropped after a rotation. Before `db upgrade` there is nothing to
    check (the pages say the database is not ready)."""
    from ..extensions import db

    try:
        rows = _sealed_rows()
    except DBAPIError:
        db.session.rollback()
        return None
    unreadable = []
    multi = _box()
    for _id, _account, email, *tokens, _begun in rows:
        try:
            for token in filter(None, tokens):
                multi.decrypt(token.encode())
        except InvalidToken:
            unreadable.append(email)
    if not unreadable:
        return None
    return (
        f"ENCRYPTION_KEYS cannot open the MFA secrets of {len(unreadable)} of the "
        f"{len(rows)} people who have them (first: {', '.join(unreadable[:3])}). Give this "
        "server the same OZYOPS_ENCRYPTION_KEYS (or instance/encryption_keys) as the one "
        "that stored them, with any older key after the new one. If those keys are lost for "
        "good, run `flask --app ozyops reset-mfa EMAIL --reason TEXT` for each of them; the "
        "server starts once every stored secret opens."
    )


def reencrypt_stored_secrets(now):
    """Seal every stored TOTP secret again with the first key, so that the keys after it
    can be dropped. Returns a Reencrypted.

    N.B. a setup in progress (Enable MFA clicked less than PENDING_ENROLMENT_MIN ago) is
    left as it is: its page names it by its sealed text (mfa.setup_of), so sealed again it
    would be refused as replaced. One whose time is over is cleared, as nothing can finish
    it; so a run after the setups of now have ended leaves none. A row is written only if
    its secret is still the one read (someone who sets MFA up or has it reset meanwhile
    keeps what they did), and every row is read again at the end: `left` names whoever
    still needs an older key (a setup in progress, or a secret sealed meanwhile by a server
    whose first key is another). MultiFernet.rotate keeps each secret's timestamp.

    Each practice whose rows changed gets one audit entry, by the operator, with its counts:
    its owner can see when its people's secrets were sealed anew (HIPAA's audit controls),
    without an entry for each person."""
    from .. import audit
    from ..extensions import db
    from ..models import User
    from .mfa import setup_over  # N.B. mfa imports this module

    multi = _box()
    first = Fernet(_keys(current_app.config["ENCRYPTION_KEYS"])[0])
    done = Reencrypted()
    changed = defaultdict(Counter)  # account id: what changed there
    for user_id, account_id, email, secret, pending, begun in _sealed_rows():
        if pending and setup_over(begun, now):
            changed[account_id]["setups_cleared"] += db.session.execute(
                update(User)
                .where(User.id == user_id, User.pending_totp_secret == pending)
                .values(pending_totp_secret=None, pending_totp_created_at=None)
            ).rowcount
        if secret is not None and _opens(first, secret):
            done.already += 1
        elif secret is not None:
            try:
                new = multi.rotate(secret.encode()).decode()
            except InvalidToken:
                done.unreadable.append(email)
            else:
                changed[account_id]["sealed"] += db.session.execute(
                    update(User)
                    .where(User.id == user_id, User.totp_secret == secret)
                    .values(totp_secret=new)
                ).rowcount
        db.session.commit()  # one person at a time: no lock held for long
    for account_id, counts in changed.items():
        if counts := +counts:  # the counts above nought
            audit.record("secrets_reencrypted", account_id=account_id, via="cli", **counts)
            done.sealed += counts["sealed"]
            done.cleared += counts["setups_cleared"]
    db.session.commit()
    for _id, _account, email, *tokens, _begun in _sealed_rows():
        if any(t and not _opens(first, t) for t in tokens) and email not in done.unreadable:
            done.left.append(email)
    return done


@dataclass
class Reencrypted:
    sealed: int = 0  # secrets sealed again with the first key
    already: int = 0  # already under it
    cleared: int = 0  # setups whose time was over
    unreadable: list = field(default_factory=list)  # emails: no key opens their secret
    left: list = field(default_factory=list)  # emails: a secret still needs an older key


def _sealed_rows():
    from ..extensions import db
    from ..models import User

    return db.session.execute(
        select(
            User.id,
            User.account_id,
            User.email,
            User.totp_secret,
            User.pending_totp_secret,
            User.pending_totp_created_at,
        ).where(or_(User.totp_secret.is_not(None), User.pending_totp_secret.is_not(None)))
    ).all()


def _opens(fernet, token):
    try:
        fernet.decrypt(token.encode())
    except InvalidToken:
        return False
    return True
