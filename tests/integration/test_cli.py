"""The operator's CLI: clean one-line failures, never a traceback (SPEC §7)."""

import re
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from ozyops.clock import naive
from ozyops.extensions import db
from ozyops.models import Account, AuditEvent, User
from ozyops.security import totp

SECURITY = "/settings/profile/security"
OK_ACCOUNT = [
    "create-account",
    "--name",
    "Bright Smile",
    "--kind",
    "healthcare",
    "--owner-email",
    "Dana@Example.com",
    "--owner-name",
    "Dana",
    "--owner-password",
    "a long enough password",
]


def new_account(kind="law", email="a@example.com", password="a long enough password"):  # noqa: S107
    """create-account's arguments for practice X, one of them changed."""
    return [
        "create-account",
        *("--name", "X", "--kind", kind, "--owner-email", email),
        *("--owner-name", "A", "--owner-password", password),
    ]


def test_create_account_and_add_user(runner, app):
    r = runner.invoke(args=OK_ACCOUNT)
    assert r.exit_code == 0, r.output
    assert "Created account 'Bright Smile'" in r.output
    r = runner.invoke(
        args=[
            "add-user",
            "--account",
            "bright smile",
            "--email",
            "n@example.com",
            "--name",
            "Nurse",
            "--role",
            "member",
            "--password",
            "another long password",
        ]
    )
    assert r.exit_code == 0, r.output
    with app.app_context():
        users = db.session.scalars(select(User).order_by(User.id)).all()
        assert [(u.email, u.role) for u in users] == [
            ("dana@example.com", "owner"),
            ("n@example.com", "member"),
        ]


def test_password_is_prompted_hidden_when_not_given(runner, app):
    args = OK_ACCOUNT[:-2]
    r = runner.invoke(args=args, input="a long enough password\na long enough password\n")
    assert r.exit_code == 0, r.output
    assert "a long enough password" not in r.output


@pytest.mark.parametrize(
    "args, message",
    [
        (new_account(kind="bakery"), "bakery"),
        (new_account(email="bad"), "valid email"),
        (new_account(password="short"), "at least 10"),
        (new_account(password="1234567890"), "too easy to guess"),
        (
            [
                "add-user",
                "--account",
                "Nope",
                "--email",
                "b@example.com",
                "--name",
                "B",
                "--role",
                "member",
                "--password",
                "a long enough password",
            ],
            "No account named",
        ),
        (
            [
                "add-user",
                "--account",
                "Bright Smile",
                "--email",
                "b@example.com",
                "--name",
                "B",
                "--role",
                "owner",
                "--password",
                "a long enough password",
            ],
            "owner",
        ),
        (
            [
                "add-user",
                "--account",
                "Bright Smile",
                "--email",
                "DANA@example.com",
                "--name",
                "B",
                "--role",
                "member",
                "--password",
                "a long enough password",
            ],
            "already exists",
        ),
        (["reset-mfa", "nobody@example.com", "--reason", "ticket 1"], "No user"),
        (["reset-mfa", "dana@example.com", "--reason", "  "], "Give a reason"),
        (["password-link", "nobody@example.com", "--reason", "ticket 1"], "No user"),
        (["password-link", "dana@example.com", "--reason", " "], "Give a reason"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(runner, args, message):
    assert runner.invoke(args=OK_ACCOUNT).exit_code == 0
    r = runner.invoke(args=args)
    assert r.exit_code == 1
    assert message in r.output
    assert "Traceback" not in r.output
    assert len([line for line in r.output.splitlines() if line.strip()]) == 1, r.output


def test_an_accented_practice_name_is_found_and_kept_unique_whatever_its_case(runner, app):
    """SQLite's own lower() changes only A to Z: add-user could not find "Éclat Dental" at
    all, and "ÉCLAT DENTAL" was a second practice (found by a review)."""
    account = list(OK_ACCOUNT)
    account[account.index("Bright Smile")] = "Éclat Dental"
    assert runner.invoke(args=account).exit_code == 0
    r = runner.invoke(
        args=[
            *("add-user", "--account", "éclat dental", "--email", "n@example.com"),
            *("--name", "Nurse", "--role", "member", "--password", "another long password"),
        ]
    )
    assert r.exit_code == 0, r.output
    account[account.index("Éclat Dental")] = "ÉCLAT DENTAL"
    account[account.index("Dana@Example.com")] = "other@example.com"
    r = runner.invoke(args=account)
    assert r.exit_code == 1 and "already exists" in r.output
    # Both entries say who made them: the operator, as reset-mfa's and password-link's do.
    with app.app_context():
        entries = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.event, e.by_operator) for e in entries] == [
            ("account_created", True),
            ("user_added", True),
        ]


def test_create_account_takes_the_practices_time_zone(runner, app):
    r = runner.invoke(args=[*OK_ACCOUNT, "--time-zone", "Europe/London"])
    assert r.exit_code == 0, r.output
    assert "UTC" not in r.output
    with app.app_context():
        assert db.session.scalar(select(Account)).time_zone == "Europe/London"
    # Without one, UTC, and the operator is told where the owner changes it.
    r = runner.invoke(args=new_account(email="b@example.com"))
    assert r.exit_code == 0, r.output
    assert "Its times are shown in UTC until its owner or an admin chooses" in r.output
    assert "Settings > Team > Change the time zone" in r.output
    r = runner.invoke(args=[*new_account(), "--time-zone", "Mars/Olympus_Mons"])
    assert r.exit_code == 1
    assert r.output.strip() == (
        "Error: Time zone must be a place such as America/New_York, not 'Mars/Olympus_Mons'."
    )


def test_duplicate_account_name_is_refused(runner):
    runner.invoke(args=OK_ACCOUNT)
    other = list(OK_ACCOUNT)
    other[other.index("Dana@Example.com")] = "other@example.com"
    r = runner.invoke(args=other)
    assert r.exit_code == 1 and "already exists" in r.output


def test_reset_mfa_clears_mfa_ends_sessions_and_is_audited(runner, factory, make_browser, app):
    user = factory.user(email="owner@example.com", kind="healthcare", mfa=True)
    b = make_browser()
    b.login_with_code(user.email)
    r = runner.invoke(args=["reset-mfa", "OWNER@example.com", "--reason", "lost phone, ID checked"])
    assert r.exit_code == 0, r.output
    assert b.get("/dashboard").status_code == 302  # their session has ended
    with app.app_context():
        assert not db.session.get(User, user.id).mfa_enabled
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "mfa_reset"))
        assert event.actor_id is None and "lost phone, ID checked" in event.details
    b = make_browser()
    assert b.login(user.email).headers["Location"] == "/dashboard"
    assert b.get("/dashboard").headers["Location"] == "/settings/profile/security"
    page = b.get("/settings/profile/security").text
    assert "Whoever runs OzyOps for your practice reset your MFA on" in page
    assert re.search(r"tell\s+them\.", page)  # they did it: an owner has no one else


def test_password_link_lets_an_owner_back_in_and_mfa_still_applies(
    runner, factory, make_browser, app
):
    owner = factory.user(email="owner@example.com", kind="healthcare", mfa=True)
    r = runner.invoke(
        args=["password-link", "OWNER@example.com", "--reason", "forgot it, ID checked"]
        + ["--url", "https://ozyops.example.com/"]
    )
    assert r.exit_code == 0, r.output
    link = r.output.splitlines()[-1]
    assert link.startswith("https://ozyops.example.com/set-password/")
    path = link.removeprefix("https://ozyops.example.com")
    b = make_browser()
    b.get(path)
    r = b.post(path, {"password": "brand new password", "confirm": "brand new password"})
    assert r.status_code == 303
    assert b.login(owner.email, "brand new password").headers["Location"] == "/login/mfa"
    assert make_browser().get(path).status_code == 410  # once only
    with app.app_context():
        made = db.session.scalar(
            select(AuditEvent).where(AuditEvent.event == "password_link_created")
        )
        assert made.actor_id is None and made.by_operator
        assert "forgot it, ID checked" in made.details
    b.post("/login/mfa", {"code": b.code()}, page="/login/mfa")
    page = b.get("/settings/audit?event=password_link_created").text
    assert '<td data-label="By">operator</td>' in page
    csv = b.get("/settings/audit.csv?event=password_link_created").text
    assert ",password_link_created,operator,owner@example.com," in csv


def test_password_link_without_url_prints_the_path_and_refuses_the_deactivated(runner, factory):
    factory.user(email="owner@example.com")
    r = runner.invoke(args=["password-link", "owner@example.com", "--reason", "ticket 7"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1].startswith("/set-password/")
    factory.user(email="gone@example.com", active=False)
    r = runner.invoke(args=["password-link", "gone@example.com", "--reason", "ticket 8"])
    assert r.exit_code == 1 and "deactivated" in r.output


def test_password_link_says_how_long_its_kind_lasts(runner, factory, app):
    """Someone who has not joined gets an invitation again, 72 hours (found by a review)."""
    factory.user(email="owner@example.com")
    r = runner.invoke(args=["password-link", "owner@example.com", "--reason", "ticket 9"])
    assert "It works once, for 24 hours" in r.output
    new = factory.user(email="new@example.com")
    with app.app_context():
        db.session.get(User, new.id).password_hash = None  # invited, not joined
        db.session.commit()
    r = runner.invoke(args=["password-link", "new@example.com", "--reason", "ticket 10"])
    assert "It works once, for 72 hours" in r.output


def test_commands_before_db_upgrade_say_so(tmp_path):
    from ozyops import create_app

    app = create_app(
        {
            "SECRET_KEY": "x",
            "ENCRYPTION_KEYS": "",
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path}/empty.sqlite",
        }
    )
    r = app.test_cli_runner().invoke(args=OK_ACCOUNT)
    assert r.exit_code == 1 and "db upgrade" in r.output


class TestReencryptSecrets:
    """A key rotation ends with the old key gone: every stored secret sealed again with the
    new one (found by an operator's walk: before, the old key could never be removed)."""

    def _rotate(self, app):
        old = app.config["ENCRYPTION_KEYS"]
        new = Fernet.generate_key().decode()
        app.config["ENCRYPTION_KEYS"] = f"{new},{old}"
        return new, old

    def test_after_it_the_new_key_alone_opens_everything(
        self, runner, factory, app, browser, clock
    ):
        from ozyops.security import secretbox

        pat = factory.user(email="pat@example.com", mfa=True)
        factory.user(pat.account_id, role="member", email="sam@example.com", mfa=True)
        given_up = factory.user(email="lee@example.com")  # clicked Enable MFA, went away
        with app.app_context():
            lee = db.session.get(User, given_up.id)
            lee.pending_totp_secret = secretbox.seal("ABC")
            lee.pending_totp_created_at = naive(clock.now - timedelta(minutes=16))
            db.session.commit()
        new, _old = self._rotate(app)
        r = runner.invoke(args=["reencrypt-secrets"])
        assert r.exit_code == 0, r.output
        assert (
            "Re-encrypted 2 MFA secrets with the first key in ENCRYPTION_KEYS (0 already were; "
            "1 unfinished MFA setups cleared)." in r.output
        )
        assert "the keys after it can be removed" in r.output
        app.config["ENCRYPTION_KEYS"] = new  # the old key removed
        with app.app_context():
            assert secretbox.stored_secrets_unopened() is None
        browser.login_with_code("pat@example.com")  # the code still checks
        assert browser.get("/dashboard").status_code == 200
        again = runner.invoke(args=["reencrypt-secrets"])
        assert again.exit_code == 0 and "Re-encrypted 0 MFA secrets" in again.output
        assert "(2 already were)" in again.output
        # One entry for each practice whose rows changed, by the operator, with its counts;
        # none for a run that changed nothing.
        with app.app_context():
            entries = db.session.scalars(
                select(AuditEvent).where(AuditEvent.event == "secrets_reencrypted")
            ).all()
            assert {(e.account_id, e.details) for e in entries} == {
                (pat.account_id, '{"sealed": 2, "via": "cli"}'),
                (given_up.account_id, '{"setups_cleared": 1, "via": "cli"}'),
            }
            assert all(e.by_operator for e in entries)
        page = browser.get("/settings/audit?event=secrets_reencrypted").text
        assert "MFA secrets encrypted again with a new key" in page
        assert '<td data-label="By">operator</td>' in page and "sealed: 2" in page

    def test_a_setup_in_progress_is_left_to_finish_and_said(
        self, runner, factory, app, make_browser, clock
    ):
        """Its page names it by its sealed text: sealed again, it would be refused as
        replaced, and the entry just scanned would be useless (a review's find)."""
        factory.user(email="lee@example.com", kind="trades")
        lee = make_browser()
        lee.login("lee@example.com")
        lee.get(SECURITY)
        lee.post(SECURITY + "/enrol")
        shown = lee.get(SECURITY)  # without JavaScript: the QR code, once
        secret = re.search(r'id="setup-key"[^>]*>([A-Z2-7 ]+)<', shown.text)[1].replace(" ", "")
        reload = lee.get(SECURITY)  # later: the code field, naming its setup
        setup = re.search(r'name="setup" value="([^"]+)"', reload.text)[1]
        self._rotate(app)
        r = runner.invoke(args=["reencrypt-secrets"])
        assert r.exit_code == 1
        assert (
            "The MFA secrets of 1 person (first: lee@example.com) still need an older key"
            in r.output
        )
        assert "within 15 minutes" in r.output and "Traceback" not in r.output
        code = totp.code_at(secret, clock.timestamp)
        done = lee.post(SECURITY + "/verify", {"code": code, "setup": setup})
        assert done.status_code == 200 and 'id="recovery-key"' in done.text  # finished
        r = runner.invoke(args=["reencrypt-secrets"])
        assert r.exit_code == 0 and "(1 already were)" in r.output  # sealed with the new key

    def test_a_secret_no_key_opens_is_named_and_the_others_are_done(self, runner, factory, app):
        from ozyops.security import secretbox

        factory.user(email="pat@example.com", mfa=True)
        lost = factory.user(email="sam@example.com", mfa=True)
        with app.app_context():
            stranger = Fernet(Fernet.generate_key())
            db.session.get(User, lost.id).totp_secret = stranger.encrypt(b"X").decode()
            db.session.commit()
        new, _old = self._rotate(app)
        r = runner.invoke(args=["reencrypt-secrets"])
        assert r.exit_code == 1
        assert "Re-encrypted 1 MFA secret with" in r.output
        assert "opens the MFA secrets of 1 person (first: sam@example.com)" in r.output
        assert "Run this with the servers' keys" in r.output and "Traceback" not in r.output
        app.config["ENCRYPTION_KEYS"] = new
        with app.app_context():
            assert "sam@example.com" in secretbox.stored_secrets_unopened()
            assert "pat@example.com" not in secretbox.stored_secrets_unopened()

    def test_a_secret_changed_meanwhile_is_left_as_it_became_and_checked(
        self, runner, factory, app, monkeypatch
    ):
        """Someone who sets MFA up again while the command runs keeps their new secret; one
        sealed meanwhile by a server whose first key is the old one is still found."""
        from ozyops.security import secretbox

        pat = factory.user(email="pat@example.com", mfa=True)
        _new, old = self._rotate(app)
        box = secretbox._box
        replaced = Fernet(old).encrypt(b"NEWSECRET").decode()  # a server not yet restarted

        class Meanwhile:
            def __init__(self, multi):
                self.multi = multi

            def rotate(self, token):
                with db.engine.begin() as conn:  # the person's own request, elsewhere
                    conn.execute(
                        User.__table__.update()
                        .where(User.__table__.c.id == pat.id)
                        .values(totp_secret=replaced)
                    )
                return self.multi.rotate(token)

        monkeypatch.setattr(secretbox, "_box", lambda: Meanwhile(box()))
        r = runner.invoke(args=["reencrypt-secrets"])
        assert r.exit_code == 1 and "Re-encrypted 0 MFA secrets" in r.output
        assert "(first: pat@example.com) still need an older key" in r.output
        monkeypatch.undo()
        with app.app_context():
            assert db.session.get(User, pat.id).totp_secret == replaced


@pytest.mark.postgres
def test_copy_database_moves_an_embedded_install_to_postgresql(tmp_path):
    """From the embedded SQLite file to PostgreSQL (found by an operator's walk: there was
    no way): every row, ids and audit chain as they were, and new rows take new ids."""
    from flask_migrate import stamp, upgrade
    from sqlalchemy import func, text

    from ozyops import accounts, audit, create_app
    from ozyops.security import mfa
    from ozyops.security.secretbox import open_, seal
    from tests.conftest import PG_URL, SECRET

    keys = Fernet.generate_key().decode()
    settings = {"SECRET_KEY": "x", "ENCRYPTION_KEYS": keys, "TESTING": True}
    source = create_app({**settings, "DATABASE_URL": f"sqlite:///{tmp_path}/ozyops.sqlite"})
    target = create_app({**settings, "DATABASE_URL": PG_URL})
    with target.app_context():  # an empty database at this version's schema
        db.create_all()
        stamp()
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.session.commit()
    with source.app_context():
        upgrade()
        _, owner = accounts.create_account(
            "Smile",
            "healthcare",
            "dana@example.com",
            "Dana",
            "copper kettle on a blue door",
            via="cli",
        )
        sam = accounts.add_user(
            "Smile", "sam@example.com", "Sam", "member", "seven quiet lanterns in march"
        )
        sam.totp_secret = seal(SECRET)
        db.session.commit()
        mfa.reset(sam, actor=owner, reason="new phone", via="team")
        audit.seal(owner.account_id)
        before = {t.name: db.session.execute(t.select()).all() for t in db.metadata.sorted_tables}
    try:
        r = source.test_cli_runner().invoke(args=["copy-database", "--to", PG_URL])
        assert r.exit_code == 0, r.output
        assert "(2 people," in r.output
        with target.app_context():
            for table in db.metadata.sorted_tables:
                order = list(table.primary_key.columns)
                rows = db.session.execute(table.select().order_by(*order)).all()
                assert sorted(rows) == sorted(before[table.name]), table.name
            assert audit.verify() is None  # the chain came along whole
            people = db.session.scalar(select(func.count()).select_from(User))
            _, lee = accounts.create_account(
                "Bright",
                "law",
                "lee@example.com",
                "Lee",
                "violin under the harbour bridge",
                via="cli",
            )
            assert lee.id == people + 1  # the sequence was moved past the copied ids
            assert open_(seal("S")) == "S"
        again = source.test_cli_runner().invoke(args=["copy-database", "--to", PG_URL])
        assert again.exit_code == 1 and "The target database is not empty" in again.output
    finally:
        with target.app_context():
            db.session.rollback()
            db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            db.session.commit()
            db.engine.dispose()


def test_copy_database_refuses_a_target_without_the_schema(runner, tmp_path):
    r = runner.invoke(args=["copy-database", "--to", f"sqlite:///{tmp_path}/new.sqlite"])
    assert r.exit_code == 1 and "has no schema: run `flask --app ozyops db upgrade`" in r.output
    r = runner.invoke(args=["copy-database", "--to", "not a url"])
    assert r.exit_code == 1 and "Not a database URL" in r.output and "Traceback" not in r.output
    # A driver that is not installed: checked as the server's own DATABASE_URL is.
    r = runner.invoke(args=["copy-database", "--to", "mysql://u:hunter2@db/ozy"])
    assert r.exit_code == 1 and "--to asks for mysql" in r.output and "hunter2" not in r.output


def test_copy_database_is_undone_when_the_install_changes_meanwhile(
    app, runner, factory, tmp_path, monkeypatch
):
    """A server left running while the copy ran (found by a review): what it wrote
    meanwhile was lost from the new database without a word. Now the copy is undone."""
    from flask_migrate import stamp

    from ozyops import create_app, moving

    pat = factory.user(email="pat@example.com")
    new = f"sqlite:///{tmp_path}/new.sqlite"
    target = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": new})
    with target.app_context():
        db.create_all()
        stamp()
    read = moving._read

    def meanwhile(src, table, digest):
        yield from read(src, table, digest)
        if table.name == "users":  # Pat sets MFA up on a server still running
            with app.app_context(), db.engine.begin() as conn:
                conn.execute(
                    User.__table__.update()
                    .where(User.__table__.c.id == pat.id)
                    .values(totp_secret="sealed")
                )
            monkeypatch.setattr(moving, "_read", read)

    monkeypatch.setattr(moving, "_read", meanwhile)
    r = runner.invoke(args=["copy-database", "--to", new])
    assert r.exit_code == 1, r.output
    assert "database changed while it was copied (table users)" in r.output
    assert "Nothing was written. Stop OzyOps on every server" in r.output
    with target.app_context():
        assert db.session.scalar(select(User.id)) is None  # the target is as it was

    r = runner.invoke(args=["copy-database", "--to", new])  # stopped: it goes through
    assert r.exit_code == 0, r.output
    with target.app_context():
        assert db.session.scalar(select(User.totp_secret)) == "sealed"
        db.engine.dispose()
