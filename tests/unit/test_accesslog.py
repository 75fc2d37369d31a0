"""The access log never holds a password link's token or a provider's code (SPEC §6)."""

import datetime
import tempfile
import types

from gunicorn.config import Config

from ozyops.accesslog import REDACTED, RedactingLogger, redact

TOKEN = "Zq3-secret_token.abc"
# gunicorn's default format, and one naming every field that could carry a secret.
DEFAULT = Config().access_log_format
EVERYTHING = (
    DEFAULT
    + " %(U)s %(q)s %({QUERY_STRING}e)s {%({raw_uri}e)s} {%({cookie}i)s} {%({Set-Cookie}o)s}"
)


def logged(path, query="", referer="-", log_format=DEFAULT, response_headers=None, req=None):
    """The access-log line gunicorn writes for this request, through its logging."""
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
    req = req or types.SimpleNamespace(headers=[("COOKIE", "ozyops_session=the-session-id")])
    resp = types.SimpleNamespace(
        status="200 OK",
        sent=10,
        headers=response_headers or [("Set-Cookie", "ozyops_session=new-id")],
    )
    with tempfile.NamedTemporaryFile("r", suffix=".log") as out:
        config = Config()
        config.set("accesslog", out.name)
        config.set("access_log_format", log_format)
        logger = RedactingLogger(config)
        try:
            logger.access(resp, req, environ, datetime.timedelta(milliseconds=3))
        finally:
            for handler in logger.access_log.handlers:
                handler.close()
        return out.read()


def test_redact_keeps_the_path_and_drops_the_secret():
    assert redact(f"GET /set-password/{TOKEN} HTTP/1.1") == f"GET /set-password/{REDACTED} HTTP/1.1"
    assert redact(f"https://x.example/set-password/{TOKEN}") == (
        f"https://x.example/set-password/{REDACTED}"
    )
    assert redact("GET /login/google/callback?code=4/abc&state=xyz HTTP/1.1") == (
        f"GET /login/google/callback?{REDACTED} HTTP/1.1"
    )
    assert redact("GET /settings/audit?page=2 HTTP/1.1") == "GET /settings/audit?page=2 HTTP/1.1"
    # Percent-encoded in a query, as a `next` would carry it (found by a review).
    assert redact(f"GET /login?next=%2fset-password%2F{TOKEN}&x=1 HTTP/1.1") == (
        f"GET /login?next=%2fset-password%2F{REDACTED}&x=1 HTTP/1.1"
    )


def test_no_log_line_holds_a_token_a_code_or_a_session_id():
    for log_format in (DEFAULT, EVERYTHING):
        for line in (
            logged(f"/set-password/{TOKEN}", log_format=log_format),
            logged("/static/app.css", referer=f"http://x.example/set-password/{TOKEN}"),
            logged("/login/microsoft/callback", "code=the-code&state=st", log_format=log_format),
        ):
            for secret in (TOKEN, "the-code", "state=st", "the-session-id", "new-id"):
                assert secret not in line, line
    assert f'"GET /set-password/{REDACTED} HTTP/1.1"' in logged(f"/set-password/{TOKEN}")


def test_other_requests_are_logged_as_they_are():
    line = logged("/settings/audit", query="page=2", log_format=EVERYTHING)
    assert '"GET /settings/audit?page=2 HTTP/1.1"' in line
    assert " /settings/audit page=2 page=2 {/settings/audit?page=2} " in line


def test_only_the_fields_the_format_names_are_looked_up():
    """gunicorn builds every header and environ variable for each line: about 3% of a
    sign-in's server instructions (bench/README.md). The default format names no response
    header."""

    class Untouchable(list):
        def __iter__(self):
            raise AssertionError("the response headers were read")

    line = logged("/dashboard", response_headers=Untouchable([("X", "y")]))
    assert '"GET /dashboard HTTP/1.1" 200 10 "-" "-"' in line


def test_a_request_that_is_its_headers_is_logged_as_gunicorn_logs_it():
    """gunicorn's gevent worker passes the request's headers as the request."""
    headers = [("X-FORWARDED-FOR", "203.0.113.9"), ("COOKIE", "ozyops_session=the-session-id")]
    line = logged("/dashboard", log_format=DEFAULT + " %({x-forwarded-for}i)s", req=headers)
    assert line.rstrip().endswith(" 203.0.113.9") and "the-session-id" not in line
