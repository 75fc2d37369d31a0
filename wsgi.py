"""The WSGI entry point for production servers: `gunicorn -c gunicorn.conf.py wsgi:app`."""

import sys

from ozyops import create_app
from ozyops.config import ConfigError
from ozyops.security.secretbox import stored_secrets_unopened

try:
    app = create_app()
except ConfigError as error:
    problem = error.message
else:
    with app.app_context():
        problem = stored_secrets_unopened()
if problem:
    print(problem, file=sys.stderr)
    # N.B. 3 is gunicorn's "worker failed to boot": it stops, instead of starting worker
    # after worker that fails the same way.
    raise SystemExit(3)
