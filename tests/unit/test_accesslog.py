"""The access log never holds a password link's token or a provider's code (SPEC §6)."""

import datetime
import types

from gunicorn.config import Config

from ozyops.accesslog import REDACTED, RedactingLogger, redact

TOKEN = "Zq3-secret_token.abc"


def test_redact_keeps_the_path_and_drops_the_secret():
    assert redact(f"GET /set-password/{TOKEN} HTTP/1.1") == f"GET /set-password/{REDACTED} HTTP/1.1"
    assert redact(f"https://x.example/set-password/{TOKEN}") == (
        f"https://x.example/set-password/{REDACTED}"
    )
    assert redact("GET /login/google/callback?code=4/abc&state=xyz HTTP/1.1") == (
        f"GET /login/google/callback?{REDACTED} HTTP/1.1"
    )
    assert redact("GET /settings/audit?page=2 HTTP/1.1") == "GET /settings/audit?page=2 HTTP/1.1"


def _atoms(path, query="", referer="-"):
    logger = RedactingLogger(Config())
    uri = f"{path}?{query}" if query else path
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": referer,
        "HTTP_COOKIE": "ozyops_session=the-session-id",
    }
    req = types.SimpleNamespace(headers=[("COOKIE", "ozyops_session=the-session-id")])
    resp = types.SimpleNamespace(
        status="200 OK", sent=10, headers=[("Set-Cookie", "ozyops_session=new-id")]
    )
    return logger.atoms(resp, req, environ, datetime.timedelta(milliseconds=3))


def test_no_log_field_holds_a_token_a_code_or_a_session_id():
    for atoms in (
        _atoms(f"/set-password/{TOKEN}"),
        _atoms("/static/app.css", referer=f"http://x.example/set-password/{TOKEN}"),
        _atoms("/login/microsoft/callback", query="code=the-code&state=the-state"),
    ):
        logged = " ".join(str(v) for v in atoms.values())
        for secret in (TOKEN, "the-code", "the-state", "the-session-id", "new-id"):
            assert secret not in logged
    assert _atoms(f"/set-password/{TOKEN}")["r"] == f"GET /set-password/{REDACTED} HTTP/1.1"


def test_other_requests_are_logged_as_they_are():
    atoms = _atoms("/settings/audit", query="page=2")
    assert atoms["r"] == "GET /settings/audit?page=2 HTTP/1.1"
    assert atoms["q"] == "page=2"
