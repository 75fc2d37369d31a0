"""Where configuration comes from: defaults, `instance/config.py`, then `OZYOPS_*` variables.

Secrets that are not configured are generated once into `instance/` (mode 0600) and reused,
so there is never a literal key in source and a restart keeps everyone signed in.
"""

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

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


def load(app, test_config=None):
    """Fill `app.config` in order of precedence; tests pass `test_config` instead of files/env."""
    app.config.from_mapping(DEFAULTS)
    _private_folder(Path(app.instance_path))
    if test_config is None:
        app.config.from_pyfile(os.path.join(app.instance_path, "config.py"), silent=True)
        app.config.from_prefixed_env("OZYOPS")
    else:
        app.config.from_mapping(test_config)

    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app, "secret_key", secrets.token_hex(32))
    if not app.config.get("ENCRYPTION_KEYS"):
        app.config["ENCRYPTION_KEYS"] = _instance_secret(
            app, "encryption_keys", Fernet.generate_key().decode()
        )
    secretbox.box(app.config["ENCRYPTION_KEYS"])
    url = app.config.get("DATABASE_URL") or (
        "sqlite:///" + os.path.join(app.instance_path, "ozyops.sqlite")
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = _with_psycopg3(url)
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "ozyops-memory://"
    # N.B. a Redis that does not answer raises limits' own StorageError, which errors.py
    # answers with a 503: posts that carry a password or a code fail closed.
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"wrap_exceptions": True}
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # N.B. said for every app: Flask-Limiter's one Limiter otherwise keeps the last app's.
    app.config.setdefault("RATELIMIT_ENABLED", True)


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
