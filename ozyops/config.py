"""Where configuration comes from: defaults, `instance/config.py`, then `OZYOPS_*` variables.

Secrets that are not configured are generated once into `instance/` (mode 0600) and reused,
so there is never a literal key in source and a restart keeps everyone signed in.
"""

import json
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import click
from cryptography.fernet import Fernet
from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .security import secretbox

DEFAULTS = {
    "TOTP_ISSUER": "OzyOps",
    "LOGIN_RATE_LIMIT": "30 per minute",
    "IDLE_TIMEOUT_HEALTHCARE_MIN": 15,
    "IDLE_TIMEOUT_MIN": 720,
    "SESSION_MAX_AGE_MIN": 720,
    "PENDING_LOGIN_MIN": 10,
    "PENDING_ENROLMENT_MIN": 15,
    "REDIS_URL": None,
    "TRUSTED_PROXIES": 0,  # how many reverse proxies sit in front (X-Forwarded-* hops)
    "GOOGLE_CLIENT_ID": None,
    "GOOGLE_CLIENT_SECRET": None,
    "GOOGLE_METADATA_URL": "https://accounts.google.com/.well-known/openid-configuration",
    "MICROSOFT_CLIENT_ID": None,
    "MICROSOFT_CLIENT_SECRET": None,
    "MICROSOFT_TENANT": "common",
    "MICROSOFT_METADATA_URL": None,  # from MICROSOFT_TENANT when not set
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": False,
    "MAIL_FROM": "ozyops@localhost",
    "SESSION_COOKIE_NAME": "ozyops_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # N.B. the token is bound to the server-side session instead.
    "MAX_CONTENT_LENGTH": 64 * 1024,
}

_YEAR = 525_600  # minutes
# (key, lowest, highest): the settings that are whole numbers.
_WHOLE_NUMBERS = (
    ("IDLE_TIMEOUT_HEALTHCARE_MIN", 1, _YEAR),
    ("IDLE_TIMEOUT_MIN", 1, _YEAR),
    ("SESSION_MAX_AGE_MIN", 1, _YEAR),
    ("PENDING_LOGIN_MIN", 1, _YEAR),
    ("PENDING_ENROLMENT_MIN", 1, _YEAR),
    ("TRUSTED_PROXIES", 0, 10),
    ("MAIL_PORT", 1, 65_535),
    ("MAX_CONTENT_LENGTH", 1024, 16 * 1024 * 1024),
)
# The settings that are text. N.B. Flask reads OZYOPS_* variables as JSON where they parse:
# OZYOPS_MAIL_PASSWORD=123456 would arrive as a number, and OZYOPS_TOTP_ISSUER=2024 made
# every MFA setup a 500. These are taken as written.
_TEXT = (
    "SECRET_KEY",
    "ENCRYPTION_KEYS",
    "REDIS_URL",
    "TOTP_ISSUER",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_METADATA_URL",
    "MICROSOFT_CLIENT_ID",
    "MICROSOFT_CLIENT_SECRET",
    "MICROSOFT_TENANT",
    "MICROSOFT_METADATA_URL",
    "MAIL_SERVER",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_FROM",
    "SESSION_COOKIE_NAME",
)
# The Redis URLs Flask-Limiter's storage (the limits package) takes.
_REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


class ConfigError(click.ClickException):
    """A setting OzyOps cannot run with, found at start-up rather than as a 500 in
    someone's sign-in. A ClickException: every `flask --app ozyops` command prints it as
    one line and exits 1; wsgi.py prints it and stops gunicorn."""


def load(app, test_config=None):
    """Fill `app.config` in order of precedence; tests pass `test_config` instead of files/env."""
    app.config.from_mapping(DEFAULTS)
    _private_folder(Path(app.instance_path))
    if test_config is None:
        app.config.from_pyfile(os.path.join(app.instance_path, "config.py"), silent=True)
        app.config.from_prefixed_env("OZYOPS")
        app.config.update(
            {k: _as_text(os.environ[f"OZYOPS_{k}"]) for k in _TEXT if f"OZYOPS_{k}" in os.environ}
        )
    else:
        app.config.from_mapping(test_config)

    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app, "secret_key", secrets.token_hex(32))
    if not app.config.get("ENCRYPTION_KEYS"):
        app.config["ENCRYPTION_KEYS"] = _instance_secret(
            app, "encryption_keys", Fernet.generate_key().decode()
        )
    url = app.config.get("DATABASE_URL") or (
        "sqlite:///" + os.path.join(app.instance_path, "ozyops.sqlite")
    )
    _check(app.config)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(url)
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "ozyops-memory://"
    # N.B. a Redis that does not answer raises limits' own StorageError, which errors.py
    # answers with a 503: posts that carry a password or a code fail closed.
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"wrap_exceptions": True}
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # N.B. said for every app: Flask-Limiter's one Limiter otherwise keeps the last app's.
    app.config.setdefault("RATELIMIT_ENABLED", True)


def _as_text(raw):
    """A text setting's variable as Flask documents it: JSON text ('"123456"') is that text;
    anything else (123456, a URL) is taken as written."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, str) else raw


def _check(config):
    """ConfigError for the first setting that is not usable, named as SPEC §7 names it.
    N.B. no secret is repeated in a message: not a key, not a database password."""
    for key, lowest, highest in _WHOLE_NUMBERS:
        value = config[key]
        if isinstance(value, str) and value.strip().isdecimal():  # "1" in instance/config.py
            value = config[key] = int(value)
        if type(value) is not int or not lowest <= value <= highest:
            raise ConfigError(
                f"{key} must be a whole number from {lowest} to {highest}, not {value!r}."
            )
    for key in _TEXT:
        value = config.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{key} must be text, not {type(value).__name__}.")
    try:
        parse_many(str(config["LOGIN_RATE_LIMIT"]))
    except ValueError:
        raise ConfigError(
            f"LOGIN_RATE_LIMIT must be a rate such as '30 per minute', not "
            f"{config['LOGIN_RATE_LIMIT']!r}."
        ) from None
    try:
        secretbox.box(config["ENCRYPTION_KEYS"])
    except ValueError as error:
        raise ConfigError(str(error)) from None
    redis = config.get("REDIS_URL")
    if redis and urlsplit(redis).scheme not in _REDIS_SCHEMES:
        raise ConfigError("REDIS_URL must be a Redis URL such as redis://127.0.0.1:6379/0.")


def database_uri(url, setting="DATABASE_URL"):
    """`url` as SQLAlchemy is to be given it (`postgresql://…` with psycopg 3), or
    ConfigError naming `setting`: it must parse, and its Python driver be installed.
    N.B. also for `copy-database --to`, whose URL is checked as the server's is."""
    uri = _with_psycopg3(str(url))
    try:
        parsed = make_url(uri)
        parsed.get_dialect().import_dbapi()
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(
            f"{setting} must be a database URL such as postgresql://user@host/ozyops."
        ) from None
    except ImportError as error:
        raise ConfigError(
            f"{setting} asks for {parsed.drivername}, whose Python driver ({error.name}) is "
            "not installed. For PostgreSQL write postgresql://user@host/ozyops: psycopg 3 "
            "comes with OzyOps."
        ) from None
    return uri


def _private_folder(folder):
    """`instance/`, made if missing, readable by the app's own user alone.

    N.B. it holds the generated keys and, on the embedded default, the database (password
    hashes, sealed TOTP secrets, the audit log), which SQLite creates readable by everyone
    on the machine. A checkout makes the folder 0755: it is tightened here when it is ours.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        folder.chmod(0o700)


def _instance_secret(app, name, fresh):
    """Read a generated secret from `instance/`, writing `fresh` there (0600) on first run."""
    path = Path(app.instance_path) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    # N.B. O_EXCL: two workers starting at once cannot each write a different key.
    with os.fdopen(fd, "w") as f:
        f.write(fresh + "\n")
    return fresh


def _with_psycopg3(url):
    """Let operators write `postgresql://…`; SQLAlchemy would otherwise pick psycopg2."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
