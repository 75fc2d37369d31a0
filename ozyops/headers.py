"""Response headers every page gets. Pages carry personal data and one-time secrets
(a recovery key), so nothing dynamic may be cached by the browser or a proxy."""

from flask import request


def init_app(app):
    app.after_request(_secure_headers)


def _secure_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
