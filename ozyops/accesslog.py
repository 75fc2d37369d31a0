"""gunicorn's access log, without the secrets that some requests carry.

SPEC §6: no code, secret, password or session id is ever written to a log. Two kinds of
URL carry a secret: a password link (`/set-password/<token>`, good for a day or three)
and a sign-in provider's callback (`?code=…&state=…`). Wherever one appears in a log line
(the request line, the path, the query, the Referer of the page after a link's form) its
secret part becomes "[redacted]"; cookies never appear at all. deploy/nginx.conf does the
same for the proxy's log.
"""

import re

from gunicorn.glogging import Logger, SafeAtoms

REDACTED = "[redacted]"
_CALLBACK = r"/login/[a-z]+/callback"  # a sign-in provider's way back (auth/views.py)
_SECRET_IN_URL = re.compile(rf"(/set-password/)[^/?#\s\"]+|({_CALLBACK}\?)[^\s\"#]+")
_QUERY = ("q", "{query_string}e")
_NEVER_LOGGED = ("{cookie}i", "{set-cookie}o", "{authorization}i", "{http_cookie}e")


def redact(text):
    """`text` with the secret part of every password link and provider callback replaced."""
    return _SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)


class RedactedAtoms(SafeAtoms):
    """The fields of one access-log line, each redacted as the log format asks for it (so
    a format that names few fields costs little)."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if key.lower() in _NEVER_LOGGED:
            return REDACTED
        if key.lower() in _QUERY and value not in ("", "-") and re.fullmatch(_CALLBACK, self["U"]):
            return REDACTED
        return redact(value) if isinstance(value, str) else value


class RedactingLogger(Logger):
    """gunicorn's logger, writing access-log lines through `RedactedAtoms`."""

    atoms_wrapper_class = RedactedAtoms
