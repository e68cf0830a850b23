"""Settings come from the environment (12-factor); every variable is listed in README.md and .env.example.

Development runs on embedded defaults (SQLite and a filesystem broker under ./var/). Production
(`DJANGO_ENV=production`, or `DEBUG=false`) has no insecure default: secrets must be given.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BYOK_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from exc


DJANGO_ENV = os.environ.get("DJANGO_ENV", "development")
DEBUG = env_bool("DEBUG", DJANGO_ENV != "production")
PRODUCTION = DJANGO_ENV == "production" or not DEBUG


def development_secret(name: str, filename: str, generate) -> str:
    """A secret from the environment; in development generated once into ./var/ and reused."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set in production (DJANGO_ENV=production or DEBUG=false).")
    path = VAR_DIR / filename
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate())
    return path.read_text().strip()


def generate_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


SECRET_KEY = development_secret("SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(50))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "accounts",
    "byok",
]

MIDDLEWARE = [
    "byok_project.request_context.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # Serves the collected static files (admin, API docs) from the app server; runserver does it in development.
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "byok_project.urls"
WSGI_APPLICATION = "byok_project.wsgi.application"

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
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while the other writes; with WAL, synchronous=NORMAL is
    # crash-safe and saves an fsync per commit (a usage record is written on every LLM call).
    # IMMEDIATE: a transaction takes the write lock when it starts, so a read-then-write never fails midway with
    # "database is locked" when another process (the worker) writes at the same moment; it waits instead.
    DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                                       "timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so tests can prove behaviour across processes (two resolvers, a worker subprocess);
    # one per test run, so concurrent runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    VAR_DIR.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Cache shared by every process: Redis when configured, else the database (never a process-local dict,
# which would hide state such as circuit breakers from the other processes).
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "byok_cache"}}

# --- Security (production) -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- Email ------------------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "byok <byok@localhost>")

# --- REST API ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "byok_project.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "byok_project.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "byok API",
    "DESCRIPTION": "Bring your own provider keys: workspaces, provider keys, connection tests and LLM routing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: the docs work with no internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"CredentialSourceEnum": "byok.models.usage.UsageRecord.Source"},
}

# --- Celery -----------------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    # kombu's filesystem transport needs no server and works across processes on one machine.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    _results_dir = VAR_DIR / "celery-results"
    _results_dir.mkdir(parents=True, exist_ok=True)
    CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or f"file://{_results_dir}"
else:
    CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or CELERY_BROKER_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- Logging ----------------------------------------------------------------------------------------------
DEFAULT_EXCEPTION_REPORTER_FILTER = "byok_project.logging.AlwaysFilteringExceptionReporter"
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "byok_project.logging.RequestContextFilter"},
        # Last line of defence: anything shaped like a credential is redacted before a handler writes it.
        "redact": {"()": "byok_project.logging.RedactingFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "byok_project.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # The SDKs' HTTP clients log every request at INFO: noise in our logs, not information.
        "httpx2": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
    },
}

# --- byok -------------------------------------------------------------------------------------------------
# Fernet keys, comma-separated: the first encrypts, all decrypt. Independent of SECRET_KEY. In production they
# must be given (the system check byok.E001 stops start-up otherwise); in development one is generated into ./var/.
BYOK_ENCRYPTION_KEYS = (
    env_list("BYOK_ENCRYPTION_KEYS")
    if PRODUCTION
    else [k.strip() for k in development_secret("BYOK_ENCRYPTION_KEYS", "encryption_keys", generate_fernet_key).split(",")]
)
# Provider endpoints: unset means the real providers. BYOK_BEDROCK_ENDPOINT_URL, BYOK_STS_ENDPOINT_URL and
# BYOK_<PROVIDER>_BASE_URL (ANTHROPIC, OPENAI, MISTRAL, DEEPSEEK, XAI, ZAI). Any set = sandbox mode.
BYOK_ENDPOINTS = {
    name: value.rstrip("/")
    for name, value in os.environ.items()
    if value and (name in {"BYOK_BEDROCK_ENDPOINT_URL", "BYOK_STS_ENDPOINT_URL"} or
                  (name.startswith("BYOK_") and name.endswith("_BASE_URL")))
}
BYOK_CONNECTION_TEST_TIMEOUT = float(os.environ.get("BYOK_CONNECTION_TEST_TIMEOUT", "10"))
BYOK_LLM_TIMEOUT = float(os.environ.get("BYOK_LLM_TIMEOUT", "60"))
# Connection tests per user and per owner: an open test endpoint is an oracle for stolen keys.
BYOK_CONNECTION_TEST_RATE = os.environ.get("BYOK_CONNECTION_TEST_RATE", "10/min")
# Platform credentials: used when a workspace has no usable BYOK key (and for fallback). Each is optional;
# a call that needs one that is missing fails with platform_credentials_missing.
PLATFORM_CREDENTIALS = {
    "bedrock": {
        "access_key_id": os.environ.get("PLATFORM_AWS_ACCESS_KEY_ID", ""),
        "secret_access_key": os.environ.get("PLATFORM_AWS_SECRET_ACCESS_KEY", ""),
        "session_token": os.environ.get("PLATFORM_AWS_SESSION_TOKEN", ""),
        "region": os.environ.get("PLATFORM_AWS_REGION", "us-east-1"),
        "inference_profile": os.environ.get("PLATFORM_BEDROCK_INFERENCE_PROFILE", "us"),
    },
    **{
        provider: {"api_key": os.environ.get(f"PLATFORM_{provider.upper()}_API_KEY", "")}
        for provider in ("anthropic", "openai", "mistral", "deepseek", "xai", "zai")
    },
}
# The provider family a call uses when the caller names none and the owner has no key.
BYOK_DEFAULT_FAMILY = os.environ.get("BYOK_DEFAULT_FAMILY", "bedrock")
# After a failure that will repeat (credentials, permission, expiry), BYOK is skipped this long before one probe.
BYOK_BREAKER_COOLDOWN_SECONDS = env_int("BYOK_BREAKER_COOLDOWN_SECONDS", 300)
BYOK_DEMO_PASSWORD = os.environ.get("BYOK_DEMO_PASSWORD", "byok-demo-2026")
BYOK_REQUIRE_SERVICES = env_bool("BYOK_REQUIRE_SERVICES", False)

# --- Audit trail: shipping, webhook, sweep schedule -----------------------------------------------------------
# Every audit event is shipped as one JSON line to the `byok.audit` logger and, when set, POSTed to this URL,
# signed with HMAC-SHA256 of the body under BYOK_AUDIT_WEBHOOK_SECRET (header X-BYOK-Signature: sha256=<hex>).
BYOK_AUDIT_WEBHOOK_URL = os.environ.get("BYOK_AUDIT_WEBHOOK_URL", "").strip()
BYOK_AUDIT_WEBHOOK_SECRET = os.environ.get("BYOK_AUDIT_WEBHOOK_SECRET", "").strip()
if BYOK_AUDIT_WEBHOOK_URL and not BYOK_AUDIT_WEBHOOK_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("BYOK_AUDIT_WEBHOOK_URL must be an http(s) URL.")
if BYOK_AUDIT_WEBHOOK_URL and not BYOK_AUDIT_WEBHOOK_SECRET:
    raise ImproperlyConfigured("BYOK_AUDIT_WEBHOOK_SECRET must be set when BYOK_AUDIT_WEBHOOK_URL is.")
# The sweep ships what lost tasks or a broker outage left behind, once older than the grace period (younger events
# are the business of the task queued at their commit). django-celery-beat's DatabaseScheduler copies
# this entry into the database at beat start, where staff see and change it. Stale sweeps expire, not pile up.
BYOK_AUDIT_SWEEP_GRACE_SECONDS = env_int("BYOK_AUDIT_SWEEP_GRACE_SECONDS", 10)
CELERY_BEAT_SCHEDULE = {
    "byok-audit-sweep": {"task": "byok.tasks.audit_sweep", "schedule": 60.0, "options": {"expires": 55}},
    # Session refresh and credential expiry (settings in the block below).
    "byok-refresh-due-sessions": {"task": "byok.tasks.refresh_due_sessions", "schedule": 300.0,
                                  "options": {"expires": 290}},
    "byok-expire-credentials": {"task": "byok.tasks.expire_credentials", "schedule": 300.0,
                                "options": {"expires": 290}},
    "byok-notify-expiring-credentials": {"task": "byok.tasks.notify_expiring_credentials",
                                         "schedule": crontab(hour=8, minute=0), "options": {"expires": 3600}},
}

# --- STS session tokens and credential expiry ---------------------------------------------------------------
# Long-term AKIA keys call models with an STS session (GetSessionToken) that byok refreshes before it expires.
BYOK_SESSION_DURATION = env_int("BYOK_SESSION_DURATION", 43200)  # seconds (STS allows 900-129600)
# A session expiring within this window is refreshed by the 5-minute cycle.
BYOK_SESSION_REFRESH_WINDOW = timedelta(seconds=env_int("BYOK_SESSION_REFRESH_WINDOW", 1800))
BYOK_SESSION_STS_TIMEOUT = float(os.environ.get("BYOK_SESSION_STS_TIMEOUT", "10"))
# Daily reminders: temporary credentials and Bedrock API keys expiring within this many days, and keys older
# than the rotation age.
BYOK_EXPIRY_REMINDER_DAYS = env_int("BYOK_EXPIRY_REMINDER_DAYS", 7)
BYOK_ROTATION_REMINDER_DAYS = env_int("BYOK_ROTATION_REMINDER_DAYS", 90)
# Publishing must fail fast when Redis is down (the audit hook then logs and moves on): bound the TCP connect,
# which otherwise waits on the OS when the host does not answer. Workers reconnect on their own schedule.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
