"""deploy/nginx.conf, run by Debian's nginx in front of two gunicorn instances on loopback:
sign-in through it works, the audit log has the client's address (not nginx's),
stopping one instance mid-run loses no signed-in session, and neither nginx's access log
nor the app's holds a password link's token or a provider's code."""

import re
import shutil
import subprocess
import time

import psycopg
import pytest

from tests.servers import (
    ROOT,
    Client,
    free_port,
    running,
    seed,
    shared_settings,
    throwaway_database,
)

pytestmark = pytest.mark.postgres
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CLIENT_ADDRESS = "127.0.0.2"  # the test's browser, distinct from nginx's 127.0.0.1


@pytest.fixture
def balanced(tmp_path):
    with throwaway_database() as url:
        settings = shared_settings(
            url,
            OZYOPS_LOGIN_RATE_LIMIT="100 per minute",
            OZYOPS_ACCESS_LOG=str(tmp_path / "app-access.log"),
        )
        seed(url, settings, {"owner@example.com": ("owner", True)})
        with running(settings) as first, running(settings) as second:
            port = free_port()
            conf = (ROOT / "deploy" / "nginx.conf").read_text()
            conf = conf.replace("127.0.0.1:8001", f"127.0.0.1:{first.port}")
            conf = conf.replace("127.0.0.1:8002", f"127.0.0.1:{second.port}")
            conf = conf.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{port}")
            conf = re.sub(r"/run/nginx-ozyops\.pid", str(tmp_path / "nginx.pid"), conf)
            conf = re.sub(r"/var/log/nginx/", f"{tmp_path}/", conf)
            (tmp_path / "nginx.conf").write_text(conf)
            nginx = [
                NGINX,
                "-p",
                str(tmp_path),
                "-c",
                str(tmp_path / "nginx.conf"),
                "-e",
                str(tmp_path / "startup-error.log"),
            ]
            subprocess.run([*nginx, "-t"], check=True, capture_output=True)
            subprocess.run(nginx, check=True, capture_output=True)
            try:
                yield f"http://127.0.0.1:{port}", first, url
            finally:
                subprocess.run([*nginx, "-s", "quit"], capture_output=True)


def test_sign_in_through_nginx_records_the_clients_address(balanced):
    base, _, database_url = balanced
    browser = Client(source=CLIENT_ADDRESS)
    assert browser.login(base, "owner@example.com").headers["Location"] == "/login/mfa"
    assert browser.code(base).headers["Location"] == "/dashboard"
    assert browser.get(f"{base}/dashboard").status_code == 200
    with psycopg.connect(database_url) as conn:
        addresses = {row[0] for row in conn.execute("SELECT ip FROM audit_events")}
    assert addresses == {CLIENT_ADDRESS}


def test_stopping_one_instance_loses_no_session(balanced):
    base, first, _ = balanced
    browser = Client(source=CLIENT_ADDRESS)
    browser.login(base, "owner@example.com")
    assert browser.code(base).headers["Location"] == "/dashboard"
    first.stop()
    for _ in range(6):  # nginx alternates; every request must still be signed in
        assert browser.get(f"{base}/dashboard").status_code == 200
    r = browser.post(f"{base}/logout", page=f"{base}/settings/profile")
    assert r.status_code == 303


LOGS = ("ozyops-access.log", "app-access.log")  # nginx's, then both instances'


def _log_with(path, lines):
    """The log's text once it holds all of `lines`: a server writes its line just after it
    has answered, so a line may be a moment behind its response."""
    deadline = time.monotonic() + 10
    while not all(line in (text := path.read_text()) for line in lines):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)  # waiting for another process's write, not for a test step
    return text


def test_no_token_or_code_reaches_either_access_log(balanced, tmp_path):
    base, _, _ = balanced
    browser = Client(source=CLIENT_ADDRESS)
    token = "Tk_7f3a9c1e5b2d8f4a6c0e1b3d5f7a9c1e"
    assert browser.get(f"{base}/set-password/{token}").status_code == 410
    browser.http.get(f"{base}/static/app.css", headers={"Referer": f"{base}/set-password/{token}"})
    browser.get(f"{base}/login/google/callback?code=the-provider-code&state=the-state")
    browser.get(f"{base}/settings/audit?page=2")
    expected = (
        "GET /set-password/[redacted] ",
        '"GET /static/app.css HTTP/1.1" 200',
        "/login/google/callback?[redacted]",
        "/settings/audit?page=2",
    )
    for name in LOGS:
        text = _log_with(tmp_path / name, expected)
        for secret in (token, "the-provider-code", "the-state"):
            assert secret not in text, name
        for line in expected:
            assert line in text, (name, line)
        assert text.count("/set-password/[redacted]") == 2, name  # the page, then its Referer
