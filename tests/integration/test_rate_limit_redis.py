"""With REDIS_URL set, two app processes share one per-address sign-in budget.
Needs the Redis at OZYOPS_TEST_REDIS_URL (skipped outside CI when it is not there)."""

import os
import uuid

import flask_migrate
import pytest
import redis
from cryptography.fernet import Fernet

from ozyops import create_app
from ozyops.extensions import db
from tests.conftest import Browser

REDIS_URL = os.environ.get("OZYOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no Redis at {REDIS_URL}")
    return REDIS_URL


@pytest.mark.redis
def test_two_instances_count_sign_in_posts_together(tmp_path, clock, redis_url):
    config = {
        "TESTING": True,
        "SECRET_KEY": "s",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path}/shared.sqlite",
        "CLOCK": clock,
        "REDIS_URL": redis_url,
        "LOGIN_RATE_LIMIT": "4 per minute",
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    first, second = create_app(config), create_app(dict(config))
    with first.app_context():
        db.create_all()
    browsers = [Browser(first.test_client(), clock), Browser(second.test_client(), clock)]
    statuses = []
    for i in range(5):
        b = browsers[i % 2]
        statuses.append(
            b.post("/login", {"email": "a@example.com", "password": "x"}, page="/login").status_code
        )
    assert statuses == [422, 422, 422, 422, 429]
    with first.app_context():
        flask_migrate.stamp()  # the schema is this version's: /healthz answers for the store
    assert browsers[0].get("/healthz").json == {"status": "ok"}
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()
