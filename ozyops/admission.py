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

import threading

RUN_AT_ONCE = 4
_turns = threading.Semaphore(RUN_AT_ONCE)
_mine = threading.local()


def in_turns(wsgi_app):
    """`wsgi_app`, with each request waiting for a turn before it runs."""

    def run_in_turn(environ, start_response):
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
