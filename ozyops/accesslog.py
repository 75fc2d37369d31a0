"""gunicorn's access log, without the secrets that some requests carry.

SPEC §6: no code, secret, password or session id is ever written to a log. Two kinds of
URL carry a secret: a password link (`/set-password/<token>`, good for a day or three)
and a sign-in provider's callback (`?code=…&state=…`). Wherever one appears in a log line
(the request line, the path, the query, the Referer of the page after a link's form) its
secret part becomes "[redacted]"; cookies never appear at all. deploy/nginx.conf does the
same for the proxy's log.
"""

import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
_SECRET_IN_URL = re.compile(r"(/set-password/)[^/?#\s\"]+|(/login/[a-z]+/callback\?)[^\s\"#]+")
_CALLBACK = re.compile(r"/login/[a-z]+/callback")
_NEVER_LOGGED = ("{cookie}i", "{set-cookie}o", "{authorization}i", "{http_cookie}e")


def redact(text):
    """`text` with the secret part of every password link and provider callback replaced."""
    return _SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)


class RedactingLogger(Logger):
    """gunicorn's logger, its access-log fields passed through `redact` first."""

    def atoms(self, resp, req, environ, request_time):
        atoms = {
            key: redact(value) if isinstance(value, str) else value
            for key, value in super().atoms(resp, req, environ, request_time).items()
        }
        if _CALLBACK.fullmatch(environ.get("PATH_INFO", "")) and environ.get("QUERY_STRING"):
            atoms["q"] = atoms["{query_string}e"] = REDACTED
        for key in _NEVER_LOGGED:
            if key in atoms:
                atoms[key] = REDACTED
        return atoms
