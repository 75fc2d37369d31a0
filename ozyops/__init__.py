"""OzyOps: a self-hosted dashboard for small practices, with TOTP multi-factor sign-in."""

from flask import Flask


def create_app(test_config=None):
    """Build the app: config, extensions, the server-side session, guards, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    from . import config

    config.load(app, test_config)

    from . import cli, errors, extensions, headers, sessions
    from .auth import sso
    from .auth.views import bp as auth_bp
    from .main import bp as main_bp
    from .security import guard, sudo
    from .security.views import bp as security_bp
    from .team.audit_log import bp as audit_bp
    from .team.views import bp as team_bp

    extensions.init_app(app)
    sso.init_app(app)
    app.session_interface = sessions.ServerSessionInterface()
    guard.init_app(app)
    sudo.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    for bp in (main_bp, auth_bp, security_bp, team_bp, audit_bp):
        app.register_blueprint(bp)
    cli.init_app(app)
    return app
