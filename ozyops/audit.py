"""The one way to write the audit log.

N.B. callers pass event names and ids, never a code, secret, key, password or session id;
`details` is for plain facts such as a reason or a role name.
"""

import json

from flask import has_request_context, request

from . import clock
from .extensions import db
from .models import AuditEvent


def record(event, *, account_id=None, actor=None, target=None, **details):
    """Add one entry to the current transaction; the caller's commit writes it."""
    ip = ua = None
    if has_request_context():
        ip = (request.remote_addr or "")[:64]
        ua = (request.user_agent.string or "")[:255]
    who = target or actor
    entry = AuditEvent(
        account_id=account_id if account_id is not None else (who.account_id if who else None),
        actor_id=actor.id if actor else None,
        target_id=target.id if target else None,
        event=event,
        ip=ip,
        user_agent=ua,
        created_at=clock.utcnow(),
        details=json.dumps(details, sort_keys=True) if details else None,
    )
    db.session.add(entry)
    return entry
