"""Settings > Team."""

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import audit, htmx
from ..extensions import db
from ..forms import EmptyForm
from ..models import User
from .permissions import can

bp = Blueprint("team", __name__, url_prefix="/settings/team")


@bp.get("")
@login_required
def show_team():
    """Everyone sees the members; owners and admins also see their MFA status."""
    members = db.session.scalars(
        select(User).where(User.account_id == current_user.account_id).order_by(User.name)
    ).all()
    return render_template(
        "team/team.html",
        members=members,
        account=current_user.account,
        details=can(current_user, "see_security_details"),
        form=EmptyForm(),
        mfa_status=mfa_status,
    )


@bp.post("/require-mfa")
@login_required
def set_require_mfa():
    """Require MFA for everyone (trades and law accounts; the owner only)."""
    if not can(current_user, "set_require_mfa"):
        abort(403)
    form = EmptyForm()
    if form.validate_on_submit():
        account = current_user.account
        account.require_mfa = request.form.get("require_mfa") == "on"
        audit.record(
            "mfa_requirement_changed",
            actor=current_user,
            account_id=account.id,
            required=account.require_mfa,
        )
        db.session.commit()
        flash(
            "MFA is now required for everyone in your practice."
            if account.require_mfa
            else "MFA is now optional (recommended) in your practice.",
            "info",
        )
    return htmx.redirect_to(url_for("team.show_team"))


def mfa_status(user):
    """`Enabled`, `Not set up` or `Required — not set up`, as the team page shows it."""
    if user.mfa_enabled:
        return "Enabled"
    return "Required — not set up" if user.account.mfa_required else "Not set up"
