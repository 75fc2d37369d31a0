"""Settings > Team: the member list, Reset MFA, Add member, and each member's page
(role, deactivate, password link, ownership). Permission: `permissions.can`, always."""

import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import or_, select

from .. import audit, clock, htmx, links, notify, passwords
from ..accounts import AccountError
from ..extensions import credential_limit, db
from ..forms import EmptyForm, SudoForm
from ..models import WITH_ACCOUNT, User
from ..security import mfa, sudo
from . import members
from .forms import AddMemberForm, InvitationForm, RoleForm
from .permissions import can, may_grant

bp = Blueprint("team", __name__, url_prefix="/settings/team")


def mfa_status(user):
    """`Enabled`, `Not set up` or `Required — not set up`, as the team page shows it."""
    return "Enabled" if user.mfa_enabled else _not_set_up(user.account)


def _not_set_up(account):
    return "Required — not set up" if account.mfa_required else "Not set up"


@bp.app_template_filter("breakable_email")
def breakable_email(address):
    """`address` for a narrow column: a phone breaks it after "@" or before a dot, not in
    the middle of a word ("lena@halewu.example.co" / "m")."""
    return escape(address).replace("@", Markup("@<wbr>")).replace(".", Markup("<wbr>."))


@bp.app_context_processor
def _helpers():
    # For every template: Security's MFA panel asks `can` too (set_require_mfa).
    return {"can": can, "mfa_status": mfa_status}


def _target(user_id):
    """A member of the current account, or 404 (other accounts' users are not there)."""
    user = db.session.get(User, user_id)
    if user is None or user.account_id != current_user.account_id:
        abort(404)
    return user


def _require(action, target=None):
    if not can(current_user, action, target):
        abort(403)


@bp.get("")
@login_required
def show_team():
    """Everyone sees the members; owners and admins also their MFA status and actions."""
    return _team_page()


def _team_page(status=200, **context):
    """Settings > Team as the query string filters it; `context` for the page's forms."""
    context.setdefault("require_mfa", current_user.account.require_mfa)
    q = (request.args.get("q") or "").strip()[:100]
    mfa_filter = request.args.get("mfa") if can(current_user, "see_security_details") else None
    query = select(User).where(User.account_id == current_user.account_id).options(*WITH_ACCOUNT)
    if q:
        # N.B. autoescape: a "_" or "%" typed is looked for, not a wildcard matching everyone.
        query = query.where(
            or_(
                User.email.contains(q.lower(), autoescape=True),
                User.name.icontains(q, autoescape=True),
            )
        )
    if mfa_filter == "enabled":
        query = query.where(User.totp_secret.is_not(None))
    elif mfa_filter == "not_set_up":
        query = query.where(User.totp_secret.is_(None))
    team = db.session.scalars(query.order_by(User.name)).all()
    return htmx.render(
        "team/team.html",
        "team/_members.html",
        announce=htmx.matching(len(team), "member", "members"),
        members=team,
        account=current_user.account,
        q=q,
        mfa_filter=mfa_filter,
        filters={"enabled": "Enabled", "not_set_up": _not_set_up(current_user.account)},
        form=EmptyForm(),
        status=status,
        **context,
    )


@bp.post("/require-mfa")
@credential_limit
@login_required
def set_require_mfa():
    """Require MFA for everyone (trades and law accounts; the owner only)."""
    _require("set_require_mfa")
    if request.form.get("require_mfa", "on") != "on":
        abort(400)  # not the page's checkbox, which sends "on" or nothing
    wanted = "require_mfa" in request.form
    form = SudoForm()
    if problem := sudo.refusal(current_user, form.credential.data, clock.now()):
        # The page again with the box as they set it, the message beside it.
        return _team_page(422, error=problem, error_for="require-mfa", require_mfa=wanted)
    account = current_user.account
    account.require_mfa = wanted
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


@bp.route("/time-zone", methods=["GET", "POST"])
@login_required
def set_time_zone():
    """The practice's time zone, the clock its people read times on (owners and admins)."""
    _require("set_time_zone")
    account = current_user.account
    page = functools.partial(
        render_template, "team/time_zone.html", zones=clock.zones(), chosen=account.time_zone
    )
    if request.method != "POST":  # GET, or HEAD
        return page()
    zone = request.form.get("time_zone", "")
    if zone not in clock.zones():
        return page(error="Choose your practice's time zone from the list."), 422
    if zone != account.time_zone:
        audit.record("time_zone_changed", actor=current_user, account_id=account.id, time_zone=zone)
        account.time_zone = zone
        db.session.commit()
    flash(f"Times are now shown in {zone} time.", "info")
    return redirect(url_for("team.show_team"), code=303)


@bp.route("/<id:user_id>/reset-mfa", methods=["GET", "POST"])
@credential_limit
@login_required
def reset_mfa(user_id):
    """Reset MFA: GET swaps in the confirmation naming the person; POST (Confirm) does it."""
    target = _target(user_id)
    _require("reset_mfa", target)
    form = SudoForm()
    error = reset = None
    # Started from the member's page (Manage > Reset MFA): back there, not to the list.
    from_member = request.values.get("from") == "member"
    back = url_for("team.show_member", user_id=target.id) if from_member else None
    if request.method == "GET" and not target.has_mfa_to_reset:
        reset = False  # a page left open, or reloaded after Confirm: nothing to confirm
    elif request.method == "POST":
        error = sudo.refusal(current_user, form.credential.data, clock.now())
        if error is None:
            reset = members.reset_mfa(current_user, target)
    if reset is not None:
        notice, note = _RESET_WORDS[reset]
        if htmx.is_htmx():
            return htmx.render(
                "team/_row.html",
                "team/_row.html",
                m=target,
                notice=notice.format(name=target.name),
                note=note,
            )
        flash(notice.format(name=target.name), "info")
        return redirect(back or url_for("team.show_team"), code=303)
    status = 422 if request.method == "POST" else 200
    return htmx.render(
        "team/confirm_reset.html",
        "team/_confirm_reset.html",
        status=status,
        m=target,
        form=form,
        error=error,
        back=back,
    )


# Whether MFA was reset → the page's message, and the row's note: on a phone the page's
# message is screens above the row that was clicked. N.B. when nothing was reset (a
# second click, another admin first), it says so rather than "was reset".
_RESET_WORDS = {
    True: (
        "MFA for {name} was reset. They can log in with their password and set it up again.",
        "Reset just now",
    ),
    False: ("MFA for {name} is already off: there was nothing to reset.", "Already off"),
}


@bp.get("/<id:user_id>/row")
@login_required
def show_row(user_id):
    """One member's row (Cancel on the confirmation swaps it back)."""
    target = _target(user_id)
    if not htmx.is_htmx():
        return redirect(url_for("team.show_team"), code=303)
    return htmx.render("team/_row.html", "team/_row.html", m=target)


@bp.route("/add", methods=["GET", "POST"])
@credential_limit
@login_required
def add_member():
    """Add member: creates them and shows a one-time invitation link to copy."""
    _require("invite")
    form = AddMemberForm()
    error = error_for = None
    if form.validate_on_submit():
        if not may_grant(current_user, form.role.data):
            abort(403)
        error, error_for = sudo.refusal(current_user, form.credential.data, clock.now()), "add"
        if error is None:
            try:
                user, token = members.invite(
                    current_user, form.email.data, form.name.data, form.role.data, clock.now()
                )
            except AccountError as e:
                error, error_for = str(e), e.field
            else:
                link = _deliver_link(user, "invite", token)
                return render_template("team/invited.html", member=user, link=link)
    status = 422 if request.method == "POST" else 200
    return render_template("team/add.html", form=form, error=error, error_for=error_for), status


@bp.get("/require-mfa")
@login_required
def back_to_team():
    """The address of a post, reloaded or typed without JavaScript: the page it belongs to."""
    return redirect(url_for("team.show_team"), code=303)


@bp.get("/<id:user_id>")
@login_required
def show_member(user_id):
    """A member's page: the actions an owner or admin may take on them."""
    target = _target(user_id)
    if not can(current_user, "see_security_details"):
        abort(403)
    return _member_page(target)


def _deliver_link(user, purpose, token):
    """The one-time link's URL, mailed to `user` when mail is set up; shown by the caller."""
    link = url_for("auth.set_password", token=token, _external=True)
    notify.send_link(user, purpose, link)
    return link


def _member_page(target, status=200, **context):
    """The member page as the database has it now. An `error` without `error_for` shows at
    the top: after a refusal because someone else changed the row, its form may be gone."""
    context.setdefault("password_paused_until", passwords.paused_until(target, clock.utcnow()))
    context.setdefault("codes_locked_until", mfa.locked_until(target, clock.now()))
    if "newest_link" not in context:
        # A page that answers a refused Create password link keeps the link it was shown
        # with: made from the newest one instead, a reload sent again would pass the check.
        shown = request.form.get("replaces", type=int)
        context["newest_link"] = links.newest(target) if shown is None else shown
    purpose = context.setdefault("link_purpose", members.link_purpose(target))
    context.setdefault("link_hours", int(links.LIFETIME[purpose].total_seconds() // 3600))
    context.setdefault("role_form", RoleForm(formdata=None, role=target.role))
    context.setdefault(
        "invitation_form", InvitationForm(formdata=None, name=target.name, email=target.email)
    )
    context.setdefault("form", SudoForm(formdata=None))
    return render_template("team/member.html", m=target, **context), status


_SHOWN_AS = {RoleForm: "role_form", InvitationForm: "invitation_form"}


def _member_action(user_id, action, section, form_class=SudoForm):
    """The checks every action on a member page shares: the member is in this account
    (else 404), `can` allows `action` (else 403), the form is valid and sudo mode holds.
    Returns (target, form, refusal); refusal is the member page explaining what is missing.

    N.B. without JavaScript the answer stays at the address posted to: opened again (Enter
    in the address bar, a tab reopened), that address leads to the member's page. (One
    route for both methods: two rules on one path with an id in it answer 405, not 404,
    for an id out of range.)"""
    target = _target(user_id)
    if request.method != "POST":  # GET, or HEAD
        return target, None, redirect(url_for("team.show_member", user_id=target.id), code=303)
    _require(action, target)
    form = form_class()
    # The page shows this form as it was sent, what was typed kept.
    extra = {_SHOWN_AS.get(form_class, "form"): form}
    if not form.validate_on_submit():
        return target, form, _member_page(target, 422, error_for=section, **extra)
    if error := sudo.refusal(current_user, form.credential.data, clock.now()):
        return target, form, _member_page(target, 422, error=error, error_for=section, **extra)
    return target, form, None


@bp.route("/<id:user_id>/role", methods=["GET", "POST"])
@credential_limit
@login_required
def change_role(user_id):
    target, form, refusal = _member_action(user_id, "change_role", "role", RoleForm)
    if refusal:
        return refusal
    try:
        changed = members.change_role(current_user, target, form.role.data)
    except AccountError as e:
        return _member_page(target, 409, error=str(e))
    role = f"{'an' if target.role == 'admin' else 'a'} {target.role}"
    flash(f"{target.name} is {'now' if changed else 'already'} {role}.", "info")
    return redirect(url_for("team.show_member", user_id=target.id), code=303)


@bp.route("/<id:user_id>/active", methods=["GET", "POST"])
@credential_limit
@login_required
def set_active(user_id):
    """Deactivate or reactivate (the form says which)."""
    if request.method == "POST" and request.form.get("active") not in ("0", "1"):
        abort(400)  # not the page's form, which always sends one or the other
    active = request.form.get("active") == "1"
    action = "reactivate" if active else "deactivate"
    target, _, refusal = _member_action(user_id, action, "active")
    if refusal:
        return refusal
    try:
        members.set_active(current_user, target, active, clock.now())
    except AccountError as e:
        return _member_page(target, 409, error=str(e))
    message = f"{target.name} was {'reactivated' if active else 'deactivated'}."
    if active and not target.joined:
        message += (
            " They have not joined yet: create a password link for them, as links made"
            " before they were deactivated no longer work."
        )
    flash(message, "info")
    return redirect(url_for("team.show_member", user_id=target.id), code=303)


@bp.route("/<id:user_id>/password-link", methods=["GET", "POST"])
@credential_limit
@login_required
def create_password_link(user_id):
    """A one-time link for the member to set a password: an invitation again for someone
    who has not joined, else a password reset (members.link_purpose)."""
    target, _, refusal = _member_action(user_id, "send_password_reset", "link")
    if refusal:
        return refusal
    replaces = request.form.get("replaces", type=int)  # absent: not from our page, no check
    purpose = members.link_purpose(target)
    try:
        token = members.password_link(current_user, target, clock.now(), replaces)
    except AccountError as e:
        newest = links.newest(target)  # asked again from here, a new link is meant
        return _member_page(target, 409, error=str(e), error_for="link", newest_link=newest)
    return _member_page(target, password_link=_deliver_link(target, purpose, token))


@bp.route("/<id:user_id>/invitation", methods=["GET", "POST"])
@credential_limit
@login_required
def correct_invitation(user_id):
    """The name or email of someone invited who has not joined yet, typed wrong."""
    target, form, refusal = _member_action(
        user_id, "correct_invitation", "invitation", InvitationForm
    )
    if refusal:
        return refusal
    old_email = target.email
    try:
        changed = members.correct_invitation(
            current_user, target, form.name.data, form.email.data, clock.now()
        )
    except AccountError as e:
        # At its field; else (they joined meanwhile, the form is gone) at the top.
        where = f"invitation-{e.field}" if e.field else None
        status = 422 if e.field else 409
        return _member_page(target, status, error=str(e), error_for=where, invitation_form=form)
    if not changed:
        flash("Nothing was changed: that is what the invitation already says.", "info")
    elif target.email != old_email:
        flash(
            f"The invitation is now for {target.name} ({target.email}). Links made for the "
            "old address no longer work: click Create password link below and send them the "
            "new link.",
            "info",
        )
    else:
        flash(f"The invitation is now for {target.name}.", "info")
    return redirect(url_for("team.show_member", user_id=target.id), code=303)


@bp.route("/<id:user_id>/transfer", methods=["GET", "POST"])
@credential_limit
@login_required
def transfer_ownership(user_id):
    """Make owner: the old owner becomes an admin, after a ticked confirmation."""
    target, _, refusal = _member_action(user_id, "transfer_ownership", "transfer")
    if refusal:
        return refusal
    if request.form.get("confirm") != "yes":
        return _member_page(
            target, 422, error="Tick the box to confirm the new owner.", error_for="transfer"
        )
    try:
        members.transfer_ownership(current_user, target)
    except AccountError as e:
        return _member_page(target, 409, error=str(e))
    flash(f"{target.name} is now the owner. You are an admin.", "info")
    return redirect(url_for("team.show_team"), code=303)
