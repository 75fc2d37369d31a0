"""Weight: the login page's first load (HTML, CSS, JavaScript) stays under 40 KB as it
would travel gzip-compressed, and no page asks anything of another server.

Each response body is compressed here with gzip level 6 (what nginx and most servers use):
the app itself may send it uncompressed, a proxy in front compresses.
"""

import gzip

from playwright.sync_api import expect

from tests.browser.pages import LoginPage, url

BUDGET = 40_000  # bytes, compressed


def record(page):
    """Every request the tab makes from now on, and every response it gets."""
    requests, responses = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: responses.append(r))
    return requests, responses


def foreign(requests, live_server):
    return [u for u in requests if not u.startswith(f"{live_server}/")]


def test_login_page_first_load_is_under_40_kb_compressed(page, factory, live_server):
    factory.user(email="pat@builders.example")  # an installed app: /login, not /setup
    requests, responses = record(page)

    LoginPage(page).open()
    page.wait_for_load_state("networkidle")

    sizes = {}
    for response in responses:
        assert response.status == 200, f"{response.status} {response.url}"
        sizes[response.url] = len(gzip.compress(response.body(), compresslevel=6))
    kinds = " ".join(sorted({r.headers.get("content-type", "?").split(";")[0] for r in responses}))
    assert "text/html" in kinds and "text/css" in kinds and "javascript" in kinds, kinds
    total = sum(sizes.values())
    listing = "\n".join(f"{n:>7} {u}" for u, n in sizes.items())
    assert total <= BUDGET, f"/login weighs {total} bytes gzipped (budget {BUDGET}):\n{listing}"
    assert not foreign(requests, live_server), foreign(requests, live_server)


def test_pages_make_no_external_requests(page, factory, live_server):
    account = factory.account(kind="trades", name="Pat's Plumbing")
    owner = factory.user(account_id=account, email="pat@builders.example", name="Pat Builder")
    factory.user(account_id=account, role="member", email="lee@builders.example", name="Lee")
    requests, _ = record(page)

    security = LoginPage(page).open().log_in_to_dashboard(owner.email).go_to_security()
    security.enable()  # the QR code is drawn by the server: an inline SVG, no image service
    expect(security.qr.locator("svg")).to_be_visible()
    security.go_to_settings().go_to_team()
    expect(page).to_have_url(url("/settings/team"))
    page.wait_for_load_state("networkidle")

    visited = {u.split("?")[0] for u in requests if "/settings/" in u or u.endswith("/login")}
    assert f"{live_server}/settings/profile/security" in visited, visited
    assert f"{live_server}/settings/team" in visited, visited
    assert not foreign(requests, live_server), foreign(requests, live_server)
