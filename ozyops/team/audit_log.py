"""Settings > Audit log (`/settings/audit`) and its CSV export, for owners and admins."""

import csv
import io
import json
import re

from flask import Blueprint, Response, abort, request
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from .. import audit, htmx
from ..extensions import db
from ..models import AuditEvent, User, row_id
from .permissions import can

bp = Blueprint("audit_log", __name__, url_prefix="/settings")
PER_PAGE = 50


def _filtered():
    """The account's entries, filtered by `person` (actor or target) and `event`."""
    if not can(current_user, "view_audit"):
        abort(403)
    audit.seal(current_user.account_id)  # what is shown is what is chained
    query = select(AuditEvent).where(AuditEvent.account_id == current_user.account_id)
    person = request.args.get("person", type=row_id)
    event = (request.args.get("event") or "")[:40]
    if person:
        query = query.where((AuditEvent.actor_id == person) | (AuditEvent.target_id == person))
    if event:
        query = query.where(AuditEvent.event == event)
    return query, person, event


@bp.get("/audit")
@login_required
def show_audit():
    query, person, event = _filtered()
    page = request.args.get("page", default=1, type=row_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    entries = db.session.scalars(
        query.options(joinedload(AuditEvent.actor), joinedload(AuditEvent.target))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    people = db.session.scalars(
        select(User).where(User.account_id == current_user.account_id).order_by(User.name)
    ).all()
    events = db.session.scalars(
        select(AuditEvent.event).where(AuditEvent.account_id == current_user.account_id).distinct()
    ).all()
    return htmx.render(
        "team/audit.html",
        "team/_audit_entries.html",
        announce=htmx.matching(total, "entry", "entries"),
        entries=entries,
        people=people,
        events=sorted(events, key=audit.label),
        person=person,
        event=event,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        total=total,
    )


@bp.get("/audit.csv")
@login_required
def export_audit():
    """Export CSV: every entry that matches the filters, newest first, times in UTC."""
    query, _, _ = _filtered()
    entries = db.session.scalars(
        query.options(joinedload(AuditEvent.actor), joinedload(AuditEvent.target)).order_by(
            AuditEvent.created_at.desc(), AuditEvent.id.desc()
        )
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time_utc", "event", "actor", "target", "address", "user_agent", "details"])
    for e in entries:
        writer.writerow(
            _cell(v)
            for v in (
                e.created_at.isoformat(timespec="seconds") + "Z",
                e.event,
                e.actor.email if e.actor else ("operator" if e.by_operator else ""),
                e.target.email if e.target else "",
                e.ip or "",
                e.user_agent or "",
                e.details or "",
            )
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="ozyops-audit.csv"'},
    )


bp.add_app_template_filter(audit.label, "audit_event")


@bp.app_template_filter("audit_details")
def audit_details(details):
    """`{"new": "admin", "old": "member"}` as `new: admin, old: member`, for people."""
    try:
        facts = json.loads(details)
    except ValueError:
        return details
    return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in facts.items() if v is not None)


# Where a spreadsheet may see a cell begin with a formula: at the value's start, or after a
# character some spreadsheet splits on. N.B. an Excel set to a language that separates with
# ";" (German, French, Dutch...) cuts "Mozilla (x);=cmd|..." there, whatever the quoting.
# A space or a quote before the sign does not stop every spreadsheet.
_FORMULA_START = re.compile(r'(^|[,;\t\r\n])(?=[\s"]*[=+\-@]|[\t\r])')


def _cell(value):
    """`value` with a ' before every = + - @ that could begin a cell: a spreadsheet shows
    it as text instead of running it as a formula (a User-Agent is anyone's to choose)."""
    return _FORMULA_START.sub(r"\1'", value)
