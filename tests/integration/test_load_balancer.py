"""deploy/nginx.conf, run by Debian's nginx in front of two gunicorn instances on loopback:
sign-in through it works, the audit log has the client's address (not nginx's),
stopping one instance mid-run loses no signed-in session, and neither nginx's access log
nor the app's holds a password link's token or a provider's code."""

import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
CLIENT_ADDRESS = "127.0.0.2"
LOOPBACK = IPv4Address("127.0.0.1")  # the test's browser, distinct from nginx's 127.0.0.1


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
            port, tls_port = free_port(), free_port()
            _self_signed(tmp_path)
            conf = (ROOT / "deploy" / "nginx.conf").read_text()
            conf = conf.replace("127.0.0.1:8001", f"127.0.0.1:{first.port}")
            conf = conf.replace("127.0.0.1:8002", f"127.0.0.1:{second.port}")
            conf = conf.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{port}")
            # The file's own TLS lines, on a port other than 443.
            conf = conf.replace("# listen 443 ssl", f"listen 127.0.0.1:{tls_port} ssl")
            conf = conf.replace(
                "# ssl_certificate     /etc/ssl/ozyops/fullchain.pem",
                f"ssl_certificate {tmp_path}/cert.pem",
            )
            conf = conf.replace(
                "# ssl_certificate_key /etc/ssl/ozyops/privkey.pem",
                f"ssl_certificate_key {tmp_path}/key.pem",
            )
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
                yield f"http://127.0.0.1:{port}", first, url, f"https://127.0.0.1:{tls_port}"
            finally:
                subprocess.run([*nginx, "-s", "quit"], capture_output=True)


def test_sign_in_through_nginx_records_the_clients_address(balanced):
    base, _, database_url, _ = balanced
    browser = Client(source=CLIENT_ADDRESS)
    assert browser.login(base, "owner@example.com").headers["Location"] == "/login/mfa"
    assert browser.code(base).headers["Location"] == "/dashboard"
    assert browser.get(f"{base}/dashboard").status_code == 200
    with psycopg.connect(database_url) as conn:
        addresses = {row[0] for row in conn.execute("SELECT ip FROM audit_events")}
    assert addresses == {CLIENT_ADDRESS}


def test_sign_in_over_https_on_a_port_of_its_own(balanced, tmp_path):
    """deploy/nginx.conf's TLS lines, on a port other than 443: the app sees the host and
    port the browser used, so the same-origin Referer check that CSRF protection makes
    over HTTPS passes, and the cookies are Secure __Host- ones."""
    *_, tls = balanced
    browser = Client(ca=str(tmp_path / "cert.pem"))
    assert browser.login(tls, "owner@example.com").headers["Location"] == "/login/mfa"
    assert browser.code(tls).headers["Location"] == "/dashboard"
    cookies = {c.name: c.secure for c in browser.http.cookies}
    assert cookies == {"__Host-ozyops_session": True, "__Host-ozyops_device": True}
    assert browser.get(f"{tls}/dashboard").status_code == 200


def _self_signed(folder):
    """A key and a certificate for 127.0.0.1, made for this test."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(LOOPBACK)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_stopping_one_instance_loses_no_session(balanced):
    base, first, _, _ = balanced
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
    base, _, _, _ = balanced
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
