"""Shared fixtures: the standing cast of actors, service requirements, and test-wide settings."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

from org.enums import RegionLevel, Role
from tests.factories import TEST_PASSWORD, DepartmentFactory, RegionFactory, UserFactory

pytest_plugins = ["tests.payout_fixtures"]

REQUIRE_SERVICES = os.environ.get("YIKATONG_REQUIRE_SERVICES") == "1"


def _redis_reachable() -> bool:
    url = settings.CELERY_BROKER_URL
    if not url or not url.startswith("redis"):
        return False
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _missing_service(marker: str) -> str | None:
    if marker == "postgres" and settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "needs PostgreSQL: set DATABASE_URL (make test finds a local one by itself)"
    if marker == "redis" and not _redis_reachable():
        return "needs Redis: set CELERY_BROKER_URL (make test finds a local one by itself)"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker in ("postgres", "redis"):
            if item.get_closest_marker(marker) is None:
                continue
            reason = _missing_service(marker)
            if reason is None:
                continue
            if REQUIRE_SERVICES:
                # CI must run the whole suite: a missing service is a failure, never a quiet skip.
                item.add_marker(pytest.mark.usefixtures("_service_unavailable_in_ci"))
                item.user_properties.append(("missing_service", reason))
            else:
                item.add_marker(pytest.mark.skip(reason=f"DID NOT RUN — {reason}"))


@pytest.fixture
def _service_unavailable_in_ci(request):
    reasons = [value for key, value in request.node.user_properties if key == "missing_service"]
    pytest.fail(f"CI requires every service: {'; '.join(reasons)}")


@pytest.fixture(scope="session", autouse=True)
def _flush_past_audit_protection():
    """Transactional tests end with a flush, which the protecting triggers refuse; lift them all for it, and put
    back the rows data migrations install (rules, reference sources, failure reasons)."""
    from django.core.management.commands import flush

    from tests.db_helpers import all_protection_lifted

    original = flush.Command.handle

    def handle(self, *args, **options):
        from banks import defaults as banks_defaults
        from checks import defaults as checks_defaults
        from disbursement import defaults as disbursement_defaults

        with all_protection_lifted():
            result = original(self, *args, **options)
        # A flush also empties what data migrations installed; later tests expect it as a fresh database has it.
        checks_defaults.install()
        disbursement_defaults.install()
        banks_defaults.install()
        return result

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # Templates resolve static paths without a collectstatic manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.SECURE_SSL_REDIRECT = False
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        # Parallel workers share one Redis database: each keeps its own keys (rate-limit counters above all).
        settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": worker}}


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Tasks run in-process unless a test starts a real worker (tests/jobs/test_celery_worker.py)."""
    from yikatong.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fresh_cache(_test_settings):
    from django.core.cache import cache

    prefix = cache.key_prefix
    if prefix and hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):
        # Only this worker's keys: FLUSHDB would empty the other workers' counters in the middle of their tests.
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
    else:
        cache.clear()
    yield


# --- The standing cast -------------------------------------------------------------------------


@pytest.fixture
def county(db):
    return RegionFactory(code="410103", name="二七区", level=RegionLevel.COUNTY)


@pytest.fixture
def township(county):
    return RegionFactory(code="410103015", name="侯寨街道", level=RegionLevel.TOWNSHIP, parent=county)


@pytest.fixture
def other_township(county):
    return RegionFactory(code="410103100", name="马寨镇", level=RegionLevel.TOWNSHIP, parent=county)


@pytest.fixture
def department_a(db):
    return DepartmentFactory(code="mz", name="二七区民政局", short_name="民政")


@pytest.fixture
def department_b(db):
    return DepartmentFactory(code="nync", name="二七区农业农村工作委员会", short_name="农业农村")


@pytest.fixture
def clerk_a(department_a):
    return UserFactory(username="clerk_a", role=Role.DEPARTMENT_CLERK, department=department_a)


@pytest.fixture
def reviewer_a(department_a):
    return UserFactory(username="reviewer_a", role=Role.DEPARTMENT_REVIEWER, department=department_a)


@pytest.fixture
def outsider(department_b):
    """A clerk of department B: the person every permission test keeps out."""
    return UserFactory(username="clerk_b", role=Role.DEPARTMENT_CLERK, department=department_b)


@pytest.fixture
def township_clerk(department_a, township):
    return UserFactory(username="township_clerk", role=Role.TOWNSHIP_CLERK, department=department_a, region=township)


@pytest.fixture
def finance_admin(db):
    return UserFactory(username="finance_admin", role=Role.FINANCE_ADMIN)


@pytest.fixture
def finance_reviewer(db):
    return UserFactory(username="finance_reviewer", role=Role.FINANCE_REVIEWER)


@pytest.fixture
def auditor(db):
    return UserFactory(username="auditor", role=Role.AUDITOR)


@pytest.fixture
def bank_user(db):
    return UserFactory(username="bank_ccb", role=Role.BANK, is_staff=False)


@pytest.fixture
def password():
    return TEST_PASSWORD


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login
