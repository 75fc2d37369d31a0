"""The permission matrix, spelled out as a table: every role × target × same/other account."""

from types import SimpleNamespace

import pytest

from ozyops.team.permissions import can

# (actor role, target) -> allowed, for every action on a member. "self" is the actor.
ON_A_MEMBER = {
    ("owner", "owner"): None,  # there is one owner: an owner's other owner does not exist
    ("owner", "admin"): True,
    ("owner", "member"): True,
    ("owner", "self"): False,
    ("admin", "owner"): False,
    ("admin", "admin"): True,
    ("admin", "member"): True,
    ("admin", "self"): False,
    ("member", "owner"): False,
    ("member", "admin"): False,
    ("member", "member"): False,
    ("member", "self"): False,
}
MEMBER_ACTIONS = ["reset_mfa", "change_role", "deactivate", "reactivate", "send_password_reset"]
TRANSFER = {("owner", "admin"): True, ("owner", "member"): True}
ACCOUNT_ACTIONS = {
    "invite": {"owner": True, "admin": True, "member": False},
    "view_audit": {"owner": True, "admin": True, "member": False},
    "see_security_details": {"owner": True, "admin": True, "member": False},
}


def person(id, role, account_id=1, kind="trades", active=True, joined=True):
    return SimpleNamespace(
        id=id,
        role=role,
        account_id=account_id,
        active=active,
        joined=joined,
        account=SimpleNamespace(kind=kind),
    )


def test_ownership_goes_only_to_someone_who_has_joined():
    owner = person(1, "owner")
    assert can(owner, "transfer_ownership", person(2, "admin")) is True
    assert can(owner, "transfer_ownership", person(2, "admin", joined=False)) is False
    assert can(owner, "transfer_ownership", person(2, "admin", active=False)) is False


def cases():
    for (actor_role, target_role), allowed in ON_A_MEMBER.items():
        if allowed is None:
            continue
        for action in [*MEMBER_ACTIONS, "transfer_ownership"]:
            expected = (
                TRANSFER.get((actor_role, target_role), False)
                if action == "transfer_ownership"
                else allowed
            )
            yield actor_role, target_role, action, expected


@pytest.mark.parametrize("actor_role, target_role, action, allowed", list(cases()))
def test_same_account(actor_role, target_role, action, allowed):
    actor = person(1, actor_role)
    target = actor if target_role == "self" else person(2, target_role)
    assert can(actor, action, target) is allowed


@pytest.mark.parametrize("actor_role", ["owner", "admin", "member"])
@pytest.mark.parametrize("target_role", ["owner", "admin", "member"])
@pytest.mark.parametrize("action", [*MEMBER_ACTIONS, "transfer_ownership"])
def test_other_accounts_are_never_reachable(actor_role, target_role, action):
    assert can(person(1, actor_role), action, person(2, target_role, account_id=2)) is False


@pytest.mark.parametrize("action, by_role", ACCOUNT_ACTIONS.items())
@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_account_actions(action, by_role, role):
    assert can(person(1, role), action) is by_role[role]


@pytest.mark.parametrize(
    "kind, role, allowed",
    [
        ("trades", "owner", True),
        ("law", "owner", True),
        ("healthcare", "owner", False),
        ("trades", "admin", False),
    ],
)
def test_require_mfa_switch(kind, role, allowed):
    assert can(person(1, role, kind=kind), "set_require_mfa") is allowed


def test_deactivated_actor_may_do_nothing():
    owner = person(1, "owner", active=False)
    assert not can(owner, "invite") and not can(owner, "reset_mfa", person(2, "member"))


def test_unknown_action_is_a_bug_not_a_no():
    with pytest.raises(ValueError):
        can(person(1, "owner"), "launch_rockets", person(2, "member"))
