"""Deploy checks of our own: `manage.py check --deploy` fails on a setup that is not fit for production."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_production_secrets(app_configs, **kwargs):
    problems = []
    if settings.USING_DEV_KEYS:
        problems.append(
            Error(
                "Secrets come from the generated developer key file.",
                hint="Set DJANGO_SECRET_KEY, PII_ENCRYPTION_KEYS and PII_HASH_KEY (or their *_FILE variants).",
                id="yikatong.E001",
            )
        )
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append(
            Error("Production runs on PostgreSQL.", hint="Set DATABASE_URL=postgres://…", id="yikatong.E002")
        )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        problems.append(
            Warning(
                "Celery tasks run eagerly inside web requests.",
                hint="Set CELERY_BROKER_URL=redis://…",
                id="yikatong.W001",
            )
        )
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        problems.append(
            Warning(
                "The cache is per process: rate limits and lockouts undercount across workers.",
                hint="Set CACHE_URL=redis://…",
                id="yikatong.W002",
            )
        )
    return problems
