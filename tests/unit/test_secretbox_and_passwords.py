"""Secrets at rest (MultiFernet with rotation) and password rules."""

import threading
import unicodedata

import pytest
from argon2 import Type, extract_parameters
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask

from ozyops import passwords
from ozyops.security import secretbox
from tests.conftest import PRODUCTION_HASHER


def app_with(keys):
    app = Flask(__name__)
    app.config["ENCRYPTION_KEYS"] = ",".join(keys)
    return app


def test_sealed_secret_does_not_contain_the_plaintext():
    with app_with([Fernet.generate_key().decode()]).app_context():
        token = secretbox.seal("JBSWY3DPEHPK3PXP")
        assert "JBSWY3DPEHPK3PXP" not in token
        assert secretbox.open_(token) == "JBSWY3DPEHPK3PXP"


def test_rotation_keeps_old_secrets_readable_and_encrypts_with_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with app_with([old]).app_context():
        token = secretbox.seal("SECRET")
    with app_with([new, old]).app_context():
        assert secretbox.open_(token) == "SECRET"
        fresh = secretbox.seal("SECRET")
    with app_with([new]).app_context():
        assert secretbox.open_(fresh) == "SECRET"
        with pytest.raises(InvalidToken):
            secretbox.open_(token)


def test_password_hash_is_argon2id_and_verifies():
    digest = passwords.hash_password("a long enough password")
    assert digest.startswith("$argon2id$")
    assert passwords.verify_password(digest, "a long enough password")
    assert not passwords.verify_password(digest, "another password")
    assert not passwords.verify_password(None, "anything at all")
    assert not passwords.verify_password("not a hash", "anything at all")


def test_the_production_cost_is_64_mib_and_three_passes_on_one_lane():
    params = extract_parameters(PRODUCTION_HASHER.hash("a long enough password"))
    assert (params.type, params.memory_cost, params.time_cost) == (Type.ID, 65536, 3)
    assert params.parallelism == 1  # one thread per hash: several processes hash at once


COMPOSED = "Crème brûlée à Noël"  # as most keyboards type it: one character per accent
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)  # as some Macs and copies do: e + accent


@pytest.mark.parametrize(
    "chosen, typed",
    [
        (COMPOSED, DECOMPOSED),
        (DECOMPOSED, COMPOSED),
        ("ＦＵＬＬ ｗｉｄｔｈ ｐａｓｓ", "FULL width pass"),  # an Asian keyboard's wide letters
    ],
)
def test_the_same_characters_typed_another_way_are_the_same_password(chosen, typed):
    assert chosen != typed
    digest = passwords.hash_password(chosen)
    assert passwords.verify_password(digest, typed)
    assert passwords.verify_password(digest, chosen)
    assert not passwords.verify_password(digest, typed + "!")


def test_a_password_hashed_as_typed_before_normalising_still_works():
    digest = passwords._hasher.hash(DECOMPOSED)  # as hash_password stored it before
    assert passwords.verify_password(digest, DECOMPOSED)
    assert not passwords.verify_password(digest, "Creme brulee a Noel")


@pytest.mark.parametrize("stored", [COMPOSED, DECOMPOSED])
def test_right_or_wrong_takes_the_same_verifies(monkeypatch, stored):
    """Typed in a form that is not normal, both forms are verified, right or wrong, so the
    time taken never tells (a paused password answers PAUSED either way)."""
    real = passwords._hasher
    digest = real.hash(stored)
    verifies = []

    class Counting:
        def verify(self, h, p):
            verifies.append(p)
            return real.verify(h, p)

    monkeypatch.setattr(passwords, "_hasher", Counting())
    for typed, right in ((DECOMPOSED, True), (DECOMPOSED + "!", False)):
        verifies.clear()
        assert passwords.verify_password(digest, typed) is right
        assert len(verifies) == 2
    verifies.clear()
    passwords.verify_password(digest, COMPOSED)  # already normal: one form, one verify
    assert len(verifies) == 1


def test_length_is_judged_on_the_normal_form():
    assert "at least" not in (passwords.problem_with("ﬁ" * 5) or "")  # ten letters, "fi" x 5
    assert "at least 10" in passwords.problem_with("e\u0301" * 5)  # five é, not ten


@pytest.mark.parametrize(
    "password, problem",
    [
        ("", "Enter a password."),
        ("   ", "Enter a password."),
        ("short", "at least 10"),
        ("x" * 257, "at most 256"),
        ("ten chars!", None),
    ],
)
def test_password_rules(password, problem):
    result = passwords.problem_with(password)
    assert (result is None) if problem is None else (problem in result)


@pytest.mark.parametrize(
    "password",
    [
        "password123",  # a very common password
        "1234567890",  # a run
        "qwertyuiop",  # a keyboard row
        "xxxxxxxxxxxx",  # a repeat
        "Password2024!",  # a common password with the usual changes
        "Welcome2024!",
        "Dana Lee 2024",  # the person's own name and a year
        "brightsmile",  # the practice's name
        "ozyops2024!",  # the service's name
    ],
)
def test_guessable_passwords_are_refused_with_a_reason(password):
    problem = passwords.problem_with(
        password, about=("dana@example.com", "Dana Lee", "Bright Smile")
    )
    assert problem is not None and problem.startswith("That password is too easy to guess.")
    assert "Try three or four words" in problem


@pytest.mark.parametrize(
    "password", ["correct horse battery", "kitchen-window-7", "my dog rex 2019", "ten chars!"]
)
def test_unrelated_words_pass(password):
    assert passwords.problem_with(password, about=("dana@example.com", "Dana Lee")) is None


def test_one_hash_at_a_time_per_process():
    inside, go = threading.Semaphore(0), threading.Event()
    running, most = [0], [0]

    def hash_slowly():
        running[0] += 1
        most[0] = max(most[0], running[0])
        inside.release()
        go.wait(5)
        running[0] -= 1

    requests = [
        threading.Thread(target=passwords.on_hashing_thread, args=(hash_slowly,)) for _ in range(3)
    ]
    for r in requests:
        r.start()
    assert inside.acquire(timeout=5)
    assert not inside.acquire(timeout=0.2)  # the others wait for the hashing thread
    go.set()
    for r in requests:
        r.join(5)
    assert most[0] == 1
