"""Turns: a worker runs at most RUN_AT_ONCE requests at once; a slow wait gives way."""

import threading

from ozyops import admission, passwords

WAIT = 5  # seconds; only reached when something is broken


def request_threads(n, app):
    threads = [threading.Thread(target=app, args=({"i": i}, lambda *_: None)) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def test_requests_beyond_run_at_once_wait_until_one_gives_way():
    entered = threading.Semaphore(0)
    give_way, finish = threading.Event(), threading.Event()

    def app(environ, _start_response):
        entered.release()
        if environ["i"] == 0:  # the first request waits on something slow
            give_way.wait(WAIT)
            admission.give_way()
        finish.wait(WAIT)
        return [b""]

    n = admission.RUN_AT_ONCE
    first = request_threads(n, admission.in_turns(app))
    for _ in range(n):
        assert entered.acquire(timeout=WAIT)
    last = request_threads(1, admission.in_turns(app))
    assert not entered.acquire(timeout=0.2)  # every turn is taken: it waits
    give_way.set()
    assert entered.acquire(timeout=WAIT)  # the turn given away is its
    finish.set()
    for t in first + last:
        t.join(WAIT)
    # N.B. the request that gave way did not hand back a second turn when it ended.
    assert admission._turns._value == n


def test_a_password_check_gives_the_turn_away():
    seen = []

    def app(_environ, _start_response):
        seen.append(admission._mine.turn)
        passwords.verify_password(passwords.hash_password("x" * 12), "x" * 12)
        seen.append(admission._mine.turn)
        return [b""]

    admission.in_turns(app)({}, lambda *_: None)
    assert seen == [True, False]
    assert admission._turns._value == admission.RUN_AT_ONCE
