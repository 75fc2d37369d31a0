"""Settings > Profile and Settings > Profile > Security: MFA enrolment, disable, new key.

The MFA panel (`security/_mfa.html`, root `#mfa-panel`) is one component: the page includes
it, and each htmx post here answers with the panel alone (see htmx.render).
"""

import qrcode
import qrcode.image.svg
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
from flask_login import current_user, login_required
from markupsafe import Markup

from .. import audit, clock, htmx, links, notify, passwords, sessions
from ..auth import sso
from ..auth.forms import ChangePasswordForm
from ..extensions import credential_limit, db
from ..forms import CodeForm, SudoForm
from . import mfa, sudo, totp

bp = Blueprint("security", __name__, url_prefix="/settings/profile")


@bp.get("")
@login_required
def show_profile():
    """Settings > Profile: who you are, how you sign in, and the way to Security."""
    return _profile_page()


def _profile_page(status=200, error=None, **context):
    context.setdefault("password_form", ChangePasswordForm(formdata=None))
    return render_template(
        "security/profile.html",
        identities=sso.identities(current_user),
        providers=sso.PROVIDERS,
        offered=list(sso.enabled(current_app).values()),
        form=SudoForm(formdata=None),
        error=error,
        **context,
    ), status


@bp.route("/sign-in/<id:identity_id>/unlink", methods=["GET", "POST"])
@credential_limit
@login_required
def unlink_identity(identity_id):
    """Remove a linked Google or Microsoft sign-in (sudo mode; never the last way in).

    N.B. GET: this address opened again leads to the Profile page (one route for both
    methods, as team.views._member_action explains)."""
    if request.method != "POST":  # GET, or HEAD
        return back_to_profile()
    form = SudoForm()
    if problem := sudo.refusal(current_user, form.credential.data, clock.now()):
        return _profile_page(422, problem, error_for=f"unlink-{identity_id}")
    try:
        link = sso.unlink(current_user, identity_id)
    except sso.SsoError as e:
        return _profile_page(409, str(e))
    if link is None:
        abort(404)
    flash(f"Sign in with {sso.PROVIDERS[link.provider]} is removed.", "info")
    return redirect(url_for("security.show_profile"), code=303)


@bp.post("/password")
@credential_limit
@login_required
def change_password():
    """Change password: the current one (or, with none yet, sudo mode), then the new one
    twice. Every other session of this person ends.

    N.B. every problem is said at once, each at its field: the three fields come back
    empty (a page never holds a password), so one problem per round means typing all
    three again each time."""
    form = ChangePasswordForm()
    valid = form.validate_on_submit()
    refused = _current_password_refused(form)
    me = current_user
    problem = None
    if form.password.data and not form.password.errors:
        problem = passwords.problem_for(me, form.password.data)
        same = passwords.normal(form.password.data) == passwords.normal(form.current.data or "")
        if same and not refused and not problem:
            problem = "That is your current password. Choose a new one."
    if not valid or refused or problem:
        return _profile_page(
            422, password_form=form, password_problem=refused, new_password_problem=problem
        )
    passwords.set_new(current_user, passwords.hash_password(form.password.data))
    links.end_unused(current_user, clock.now())
    audit.record("password_changed", actor=current_user, target=current_user)
    db.session.commit()
    sessions.end_all_for(current_user.id, keep_sid=session.sid)
    notify.send(current_user, "password_changed")
    flash("Your password is changed. You are signed out everywhere else.", "info")
    return redirect(url_for("security.show_profile"), code=303)


def _current_password_refused(form):
    """Why the current password (or, with none yet, sudo mode) does not allow the change,
    or None. A wrong one counts towards the password pause, as anywhere."""
    if not current_user.password_hash:
        if sudo.is_recent(clock.now()):
            return None
        return "For your security, sign in again, then set a password within 10 minutes."
    if form.current.errors:
        return None  # the field says so itself
    if not form.current.data:
        return "Enter your current password."
    now = clock.utcnow()
    verdict = passwords.check(
        current_user, form.current.data, now, "reauth_failed", replacing=True, by=current_user
    )
    if verdict is passwords.Verdict.PAUSED:
        return passwords.paused_message(current_user, now)
    if verdict is passwords.Verdict.WRONG:
        return "That is not your current password."
    return None


# The setup this session began: {"setup": mfa.setup_of(user), "shown": whether its QR code
# has been on screen}. N.B. the QR code is the secret, so it is shown once, to the click that
# made it: a reload, or whoever holds a copy of the cookie, gets the code field alone (and
# Enable MFA for a new one). A wrong code shows it again only to a form that names its
# setup, that is, one that was shown it.
ENROLLING = "enrolling"


@bp.get("/security")
@login_required
def show_security():
    """Settings > Profile > Security; while this session's setup is under way, its code
    field (after Enable MFA without JavaScript, once, with the QR code). Someone sent here
    to set up MFA their practice requires sees the QR code at once (help/mfa.md)."""
    mine, now = _my_setup(), clock.now()
    if mine is None:  # most visits: nothing to decrypt
        if _setup_due(now):
            return _panel(state="enrolling", secret=_begin_setup(now, shown=True))
        return _panel(state=_resting_state())
    secret = mfa.pending_secret(current_user, now)
    if secret is None:  # this session's setup ran out: the entry in the app is useless
        session.pop(ENROLLING)
        return _panel(state=_resting_state(), notice=EXPIRED)
    if mine.get("shown"):
        return _panel(state="enrolling", setup=mine["setup"])
    session[ENROLLING] = {**mine, "shown": True}
    return _panel(state="enrolling", secret=secret)


@bp.get("/security/enrol")
@bp.get("/security/verify")
@bp.get("/security/disable")
@bp.get("/security/recovery-key")
@bp.get("/security/sessions/end-others")
@login_required
def back_to_security():
    """The address of a post, reloaded or typed without JavaScript: the page it belongs to."""
    return redirect(url_for("security.show_security"), code=303)


@bp.get("/password")
@login_required
def back_to_profile():
    """The same, for the posts of the Profile page."""
    return redirect(url_for("security.show_profile"), code=303)


@bp.post("/security/enrol")
@credential_limit
@login_required
def start_enrolment():
    """Enable MFA: a new secret, shown as a QR code and a setup key until verified. In sudo
    mode, as every change to how one signs in: someone holding a stolen session must not
    tie the account to their own phone."""
    if current_user.mfa_enabled:
        return _panel(state="on", status=409, error="MFA is already on.")
    form = SudoForm()
    if problem := sudo.refusal(current_user, form.credential.data, clock.now()):
        return _panel(state=_enrol_state(), status=422, error=problem, error_for="enrol")
    if htmx.is_htmx():
        return _panel(state="enrolling", secret=_begin_setup(clock.now(), shown=True))
    # N.B. a page of its own: a reload of a post's answer would send it again and make
    # another secret, and the one just scanned would stop working.
    _begin_setup(clock.now(), shown=False)
    return redirect(url_for("security.show_security"), code=303)


def _begin_setup(now, shown):
    """A new setup, this session's own; `shown`: whether its QR code is on the page being
    answered (else the page shows it once, next). Returns its secret."""
    secret = mfa.start_enrolment(current_user, now)
    session[ENROLLING] = {"setup": mfa.setup_of(current_user), "shown": shown}
    return secret


def _setup_due(now):
    """Whether this visit starts the setup itself, as Enable MFA would: MFA required and
    off, signed in within 10 minutes (Enable MFA's sudo mode), and no setup under way in
    any browser (another's is not replaced by a mere visit; its QR code may be scanned)."""
    user = current_user
    return (
        user.account.mfa_required
        and not user.mfa_enabled
        and sudo.is_recent(now)
        and mfa.pending_secret(user, now) is None
    )


def _my_setup():
    """This session's ENROLLING entry while its setup is the one pending, else None."""
    mine = session.get(ENROLLING)
    return mine if mine and mine.get("setup") == mfa.setup_of(current_user) else None


def _enrol_state():
    """Where a refused Enable MFA was clicked: the code field of a setup under way, or off."""
    return "enrolling" if _my_setup() else "off"


@bp.post("/security/verify")
@credential_limit
@login_required
def verify_enrolment():
    """Verify and Enable: a correct code turns MFA on and shows the recovery key once."""
    now = clock.now()
    form = CodeForm()
    secret = mfa.pending_secret(current_user, now)
    if current_user.mfa_enabled:  # most often this page's answer reloaded, the key shown
        return _panel(state="on", status=409, notice=ALREADY_ON)
    if secret is None:
        return _panel(state="off", status=409, error=EXPIRED)
    shown, setup = request.form.get("setup"), mfa.setup_of(current_user)
    seen = mfa.setup_of(current_user, secret)
    if shown is not None and shown not in (setup, seen):
        # Enable MFA was clicked again after this QR code was shown (another tab). N.B. the
        # newer QR code is not shown here: it may be someone else's, made with a copy of
        # the cookie, and scanning it would hand them the codes.
        return _panel(state="off", status=409, error=REPLACED)
    # The QR code again only for a form that was shown it (see ENROLLING).
    again = {"secret": secret} if shown == seen else {"setup": setup}
    if not form.validate_on_submit():
        return _panel(state="enrolling", form=form, status=422, **again)
    try:
        check, key = mfa.enable(current_user, form.code.data, now)
    except mfa.MfaError as e:
        return _panel(state=_resting_state(), status=409, error=str(e))
    if not check.ok:
        return _panel(state="enrolling", form=form, status=422, error=check.message, **again)
    session.pop(ENROLLING, None)
    # N.B. the page's messages above the panel are about before ("set up MFA on your new
    # device now", after a recovery key): for htmx, which swaps only the panel, they go.
    return _panel(state="key", recovery_key=key, clear_alerts=htmx.is_htmx())


EXPIRED = (
    "This setup has expired (it lasts 15 minutes), so the OzyOps entry it added to your app "
    "will not work: delete it. Click Enable MFA to start again."
)
ALREADY_ON = (
    "MFA is on. Its recovery key was shown once, when it was turned on; if it was not saved, "
    "regenerate it below."
)
REPLACED = (
    "This QR code was replaced by a newer one when Enable MFA was clicked again, so its codes "
    "no longer work. Click Enable MFA to start again, and scan the new QR code (you can "
    "delete the older OzyOps entry from your app)."
)


@bp.post("/security/disable")
@credential_limit
@login_required
def disable_mfa():
    """Disable MFA with a current code; refused where the account requires MFA."""
    form = CodeForm()
    if current_user.account.mfa_required:
        return _panel(
            state=_resting_state(),
            status=403,
            error="Your practice requires MFA, so it cannot be turned off.",
        )
    if not current_user.mfa_enabled:
        return _panel(state="off", status=409, error="MFA is already off.")
    if not form.validate_on_submit():
        return _panel(state="on", status=422, disable_form=form, error_for="disable")
    check = mfa.disable(current_user, form.code.data, clock.now())
    if not check.ok:
        return _panel(
            state="on", status=422, disable_form=form, error=check.message, error_for="disable"
        )
    return _panel(state="off", notice="MFA is off. You can turn it on again at any time.")


@bp.post("/security/recovery-key")
@credential_limit
@login_required
def regenerate_recovery_key():
    """Regenerate recovery key with a current code; the old key stops working."""
    form = CodeForm()
    if not current_user.mfa_enabled:
        return _panel(state=_resting_state(), status=409, error="Turn MFA on first.")
    if not form.validate_on_submit():
        return _panel(state="on", status=422, regenerate_form=form, error_for="regenerate")
    check, key = mfa.regenerate_recovery_key(current_user, form.code.data, clock.now())
    if not check.ok:
        return _panel(
            state="on",
            status=422,
            regenerate_form=form,
            error=check.message,
            error_for="regenerate",
        )
    return _panel(state="key", recovery_key=key, replaced=True)


@bp.post("/security/sessions/end-others")
@credential_limit
@login_required
def end_other_sessions():
    """Sign out everywhere else (a lost laptop, a shared computer), in sudo mode (ASVS
    3.3.4): someone holding a stolen session cannot sign the real person out without
    their code or password; the person, with it, can sign the stolen session out."""
    form = SudoForm()
    if problem := sudo.refusal(current_user, form.credential.data, clock.now()):
        return _panel(state=_resting_state(), status=422, error=problem, error_for="sessions")
    sessions.end_all_for(current_user.id, keep_sid=session.sid)
    audit.record("other_sessions_ended", actor=current_user, target=current_user)
    db.session.commit()
    flash("You are now signed out everywhere else.", "info")
    return htmx.redirect_to(url_for("security.show_security"))


def active_sessions():
    """This user's live sessions for the page, newest activity first, this one marked."""
    mine = sessions.sid_hash(session)
    return [
        {
            "device": sessions.describe_device(row.user_agent),
            "ip": row.ip,
            "last_seen": row.last_seen_at,
            "current": row.id_hash == mine,
        }
        for row in sessions.active_for(current_user.id, clock.now())
    ]


def _resting_state():
    return "on" if current_user.mfa_enabled else "off"


def _panel(state, status=200, secret=None, **context):
    """The security page, or for htmx just its MFA panel, in `state`: off | enrolling
    (with `secret`, its QR code; with `setup` alone, the code field) | on | key (the
    recovery key, shown this once)."""
    if secret is not None:
        uri = totp.provisioning_uri(secret, current_user.email, current_app.config["TOTP_ISSUER"])
        # N.B. the SVG is qrcode's own markup of black modules; the URI (with the email) is
        # encoded in the pattern, and written into the markup only by Jinja, escaped, as the
        # link that hands it to an authenticator app on this phone.
        svg = Markup(qr_svg(uri))  # noqa: S704
        setup = mfa.setup_of(current_user, secret)
        context.update(qr_svg=svg, setup_key=totp.grouped(secret), setup=setup, app_link=uri)
    if state in ("off", "enrolling"):
        context.setdefault("reset_entry", mfa.standing_reset(current_user))
    context.setdefault("form", CodeForm(formdata=None))
    context.setdefault("disable_form", CodeForm(formdata=None))
    context.setdefault("regenerate_form", CodeForm(formdata=None))
    # N.B. the panel's own alert is new to the page and not read out when swapped in.
    message = context.get("notice") or (None if context.get("error_for") else context.get("error"))
    return htmx.render(
        "security/security.html",
        "security/_mfa.html",
        status=status,
        announce=message,
        state=state,
        active_sessions=active_sessions,
        lost_both=mfa.lost_both(current_user),
        **context,
    )


def qr_svg(data):
    """`data` as an inline SVG QR code (qrcode's path factory: one small <path>, no Pillow)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return image.to_string(encoding="unicode")
