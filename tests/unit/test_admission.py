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


class SlowBody:
    """A request body still arriving: each read says whether a turn was held meanwhile."""

    def __init__(self, data, seen):
        self.data, self.seen = data, seen

    def read(self, size=-1):
        self.seen.append(admission._turns._value)
        chunk = self.data if size < 0 else self.data[:size]
        self.data = self.data[len(chunk) :]
        return chunk


def post(body, seen, **environ):
    got = []

    def app(environ, _start_response):
        got.append(environ["wsgi.input"].read())
        return [b""]

    environ = {"REQUEST_METHOD": "POST", "wsgi.input": SlowBody(body, seen), **environ}
    admission.in_turns(app, body_limit=10)(environ, lambda *_: None)
    return got[0]


def test_a_post_body_is_read_before_the_request_takes_a_turn():
    """A body sent slowly must not hold one of the few turns (found by a security review):
    four that never finished stopped every other request."""
    seen = []
    assert post(b"code=12345", seen, CONTENT_LENGTH="10") == b"code=12345"
    assert seen == [admission.RUN_AT_ONCE]
    seen.clear()  # no length, a stream the server ends (chunked): up to the limit and one
    assert post(b"x" * 50, seen, **{"wsgi.input_terminated": True}) == b"x" * 11
    assert seen == [admission.RUN_AT_ONCE]


def test_a_body_over_the_limit_or_without_an_end_is_left_to_the_app():
    seen = []
    assert post(b"x" * 50, seen, CONTENT_LENGTH="50") == b"x" * 50  # refused by Flask, 413
    assert post(b"x" * 5, seen) == b"x" * 5  # no length and no end: not read early
    assert post(b"x", seen, CONTENT_LENGTH="nonsense") == b"x"
    assert seen == [admission.RUN_AT_ONCE - 1] * 3  # read by the app, in its turn
