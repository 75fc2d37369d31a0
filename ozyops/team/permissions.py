"""Who may do what to whom on the team page.

N.B. the one permission matrix: views call `can()` and nothing else decides. A user of
another account is never a valid target (views turn that into a 404, not a 403).
"""

MANAGERS = frozenset({"owner", "admin"})


def can(actor, action, target=None):
    """True when `actor` may do `action` (to `target`, where the action has one)."""
    if not actor.active:
        return False
    if action == "see_security_details":
        return actor.role in MANAGERS
    if action == "set_require_mfa":
        return actor.role == "owner" and actor.account.kind != "healthcare"
    if target is None or target.account_id != actor.account_id or target.id == actor.id:
        return False
    if action == "reset_mfa":
        if actor.role == "owner":
            return True
        return actor.role == "admin" and target.role != "owner"
    raise ValueError(f"unknown action {action!r}")
