"""Every audit event the code writes has a name an owner can read on Settings > Audit log."""

import ast
from pathlib import Path

from ozyops import audit

SOURCE = Path(audit.__file__).parent


def _strings(node):
    """The string constants `node` can be: a literal, or either side of `a if x else b`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    return set()


def recorded_events():
    """Event names passed to audit.record, directly, through a variable assigned in the
    same module, or as `failed_event=` (passwords.check records it)."""
    events = set()
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        assigned = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, set()).update(_strings(node.value))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name == "record" and node.args:
                first = node.args[0]
                events |= _strings(first)
                if isinstance(first, ast.Name):
                    events |= assigned.get(first.id, set())
            for keyword in node.keywords:
                if keyword.arg == "failed_event":
                    events |= _strings(keyword.value)
    return events


def test_every_recorded_event_has_a_label():
    events = recorded_events()
    assert {"login", "mfa_reset", "member_deactivated", "password_reset", "reauth_failed"} <= events
    assert events - audit.LABELS.keys() == set()


def test_labels_name_only_events_that_are_recorded():
    assert audit.LABELS.keys() - recorded_events() == set()


def test_an_event_without_a_label_is_still_readable():
    assert audit.label("mfa_reset") == "MFA reset"
    assert audit.label("something_new") == "Something new"
