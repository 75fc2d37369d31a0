"""Sign in with Google and Microsoft (OpenID Connect, via Authlib).

Authlib runs the authorization-code flow with PKCE (S256), a state bound to this browser's
server-side session, and a nonce; it validates the ID token's signature (the provider's
JWKS), issuer, audience, expiry and nonce. This module decides who that person is here:

- SSO only signs in people who already have an OzyOps user; it never creates one.
- The first time, the provider's *verified* email is matched (case-insensitively) to an
  active user and the identity (provider + subject) is linked to them. Afterwards only the
  subject is matched, so changing an email at the provider cannot take over anyone.
- Google: `email` counts only with `email_verified: true`.
- Microsoft: its `email` claim is not verified by Microsoft, and `preferred_username` (the
  UPN) is an admin-set, mutable name: in a multi-tenant app (`MICROSOFT_TENANT=common`)
  anyone can create a tenant whose user claims any address (the "nOAuth" takeover). So an
  email is trusted only with `email_verified` or `xms_edov` (email domain owner verified)
  true, or when MICROSOFT_TENANT names one tenant: the practice's own directory, whose
  addresses it controls. Then `email`, else an email-shaped `preferred_username`, is used.

The person still passes the same code step and enrolment guard as after a password.
"""

from authlib.integrations.flask_client import OAuth
from flask import current_app
from sqlalchemy import select, update

from .. import admission, audit, clock, links, notify
from ..accounts import find_user_by_email
from ..extensions import db
from ..models import SsoIdentity, User
from .signin import DEACTIVATED

PROVIDERS = {"google": "Google", "microsoft": "Microsoft"}
MULTI_TENANT = {"common", "organizations", "consumers"}


class SsoError(ValueError):
    """A failed SSO sign-in, with the message for the login page, a reason for the log and,
    when the attempt named one, the user (so it is in their practice's audit log)."""

    def __init__(self, message, reason, user=None):
        super().__init__(message)
        self.reason = reason
        self.user = user


def init_app(app):
    """One Authlib registry per app (kept in app.extensions), with the configured providers."""
    oauth = OAuth(app)
    app.extensions["ozyops.oauth"] = oauth
    config = app.config
    if config.get("GOOGLE_CLIENT_ID"):
        oauth.register(
            "google",
            client_id=config["GOOGLE_CLIENT_ID"],
            client_secret=config["GOOGLE_CLIENT_SECRET"],
            server_metadata_url=config["GOOGLE_METADATA_URL"],
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )
    if config.get("MICROSOFT_CLIENT_ID"):
        tenant = config["MICROSOFT_TENANT"] or "common"
        oauth.register(
            "microsoft",
            client_id=config["MICROSOFT_CLIENT_ID"],
            client_secret=config["MICROSOFT_CLIENT_SECRET"],
            server_metadata_url=config.get("MICROSOFT_METADATA_URL")
            or f"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )


def enabled(app):
    """The configured providers (key: name), in the order their buttons appear."""
    return {p: name for p, name in PROVIDERS.items() if app.config.get(f"{p.upper()}_CLIENT_ID")}


def client(provider):
    """The Authlib client for a configured provider, else None."""
    if provider not in PROVIDERS:
        return None
    admission.give_way()  # what the client does next goes to the provider, over the network
    return current_app.extensions["ozyops.oauth"].create_client(provider)


def claims_options(provider):
    """Issuer check. Microsoft's multi-tenant metadata says `…/{tenantid}/v2.0`: the
    token's own `tid` fills it in, so tokens from any tenant are checked exactly."""
    expected = client(provider).load_server_metadata().get("issuer", "")

    def issuer_ok(claims, value):
        return value == expected.replace("{tenantid}", str(claims.get("tid", "")))

    return {"iss": {"essential": True, "validate": issuer_ok}}


def verified_email(provider, claims, tenant):
    """The email this provider vouches for, or None (see the module docstring)."""
    if provider == "google":
        return claims.get("email") if claims.get("email_verified") is True else None
    trusted = (
        claims.get("email_verified") is True
        or claims.get("xms_edov") in (True, 1, "1", "true")
        or (tenant or "common").lower() not in MULTI_TENANT
    )
    if not trusted:
        return None
    email = claims.get("email") or claims.get("preferred_username") or ""
    return email if "@" in email else None


def _no_one_uses(name, email):
    return SsoError(
        f"No one in OzyOps uses the {name} address {email}. Ask your practice's owner to add "
        "you, or log in with your email and password.",
        "unknown_email",
    )


def resolve(provider, claims, tenant=None):
    """The user these ID-token claims sign in, linking the identity on first use."""
    name = PROVIDERS[provider]
    subject = str(claims.get("sub") or "")
    if not subject:
        raise SsoError(f"{name} did not say who you are. Try again.", "no_subject")
    link = db.session.scalar(
        select(SsoIdentity).where(SsoIdentity.provider == provider, SsoIdentity.subject == subject)
    )
    linked_now = link is None  # the first sign-in with this identity links it
    if link is not None:
        user = link.user
    else:
        email = verified_email(provider, claims, tenant)
        if email is None:
            raise SsoError(
                f"Your {name} account's email address is not verified, so it cannot be used "
                "to sign in here. Log in with your email and password.",
                "unverified_email",
            )
        user = find_user_by_email(email)
        if user is None:
            raise _no_one_uses(name, email)
        taken = db.session.scalar(
            select(SsoIdentity).where(
                SsoIdentity.user_id == user.id, SsoIdentity.provider == provider
            )
        )
        if taken is not None:
            raise SsoError(
                f"Your OzyOps sign-in is linked to a different {name} account.",
                "other_subject",
                user,
            )
        link = SsoIdentity(
            user_id=user.id,
            provider=provider,
            subject=subject,
            email=email.lower(),
            created_at=clock.utcnow(),
        )
        db.session.add(link)
        # N.B. linked only while the row still has this email, decided on the row: an owner
        # correcting a mistyped invitation at this moment either changed it first (then no
        # one is signed in here) or waits for this link and is refused (members.py).
        if not db.session.execute(
            update(User)
            .where(User.id == user.id, User.email == user.email)
            .values(email=user.email)
        ).rowcount:
            db.session.rollback()
            raise _no_one_uses(name, email)
        audit.record("sso_linked", actor=user, target=user, provider=provider)
    if not user.active:
        db.session.rollback()
        raise SsoError(DEACTIVATED, "inactive", user)
    now = clock.utcnow()
    if not user.joined:
        # N.B. someone invited is joining now: their invitation, or a first-password link
        # made for them, still in a mailbox, would otherwise let whoever holds it set a
        # password and sign in as them. (As a new password ends every link.)
        links.end_unused(user, now)
    link.last_used_at = now
    db.session.commit()
    if linked_now:
        notify.send(user, "sso_linked", provider=name)
    return user


def identities(user):
    return db.session.scalars(
        select(SsoIdentity).where(SsoIdentity.user_id == user.id).order_by(SsoIdentity.provider)
    ).all()


def unlink(user, identity_id):
    """Remove one linked identity, unless it is the user's last way to sign in."""
    link = db.session.get(SsoIdentity, identity_id)
    if link is None or link.user_id != user.id:
        return None
    if not user.password_hash and len(identities(user)) == 1:
        raise SsoError("This is your only way to sign in, so it cannot be removed.", "last")
    db.session.delete(link)
    audit.record("sso_unlinked", actor=user, target=user, provider=link.provider)
    db.session.commit()
    notify.send(user, "sso_unlinked", provider=PROVIDERS[link.provider])
    return link
