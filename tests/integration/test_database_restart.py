"""A PostgreSQL restart costs at most one failed request: the pool pre-pings connections
(SPEC §7). Restarts this machine's PostgreSQL cluster, so it runs as root in the
PostgreSQL pass, where `.ci/run` has made sure the cluster is there."""

import os
import subprocess
import time

import pytest

from tests.servers import Client, running, seed, shared_settings, throwaway_database

pytestmark = pytest.mark.postgres


def restart_postgresql():
    version = os.listdir("/etc/postgresql")[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    deadline = time.monotonic() + 30
    while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode != 0:
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        time.sleep(0.2)  # waiting for the server to come back, not for a test step


def test_a_restart_costs_at_most_one_failed_request():
    with throwaway_database() as url:
        settings = shared_settings(url, OZYOPS_WORKERS="1", OZYOPS_THREADS="1")
        seed(url, settings, {"owner@example.com": ("owner", True)})
        with running(settings) as app:
            browser = Client()
            browser.login(app.url, "owner@example.com")
            assert browser.code(app.url).headers["Location"] == "/dashboard"
            assert browser.get(f"{app.url}/dashboard").status_code == 200
            restart_postgresql()
            statuses = [browser.get(f"{app.url}/dashboard").status_code for _ in range(5)]
    assert statuses.count(200) >= 4 and statuses[-3:] == [200, 200, 200], statuses
