"""The front door: `/`, first-run `/setup`, and the dashboard."""

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from . import clock, htmx, schema
from .accounts import AccountError, any_account_exists, create_account
from .extensions import limiter
from .models import KINDS
from .security import mfa

bp = Blueprint("main", __name__)

KIND_LABELS = {
    "healthcare": "Healthcare practice (MFA required)",
    "trades": "Trades business",
    "law": "Law firm",
}


class SetupForm(FlaskForm):
    account_name = StringField("Practice name", validators=[InputRequired(), Length(max=120)])
    kind = SelectField(
        "Kind of practice",
        choices=[SelectChoice(k, KIND_LABELS[k]) for k in KINDS],
        validators=[InputRequired()],
    )
    time_zone = SelectField(
        "Time zone",
        choices=clock.zones,
        default="UTC",
        description="Where the practice is, for the times OzyOps shows: the nearest large "
        "city in your time zone, such as America/New_York.",
    )
    name = StringField("Your name", validators=[InputRequired(), Length(max=120)])
    email = EmailField(
        "Your email",
        validators=[InputRequired(), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Choose a password",
        validators=[InputRequired(), Length(max=256)],
        render_kw={"autocomplete": "new-password", "minlength": 10},
        description="At least 10 characters. A few unrelated words are easy to remember "
        "and hard to guess.",
    )


@bp.get("/")
def index():
    """First run goes to setup; otherwise the dashboard (which asks for login if needed)."""
    if not any_account_exists():
        return redirect(url_for("main.setup"))
    return redirect(url_for("main.dashboard"))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first account and its owner. Gone (404) once any account exists."""
    if any_account_exists():
        abort(404)
    form = SetupForm()
    error = None
    if form.validate_on_submit():
        try:
            create_account(
                form.account_name.data,
                form.kind.data,
                form.email.data,
                form.name.data,
                form.password.data,
                via="setup",
                time_zone=form.time_zone.data,
            )
        except AccountError as e:
            error = str(e)
        else:
            flash("Your practice is set up. Log in with the email and password you chose.", "info")
            return redirect(url_for("auth.login"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("main/setup.html", form=form, error=error), status


LIMITS_UNAVAILABLE = "rate-limit store unavailable: check REDIS_URL"


@bp.get("/healthz")
def healthz():
    """For load balancers and monitors: 200 when the database answers and holds the schema
    this version needs, and the rate-limit store answers; else 503.

    N.B. a server started before `db upgrade` (a new install, or a new version whose
    migration has not run) answers every page with a 503: a balancer must not send people
    to it. Without its Redis, no one can sign in (errors._limits_unavailable): a monitor
    must hear of it."""
    status = schema.state()
    if status == schema.READY and limiter.enabled and not limiter.storage.check():
        status = LIMITS_UNAVAILABLE
    return {"status": status}, 200 if status == schema.READY else 503


@bp.get("/settings")
def settings():
    """Settings typed as an address (help/mfa.md says "Settings > ..."): where its link goes."""
    return redirect(url_for("security.show_profile"))


@bp.get("/dashboard")
@login_required
def dashboard():
    # N.B. someone whose MFA was reset where it is optional lands here, not on setup: this
    # is where they learn who reset it (no query for anyone with MFA on).
    return render_template(
        "main/dashboard.html",
        account=current_user.account,
        reset_entry=mfa.standing_reset(current_user),
    )


@bp.post("/stay-signed-in")
@login_required
def stay_signed_in():
    """The idle warning's "Stay signed in" (base.html, app.js): the request itself is the
    activity that keeps the session (sessions.py), so there is nothing more to do."""
    if htmx.is_htmx():
        return "", 204
    return redirect(url_for("main.dashboard"), code=303)
