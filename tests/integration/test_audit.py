"""Settings > Audit log, its CSV export, and the hash chain (`audit-verify`)."""

import csv
import io
import re

import pytest
from sqlalchemy import delete, select, text, update

from ozyops import audit
from ozyops.extensions import db
from ozyops.models import Account, AuditEvent, User
from tests.conftest import PG_URL


@pytest.fixture
def office(factory):
    account = factory.account(kind="law", name="Lee & Co")
    owner = factory.user(account_id=account, email="lee@example.com", name="Lee Owner")
    member = factory.user(
        account_id=account, role="member", email="=cmd@example.com", name="Sly Member"
    )
    return owner, member


def test_audit_page_lists_newest_first_and_filters(browser, make_browser, office, clock):
    owner, member = office
    m = make_browser()
    m.login(member.email)
    clock.advance(minutes=1)
    m.login("nobody@example.com", "wrong password")
    clock.advance(minutes=1)
    browser.login(owner.email)
    page = browser.get("/settings/audit").text
    assert page.index("Lee Owner") < page.index("Sly Member")  # newest first
    assert "Export CSV" in page and "127.0.0.1" in page
    only_member = browser.get(f"/settings/audit?person={member.id}").text
    assert "Lee Owner" not in only_member.split("<tbody>")[1]
    logins = browser.get("/settings/audit?event=login", headers={"HX-Request": "true"})
    assert logins.text.startswith('<div id="audit-entries">')
    assert "2 entries" in logins.text


def test_audit_page_names_events_in_words_and_filters_by_their_names(browser, office, clock):
    owner, member = office
    browser.login(member.email, "wrong password")
    browser.login(owner.email)
    page = browser.get("/settings/audit").text
    rows = page.split("<tbody>")[1]
    assert '"Event"><span>Signed in' in rows and '"Event"><span>Sign-in failed' in rows
    assert "login_failed" not in rows and "login failed" not in rows
    # The Event filter shows the words and sends the name, which the URL and the CSV keep.
    assert '<option value="login_failed" >Sign-in failed</option>' in page
    failed = browser.get("/settings/audit?event=login_failed").text.split("<tbody>")[1]
    assert "Sign-in failed" in failed and "Signed in" not in failed
    csv_text = browser.get("/settings/audit.csv?event=login_failed").text
    assert ",login_failed," in csv_text


def test_audit_is_paginated(browser, office, app):
    owner, _ = office
    with app.app_context():
        actor = db.session.get(User, owner.id)
        for _ in range(60):
            audit.record("login", actor=actor, target=actor)
        db.session.commit()
    browser.login(owner.email)
    first = browser.get("/settings/audit").text
    assert "61 entries, page 1 of 2" in first and "Older" in first
    # Above the entries too: on a phone 50 of them are a long scroll.
    assert first.count("61 entries, page 1 of 2") == 2
    assert first.index("Pages, above the entries") < first.index("<tbody>")
    second = browser.get("/settings/audit?page=2").text
    assert "page 2 of 2" in second and "Newer" in second
    assert browser.get("/settings/audit?page=abc").status_code == 200


def test_csv_export_has_utc_times_and_defuses_formulas(browser, make_browser, office):
    owner, member = office
    make_browser().login(member.email)
    browser.login(owner.email)
    with browser.client.get("/settings/audit.csv") as r:
        assert r.status_code == 200 and r.mimetype == "text/csv"
        assert "attachment" in r.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["time_utc", "event", "actor", "target", "address", "user_agent", "details"]
    assert rows[1][0].endswith("Z") and rows[1][1] == "login"
    assert "'=cmd@example.com" in [row[2] for row in rows]


def test_csv_export_defuses_formulas_where_a_semicolon_spreadsheet_splits(
    browser, make_browser, office
):
    """Anyone can put a User-Agent into the log with one wrong password. An Excel set to a
    language that separates with ";" cuts a cell there, so no ; or , may be followed by
    a formula either."""
    owner, member = office
    agent = "Mozilla/5.0 (evil.example);=cmd|' /C calc'!A0;+1,@SUM(1); =1+1;\"=HYPERLINK(1)\""
    make_browser().login(member.email, "not the password", headers={"User-Agent": agent})
    browser.login(owner.email)
    text = browser.get("/settings/audit.csv?event=login_failed").text
    row = next(csv.reader(io.StringIO(text.splitlines()[1])))
    assert row[5] == (
        "Mozilla/5.0 (evil.example);'=cmd|' /C calc'!A0;'+1,'@SUM(1);' =1+1;'\"=HYPERLINK(1)\""
    )
    for line in text.splitlines():
        for cell in re.split(r"[;,\t]", line):
            assert cell.lstrip(' "')[:1] not in ("=", "+", "-", "@"), cell


def test_logs_never_hold_secrets(browser, factory, app):
    from tests.conftest import RECOVERY_KEY, SECRET

    doc = factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    browser.login_with_code(doc.email)
    code = browser.code()
    cookie = browser.client.get_cookie("ozyops_session").value
    browser.logout()
    with app.app_context():
        dump = " ".join(str(r) for r in db.session.execute(text("SELECT * FROM audit_events")))
    for secret in (SECRET, RECOVERY_KEY, code, cookie, "correct horse battery"):
        assert secret not in dump


def test_chain_verifies_and_finds_an_altered_entry(runner, office, make_browser, app):
    owner, member = office
    for who in (owner, member, owner):
        make_browser().login(who.email)
    assert runner.invoke(args=["audit-verify"]).exit_code == 0
    with app.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(ip="10.0.0.9"))
        db.session.commit()
    r = runner.invoke(args=["audit-verify"])
    assert r.exit_code == 1 and "entry 2 was altered" in r.output and "Lee & Co" in r.output


@pytest.mark.parametrize("seq, message", [(2, "entry 2 is missing"), (3, "entry 3 is missing")])
def test_chain_finds_a_deleted_entry(runner, office, make_browser, app, seq, message):
    owner, member = office
    for who in (owner, member, owner):
        make_browser().login(who.email)
    assert runner.invoke(args=["audit-verify"]).exit_code == 0  # seals the chain
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == seq))
        db.session.commit()
    r = runner.invoke(args=["audit-verify"])
    assert r.exit_code == 1 and message in r.output


def test_anchors_written_down_find_a_history_rewritten_whole(
    runner, office, make_browser, app, tmp_path
):
    owner, member = office
    for who in (owner, member, owner):
        make_browser().login(who.email)
    r = runner.invoke(args=["audit-verify"])
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(r.output)  # as an operator keeps them, outside the database
    (line,) = [x for x in r.output.splitlines() if x.startswith("anchor ")]
    assert line.endswith("# Lee & Co") and line.split()[2] == "3"
    make_browser().login(member.email)  # the log goes on
    r = runner.invoke(args=["audit-verify", "--anchors", str(anchors)])
    assert r.exit_code == 0 and "holds (1 checked)" in r.output
    # Someone with the database rewrites entry 2 and recomputes every hash after it, and
    # the head: the chain alone still verifies, but not against what was written down.
    with app.app_context():
        account = db.session.get(Account, owner.account_id)
        previous = audit.GENESIS
        for entry in db.session.scalars(
            select(AuditEvent).where(AuditEvent.account_id == account.id).order_by(AuditEvent.seq)
        ):
            if entry.seq == 2:
                entry.ip = "10.0.0.9"
            entry.hash = previous = audit.digest(previous, entry, entry.seq)
        account.audit_head = previous
        db.session.commit()
    assert runner.invoke(args=["audit-verify"]).exit_code == 0
    r = runner.invoke(args=["audit-verify", "--anchors", str(anchors)])
    assert r.exit_code == 1 and "Audit log rewritten" in r.output and "entry 3" in r.output


@pytest.mark.parametrize("text", ["anchor 1 2\n", "anchor x 2 abc\n", "anchor 1 ² abc\n"])
def test_a_bad_anchor_file_is_one_line(runner, office, tmp_path, text):
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(text)
    r = runner.invoke(args=["audit-verify", "--anchors", str(anchors)])
    assert r.exit_code == 1 and "is not an anchor line" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_chain_links_events_of_one_transaction(app, office):
    owner, _ = office
    with app.app_context():
        actor = db.session.get(User, owner.id)
        for _ in range(3):
            audit.record("login", actor=actor, target=actor)
        db.session.commit()
        assert audit.verify() is None  # seals, then checks
        seqs = db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        assert seqs == [1, 2, 3]


def test_the_audit_page_shows_sealed_entries(browser, office, app):
    owner, _ = office
    browser.login(owner.email)
    browser.get("/settings/audit")
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.seq).where(AuditEvent.event == "login")) == 1


def test_a_wrong_code_names_who_typed_it_only_once_they_are_signed_in(make_browser, factory, app):
    user = factory.user(email="kim@example.com", kind="law", mfa=True)
    at_sign_in = make_browser()
    at_sign_in.login(user.email)
    at_sign_in.post("/login/mfa", {"code": "000000"}, page="/login/mfa")
    signed_in = make_browser()
    signed_in.login_with_code(user.email)
    page = "/settings/profile/security"
    signed_in.post(page + "/disable", {"code": "000000"}, page=page)
    with app.app_context():
        failed = db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "mfa_failed").order_by(AuditEvent.id)
        ).all()
    assert [(e.actor_id, e.target_id) for e in failed] == [(None, user.id), (user.id, user.id)]


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's plan; PostgreSQL picks by table size")
def test_the_latest_entry_about_someone_is_found_by_its_index(app, office):
    """The Security page asks it for everyone whose MFA is off: without the index it read
    every entry of their practice (60-80 ms at 100,000 entries, found by a review)."""
    from sqlalchemy import event

    seen = []
    with app.app_context():
        user = db.session.get(User, office[0].id)

        def capture(_conn, _cursor, statement, parameters, *_):
            seen.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            audit.latest(user, ("mfa_reset", "mfa_enabled"))
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        [(statement, parameters)] = seen
        raw = db.session.connection().connection.dbapi_connection
        plan = raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
    assert "ix_audit_events_target_event" in str(plan), plan
