"""deploy/'s systemd units, with /opt/ozyops made this checkout: systemd's own checker
finds nothing wrong and rates their sandboxes OK; the server's ExecStart starts, tells
systemd it is ready and stops on the signal its unit sends, and a wrong setting is not
restarted; the nightly audit check runs as its unit runs it, from an empty anchors file on
the first night, into a file the app's user can add to but not rewrite.

N.B. nothing here runs under systemd itself (the test machine's PID 1 is not systemd):
what systemd adds at run time, the sandbox, is checked by `systemd-analyze security`."""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from tests.servers import ROOT, free_port

DEPLOY = ROOT / "deploy"
UNITS = ["ozyops.service", "ozyops-audit-verify.service", "ozyops-audit-verify.timer"]
ANALYZE = "/usr/bin/systemd-analyze"


def _here(text):
    """A unit's text with /opt/ozyops (and its virtualenv) made this checkout's."""
    return text.replace("/opt/ozyops/.venv", sys.prefix).replace("/opt/ozyops", str(ROOT))


def _service(name):
    """{key: value} of a unit's [Service] section, as this checkout would run it."""
    section, keys = None, {}
    for line in _here((DEPLOY / name).read_text()).splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            keys[key] = value
    return keys


def _environment(tmp_path):
    """The unit's environment: deploy/ozyops.env as shipped (every line commented out, so
    nothing), and this test's own database and keys instead of the checkout's instance/."""
    shipped = [
        line
        for line in (DEPLOY / "ozyops.env").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert shipped == []
    env = {
        **os.environ,
        "OZYOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'ozyops.sqlite'}",
        "OZYOPS_SECRET_KEY": uuid.uuid4().hex,
        "OZYOPS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    flask = [sys.executable, "-m", "flask", "--app", "ozyops"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [*flask, "create-account", "--name", "Smile Dental", "--kind", "healthcare"]
        + ["--owner-email", "dana@example.com", "--owner-name", "Dana"]
        + ["--owner-password", "Walk-Password-2026!"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


@pytest.mark.skipif(
    not Path(ANALYZE).exists() and os.environ.get("CI") != "true",
    reason="needs Debian's systemd (systemd-analyze); scripts/test.sh installs it",
)
def test_systemd_finds_nothing_wrong_with_the_units(tmp_path):
    for name in UNITS:
        (tmp_path / name).write_text(_here((DEPLOY / name).read_text()))
    checked = subprocess.run(
        [ANALYZE, "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    for name in UNITS[:2]:
        rated = subprocess.run(
            [ANALYZE, "security", "--offline=true", "--no-pager", str(tmp_path / name)],
            capture_output=True,
            text=True,
        )
        exposure = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", rated.stdout)
        assert exposure, rated.stdout + rated.stderr
        # 0 is a sealed box, 10 none at all: a web app that must reach its database, Redis,
        # mail and sign-in providers cannot go much lower than this.
        assert float(exposure[1]) <= 2.0 and exposure[2] == "OK", rated.stdout


def test_the_server_starts_says_it_is_ready_and_stops_as_its_unit_runs_it(tmp_path):
    unit = _service("ozyops.service")
    assert unit["Type"] == "notify" and unit["KillMode"] == "mixed"
    assert "ExecReload" not in unit  # gunicorn's HUP would keep OzyOps's old code
    port = free_port()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(60)
    env = {
        **_environment(tmp_path),
        "OZYOPS_BIND": f"127.0.0.1:{port}",
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
    }
    server = subprocess.Popen(
        shlex.split(unit["ExecStart"]),
        cwd=unit["WorkingDirectory"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert b"READY=1" in notify.recv(4096)  # what Type=notify waits for
        assert _healthy(port)
        server.send_signal(signal.SIGTERM)  # KillMode=mixed: to gunicorn alone, first
        assert server.wait(timeout=int(unit["TimeoutStopSec"])) == 0
    finally:
        notify.close()
        if server.poll() is None:
            server.kill()
            server.wait()
    with server.stderr:
        assert "Traceback" not in server.stderr.read()


def test_a_wrong_setting_stops_the_server_for_good_as_its_unit_runs_it(tmp_path):
    """Restart=on-failure would start it again every two seconds, for ever: gunicorn tells
    systemd it is ready before its workers find the setting wrong."""
    unit = _service("ozyops.service")
    env = {**_environment(tmp_path), "OZYOPS_IDLE_TIMEOUT_MIN": "soon"}
    env["OZYOPS_BIND"] = f"127.0.0.1:{free_port()}"
    ran = subprocess.run(
        shlex.split(unit["ExecStart"]),
        cwd=unit["WorkingDirectory"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "IDLE_TIMEOUT_MIN" in ran.stderr
    assert str(ran.returncode) in unit["RestartPreventExitStatus"].split()


def _healthy(port):
    """True once /healthz answers 200 (gunicorn's workers load the app after READY=1, and
    again after a reload)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return True
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)  # waiting for a server to start, not for a test step
    return False


def test_the_nightly_check_runs_as_its_unit_runs_it_from_an_empty_anchors_file(tmp_path):
    unit = _service("ozyops-audit-verify.service")
    anchors_path = unit["StandardOutput"].removeprefix("append:")
    assert unit["ExecStart"].endswith(f"--anchors {anchors_path}")
    anchors = tmp_path / "ozyops-anchors.txt"
    anchors.touch()  # the install step makes it, readable by ozyops, writable by root alone
    command = shlex.split(unit["ExecStart"].replace(anchors_path, str(anchors)))
    env = _environment(tmp_path)

    for night, checked in ((1, 0), (2, 1)):
        with anchors.open("a") as out:  # StandardOutput=append:
            ran = subprocess.run(
                command, cwd=unit["WorkingDirectory"], env=env, stdout=out, stderr=subprocess.PIPE
            )
        assert ran.returncode == 0, ran.stderr
        kept = anchors.read_text()
        assert f"Every anchor in {anchors} holds ({checked} checked)." in kept
        assert kept.count("# Smile Dental") == night


def test_the_app_user_can_add_to_the_anchors_file_but_not_rewrite_it():
    """As the timer's service's install lines make it (root's, 0644, chattr +a) and systemd
    hands it over (opened by root for appending, as the check's standard output): a check
    run as another user, which could be made to run anything the app's user writes, can
    add lines but neither empty the file (without +a it could, through that descriptor)
    nor open it again to write."""
    made = (DEPLOY / "ozyops-audit-verify.service").read_text()
    assert "install -m 0644 /dev/null" in made and "chattr +a" in made
    folder = Path(tempfile.mkdtemp())  # N.B. not pytest's tmp_path: only root may enter it
    anchors = folder / "ozyops-anchors.txt"
    anchors.write_text("anchor 1 3 abc  # Smile Dental\n")
    folder.chmod(0o755)
    anchors.chmod(0o644)
    try:
        if os.geteuid() != 0 or subprocess.run(["chattr", "+a", str(anchors)]).returncode:
            pytest.skip("needs root and a file system with append-only files (ext4, xfs)")
        # N.B. perl, as the machine's Python may be where the other user cannot reach it.
        attempt = (
            'print STDOUT "anchor 1 4 def  # Smile Dental\\n"; STDOUT->flush;'
            " exit 2 if truncate(STDOUT, 0); exit 3 if open(my $f, '>>', $ARGV[0]); exit 0"
        )
        with anchors.open("a") as out:
            ran = subprocess.run(
                ["perl", "-e", attempt, str(anchors)],
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
                user="nobody",
                cwd="/",
            )
        assert ran.returncode == 0, (ran.returncode, ran.stderr)
        assert anchors.read_text().splitlines() == [
            "anchor 1 3 abc  # Smile Dental",
            "anchor 1 4 def  # Smile Dental",
        ]
    finally:
        subprocess.run(["chattr", "-a", str(anchors)], capture_output=True)
        shutil.rmtree(folder)
