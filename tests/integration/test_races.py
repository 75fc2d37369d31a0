"""Exactly-once under concurrency: two workers racing the same code, recovery key or
enrolment. Runs on SQLite and, with OZYOPS_TEST_DATABASE_URL, on PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from ozyops.accounts import AccountError
from ozyops.extensions import db
from ozyops.models import AuditEvent, User
from ozyops.security import mfa, totp
from ozyops.team import members
from ozyops.team.permissions import can
from tests.conftest import RECOVERY_KEY, SECRET, csrf_from, wrong_codes

ROUNDS = 15


def race(app, action, n=2):
    """Run `action(user)` in `n` threads released together; returns their results."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        with app.app_context():
            user = db.session.get(User, action.user_id)
            barrier.wait()
            try:
                results[i] = action(user)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_code_wins_exactly_once(app, factory, clock):
    user = factory.user(mfa=True)
    for _ in range(ROUNDS):
        clock.advance(seconds=30)
        now, code = clock.now, totp.code_at(SECRET, clock.timestamp)

        def verify(u, now=now, code=code):
            ok = mfa.verify_code(u, code, now).ok
            db.session.commit()  # as every caller does with what the code allowed
            return ok

        verify.user_id = user.id
        assert sorted(race(app, verify, n=3)) == [False, False, True]


def test_a_recovery_key_works_once(app, factory, clock):
    user = factory.user(mfa=True)

    def use(u):
        return mfa.use_recovery_key(u, RECOVERY_KEY, clock.now).ok

    use.user_id = user.id
    assert sorted(race(app, use, n=3)) == [False, False, True]
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(event="recovery_key_used").count() == 1


def test_a_double_submitted_enrolment_enables_once(app, factory, clock):
    user = factory.user()
    with app.app_context():
        secret = mfa.start_enrolment(db.session.get(User, user.id), clock.now)
    code = totp.code_at(secret, clock.timestamp)

    def enable(u):
        try:
            return mfa.enable(u, code, clock.now)[1] is not None
        except mfa.MfaError:
            return False

    enable.user_id = user.id
    assert sorted(race(app, enable)) == [False, True]
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(event="mfa_enabled").count() == 1


def test_concurrent_failures_lock_exactly_once(app, factory, clock):
    user = factory.user(mfa=True)

    codes = iter(wrong_codes(10))  # each thread its own: a wrong code again counts once

    def fail(u):
        return mfa.verify_code(u, next(codes), clock.now).outcome

    fail.user_id = user.id
    results = race(app, fail, n=10)
    assert results.count(mfa.Outcome.LOCKED) == 1
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(event="mfa_locked").count() == 1
        locked = db.session.get(User, user.id).mfa_locked_until
        assert locked == (clock.now + timedelta(minutes=15)).replace(tzinfo=None)


def test_concurrent_audited_actions_keep_one_unbroken_chain(app, factory, clock):
    """Many workers auditing in one account at once: no deadlock, no fork, no gap."""
    account = factory.account()
    users = [factory.user(account_id=account, mfa=True) for _ in range(6)]
    barrier = threading.Barrier(len(users))
    errors = []

    def worker(ref):
        with app.app_context():
            try:
                user = db.session.get(User, ref.id)
                barrier.wait()
                for _ in range(3):
                    mfa.verify_code(user, "000000", clock.now)
            except Exception as e:  # noqa: BLE001 - reported below, with the thread's error
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        from ozyops import audit

        assert audit.verify() is None
        assert db.session.query(AuditEvent).filter_by(event="mfa_failed").count() == 18


def test_two_invitations_of_one_email_at_once_add_one_member(app, factory, clock):
    owner = factory.user(role="owner")
    both_checked = threading.Barrier(2, timeout=10)
    waited = threading.local()

    def after_the_check(session, *_):
        # Both requests have found no such email; only now does either INSERT.
        if not getattr(waited, "done", False):
            waited.done = True
            both_checked.wait()

    def add(u):
        try:
            members.invite(u, "new@example.com", "New Person", "member", clock.now)
        except AccountError as e:
            return str(e)
        return "added"

    add.user_id = owner.id
    event.listen(Session, "before_flush", after_the_check)
    try:
        results = race(app, add)
    finally:
        event.remove(Session, "before_flush", after_the_check)
    taken = "Someone with the email new@example.com already has an OzyOps sign-in."
    assert sorted(results) == [taken, "added"]
    with app.app_context():
        added = db.session.scalars(select(User).where(User.email == "new@example.com")).all()
        assert len(added) == 1


def _owners(app, account_id):
    with app.app_context():
        return db.session.scalars(
            select(User.email).where(User.account_id == account_id, User.role == "owner")
        ).all()


@pytest.fixture
def practice(factory):
    account = factory.account(kind="law")
    return account, {
        name: factory.user(account_id=account, role=role, email=f"{name}@example.com", name=name)
        for name, role in [("owner", "owner"), ("admin", "admin"), ("sam", "member")]
    } | {"kim": factory.user(account_id=account, role="member", email="kim@example.com")}


def _meanwhile(app, *changes):
    """Another request commits `changes` ({user id: values}) after this one loaded its rows."""
    with app.app_context(), db.engine.begin() as other:
        for user_id, values in changes:
            other.execute(update(User).where(User.id == user_id).values(**values))


def _stale_pair(actor_ref, target_ref):
    """The actor and target as `can()` judged them, loaded before the other request wrote."""
    actor, target = db.session.get(User, actor_ref.id), db.session.get(User, target_ref.id)
    assert can(actor, "transfer_ownership" if actor.role == "owner" else "change_role", target)
    return actor, target


@pytest.mark.parametrize("action", ["change_role", "deactivate"])
def test_an_admin_acting_on_someone_just_made_owner_changes_nothing(app, practice, clock, action):
    """The owner hands the practice to Sam while an admin, on a page loaded before, makes
    Sam an admin or deactivates Sam: one owner, never none or a deactivated one."""
    account, people = practice
    with app.app_context():
        admin, sam = _stale_pair(people["admin"], people["sam"])
        _meanwhile(app, (people["owner"].id, {"role": "admin"}), (sam.id, {"role": "owner"}))
        with pytest.raises(AccountError, match="sam is now the owner"):
            if action == "change_role":
                members.change_role(admin, sam, "admin")
            else:
                members.set_active(admin, sam, False, clock.now)
        assert db.session.scalars(select(AuditEvent.event)).all() == []
    assert _owners(app, account) == ["sam@example.com"]
    with app.app_context():
        assert db.session.get(User, people["sam"].id).active


def test_make_owner_from_two_tabs_makes_one_owner(app, practice):
    account, people = practice
    with app.app_context():
        owner, kim = _stale_pair(people["owner"], people["kim"])
        _meanwhile(app, (owner.id, {"role": "admin"}), (people["sam"].id, {"role": "owner"}))
        with pytest.raises(AccountError, match="no longer the owner"):
            members.transfer_ownership(owner, kim)
    assert _owners(app, account) == ["sam@example.com"]


def test_make_owner_of_someone_deactivated_meanwhile_changes_nothing(app, practice):
    account, people = practice
    with app.app_context():
        owner, kim = _stale_pair(people["owner"], people["kim"])
        _meanwhile(app, (kim.id, {"active": False}))
        with pytest.raises(AccountError, match="deactivated meanwhile"):
            members.transfer_ownership(owner, kim)
    assert _owners(app, account) == ["owner@example.com"]  # the first UPDATE undone too


def test_a_transfer_and_a_role_change_at_once_leave_exactly_one_owner(app, practice, clock):
    """The reviewer's race, on real threads: whichever commits first, one owner."""
    account, people = practice
    for _ in range(ROUNDS):
        with app.app_context(), db.engine.begin() as reset:
            reset.execute(update(User).where(User.id == people["owner"].id).values(role="owner"))
            reset.execute(update(User).where(User.id == people["sam"].id).values(role="member"))
        barrier = threading.Barrier(2)

        def worker(actor_ref, act, barrier=barrier):
            with app.app_context():
                actor = db.session.get(User, actor_ref.id)
                sam = db.session.get(User, people["sam"].id)
                barrier.wait()
                try:
                    act(actor, sam)
                except AccountError:
                    pass
                finally:
                    db.session.remove()

        threads = [
            threading.Thread(target=worker, args=(people["owner"], members.transfer_ownership)),
            threading.Thread(
                target=worker,
                args=(people["admin"], lambda a, s: members.change_role(a, s, "admin")),
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(_owners(app, account)) == 1


def test_wrong_codes_sent_at_once_in_one_pending_login_all_count(app, factory, browser):
    """Five wrong codes end a pending login, even when sent at once on the same cookie:
    each is counted on the person in one statement, not in the session's data, where the
    last of the requests to write would have kept only its own count."""
    user = factory.user(mfa=True)
    browser.login(user.email)
    token = csrf_from(browser.get("/login/mfa").text)
    cookie = browser.client.get_cookie("ozyops_session").value
    n = 7
    clients = [app.test_client() for _ in range(n)]
    for c in clients:
        c.set_cookie("ozyops_session", cookie)
    barrier = threading.Barrier(n)
    statuses = [None] * n

    def send(i, code):
        barrier.wait()
        statuses[i] = clients[i].post("/login/mfa", data={"code": code, "csrf_token": token})
        statuses[i] = statuses[i].status_code

    threads = [threading.Thread(target=send, args=a) for a in enumerate(wrong_codes(n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # At most four said "wrong" and let the login go on; the rest sent it back to /login.
    assert set(statuses) <= {303, 422} and statuses.count(422) <= 4, statuses
    assert browser.get("/login/mfa").headers["Location"] == "/login"  # that login is over
