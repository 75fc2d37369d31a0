"""Sign-in pages: /login, /login/mfa, /login/recovery, /logout. The logic is in signin.py."""

from authlib.common.errors import AuthlibBaseError
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from joserfc.errors import JoseError
from requests import JSONDecodeError, RequestException

from .. import audit, clock, errors, htmx, links, passwords
from ..extensions import credential_limit, db
from ..forms import CodeForm
from ..security import mfa
from . import signin, sso
from .forms import LoginForm, RecoveryForm, SetPasswordForm

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@credential_limit
def login():
    """The password step."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = signin.safe_next(request.args.get("next"))
    error = None
    if form.validate_on_submit():
        try:
            user = signin.check_password(form.email.data, form.password.data)
        except signin.SignInError as e:
            error = str(e)
        else:
            return redirect(signin.after_first_factor(user, form.next.data), code=303)
    status = 422 if request.method == "POST" else 200
    return _login_page(form, error, status)


def _login_page(form, error, status):
    providers = sso.enabled(current_app).items()
    # Which of the two is wrong is not said (signin.check_password): both are marked.
    mismatch = error == signin.WRONG_CREDENTIALS
    page = render_template(
        "auth/login.html", form=form, error=error, mismatch=mismatch, providers=providers
    )
    return page, status


@bp.get("/login/<any(google, microsoft):provider>")
def sso_start(provider):
    """Sign in with Google / Microsoft: off to the provider, with state, nonce and PKCE."""
    client = sso.client(provider) or abort(404)  # only configured providers exist
    session["sso_next"] = signin.safe_next(request.args.get("next"))
    try:
        return client.authorize_redirect(
            url_for("auth.sso_callback", provider=provider, _external=True)
        )
    except (JSONDecodeError, RuntimeError) as error:
        return _sso_misconfigured(provider, error)
    except (OSError, ValueError, AuthlibBaseError, RequestException):
        return _sso_failed(provider, "unreachable")


@bp.get("/login/<any(google, microsoft):provider>/callback")
def sso_callback(provider):
    """Back from the provider: check everything, then the same MFA step as a password."""
    client = sso.client(provider) or abort(404)  # only configured providers exist
    if request.args.get("error"):
        return _sso_failed(provider, "cancelled")
    try:
        token = client.authorize_access_token(claims_options=sso.claims_options(provider))
    except RuntimeError as error:
        return _sso_misconfigured(provider, error)
    except (OSError, RequestException):
        return _sso_failed(provider, "unreachable")
    except (AuthlibBaseError, JoseError) as e:
        # State, nonce, signature, issuer, audience, expiry: any failed check ends here.
        return _sso_failed(provider, getattr(e, "error", None) or type(e).__name__)
    claims = token.get("userinfo") or {}
    try:
        user = sso.resolve(provider, claims, tenant=current_app.config.get("MICROSOFT_TENANT"))
    except sso.SsoError as e:
        return _sso_failed(provider, e.reason, str(e), user=e.user)
    next_url = session.pop("sso_next", None)
    return redirect(signin.after_first_factor(user, next_url, method=provider), code=303)


SSO_MESSAGES = {
    "cancelled": "Sign-in with {name} was cancelled. You can try again, or log in with your "
    "email and password.",
    "unreachable": "{name} could not be reached just now. Try again in a moment, or log in "
    "with your email and password.",
    "misconfigured": "Sign-in with {name} is not set up correctly on this OzyOps. Log in with "
    "your email and password, and tell whoever runs OzyOps for your practice.",
}


def _sso_failed(provider, reason, message=None, user=None):
    """Every SSO failure: audited (in the practice's log when it named one of its people),
    then the login page with a plain sentence. Never a 500."""
    name = sso.PROVIDERS[provider]
    default = "Sign-in with {name} could not be completed safely. Try again."
    text = message or SSO_MESSAGES.get(reason, default).format(name=name)
    audit.record("sso_failed", target=user, provider=provider, reason=str(reason)[:60])
    db.session.commit()
    status = 502 if reason in ("unreachable", "misconfigured") else 401
    return _login_page(LoginForm(formdata=None), text, status)


def _sso_misconfigured(provider, error):
    """N.B. a provider document that is not JSON, or lacks an address sign-in needs
    (Authlib's RuntimeError): the *_METADATA_URL setting names some other document (a web
    page, a key set). Said to the person plainly, and why to the operator in the log."""
    current_app.logger.error("sign-in with %s is misconfigured: %s", provider, error)
    return _sso_failed(provider, "misconfigured")


def _pending_or_restart():
    """The pending user, or a redirect to /login explaining why the step is over.

    N.B. someone already signed in (Back from the dashboard, a link from another site) goes
    to the dashboard with their session untouched: only /logout ends a session."""
    if current_user.is_authenticated:
        return None, redirect(url_for("main.dashboard"), code=303)
    user = signin.pending_user()
    if user is None:
        expired = signin.pending_expired()
        signin.abandon_pending()
        if expired:
            flash("Your sign-in took longer than 10 minutes. Log in again.", "info")
        return None, redirect(url_for("auth.login"), code=303)
    return user, None


def _provider():
    """The name of the provider this pending login began with, or None after a password."""
    return sso.PROVIDERS.get(signin.first_step())


def _restart_after(check, what):
    """Whether a failed check ends this pending login, which the login page then says (with
    the lock's warning, when the next wrong one locks). Only a counted one can: a lock is
    shown where it happened, so the person learns why, rather than being sent back to the
    password, and the same wrong code sent again (a reload) is not one more."""
    if check.total is None or not signin.pending_failures_over(check.total):
        return False
    flash(
        f"Too many wrong {what} for one sign-in. Log in again. {check.last_try}".rstrip(), "error"
    )
    return True


@bp.route("/login/mfa", methods=["GET", "POST"])
@credential_limit
def login_mfa():
    """The code step, after a correct password (or SSO)."""
    user, restart = _pending_or_restart()
    if restart:
        return restart
    form = CodeForm()
    now = clock.now()
    if form.validate_on_submit():
        check, next_url = signin.finish_with_code(user, form.code.data, now, _provider())
        if check.ok:
            return redirect(next_url, code=303)
        if _restart_after(check, "codes"):
            return redirect(url_for("auth.login"), code=303)
    else:
        check = mfa.locked(user, now)
    status = 422 if request.method == "POST" else 200
    return _code_page(form, user, status, **_verdict(check))


def _code_page(form, user, status, error=None, locked=False):
    return render_template(
        "auth/mfa.html", form=form, pending_email=user.email, error=error, locked=locked
    ), status


def _verdict(check):
    """A failed check for a sign-in step's page: its message, and whether it is a lock,
    during which the page offers no field to type in (nothing typed there could work)."""
    if check is None:
        return {"error": None, "locked": False}
    return {"error": check.message, "locked": check.outcome is mfa.Outcome.LOCKED}


@bp.route("/login/recovery", methods=["GET", "POST"])
@credential_limit
def login_recovery():
    """Sign in with the recovery key instead of a code; it is used up and MFA must be set
    up again on the new device."""
    user, restart = _pending_or_restart()
    if restart:
        return restart
    form = RecoveryForm()
    now = clock.now()
    if form.validate_on_submit():
        check = mfa.use_recovery_key(
            user, form.recovery_key.data, now, keep_sid=session.sid, provider=_provider()
        )
        if check.ok:
            signin.finish_pending(user, via="recovery_key")
            flash(
                "You are signed in with your recovery key, which no longer works. "
                "Set up MFA on your new device now.",
                "info",
            )
            return redirect(url_for("security.show_security"), code=303)
        if _restart_after(check, "attempts"):
            return redirect(url_for("auth.login"), code=303)
    else:
        check = mfa.locked(user, now, kind="recovery_key")  # said before a key is typed
    status = 422 if request.method == "POST" else 200
    return _recovery_page(form, user, status, **_verdict(check))


def _recovery_page(form, user, status, error=None, locked=False):
    return render_template(
        "auth/recovery.html",
        form=form,
        error=error,
        locked=locked,
        lost_both=mfa.lost_both(),
        pending_email=user.email,
    ), status


SIGN_IN_STEPS = frozenset({"auth.login", "auth.login_mfa", "auth.login_recovery"})


@bp.errorhandler(429)
def _too_many_attempts(error):
    """Over the per-address limit at a sign-in step: that step's own page, the limit's
    message where a wrong password or code would be (SPEC §2: a failure is a message on
    the same page). Elsewhere, and for htmx, the app-wide answer."""
    text = errors.MESSAGES[429][1]
    if not htmx.is_htmx() and request.endpoint in SIGN_IN_STEPS:
        if current_user.is_authenticated:  # signed in meanwhile, in another tab
            return redirect(url_for("main.dashboard"), code=303)
        if request.endpoint == "auth.login":
            return _login_page(LoginForm(), text, 429)
        if (user := signin.pending_user()) is not None:
            if request.endpoint == "auth.login_mfa":
                return _code_page(CodeForm(), user, 429, error=text)
            return _recovery_page(RecoveryForm(), user, 429, error=text)
    return errors.http_error(error)


@bp.errorhandler(CSRFError)
def _stale_login_form(error):
    """A sign-in form left open across a sign-in or sign-out in another tab: the dashboard
    when the other tab signed in (as the steps themselves do), or the login page again,
    with a fresh form and a reason, rather than an error page a reload cannot mend."""
    if request.endpoint in SIGN_IN_STEPS and current_user.is_authenticated:
        return htmx.redirect_to(url_for("main.dashboard"))
    if request.endpoint == "auth.login" and not htmx.is_htmx():
        return _login_page(LoginForm(), "This page had expired. Enter your password again.", 400)
    if request.endpoint in SIGN_IN_STEPS and not session.get("_flashes"):
        # The code step's session is gone: its row outlived, or replaced by another
        # sign-in in this browser (another tab, another person at the same computer).
        flash(
            "This sign-in has ended: it lasts 10 minutes, and another sign-in in this "
            "browser ends it. Log in again.",
            "info",
        )
    return errors.stale_form(error)


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session on the server, so a copied cookie is dead too. (CSRFProtect checks
    the token before this runs, as for every POST.)"""
    signin.logout(current_user if current_user.is_authenticated else None)
    flash("You have logged out.", "info")
    # A password link opened while someone else was signed in logs out to open it again.
    return htmx.redirect_to(signin.safe_next(request.form.get("next")) or url_for("auth.login"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@credential_limit
def set_password(token):
    """An invitation or password-reset link. It sets a password and sends the person to
    log in as usual: it never signs anyone in, so it cannot step around MFA."""
    now = clock.now()
    try:
        link = links.find(token, now)
    except links.LinkError as e:
        return render_template("auth/set_password.html", form=None, error=str(e)), 410
    if current_user.is_authenticated and current_user.id != link.user_id:
        # N.B. an owner checking the link they just made, or a new hire at a front-desk
        # computer someone is signed in at: the link would set a colleague's password and
        # leave them in someone else's session, told "your password is set".
        return render_template(
            "auth/set_password.html", form=None, user=link.user, purpose=link.purpose
        ), 409
    form = SetPasswordForm()
    error = error_for = None
    if form.validate_on_submit():
        try:
            links.set_password(token, form.password.data, now)
        except links.LinkError as e:
            error, error_for = str(e), e.field
        else:
            flash("Your password is set. Log in with it now.", "info")
            return redirect(url_for("auth.login"), code=303)
    # The second field said something (they differ, say): the password's own problem is
    # said too, as both fields come back empty and would be typed again for it.
    elif (
        form.password.data
        and not form.password.errors
        and (problem := passwords.problem_for(link.user, form.password.data))
    ):
        error, error_for = problem, "password"
    status = 422 if request.method == "POST" else 200
    return render_template(
        "auth/set_password.html",
        form=form,
        error=error,
        error_for=error_for,
        user=link.user,
        purpose=link.purpose,
    ), status
