"""gunicorn's access log, without the secrets that some requests carry.

SPEC §6: no code, secret, password or session id is ever written to a log. Two kinds of
URL carry a secret: a password link (`/set-password/<token>`, good for a day or three)
and a sign-in provider's callback (`?code=…&state=…`). Wherever one appears in a log line
(the request line, the path, the query, the Referer of the page after a link's form) its
secret part becomes "[redacted]"; cookies never appear at all. deploy/nginx.conf does the
same for the proxy's log.

N.B. the fields are worked out only when the log format names them. gunicorn builds every
request header, response header and environ variable into a dict for each line, and
copies it to quote it: about 3% of a whole sign-in's server instructions, and 12% of the
bare-Flask floor's (bench/README.md, bench/instructions.py). The fields and their quoting
are gunicorn's (`Logger.atoms`, `SafeAtoms`).
"""

import os
import re
from collections.abc import Mapping

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
_CALLBACK = r"/login/[a-z]+/callback"  # a sign-in provider's way back (auth/views.py)
# A link's path may also travel percent-encoded, in a query (?next=%2Fset-password%2F…).
_SECRET_IN_URL = re.compile(
    rf"(/set-password/|%2Fset-password%2F)[^/?#&%\s\"]+|({_CALLBACK}\?)[^\s\"#]+", re.IGNORECASE
)
_QUERY = ("q", "{query_string}e")
_NEVER_LOGGED = ("{cookie}i", "{set-cookie}o", "{authorization}i", "{http_cookie}e")


def redact(text):
    """`text` with the secret part of every password link and provider callback replaced."""
    return _SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)


def _sent(f):
    return getattr(f.resp, "sent", None)


_FIELDS = {
    "h": lambda f: f.environ.get("REMOTE_ADDR", "-"),
    "l": lambda f: "-",
    "u": lambda f: f.logger._get_user(f.environ) or "-",
    "t": lambda f: f.logger.now(),
    "r": lambda f: "{REQUEST_METHOD} {RAW_URI} {SERVER_PROTOCOL}".format_map(f.environ),
    "s": lambda f: (
        f.resp.status.split(None, 1)[0] if isinstance(f.resp.status, str) else f.resp.status
    ),
    "m": lambda f: f.environ.get("REQUEST_METHOD"),
    "U": lambda f: f.environ.get("PATH_INFO"),
    "q": lambda f: f.environ.get("QUERY_STRING"),
    "H": lambda f: f.environ.get("SERVER_PROTOCOL"),
    "b": lambda f: "-" if _sent(f) is None else str(_sent(f)),
    "B": _sent,
    "f": lambda f: f.environ.get("HTTP_REFERER", "-"),
    "a": lambda f: f.environ.get("HTTP_USER_AGENT", "-"),
    "T": lambda f: f.took.seconds,
    "D": lambda f: f.took.seconds * 1_000_000 + f.took.microseconds,
    "M": lambda f: f.took.seconds * 1000 + f.took.microseconds // 1000,
    "L": lambda f: f"{f.took.seconds}.{f.took.microseconds:06d}",
    "p": lambda f: f"<{os.getpid()}>",
}


class RedactedAtoms(Mapping):
    """The fields of one access-log line, each looked up, quoted and redacted only when the
    format asks for it. A field no request has is "-", as in gunicorn."""

    def __init__(self, logger, resp, req, environ, took):
        self.logger, self.resp, self.req = logger, resp, req
        self.environ, self.took = environ, took

    def __getitem__(self, key):
        kl = key.lower()
        if kl in _NEVER_LOGGED:
            return REDACTED
        value = self._field(key, kl)
        if kl in _QUERY and value not in ("", "-", None) and re.fullmatch(_CALLBACK, self["U"]):
            return REDACTED
        return redact(value.replace('"', '\\"')) if isinstance(value, str) else value

    def _field(self, key, kl):
        if key in _FIELDS:
            return _FIELDS[key](self)
        name, kind = kl[1:-2], kl[-1:]
        if not (kl.startswith("{") and kl[-2:-1] == "}" and kind in "ioe"):
            return "-"
        pairs = self.environ if kind == "e" else self.req if kind == "i" else self.resp
        # N.B. as gunicorn reads them: a request may be its headers (the gevent worker's),
        # and headers may be a mapping or a list of pairs.
        pairs = getattr(pairs, "headers", pairs)
        pairs = pairs.items() if hasattr(pairs, "items") else pairs
        value = "-"
        for k, v in pairs:  # N.B. the last of a repeated header, as in gunicorn
            if k.lower() == name:
                value = v
        return value

    def __iter__(self):
        return iter(_FIELDS)

    def __len__(self):
        return len(_FIELDS)


class RedactingLogger(Logger):
    """gunicorn's logger, writing access-log lines through `RedactedAtoms`."""

    def atoms(self, resp, req, environ, request_time):
        return RedactedAtoms(self, resp, req, environ, request_time)

    def atoms_wrapper_class(self, atoms):
        """gunicorn wraps the atoms to quote them; these quote themselves."""
        return atoms
