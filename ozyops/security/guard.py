"""The app-wide guard, run before every request.

N.B. two rules live here and nowhere else:
1. While a code step is pending, the browser may only be at the code or recovery step
   (or start over at /login); anything else goes back to the code step, and once the
   pending sign-in has expired, to /login.
2. A signed-in user whose account requires MFA and who has none may reach only the
   enrolment page and its steps, and log out; everything else redirects to enrolment.
Static files and the health check are always allowed. A view added later is guarded
without doing anything.
"""

from flask import request, session, url_for
from flask_login import current_user

from .. import htmx
from ..auth import signin

ALWAYS_ALLOWED = frozenset({"static", "main.healthz"})
PENDING_ALLOWED = frozenset(
    {
        "auth.login",
        "auth.login_mfa",
        "auth.login_recovery",
        "auth.sso_start",
        "auth.sso_callback",
        "static",
    }
)
ENROLMENT_ALLOWED = frozenset(
    {
        "security.show_security",
        "security.start_enrolment",
        "security.verify_enrolment",
        "security.end_other_sessions",  # it only takes access away, and the page offers it
        "main.stay_signed_in",  # setting MFA up may take a while: the idle warning's answer
        "auth.logout",
        "static",
    }
)


def init_app(app):
    app.before_request(enforce)


def enforce():
    """Redirect the request when one of the two rules above says so; else let it through."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in ALWAYS_ALLOWED:  # a 404 to come, or not a page
        return None
    if not current_user.is_authenticated:
        if signin.PENDING_KEY in session and endpoint not in PENDING_ALLOWED:
            if signin.pending_user() is None:
                signin.abandon_pending()
                return htmx.redirect_to(url_for("auth.login"))
            return htmx.redirect_to(url_for("auth.login_mfa"))
        return None
    if (
        current_user.account.mfa_required
        and not current_user.mfa_enabled
        and endpoint not in ENROLMENT_ALLOWED
    ):
        return htmx.redirect_to(url_for("security.show_security"))
    return None
