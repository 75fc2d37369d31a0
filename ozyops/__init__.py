"""OzyOps: a self-hosted dashboard for small practices, with TOTP multi-factor sign-in."""

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def create_app(test_config=None):
    """Build the app: config, extensions, the server-side session, guards, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    from . import config

    config.load(app, test_config)
    if not app.logger.level:
        # N.B. without a mail server, security notifications are only in this log, at INFO,
        # which Python's default level (WARNING) would drop. A level the operator's logging
        # configuration sets on the "ozyops" logger wins.
        app.logger.setLevel(logging.INFO)

    from . import admission, cli, clock, errors, extensions, forms, headers, sessions
    from .auth import sso
    from .auth.views import bp as auth_bp
    from .main import bp as main_bp
    from .models import RowIdConverter
    from .security import guard, sudo
    from .security.views import bp as security_bp
    from .team.audit_log import bp as audit_bp
    from .team.views import bp as team_bp

    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # N.B. trust exactly as many X-Forwarded-* hops as there are proxies we run, so a
        # client cannot pick its own address for audit entries and rate limits.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.wsgi_app = admission.in_turns(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
    app.url_map.converters["id"] = RowIdConverter
    extensions.init_app(app)
    sso.init_app(app)
    sessions.init_app(app)
    guard.init_app(app)
    sudo.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    forms.init_app(app)
    clock.init_app(app)
    for bp in (main_bp, auth_bp, security_bp, team_bp, audit_bp):
        app.register_blueprint(bp)
    cli.init_app(app)
    return app
