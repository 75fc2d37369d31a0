"""`db upgrade` builds exactly the models' schema; configuration and generated secrets."""

import os
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from ozyops import create_app
from ozyops.extensions import db
from tests.conftest import PG_URL

ROOT = Path(__file__).parents[2]


def test_db_upgrade_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path}/migrated.sqlite"
    if PG_URL:
        base, _, _ = PG_URL.rpartition("/")
        admin = create_engine(
            base.replace("postgresql://", "postgresql+psycopg://") + "/test",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS ozyops_migration_check"))
            conn.execute(text("CREATE DATABASE ozyops_migration_check"))
        url = base + "/ozyops_migration_check"
    app = create_app(
        {"SECRET_KEY": "x", "ENCRYPTION_KEYS": Fernet.generate_key().decode(), "DATABASE_URL": url}
    )
    try:
        with app.app_context():
            upgrade()
            with db.engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            assert diff == []
    finally:
        with app.app_context():
            db.engine.dispose()
        if PG_URL:
            with admin.connect() as conn:
                conn.execute(text("DROP DATABASE ozyops_migration_check WITH (FORCE)"))
            admin.dispose()


def test_a_sqlite_downgrade_keeps_every_row_that_points_at_users(tmp_path):
    """Batch mode copies `users` and drops the old table: with SQLite's foreign keys on,
    that drop emptied sessions, links and sign-in links, or failed on the audit log."""
    from flask_migrate import downgrade

    keys = Fernet.generate_key().decode()
    app = create_app(
        {"SECRET_KEY": "x", "ENCRYPTION_KEYS": keys, "DATABASE_URL": f"sqlite:///{tmp_path}/d.db"}
    )
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO accounts (name, kind, require_mfa) VALUES ('A', 'law', 0)")
            )
            conn.execute(
                text(
                    "INSERT INTO users (account_id, email, name, role, active, mfa_failures)"
                    " VALUES (1, 'a@example.com', 'A', 'owner', 1, 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO sessions (id_hash, user_id, data, created_at, last_seen_at,"
                    " idle_minutes, expires_at) VALUES ('h', 1, '{}', '2026-01-01', '2026-01-01',"
                    " 5, '2027-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO audit_events (account_id, actor_id, event, created_at)"
                    " VALUES (1, 1, 'login', '2026-01-01')"
                )
            )
        downgrade(revision="-1")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sessions")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # on again
        upgrade()
        db.engine.dispose()


def test_secrets_are_generated_once_into_instance_with_mode_0600(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith("OZYOPS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OZYOPS_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite")
    from flask import Flask

    from ozyops import config

    flask_app = Flask("ozyops", instance_path=str(tmp_path / "instance"))
    config.load(flask_app)
    first = (flask_app.config["SECRET_KEY"], flask_app.config["ENCRYPTION_KEYS"])
    for name in ("secret_key", "encryption_keys"):
        mode = stat.S_IMODE(os.stat(tmp_path / "instance" / name).st_mode)
        assert mode == 0o600
    again = Flask("ozyops", instance_path=str(tmp_path / "instance"))
    config.load(again)
    assert (again.config["SECRET_KEY"], again.config["ENCRYPTION_KEYS"]) == first
    Fernet(first[1])  # a valid key
    assert len(first[0]) == 64


def test_instance_is_readable_by_the_apps_own_user_alone(tmp_path, monkeypatch):
    """It holds the keys and, on the embedded default, the database, which SQLite makes
    readable by everyone: a checkout's 0755 folder is tightened, a new one made 0700."""
    from flask import Flask

    from ozyops import config

    checkout = tmp_path / "checkout"
    checkout.mkdir(mode=0o755)
    checkout.chmod(0o755)
    for folder in (checkout, tmp_path / "new" / "instance"):
        config.load(Flask("ozyops", instance_path=str(folder)), {"SECRET_KEY": "x"})
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_environment_wins_over_instance_config(tmp_path, monkeypatch):
    from flask import Flask

    from ozyops import config

    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        'TOTP_ISSUER = "From File"\nLOGIN_RATE_LIMIT = "5 per minute"\n'
    )
    monkeypatch.setenv("OZYOPS_TOTP_ISSUER", "From Env")
    monkeypatch.setenv("OZYOPS_DATABASE_URL", "postgresql://u@db.example/ozy")
    app = Flask("ozyops", instance_path=str(instance))
    config.load(app)
    assert app.config["TOTP_ISSUER"] == "From Env"
    assert app.config["LOGIN_RATE_LIMIT"] == "5 per minute"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/ozy"
    assert app.config["RATELIMIT_STORAGE_URI"] == "ozyops-memory://"


def test_a_text_setting_made_of_digits_in_the_environment_is_taken_as_written(
    tmp_path, monkeypatch
):
    """Flask reads OZYOPS_* as JSON where it parses: an issuer of 2024 reached pyotp as a
    number, and every MFA setup was a 500 (found by a review)."""
    from flask import Flask

    from ozyops import config

    monkeypatch.setenv("OZYOPS_TOTP_ISSUER", "2024")
    monkeypatch.setenv("OZYOPS_MAIL_PASSWORD", "0123456")
    monkeypatch.setenv("OZYOPS_MAIL_PORT", "587")
    monkeypatch.setenv("OZYOPS_MAIL_USERNAME", '"2025"')  # JSON text, as Flask documents
    app = Flask("ozyops", instance_path=str(tmp_path / "instance"))
    config.load(app)
    assert app.config["TOTP_ISSUER"] == "2024"
    assert app.config["MAIL_PASSWORD"] == "0123456"
    assert app.config["MAIL_USERNAME"] == "2025"
    assert app.config["MAIL_PORT"] == 587


def test_a_mistyped_encryption_key_stops_the_server_at_start_up(tmp_path):
    """Not at the first sign-in or enrolment, as a 500 for every person of the practice."""
    import subprocess
    import sys

    good = Fernet.generate_key().decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OZYOPS_")} | {
        "OZYOPS_SECRET_KEY": "x",
        "OZYOPS_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite",
    }
    for keys in ("not-a-fernet-key", f"{good},{good[:-4]}", " , "):
        run = subprocess.run(
            [sys.executable, "-c", "import wsgi"],
            env=env | {"OZYOPS_ENCRYPTION_KEYS": keys},
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert run.returncode == 3  # gunicorn's "worker failed to boot": it stops
        assert run.stderr.startswith("ENCRYPTION_KEYS must be one or more Fernet keys")
        assert "Traceback" not in run.stderr
        assert "not-a-fernet-key" not in run.stderr and good[:16] not in run.stderr
    ok = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        env=env | {"OZYOPS_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{good}"},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize(
    "setting, value, message",
    [
        (
            "IDLE_TIMEOUT_MIN",
            "abc",
            "IDLE_TIMEOUT_MIN must be a whole number from 1 to 525600, not 'abc'.",
        ),
        ("IDLE_TIMEOUT_HEALTHCARE_MIN", 0, "IDLE_TIMEOUT_HEALTHCARE_MIN must be a whole number"),
        ("SESSION_MAX_AGE_MIN", True, "SESSION_MAX_AGE_MIN must be a whole number"),
        ("TRUSTED_PROXIES", "one", "TRUSTED_PROXIES must be a whole number from 0 to 10"),
        ("MAIL_PORT", 70000, "MAIL_PORT must be a whole number from 1 to 65535"),
        ("LOGIN_RATE_LIMIT", "lots", "LOGIN_RATE_LIMIT must be a rate such as '30 per minute'"),
        ("ENCRYPTION_KEYS", "not-a-key", "ENCRYPTION_KEYS must be one or more Fernet keys"),
        ("REDIS_URL", "127.0.0.1:6379", "REDIS_URL must be a Redis URL"),
        ("DATABASE_URL", "ozyops.sqlite", "DATABASE_URL must be a database URL"),
        (
            "DATABASE_URL",
            "postgresql://u:hunter2@db:5432x/ozy",
            "DATABASE_URL must be a database URL",
        ),
        ("DATABASE_URL", 5432, "DATABASE_URL must be a database URL"),
        ("REDIS_URL", 6379, "REDIS_URL must be text, not int."),
        ("TOTP_ISSUER", 2024, "TOTP_ISSUER must be text, not int."),
        ("MAIL_PASSWORD", 123456, "MAIL_PASSWORD must be text, not int."),
        ("ENCRYPTION_KEYS", ["a", "b"], "ENCRYPTION_KEYS must be text, not list."),
        ("TRUSTED_PROXIES", "²", "TRUSTED_PROXIES must be a whole number"),
        (
            "DATABASE_URL",
            "mysql://u:hunter2@db/ozy",
            "DATABASE_URL asks for mysql, whose Python driver (MySQLdb) is not installed",
        ),
        (
            "DATABASE_URL",
            "postgresql+psycopg2://u:hunter2@db/ozy",
            "(psycopg2) is not installed. For PostgreSQL write postgresql://",
        ),
    ],
)
def test_a_setting_ozyops_cannot_run_with_is_named_at_start_up(tmp_path, setting, value, message):
    """Not as a 500 in someone's sign-in (a timeout of "abc" used to pass until the first
    session), and with no password from a database URL in the message."""
    from flask import Flask

    from ozyops import config

    app = Flask("ozyops", instance_path=str(tmp_path / "instance"))
    with pytest.raises(config.ConfigError) as raised:
        config.load(app, {"SECRET_KEY": "x", setting: value})
    assert message in raised.value.message
    assert "hunter2" not in raised.value.message


def test_a_whole_number_written_as_text_in_instance_config_is_taken(tmp_path):
    from flask import Flask

    from ozyops import config

    app = Flask("ozyops", instance_path=str(tmp_path / "instance"))
    config.load(app, {"SECRET_KEY": "x", "TRUSTED_PROXIES": "1", "IDLE_TIMEOUT_MIN": " 30"})
    assert (app.config["TRUSTED_PROXIES"], app.config["IDLE_TIMEOUT_MIN"]) == (1, 30)


def test_a_flask_command_with_a_bad_setting_prints_one_line(tmp_path):
    """SPEC §7: a command fails with a one-line message and a non-zero exit, never a
    traceback; the same for the settings it starts with."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("OZYOPS_")} | {
        "OZYOPS_SECRET_KEY": "x",
        "OZYOPS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "OZYOPS_DATABASE_URL": "postgresql+psycopg2://u:hunter2@db/ozy",
    }
    run = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "ozyops", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 1
    assert run.stderr.startswith("Error: DATABASE_URL asks for postgresql+psycopg2")
    assert len(run.stderr.strip().splitlines()) == 1
    assert "hunter2" not in run.stderr


def test_a_server_whose_keys_cannot_open_the_stored_secrets_does_not_start(tmp_path):
    """A second host started without the install's keys generates its own: it could check
    no one's code, and would seal new secrets no other host can open (found by an
    operator's walk through Scaling out). Restored without the keys, or an old key
    dropped after a rotation: the same."""
    import subprocess
    import sys

    from ozyops.models import Account, User
    from ozyops.security.secretbox import seal

    old, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path}/x.sqlite"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "ENCRYPTION_KEYS": old})
    with app.app_context():
        upgrade()
        account = Account(name="Smile", kind="healthcare")
        db.session.add(account)
        db.session.flush()
        for n in range(2):
            db.session.add(
                User(
                    account_id=account.id,
                    email=f"p{n}@example.com",
                    name="P",
                    role="member",
                    mfa_failures=0,
                    totp_secret=seal("JBSWY3DPEHPK3PXP"),
                )
            )
        db.session.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OZYOPS_")} | {
        "OZYOPS_SECRET_KEY": "x",
        "OZYOPS_DATABASE_URL": url,
    }

    def start(keys):
        return subprocess.run(
            [sys.executable, "-c", "import wsgi"],
            env=env | {"OZYOPS_ENCRYPTION_KEYS": keys},
            capture_output=True,
            text=True,
            cwd=ROOT,
        )

    refused = start(other)
    assert refused.returncode == 3  # gunicorn's "worker failed to boot": it stops
    assert "ENCRYPTION_KEYS cannot open the MFA secrets of 2 of the 2 people" in refused.stderr
    assert "p0@example.com, p1@example.com" in refused.stderr
    assert "Traceback" not in refused.stderr and old[:16] not in refused.stderr
    assert start(f"{other},{old}").returncode == 0  # rotated: the old key kept after it
