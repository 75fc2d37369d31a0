"""The only code that reads HX-* headers: partial-or-page rendering and htmx-aware redirects."""

import json

from flask import make_response, redirect, render_template, request


def _from_htmx():
    """Any request htmx made, boosted navigations included."""
    return request.headers.get("HX-Request") == "true"


def is_htmx():
    """A targeted htmx request (not a boosted navigation, which wants a whole page)."""
    return _from_htmx() and not request.headers.get("HX-Boosted")


def render(page, partial, /, status=200, announce=None, **context):
    """Render `partial` alone for htmx requests and `page` (which includes it) otherwise.
    `status` is the HTTP status; every other keyword goes to the template.

    `announce`: a sentence for screen readers when the part is swapped in ("3 members
    match"). N.B. a live region swapped in with the part is new to the page, and a new one
    is not read out: base.html keeps one that stays, which app.js fills from this event."""
    response = make_response(render_template(partial if is_htmx() else page, **context), status)
    response.vary.add("HX-Request")
    if announce and is_htmx():
        response.headers["HX-Trigger"] = json.dumps({"ozyops:announce": announce})
    return response


def matching(count, one, many):
    """ "No members match.", "1 member matches.", "3 members match.": for `announce`."""
    if count == 0:
        return f"No {many} match."
    return f"1 {one} matches." if count == 1 else f"{count} {many} match."


def redirect_to(url, code=303):
    """A redirect (303 unless `code` says otherwise) for browsers; `HX-Redirect` for htmx,
    whose XHR would follow a 3xx and swap the page it finds into the target."""
    if _from_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=code)


def page_url():
    """The URL of the page the person is on: for htmx, the page that asked (HX-Current-URL),
    not the part of it that was asked for."""
    if _from_htmx():
        return request.headers.get("HX-Current-URL") or request.url
    return request.url
