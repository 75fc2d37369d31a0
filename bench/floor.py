# ruff: noqa: E501 (the templates are HTML, kept close to the app's own)
"""The floor: a bare Flask app with the sign-in flow's request shape and nothing else.

Same routes, methods, statuses, redirects and cookie as OzyOps, pages of about the same
size rendered from Jinja templates, but no database, no password hashing, no CSRF, no
sessions. Served by bench/run.py under the repo's gunicorn.conf.py, so whatever OzyOps
costs above this is the app's own overhead.

    gunicorn -c gunicorn.conf.py --chdir bench floor:app
"""

import secrets

from flask import Flask, redirect, render_template, request
from jinja2 import DictLoader

COOKIE = "ozyops_session"

# Pages of about the size of OzyOps's own (bench/run.py prints both sizes).
TEMPLATES = {
    "base.html": """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="csrf-token" content="{{ token }}">
  <title>{% block title %}{% endblock %} · Floor</title>
  <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true,"historyCacheSize":0,"refreshOnHistoryMiss":true,"responseHandling":[{"code":"204","swap":false},{"code":"[2345]..","swap":true}]}'>
  <link rel="stylesheet" href="/static/app.css">
  <script src="/static/vendor/htmx-2.0.11.min.js" defer></script>
</head>
<body hx-headers='{"X-CSRFToken": "{{ token }}"}'>
  <a class="skip" href="#main">Skip to content</a>
  <header class="topbar"><a class="brand" href="/">Floor</a>
  {% if signed_in %}<nav aria-label="Main"><a href="/dashboard" aria-current="page">Dashboard</a>
  <a href="/settings">Settings</a><form method="post" action="/logout" class="inline">
  <input type="hidden" name="csrf_token" value="{{ token }}"><button type="submit" class="link">Log out</button>
  </form></nav>{% endif %}
  </header>
  <main id="main"><div id="alerts" aria-live="polite"></div>{% block content %}{% endblock %}</main>
  {% if signed_in %}<dialog id="idle-warning" aria-labelledby="idle-warning-title" aria-describedby="idle-warning-text"
    data-idle-seconds="43200" data-login="/login"><h2 id="idle-warning-title">Are you still there?</h2>
  <p id="idle-warning-text">Nothing has happened here for a while. To keep your practice's information private, you will be signed out at <strong data-idle-at></strong> unless you stay.</p>
  <div class="button-row"><form method="post" action="/stay-signed-in" hx-post="/stay-signed-in" hx-swap="none">
  <input type="hidden" name="csrf_token" value="{{ token }}"><button type="submit" class="primary">Stay signed in</button></form>
  <form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{ token }}"><button type="submit">Log out</button></form></div>
  </dialog>{% endif %}
</body>
</html>
""",
    "login.html": """{% extends "base.html" %}{% block title %}Log in{% endblock %}
{% block content %}<section class="card narrow"><h1>Log in</h1>
<form method="post" action="/login">
<input id="csrf_token" name="csrf_token" type="hidden" value="{{ token }}"><input id="next" name="next" type="hidden" value="">
<div class="field"><label for="email">Email</label>
<input autocomplete="username" autofocus id="email" name="email" required spellcheck="false" type="email" value=""></div>
<div class="field"><label for="password">Password</label>
<input autocomplete="current-password" id="password" name="password" required type="password" value=""></div>
<button type="submit" class="primary">Log in</button></form>
</section>{% endblock %}""",
    "mfa.html": """{% extends "base.html" %}{% block title %}Authentication code{% endblock %}
{% block content %}<section class="card narrow"><h1>Enter your authentication code</h1>
<p>Open the authenticator app on your phone and enter the 6-digit code it shows.</p>
<form method="post" action="/login/mfa">
<input id="csrf_token" name="csrf_token" type="hidden" value="{{ token }}">
<div class="field"><label for="code">Authentication code</label>
<input autocomplete="one-time-code" autofocus id="code" inputmode="numeric" maxlength="20" name="code" pattern="[0-9 \\-]*" required spellcheck="false" type="text" value=""></div>
<button type="submit" class="primary">Verify</button></form>
<p class="aside">Lost your phone? <a href="/login/recovery">Use Recovery Key</a></p>
<p class="aside"><a href="/login">Start again with a different account</a></p>
</section>{% endblock %}""",
    "dashboard.html": """{% extends "base.html" %}{% block title %}Dashboard{% endblock %}
{% block content %}<h1>{{ account }}</h1>
<p>Signed in as <strong>{{ name }}</strong> (member).</p>{% endblock %}""",
}

app = Flask(__name__)
app.jinja_loader = DictLoader(TEMPLATES)


def _token():
    return secrets.token_urlsafe(64)


def _page(template, **context):
    response = app.make_response(render_template(template, token=_token(), **context))
    response.headers["Cache-Control"] = "no-store"
    return response


def _to(location):
    """A 303 that sets a fresh session cookie, as OzyOps does at both steps."""
    response = redirect(location, code=303)
    response.set_cookie(COOKIE, secrets.token_urlsafe(32), httponly=True, samesite="Lax")
    return response


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/login")
def login_page():
    return _page("login.html")


@app.post("/login")
def login():
    if not (request.form.get("email") and request.form.get("password")):
        return _page("login.html"), 422
    return _to("/login/mfa")


@app.get("/login/mfa")
def mfa_page():
    return _page("mfa.html")


@app.post("/login/mfa")
def mfa():
    if not request.form.get("code"):
        return _page("mfa.html"), 422
    return _to("/dashboard")


@app.get("/dashboard")
def dashboard():
    if COOKIE not in request.cookies:
        return redirect("/login", code=303)
    return _page("dashboard.html", signed_in=True, account="Bench Law LLP", name="Bench User")
