"""The operator's commands: `flask --app ozyops create-account | add-user | reset-mfa |
password-link | audit-verify | reencrypt-secrets | copy-database`.

Bad input ends in one line on stderr and exit status 1 (click.ClickException), never a
traceback.
"""

import click
from click.core import ParameterSource
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError, ProgrammingError

from .accounts import AccountError, add_user, create_account, find_user_by_email
from .extensions import db
from .models import KINDS, row_id


def init_app(app):
    for command in (
        create_account_command,
        add_user_command,
        reset_mfa_command,
        password_link_command,
        audit_verify_command,
        reencrypt_secrets_command,
        copy_database_command,
    ):
        app.cli.add_command(command)


def _run(action):
    """Run a service call, turning expected failures into one clean line."""
    try:
        return action()
    except AccountError as e:
        raise click.ClickException(str(e)) from None
    except (OperationalError, ProgrammingError):
        db.session.rollback()
        raise click.ClickException(
            "The database is not ready. Run `flask --app ozyops db upgrade` first."
        ) from None


def _one_of(choices):
    """An option's check: a value outside `choices` ends in one line, as any bad input
    here does, not in click's usage text (what click.Choice would print), and before any
    password is prompted for."""

    def check(_ctx, param, value):
        if value not in choices:
            raise click.ClickException(
                f"{param.opts[0]} must be one of: {', '.join(choices)} (not {value!r})."
            )
        return value

    return check


@click.command("create-account")
@with_appcontext
@click.option("--name", required=True, help="The practice's name.")
@click.option(
    "--kind",
    required=True,
    callback=_one_of(KINDS),
    help="healthcare, trades or law: the MFA policy.",
)
@click.option("--owner-email", required=True)
@click.option("--owner-name", required=True)
@click.option(
    "--time-zone", default="UTC", help="Where the practice is, e.g. America/New_York (UTC)."
)
@click.option("--owner-password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_account_command(name, kind, owner_email, owner_name, time_zone, owner_password):
    """Create an account and its owner."""
    account, owner = _run(
        lambda: create_account(
            name, kind, owner_email, owner_name, owner_password, via="cli", time_zone=time_zone
        )
    )
    click.echo(f"Created account {account.name!r} ({account.kind}) with owner {owner.email}.")
    source = click.get_current_context().get_parameter_source("time_zone")
    if source is ParameterSource.DEFAULT:  # N.B. times in UTC look hours wrong to its people
        click.echo(
            "Its times are shown in UTC until its owner or an admin chooses its time zone "
            "(Settings > Team > Change the time zone); --time-zone sets it here."
        )


@click.command("add-user")
@with_appcontext
@click.option("--account", "account_name", required=True, help="The account's name.")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role", required=True, callback=_one_of(("admin", "member")), help="admin or member."
)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def add_user_command(account_name, email, name, role, password):
    """Add an admin or member to an existing account."""
    user = _run(lambda: add_user(account_name, email, name, role, password))
    click.echo(f"Added {user.email} as {user.role} of {account_name!r}.")


@click.command("reset-mfa")
@with_appcontext
@click.argument("email")
@click.option("--reason", required=True, help="Why, for the audit log (e.g. a ticket number).")
def reset_mfa_command(email, reason):
    """Break-glass: clear a user's MFA (e.g. an owner who lost phone and recovery key)."""
    from .security import mfa

    reason = _reason(reason)
    user = _user(email)
    if not _run(lambda: mfa.reset(user, actor=None, reason=reason, via="cli")):
        click.echo(f"{user.email} has no MFA set up: nothing to reset.")
        return
    current_app.logger.info("operator reset MFA of user %s", user.id)
    click.echo(f"MFA reset for {user.email}; they can log in with their password and set it up.")


@click.command("password-link")
@with_appcontext
@click.argument("email")
@click.option("--reason", required=True, help="Why, for the audit log (e.g. a ticket number).")
@click.option(
    "--url",
    "base_url",
    default="",
    help="Your OzyOps address (e.g. https://ozyops.example.com), to print a whole link.",
)
def password_link_command(email, reason, base_url):
    """Break-glass: a one-time link to set a new password (24 hours; for someone who has not
    joined, an invitation of 72), for someone who forgot theirs and whom no one in the
    practice can help (the owner). MFA still applies."""
    from . import clock, links
    from .team import members

    reason = _reason(reason)
    user = _user(email)
    token = _run(
        lambda: members.password_link(None, user, clock.utcnow(), via="cli", reason=reason)
    )
    current_app.logger.info("operator created a password link for user %s", user.id)
    path = f"/set-password/{token}"
    hours = int(links.LIFETIME[members.link_purpose(user)].total_seconds() // 3600)
    click.echo(
        f"Give this link to {user.email} yourself, once you know it is them. It works once, "
        f"for {hours} hours, and replaces any earlier password link:"
    )
    if base_url:
        click.echo(base_url.rstrip("/") + path)
    else:
        click.echo(f"{path}  (after your OzyOps address, e.g. https://ozyops.example.com{path})")


def _reason(reason):
    reason = reason.strip()
    if not reason:
        raise click.ClickException("Give a reason: it goes into the audit log.")
    return reason[:500]


def _user(email):
    user = _run(lambda: find_user_by_email(email))
    if user is None:
        raise click.ClickException(f"No user with the email {email!r}.")
    return user


@click.command("audit-verify")
@with_appcontext
@click.option(
    "--anchors",
    type=click.File("r"),
    help="A file holding the `anchor` lines an earlier run printed: each must still hold.",
)
def audit_verify_command(anchors):
    """Check every account's audit hash chain; exit 1 at the first altered or missing entry.

    Prints one `anchor` line per account: keep them outside the database (append them to a
    file with your backups), and pass that file to --anchors next time, so that a history
    rewritten whole, every hash recomputed, is found too."""
    from . import audit

    problem = _run(audit.verify)
    if problem is not None:
        raise click.ClickException(f"Audit log broken: {problem}.")
    if anchors is not None:
        pinned = _anchor_lines(anchors)
        if broken := _run(lambda: audit.rewritten(pinned)):
            account_id, seq, _ = broken
            raise click.ClickException(
                f"Audit log rewritten: account {account_id}'s entry {seq} no longer has the "
                f"hash an earlier run wrote down in {anchors.name}."
            )
        click.echo(f"Every anchor in {anchors.name} holds ({len(pinned)} checked).")
    click.echo("Audit log intact: every account's chain verifies.")
    for account_id, name, seq, head in audit.heads():
        click.echo(f"anchor {account_id} {seq} {head or audit.GENESIS}  # {name}")


def _anchor_lines(file):
    """(account id, seq, hash) from each `anchor` line of `file`; other lines are ignored,
    so the whole output of earlier runs may be kept there."""
    pinned = []
    try:
        lines = list(file)
    except UnicodeDecodeError:
        raise click.ClickException(f"{file.name} is not a text file of anchor lines.") from None
    for number, line in enumerate(lines, 1):
        if not line.startswith("anchor "):
            continue
        parts = line.split("#", 1)[0].split()
        try:
            _, account_id, seq, head = parts
            pinned.append((row_id(account_id), row_id(seq) if seq != "0" else 0, head))
        except ValueError:
            raise click.ClickException(
                f"Line {number} of {file.name} is not an anchor line."
            ) from None
    return pinned


@click.command("reencrypt-secrets")
@with_appcontext
def reencrypt_secrets_command():
    """After a new key was put first in ENCRYPTION_KEYS on every server: seal every stored
    MFA secret with it, so that the keys after it can be removed. Safe while OzyOps serves,
    and to run again; exit 1 until every secret opens with the first key alone."""
    from . import clock
    from .security import secretbox

    done = _run(lambda: secretbox.reencrypt_stored_secrets(clock.utcnow()))
    click.echo(
        f"Re-encrypted {done.sealed} MFA secret{'' if done.sealed == 1 else 's'} with the "
        f"first key in ENCRYPTION_KEYS ({done.already} already were"
        + (f"; {done.cleared} unfinished MFA setups cleared)." if done.cleared else ").")
    )
    if done.unreadable:
        raise click.ClickException(
            f"No key in ENCRYPTION_KEYS opens the MFA secrets of {_people(done.unreadable)} "
            f"(first: {', '.join(done.unreadable[:3])}). Run this with the servers' keys "
            "(OZYOPS_ENCRYPTION_KEYS, or instance/encryption_keys); if the keys that stored "
            "them are lost for good, run `flask --app ozyops reset-mfa EMAIL --reason TEXT` "
            "for each."
        )
    if done.left:
        raise click.ClickException(
            f"The MFA secrets of {_people(done.left)} (first: {', '.join(done.left[:3])}) "
            "still need an older key: MFA setups in progress, which end within "
            f"{current_app.config['PENDING_ENROLMENT_MIN']} minutes, or secrets sealed "
            "meanwhile by a server whose first key is another. Keep the older keys, and run "
            "this again later."
        )
    click.echo(
        "Every stored secret opens with the first key alone: the keys after it can be "
        "removed from every server (then restart them)."
    )


def _people(emails):
    return "1 person" if len(emails) == 1 else f"{len(emails)} people"


@click.command("copy-database")
@with_appcontext
@click.option(
    "--to",
    "target_url",
    required=True,
    help="The new database, e.g. postgresql://ozyops:PASSWORD@db-host/ozyops, already made "
    "with `db upgrade`.",
)
def copy_database_command(target_url):
    """Copy everything from this install's database into a new, empty one: the way from the
    embedded SQLite file to PostgreSQL. Stop OzyOps first; then point OZYOPS_DATABASE_URL
    at the new database, with the same SECRET_KEY and ENCRYPTION_KEYS."""
    from .moving import MoveError, copy_database

    try:
        copied = copy_database(target_url)
    except MoveError as e:
        raise click.ClickException(str(e)) from None
    rows = sum(copied.values())
    click.echo(
        f"Copied {rows} rows in {len(copied)} tables "
        f"({copied.get('users', 0)} people, {copied.get('audit_events', 0)} audit entries)."
    )
    click.echo(
        "Now set OZYOPS_DATABASE_URL to the new database, keep SECRET_KEY and "
        "ENCRYPTION_KEYS as they are, and start OzyOps. Run `flask --app ozyops "
        "audit-verify` there: the audit chain came along unchanged."
    )
