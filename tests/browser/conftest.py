"""Browser fixtures: the app served on a real socket, Debian's chromium driven by Playwright,
and a fresh browser context per test (JavaScript on in `page`, off in `nojs_page`).

The server runs in a thread of this process on the `app` fixture, so it shares the test's
SQLite file and injected clock: TOTP codes are computed for `clock.now`, never wall time,
and tests advance the clock instead of sleeping.
"""

import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

HERE = Path(__file__).parent
SHOTS = Path("/tmp/ozy-shots")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000  # only ever reached when a test is failing

expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(items):
    """Every test in this folder drives a real browser: mark it so it can be (de)selected."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so a page fixture can see that its test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request; errors are still logged."""

    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture
def live_server(app, request):
    """The app on 127.0.0.1 at a free port; yields its base URL. Over HTTPS, with a
    certificate made for this server, for a test marked `https`.

    An exception escaping the app (TESTING propagates them) is recorded and fails the test
    at teardown, so a 500 can never hide behind a passing assertion about page text.
    """
    errors = []

    def wsgi(environ, start_response):
        try:
            return app(environ, start_response)
        except Exception as e:
            errors.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}: {e!r}")
            raise

    https = request.node.get_closest_marker("https") is not None
    server = make_server(
        "127.0.0.1",
        0,
        wsgi,
        threaded=True,
        request_handler=_QuietHandler,
        ssl_context="adhoc" if https else None,
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},  # how soon shutdown() is noticed
        name="live-server",
        daemon=True,
    )
    thread.start()
    try:
        yield f"{'https' if https else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert not errors, f"the app raised while serving: {errors}"


@pytest.fixture(scope="session")
def chromium():
    """One chromium for the whole run; each test gets its own context (cookies, storage)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(chromium, live_server, request, javascript):
    context = chromium.new_context(
        base_url=live_server,
        viewport=DESKTOP,
        java_script_enabled=javascript,
        ignore_https_errors=True,  # the `https` server's certificate is made on the spot
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    # Anything the Content-Security-Policy blocked (an inline style set by a swap, say)
    # fails the test at teardown: the page may look right yet not be what was sent.
    blocked = []
    page.on("console", lambda m: "Content Security Policy" in m.text and blocked.append(m.text))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        failures = SHOTS / "failures"
        failures.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=failures / f"{request.node.name}.png", full_page=True)
    context.close()
    assert not blocked, f"the Content-Security-Policy blocked: {blocked}"


@pytest.fixture
def page(chromium, live_server, request):
    """A fresh tab with JavaScript on (htmx works), 1280x800."""
    yield from _page(chromium, live_server, request, javascript=True)


@pytest.fixture
def nojs_page(chromium, live_server, request):
    """A fresh tab with JavaScript off: plain form posts and full pages only."""
    yield from _page(chromium, live_server, request, javascript=False)


@pytest.fixture(params=["js", "nojs"])
def any_page(request):
    """Run a flow once with JavaScript and once without: both must reach the same outcome."""
    return request.getfixturevalue("page" if request.param == "js" else "nojs_page")


@pytest.fixture(scope="session")
def shots():
    """Where screenshots for people to look at go (outside the repository)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def clinic(factory):
    """A healthcare practice (MFA mandatory) whose three people all have MFA set up."""
    account = factory.account(kind="healthcare", name="Bright Smile")
    people = {
        "owner": ("dana@example.com", "Dana Owner"),
        "admin": ("ali@example.com", "Ali Admin"),
        "member": ("sam@example.com", "Sam Park"),
    }
    return {
        role: factory.user(account_id=account, role=role, email=email, name=name, mfa=True)
        for role, (email, name) in people.items()
    }
