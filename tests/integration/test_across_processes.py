"""Every security rule holds across processes: two app instances under gunicorn (two
workers each) on two loopback ports, sharing PostgreSQL and Redis (SPEC §7).
Needs OZYOPS_TEST_DATABASE_URL and Redis; `make test` runs it in its PostgreSQL pass."""

import itertools
import re

import pyotp
import pytest

from tests.conftest import wrong_codes
from tests.servers import SECRET, Client, running, seed, shared_settings, throwaway_database

pytestmark = pytest.mark.postgres

USERS = {
    "owner@example.com": ("owner", True),
    "sam@example.com": ("member", True),
    "lock@example.com": ("member", True),
    "race@example.com": ("member", True),
    "ali@example.com": ("admin", True),
}
# N.B. a code works once per user and 30-second step: each test signs in its own users.


@pytest.fixture(scope="module")
def install():
    with throwaway_database() as url:
        settings = shared_settings(url, OZYOPS_LOGIN_RATE_LIMIT="20 per minute")
        seed(url, settings, USERS)
        with running(settings) as first, running(settings) as second:
            yield first.url, second.url


_addresses = itertools.count(1)


def client():
    """A client with an address of its own, so each test has its own rate-limit budget.
    N.B. counted, not random: two clients drawn at random could share the address whose
    budget test_rate_limits_count_together spends, and fail with a 429."""
    return Client(address=f"198.51.100.{next(_addresses)}")


def test_a_code_accepted_on_one_is_refused_on_the_other(install):
    a, b = install
    code = pyotp.TOTP(SECRET).now()
    first, second = client(), client()
    assert first.login(a, "race@example.com").headers["Location"] == "/login/mfa"
    assert second.login(b, "race@example.com").headers["Location"] == "/login/mfa"
    assert first.code(a, code).headers["Location"] == "/dashboard"
    refused = second.code(b, code)
    assert refused.status_code == 422 and "That code didn" in refused.text


def test_a_session_from_one_works_on_the_other(install):
    a, b = install
    c = client()
    c.login(a, "owner@example.com")
    assert c.code(a).headers["Location"] == "/dashboard"
    assert c.get(f"{b}/dashboard").status_code == 200
    c.post(f"{b}/logout", page=f"{b}/dashboard")
    assert c.get(f"{a}/dashboard").status_code == 302


def test_a_lockout_begun_on_one_holds_on_the_other(install):
    a, b = install
    codes = iter(wrong_codes(10))  # different ones: the same code again counts once
    for base in (a, b):  # five wrong codes end a pending login: two logins, ten failures
        c = client()
        c.login(base, "lock@example.com")
        for _ in range(5):
            c.code(base, next(codes))
    c = client()
    c.login(a, "lock@example.com")
    r = c.code(a)
    assert r.status_code == 422 and "are locked until" in r.text


def test_rate_limits_count_together(install):
    a, b = install
    c = client()
    statuses = [
        c.post(
            f"{(a, b)[i % 2]}/login",
            {"email": "x@example.com", "password": "x"},
            page=f"{(a, b)[i % 2]}/login",
        ).status_code
        for i in range(21)
    ]
    assert statuses[:20] == [422] * 20 and statuses[20] == 429


def test_an_mfa_reset_on_one_ends_the_session_on_the_other(install):
    a, b = install
    sam = client()
    sam.login(b, "sam@example.com")
    assert sam.code(b).headers["Location"] == "/dashboard"
    ali = client()
    ali.login(a, "ali@example.com")
    assert ali.code(a).headers["Location"] == "/dashboard"
    team = ali.get(f"{a}/settings/team").text
    sam_id = re.search(r'id="member-(\d+)">\s*<td data-label="Name"><span>sam<', team).group(1)
    r = ali.post(f"{a}/settings/team/{sam_id}/reset-mfa", page=f"{a}/settings/team")
    assert r.status_code == 303
    assert sam.get(f"{b}/dashboard").status_code == 302
