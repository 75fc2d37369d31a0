"""Turns: how many requests of one worker process run at once.

A worker has many threads (gunicorn.conf.py) so that requests that are only waiting, for
a password hash, an email server or a sign-in provider, keep no one else out. But Python
runs one thread at a time: a dozen requests running at once take turns every few
milliseconds, all of them finish later, and the unlucky ones much later. So at most
RUN_AT_ONCE requests of a process run at once; the others wait for a turn, in order of
arrival.

A request about to wait on something slow calls `give_way()`: its turn passes to the next
request, and it finishes without taking one again. N.B. it must not wait for one again:
by then it may hold database locks that a request with a turn is waiting for.
"""

import io
import threading

RUN_AT_ONCE = 4
_turns = threading.Semaphore(RUN_AT_ONCE)
_mine = threading.local()


def in_turns(wsgi_app, body_limit=64 * 1024):
    """`wsgi_app`, with each request waiting for a turn before it runs, its body read first."""

    def run_in_turn(environ, start_response):
        _read_body_first(environ, body_limit)
        _turns.acquire()
        _mine.turn = True
        try:
            return wsgi_app(environ, start_response)
        finally:
            give_way()

    return run_in_turn


def give_way():
    """Pass this request's turn to the next one, for the rest of this request."""
    if getattr(_mine, "turn", False):
        _mine.turn = False
        _turns.release()


def _read_body_first(environ, limit):
    """Read a request's body before it waits for a turn.

    N.B. a body sent slowly, by a phone on a poor line or on purpose, was read by the app
    while it held one of the worker's few turns: four posts that never finished their
    bodies stopped every other request, pages of people signed in and /healthz included
    (found by a security review). A thread waiting for the bytes holds no turn. Up to
    `limit` bytes and one more, so the app still refuses a larger body (413); a declared
    length over `limit` is refused unread, as before."""
    if environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD", "OPTIONS"):
        return
    stream = environ.get("wsgi.input")
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        return  # the app says what is wrong with it
    if stream is None or length > limit:
        return
    if length < 0 and not environ.get("wsgi.input_terminated"):
        return  # no length and a server that does not end the stream: nothing to read
    environ["wsgi.input"] = io.BytesIO(stream.read(length if length >= 0 else limit + 1))
