"""Every team action through the server, for every role × target × same/other account:
allowed ones succeed, forbidden ones are 403, other accounts' people are 404."""

import pytest

from ozyops.extensions import db
from ozyops.models import User

ACTIONS = {
    "reset_mfa": ("reset-mfa", {}),
    "change_role": ("role", {"role": "member"}),
    "deactivate": ("active", {"active": "0"}),
    "reactivate": ("active", {"active": "1"}),
    "send_password_reset": ("password-link", {}),
    "transfer_ownership": ("transfer", {"confirm": "yes"}),
}
# Who may act on whom, for the member actions; anything not listed is 403 in the same
# account. "admin" acting on "admin" is acting on oneself.
ALLOWED = {
    ("owner", "admin"),
    ("owner", "other_admin"),
    ("owner", "member"),
    ("admin", "other_admin"),
    ("admin", "member"),
}
TRANSFER_ALLOWED = {("owner", "admin"), ("owner", "other_admin"), ("owner", "member")}


@pytest.fixture
def people(factory):
    here = factory.account(kind="trades", name="Here")
    there = factory.account(kind="trades", name="There")
    p = {
        "owner": factory.user(account_id=here, role="owner", email="owner@here.example.com"),
        "admin": factory.user(account_id=here, role="admin", email="admin@here.example.com"),
        "other_admin": factory.user(account_id=here, role="admin", email="admin2@here.example.com"),
        "member": factory.user(
            account_id=here, role="member", email="member@here.example.com", active=True
        ),
    }
    for role in ("owner", "admin", "member"):
        p[f"there_{role}"] = factory.user(
            account_id=there, role=role, email=f"{role}@there.example.com"
        )
    return p


def expected(actor, target, action):
    if target.startswith("there_"):
        return 404
    allowed = TRANSFER_ALLOWED if action == "transfer_ownership" else ALLOWED
    return "ok" if (actor, target) in allowed else 403


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("actor", ["owner", "admin", "member"])
@pytest.mark.parametrize(
    "target",
    ["owner", "admin", "other_admin", "member", "there_owner", "there_admin", "there_member"],
)
def test_matrix_is_enforced_by_the_server(browser, people, app, action, actor, target):
    browser.login(people[actor].email)
    path, data = ACTIONS[action]
    target_id = people[target].id
    with app.app_context():
        before = db.session.get(User, target_id)
        before = (before.role, before.active)
    r = browser.post(f"/settings/team/{target_id}/{path}", data, page="/settings/team")
    want = expected(actor, target, action)
    if want == "ok":
        assert r.status_code in (200, 303), r.status_code
    else:
        assert r.status_code == want
        with app.app_context():
            after = db.session.get(User, target_id)
            assert (after.role, after.active) == before  # nothing changed


@pytest.mark.parametrize("actor, status", [("owner", 200), ("admin", 200), ("member", 403)])
def test_invite_and_audit_by_role(browser, people, actor, status):
    browser.login(people[actor].email)
    assert browser.get("/settings/team/add").status_code == status
    r = browser.post(
        "/settings/team/add", {"name": "New", "email": "new@here.example.com", "role": "member"}
    )
    assert r.status_code == status
    assert browser.get("/settings/audit").status_code == status
    with browser.client.get("/settings/audit.csv") as csv:
        assert csv.status_code == status


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_member_pages_of_other_accounts_are_404(browser, people, actor):
    browser.login(people[actor].email)
    assert browser.get(f"/settings/team/{people['there_member'].id}").status_code == 404
    assert browser.get(f"/settings/team/{people['there_member'].id}/reset-mfa").status_code == 404
    assert browser.get("/settings/team/999999").status_code == 404


def test_members_cannot_open_member_pages(browser, people):
    browser.login(people["member"].email)
    assert browser.get(f"/settings/team/{people['admin'].id}").status_code == 403
    assert browser.get(f"/settings/team/{people['admin'].id}/reset-mfa").status_code == 403
