"""Settings for yikatong, read from environment variables through strict helpers.

With nothing set it runs for a newcomer: SQLite in var/, Celery tasks run eagerly, generated dev keys,
DEBUG off. DATABASE_URL and CELERY_BROKER_URL switch on PostgreSQL and Redis. See README "Configuration".
"""

from __future__ import annotations

import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from yikatong import devkeys
from yikatong.env import env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("YIKATONG_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)

# --- Secrets -----------------------------------------------------------------------------------
# Either all three come from the environment (production), or none do and the dev key file is used.
_SECRET_VARIABLES = {
    "SECRET_KEY": "DJANGO_SECRET_KEY",
    "PII_ENCRYPTION_KEYS": "PII_ENCRYPTION_KEYS",
    "PII_HASH_KEY": "PII_HASH_KEY",
}
_given = {name: env_str(variable) for name, variable in _SECRET_VARIABLES.items()}
if all(_given.values()):
    USING_DEV_KEYS = False
    _secrets = _given
elif not any(_given.values()):
    USING_DEV_KEYS = True
    _secrets = devkeys.load_or_create(VAR_DIR / "dev-keys.json")
else:
    missing = [_SECRET_VARIABLES[name] for name, value in _given.items() if not value]
    raise ImproperlyConfigured(f"Secrets are set only in part; also set: {', '.join(missing)}.")

SECRET_KEY = _secrets["SECRET_KEY"]
# "kid:base64key,kid2:base64key" — the first key encrypts, all of them decrypt (rotation).
PII_ENCRYPTION_KEYS = _secrets["PII_ENCRYPTION_KEYS"]
# Base64 key of the keyed hash (HMAC-SM3) used for exact lookup and uniqueness of ID/account numbers.
PII_HASH_KEY = _secrets["PII_HASH_KEY"]

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# --- Applications ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "axes",
    "csp",
    "pgtrigger",
    "org",
    "audit",
    "jobs",
    "policies",
    "recipients",
    "disbursement",
    "checks",
    "banks",
    "disclosure",
]

MIDDLEWARE = [
    "yikatong.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "yikatong.middleware.NoStoreMiddleware",
    # Inside the header middlewares so that its 413 carries them; before any view reads the body.
    "yikatong.middleware.UploadSizeLimitMiddleware",
    # Last, so that it sees the final user after authentication (django-axes' own advice).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "yikatong.urls"
WSGI_APPLICATION = "yikatong.wsgi.application"
ASGI_APPLICATION = "yikatong.asgi.application"
AUTH_USER_MODEL = "org.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- Database ----------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0), conn_health_checks=True
        )
    }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Serialise writers instead of failing at once when two requests write together.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache -------------------------------------------------------------------------------------
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("CACHE_URL must be a redis:// URL.")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
# No broker configured: run tasks in-process so the zero-setup platform still does its jobs.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"  # never used while eager; spares kombu looking for a broker on localhost
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "yikatong")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "Asia/Shanghai"
# A job whose heartbeat is older than this is stale: its worker is gone and it may be resumed.
JOB_STALE_AFTER_SECONDS = env_int("JOB_STALE_AFTER_SECONDS", 300, minimum=30)

# --- Authentication and security ---------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "org.backends.RoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Lock a username and, separately, an address after repeated failures (not the address only).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 30, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind a reverse proxy, the number of proxies whose X-Forwarded-For entries we trust (0 = none).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
AXES_CLIENT_IP_CALLABLE = "yikatong.net.client_ip"

# --- Public pages: rate limits and time limits (docs/disclosure.md) ----------------------------------
_RATE = re.compile(r"^[1-9][0-9]*/[1-9]?[0-9]*[smhd]$")


def _env_rate(name: str, default: str) -> str:
    value = env_str(name, default)
    if not _RATE.match(value):
        raise ImproperlyConfigured(f"{name} must look like 20/h or 3/10m, not {value!r}.")
    return value


# Counted on the shared cache by django-ratelimit, keyed by the true client address (see TRUSTED_PROXY_COUNT).
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "yikatong.net.client_ip"
PUBLIC_RATES = {
    # 个人补贴查询: per client address, a hard limit; past the softer one each lookup needs a solved challenge.
    "lookup_ip": _env_rate("LOOKUP_RATE_PER_IP", "30/h"),
    "lookup_challenge": _env_rate("LOOKUP_CHALLENGE_AFTER", "3/10m"),
    # Per ID number (its keyed hash), whoever asks: guessing names for one ID stops here.
    "lookup_id": _env_rate("LOOKUP_RATE_PER_ID", "10/d"),
    "complaint_ip": _env_rate("COMPLAINT_RATE_PER_IP", "5/h"),
    "complaint_status_ip": _env_rate("COMPLAINT_STATUS_RATE_PER_IP", "60/h"),
}
# Days a department has to answer a complaint or question from the public (受理后答复时限).
COMPLAINT_ANSWER_DAYS = env_int("COMPLAINT_ANSWER_DAYS", 15, minimum=1, maximum=90)

SESSION_COOKIE_AGE = env_int("SESSION_TIMEOUT_MINUTES", 30, minimum=5) * 60
SESSION_SAVE_EVERY_REQUEST = True  # idle timeout: every request extends the session
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

SECURE_HTTPS = env_bool("DJANGO_SECURE_HTTPS", not DEBUG and not USING_DEV_KEYS)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = SECURE_HTTPS and env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if SECURE_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
# Joining the browsers' preload list is a lasting commitment for the whole domain, made by its owner,
# not by this application; without it Django's deploy check warns, which we accept knowingly.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# Uploads: rosters can be large, but nothing larger than this is read at all (413 before parsing).
MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 100, minimum=1, maximum=2048)
ROSTER_MAX_ROWS = env_int("ROSTER_MAX_ROWS", 2_000_000, minimum=1)
# Memory one cross-check query may use for its hash joins (PostgreSQL work_mem, per rule transaction): a join of a
# million payments against a million registrations fits in memory instead of spilling to disk in batches.
CHECKS_WORK_MEM_MB = env_int("CHECKS_WORK_MEM_MB", 256, minimum=4, maximum=4096)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
FILE_UPLOAD_PERMISSIONS = 0o600
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
# The platform speaks Chinese to everyone, whatever language a browser asks for (no LocaleMiddleware).
LANGUAGES = [("zh-hans", _("简体中文"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- REST API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "yikatong.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "一卡通 yikatong API",
    "DESCRIPTION": "惠民惠农财政补贴资金“一卡通”发放平台 REST API (v1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Several models have a `status`: each choice set gets its own stable name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "PayoutStatusEnum": "disbursement.enums.PayoutStatus",
        "PaymentStatusEnum": "disbursement.enums.PaymentStatus",
        "BatchStatusEnum": "disbursement.enums.BatchStatus",
        "FindingStatusEnum": "checks.enums.FindingStatus",
        "CheckRunStatusEnum": "checks.enums.RunStatus",
        "ReferenceLoadStatusEnum": "checks.enums.LoadStatus",
        "RosterStatusEnum": "recipients.enums.RosterStatus",
    },
}

# --- Logging -----------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "yikatong.requestctx.RequestIdLogFilter"},
        "quiet_bank_polls": {"()": "yikatong.logfilters.QuietBankPolls"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
        "server": {"class": "logging.StreamHandler", "formatter": "server", "filters": ["quiet_bank_polls"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "axes": {"level": "WARNING"},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
    },
}

# --- Periodic work (celery beat) ---------------------------------------------------------------
CELERY_BEAT_SCHEDULE = {
    # A job whose worker died is sent to a worker again; claiming makes a double delivery harmless.
    "requeue-stale-jobs": {"task": "jobs.requeue_stale", "schedule": 60.0},
}
