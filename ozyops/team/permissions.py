"""Who may do what to whom on the team page and the audit log.

N.B. the one permission matrix: views call `can()` and nothing else decides. A user of
another account is never a valid target (views turn that into a 404, not a 403), and
nobody is their own target here: one's own MFA is managed under Security.
"""

MANAGERS = frozenset({"owner", "admin"})
ACCOUNT_ACTIONS = frozenset(
    {"see_security_details", "view_audit", "invite", "set_require_mfa", "set_time_zone"}
)
MEMBER_ACTIONS = frozenset(
    {
        "reset_mfa",
        "change_role",
        "deactivate",
        "reactivate",
        "send_password_reset",
        "correct_invitation",
    }
)


def can(actor, action, target=None):
    """True when `actor` may do `action` (to `target`, for the actions that have one)."""
    if actor is None or not actor.active:
        return False
    if action in ACCOUNT_ACTIONS:
        if action == "set_require_mfa":
            return actor.role == "owner" and actor.account.kind != "healthcare"
        return actor.role in MANAGERS
    if action not in MEMBER_ACTIONS and action != "transfer_ownership":
        raise ValueError(f"unknown action {action!r}")
    if target is None or target.account_id != actor.account_id or target.id == actor.id:
        return False
    if action == "transfer_ownership":
        # N.B. not to someone invited who has not joined: the practice would have an owner
        # who cannot sign in, and whoever holds the invitation link would become it.
        return actor.role == "owner" and target.active and target.joined
    # The owner may act on anyone else; an admin on admins and members, never the owner
    # (whose own break-glass is the operator's `reset-mfa`); members on nobody.
    return actor.role in MANAGERS and target.role != "owner"


def may_grant(actor, role):
    """Which roles `actor` may give by invitation or role change (never owner: transfer)."""
    return actor.role in MANAGERS and role in ("admin", "member")
