"""Response headers every response gets, and request input no field can hold.

Pages carry personal data and one-time secrets (a recovery key), so nothing dynamic may be
cached. The Content-Security-Policy allows only this site's own scripts and styles: there
is no inline script or style anywhere, and htmx is configured (base.html) to need no eval
and to inject no indicator styles.
"""

from flask import abort, request

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
# Every response gets these unless it set its own.
DEFAULTS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": PERMISSIONS,
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app):
    app.before_request(_reject_unstorable_input)
    app.after_request(_secure_headers)


def _reject_unstorable_input():
    """N.B. a NUL byte fits no field and PostgreSQL refuses it in text: turn it away at the
    door with a 400, rather than as a database error in whichever view meets it first."""
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400)


def _secure_headers(response):
    headers = response.headers
    # N.B. not Headers.setdefault: it scans the list twice per header and builds an
    # exception for each one missing: 2.6% of a sign-in's instructions (bench/instructions.py).
    present = set(headers.keys(lower=True))
    for key, value in DEFAULTS.items():
        if key.lower() not in present:
            headers.add(key, value)
    if request.endpoint != "static":  # pages, the audit log's CSV, redirects, errors
        headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
