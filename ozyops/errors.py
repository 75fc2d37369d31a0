"""Friendly error pages; for htmx requests a small fragment swapped into the page's
alert region instead of the component that asked."""

from urllib.parse import urlsplit

from cryptography.fernet import InvalidToken
from flask import current_app, flash, make_response, request, session
from flask_login import current_user, login_url
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError

from . import htmx, schema
from .auth.signin import safe_next
from .extensions import db

MESSAGES = {
    400: ("Something in that request was not right", "Go back, reload the page and try again."),
    403: ("You can't do that", "Your role in this practice does not allow it."),
    404: ("Page not found", "The page you asked for is not here."),
    405: ("Not allowed", "That page cannot be used this way."),
    413: ("Too much data", "That was more than a form here ever sends."),
    429: (
        "Too many attempts",
        "Too many sign-in attempts came from your network. Wait a minute, then try again.",
    ),
    500: (
        "Something went wrong on our side",
        "Nothing you did caused this. Try again; if it keeps happening, tell your practice's "
        "OzyOps administrator.",
    ),
}


# Forms that stand alone, signed out: a stale one of these is explained where it is. Any
# other stale form (the code step included) means the session ended: back to /login.
PUBLIC_FORMS = frozenset({"auth.login", "main.setup", "auth.set_password"})


def init_app(app):
    app.register_error_handler(CSRFError, stale_form)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InternalServerError, _server_error)
    app.register_error_handler(InvalidToken, _secret_unreadable)
    app.register_error_handler(StorageError, _limits_unavailable)


def stale_form(error):
    """A stale form. When it is stale because the session ended (idle logoff, logout in
    another tab), the login page says why; otherwise explain, with a way back to the form's
    page (reloading the answer would only send the same stale form again)."""
    if request.endpoint == "auth.logout" and (
        not current_user.is_authenticated or _sent_from_this_site()
    ):
        # N.B. Log out in a tab left open since a sign-in in another tab must still log
        # out: refused, it left the person signed in at a shared desk. Another site cannot
        # get here signed in: the session cookie is SameSite=Lax, and its Origin would say
        # so. Signed out already, it ends nothing and goes where its form said (a password
        # link opened while someone else was signed in).
        return current_app.view_functions["auth.logout"]()
    if not current_user.is_authenticated and request.endpoint not in PUBLIC_FORMS:
        if not session.get("_flashes"):
            flash("Your session has ended. Log in again.", "info")
        # Back to the form's page after signing in, as for a page opened (SPEC §2.5).
        return htmx.redirect_to(login_url("auth.login", _page_of_the_form()))
    return _render(
        400,
        "This form has expired",
        "For your security, forms stop working after you sign in or out. Nothing was "
        "changed: open the page again and try again.",
        back=_page_of_the_form(),
    )


def _origin():
    return request.host_url.rstrip("/")


def _sent_from_this_site():
    """What the browser says: Sec-Fetch-Site where it sends one, else the Origin."""
    if fetch_site := request.headers.get("Sec-Fetch-Site"):
        return fetch_site == "same-origin"
    return request.headers.get("Origin") == _origin()


def _page_of_the_form():
    """The page the form was on (the Referer, when it is one of ours), or None. N.B. never a
    password link's page: its token would travel on in a `next`, into URLs and logs."""
    parts = urlsplit(request.referrer or "")
    if f"{parts.scheme}://{parts.netloc}" != _origin() or parts.path.startswith("/set-password/"):
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def http_error(error):
    if error.code is None or error.code < 400:
        return error
    title, text = MESSAGES.get(error.code, (error.name, error.description))
    return _render(error.code, title, text, headers=error.get_headers())


def _server_error(error):
    db.session.rollback()
    original = getattr(error, "original_exception", None)
    if isinstance(original, DBAPIError):
        # N.B. the error is looked at first: a database that does not answer is then not
        # asked twice more on every request of an outage.
        if schema.missing_from(original) and schema.state() == schema.BEHIND:
            current_app.logger.error("%s", schema.BEHIND)
            return _unavailable(cause="schema")
        return _unavailable()
    return _render(500, *MESSAGES[500])


def _secret_unreadable(_error):
    """A stored TOTP secret that none of ENCRYPTION_KEYS opens (keys replaced rather than
    rotated): no code can be checked, so nothing that needs one goes ahead; the person is
    told it is not their doing, and the operator finds why in the log."""
    db.session.rollback()
    current_app.logger.error(
        "a TOTP secret could not be decrypted: ENCRYPTION_KEYS lacks the key it was sealed "
        "with (put the old key back after the new one: README, Running in production)"
    )
    return _render(
        503,
        "Codes can't be checked just now",
        "Nothing you did caused this: the server can't read the MFA settings it stored. Tell "
        "whoever runs OzyOps for your practice. Until it is fixed, no code will work here.",
        headers=[("Retry-After", "300")],
    )


def _limits_unavailable(error):
    """The shared rate-limit store (REDIS_URL) does not answer: every post under the
    credential limit (one that takes a password, a code or a recovery key: signing in,
    setting up MFA, changes that ask to confirm it's you) fails closed, since its
    per-address limit cannot be counted across processes (SPEC §7). Pages and logging out
    still work."""
    db.session.rollback()
    current_app.logger.error("the rate-limit store (REDIS_URL) does not answer: %s", error)
    return _unavailable(cause="limits")


def _unavailable(cause="database"):
    """The database does not answer (`cause="schema"`: it has not been brought up to this
    version yet; `"limits"`: the rate-limit store does not answer): a plain
    503 page that needs nothing from it (no signed-in navigation, no session), so sign-in
    fails closed and says why."""
    # Straight from the Jinja environment: Flask's context processors would reach for the
    # session, which may be what failed to load.
    name = "errors/_unavailable.html" if htmx.is_htmx() else "errors/unavailable.html"
    page = current_app.jinja_env.get_template(name).render(cause=cause)
    response = make_response(page, 503)
    response.headers["Retry-After"] = "30"
    if htmx.is_htmx():
        response.headers["HX-Retarget"] = "#alerts"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def _render(status, title, text, headers=None, back=None):
    extra = {
        k: v for k, v in (headers or []) if k.lower() not in {"content-type", "content-length"}
    }
    if htmx.is_htmx():
        response = htmx.render(
            "errors/_alert.html", "errors/_alert.html", status=status, title=title, text=text
        )
        response.headers["HX-Retarget"] = "#alerts"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = htmx.render(
            "errors/page.html",
            "errors/page.html",
            status=status,
            title=title,
            text=text,
            back=back,
        )
    response.headers.update(extra)
    return response
